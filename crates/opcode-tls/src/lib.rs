//! opcode-tls: the certificates of opcode-web's HTTPS.
//!
//! A phone reaching the server by its LAN address over plain HTTP is not a secure context (no service
//! worker, push, camera or microphone), so the server speaks HTTPS with either
//!
//! - a certificate the user has (`--tls-cert`/`--tls-key`): [`server_config_from_files`], or
//! - a certificate from a local certificate authority made once in the data dir, as mkcert does
//!   (`--tls-local-ca`): [`LocalCa::load_or_create`], [`machine_names`], [`LocalCa::issue`],
//!   [`server_config`]. The phone trusts the CA once; every later leaf verifies against it.
//!
//! The CA is name-constrained to private addresses and local names ([`LocalCa::vouches_for`]): a phone
//! that trusts it cannot be fooled by it about any public site, even if its key leaks.
//!
//! Everything here is synchronous file and CPU work: async callers use `spawn_blocking`. This crate
//! knows nothing of HTTP or sockets (checked by `xtask/src/layering.rs`).

mod ca;
mod names;
mod server;

pub use ca::{CaError, IssuedCert, LocalCa, CA_CERT_FILE, CA_KEY_FILE};
pub use names::{machine_names, HostName};
pub use server::{server_config, server_config_from_files, ServerConfigError};

/// rustls' types, so callers need no direct dependency of their own.
pub use rustls;
