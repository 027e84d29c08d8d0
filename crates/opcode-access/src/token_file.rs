//! The token kept in the data dir (`<data_dir>/token`, mode 0600), so scripts and the CLI keep working
//! across restarts and a rotation outlives one.

use std::io::Write;
use std::path::Path;

use crate::{secret, AccessError};

/// The token in `path`, or a fresh one written there; `rotate` writes a fresh one in any case. Blocking.
pub fn load_or_create(path: &Path, rotate: bool) -> Result<String, AccessError> {
    if !rotate {
        match std::fs::read_to_string(path) {
            Ok(text) if !text.trim().is_empty() => return Ok(text.trim().to_owned()),
            Ok(_) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(AccessError::TokenFile { action: "read", path: path.to_path_buf(), source }),
        }
    }
    let token = secret::new_secret();
    write(path, &token)?;
    Ok(token)
}

/// Writes `token` to `path` (mode 0600), replacing what was there. Blocking.
pub fn write(path: &Path, token: &str) -> Result<(), AccessError> {
    use std::os::unix::fs::OpenOptionsExt;
    let err = |source| AccessError::TokenFile { action: "write", path: path.to_path_buf(), source };
    let tmp = path.with_extension("tmp");
    let mut file =
        std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp).map_err(err)?;
    file.write_all(token.as_bytes()).map_err(err)?;
    file.sync_all().map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_kept_and_rotated() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        let first = load_or_create(&path, false).unwrap();
        assert_eq!(load_or_create(&path, false).unwrap(), first);
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let rotated = load_or_create(&path, true).unwrap();
        assert_ne!(rotated, first);
        assert_eq!(load_or_create(&path, false).unwrap(), rotated);
    }
}
