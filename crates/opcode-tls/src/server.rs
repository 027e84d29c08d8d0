//! rustls server configurations: from PEM text (a leaf of the local CA) or from the user's own files.
//!
//! The crypto provider is ring, named explicitly, so the result does not depend on which providers other
//! crates of the build happen to enable. ALPN offers `http/1.1` only (the server speaks HTTP/1.1, and
//! WebSockets upgrade from it).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

/// Why a certificate and key could not become a TLS configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerConfigError {
    /// A file could not be read.
    #[error("cannot read {}: check the path given to --tls-cert/--tls-key", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// No certificate in the certificate PEM.
    #[error("{what} holds no PEM certificate (-----BEGIN CERTIFICATE-----): --tls-cert takes the certificate chain, leaf first")]
    NoCertificate {
        /// Which input.
        what: String,
    },
    /// No private key in the key PEM.
    #[error("{what} holds no PEM private key (PKCS#8, PKCS#1 or SEC1): --tls-key takes the certificate's private key")]
    NoKey {
        /// Which input.
        what: String,
    },
    /// rustls refused the pair (e.g. the key does not belong to the certificate, or an unsupported key type).
    #[error("the certificate and key cannot be used together: check that --tls-key is the key of --tls-cert")]
    Rejected(#[source] rustls::Error),
}

/// A server configuration for a PEM certificate chain (leaf first) and its PEM private key; `what`
/// names the inputs in errors.
pub fn server_config(cert_pem: &str, key_pem: &str, what: &str) -> Result<Arc<ServerConfig>, ServerConfigError> {
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(cert_pem.as_bytes()).filter_map(Result::ok).collect();
    if chain.is_empty() {
        return Err(ServerConfigError::NoCertificate { what: what.to_owned() });
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|_| ServerConfigError::NoKey { what: what.to_owned() })?;
    let mut config = ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(ServerConfigError::Rejected)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(ServerConfigError::Rejected)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A server configuration from the user's certificate chain and key files (`--tls-cert`, `--tls-key`).
/// Blocking (reads files).
pub fn server_config_from_files(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, ServerConfigError> {
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|source| ServerConfigError::Read { path: path.to_owned(), source })
    };
    let (cert_pem, key_pem) = (read(cert)?, read(key)?);
    let what = format!("{} / {}", cert.display(), key.display());
    server_config(&cert_pem, &key_pem, &what)
}
