//! The server's VAPID key pair (RFC 8292): made once, kept in `<data_dir>/vapid-private-key` (mode 0600:
//! whoever holds it can push to every subscribed device), read back at every start. Browsers subscribe
//! with its public key (`applicationServerKey`), so a new key would silence every subscription: it is
//! never replaced.
//!
//! Servers sharing a data dir race to make it: the key is written to a temporary file and hard-linked to
//! its name, which fails if another server got there first; then everyone reads the one that won.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64ct::{Base64UrlUnpadded, Encoding};
use web_push_native::jwt_simple::algorithms::{ECDSAP256KeyPairLike, ECDSAP256PublicKeyLike, ES256KeyPair};
use web_push_native::jwt_simple::claims::Claims;

/// The key file's name in the data dir.
pub const KEY_FILE: &str = "vapid-private-key";

/// How long a VAPID token is valid (RFC 8292 allows at most 24 h).
const TOKEN_VALIDITY: Duration = Duration::from_secs(12 * 60 * 60);

/// Why the key could not be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VapidError {
    /// The key file could not be read or written.
    #[error("cannot read or write the VAPID key {path} (check that the data dir is writable): {source}")]
    Io {
        /// The key file.
        path: PathBuf,
        /// What the file system said.
        #[source]
        source: std::io::Error,
    },
    /// The key file holds something that is not a P-256 private key.
    #[error("the VAPID key file {0} is not a base64url P-256 private key (move it away to make a new one; devices must then subscribe again)")]
    Corrupt(PathBuf),
    /// Signing failed.
    #[error("cannot sign the VAPID token: {0}")]
    Sign(String),
}

/// The server's VAPID key pair.
pub struct VapidKeys {
    key_pair: ES256KeyPair,
    public_key: String,
}

impl std::fmt::Debug for VapidKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // never the private key
        f.debug_struct("VapidKeys").field("public_key", &self.public_key).finish_non_exhaustive()
    }
}

impl VapidKeys {
    /// Reads the key from `dir`, making it first if there is none. Blocking (file I/O).
    pub fn load_or_create(dir: &Path) -> Result<VapidKeys, VapidError> {
        let path = dir.join(KEY_FILE);
        let io = |source| VapidError::Io { path: path.clone(), source };
        match std::fs::read_to_string(&path) {
            Ok(text) => return Self::from_text(&text).ok_or_else(|| VapidError::Corrupt(path.clone())),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(io(err)),
        }
        std::fs::create_dir_all(dir).map_err(io)?;
        let fresh = ES256KeyPair::generate();
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let temp = dir.join(format!(".{KEY_FILE}.{}.{nanos}", std::process::id()));
        {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&temp)
                .map_err(io)?;
            writeln!(file, "{}", Base64UrlUnpadded::encode_string(&fresh.to_bytes())).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        let linked = std::fs::hard_link(&temp, &path);
        let _ = std::fs::remove_file(&temp);
        match linked {
            Ok(()) => {
                tracing::info!(path = %path.display(), "made the VAPID key for Web Push");
                Ok(Self::from_pair(fresh))
            }
            // another server made it first: theirs is the key
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                let text = std::fs::read_to_string(&path).map_err(io)?;
                Self::from_text(&text).ok_or(VapidError::Corrupt(path))
            }
            Err(err) => Err(io(err)),
        }
    }

    fn from_text(text: &str) -> Option<VapidKeys> {
        let bytes = Base64UrlUnpadded::decode_vec(text.trim()).ok()?;
        ES256KeyPair::from_bytes(&bytes).ok().map(Self::from_pair)
    }

    fn from_pair(key_pair: ES256KeyPair) -> VapidKeys {
        let public_key = Base64UrlUnpadded::encode_string(&key_pair.public_key().public_key().to_bytes_uncompressed());
        VapidKeys { key_pair, public_key }
    }

    /// The public key as browsers want it for `applicationServerKey`: the uncompressed P-256 point (65
    /// bytes), base64url without padding.
    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    /// The `Authorization` header value for a push to `endpoint`: `vapid t=<JWT>, k=<public key>`, the JWT
    /// (ES256) with `aud` the endpoint's origin (port included when not the scheme's default), `sub`
    /// `contact`, and `exp` 12 h ahead.
    pub fn authorization(&self, endpoint: &reqwest::Url, contact: &str) -> Result<String, VapidError> {
        let audience = endpoint.origin().ascii_serialization();
        let claims = Claims::create(TOKEN_VALIDITY.into()).with_audience(audience).with_subject(contact);
        let token = self.key_pair.sign(claims).map_err(|e| VapidError::Sign(e.to_string()))?;
        Ok(format!("vapid t={token}, k={}", self.public_key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_made_once_kept_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let first = VapidKeys::load_or_create(dir.path()).unwrap();
        let again = VapidKeys::load_or_create(dir.path()).unwrap();
        assert_eq!(first.public_key(), again.public_key());
        assert_eq!(Base64UrlUnpadded::decode_vec(first.public_key()).unwrap().len(), 65);
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(dir.path().join(KEY_FILE)).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
        assert!(!format!("{first:?}").contains(&std::fs::read_to_string(dir.path().join(KEY_FILE)).unwrap()));

        std::fs::write(dir.path().join(KEY_FILE), "not a key").unwrap();
        assert!(matches!(VapidKeys::load_or_create(dir.path()), Err(VapidError::Corrupt(_))));
    }
}
