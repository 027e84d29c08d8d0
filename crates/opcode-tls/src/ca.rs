//! The local certificate authority: made once in `<data_dir>/tls/`, then reused; it signs a fresh leaf
//! certificate for this machine's names at every start.
//!
//! Shaped after mkcert: the CA is `IsCa` with path length 0, valid 10 years, with a CommonName (iOS needs
//! one), its key written once with mode 0400. Leaves last 397 days, under Apple's limits, and each name
//! goes into the matching SAN type. Ours: the CA carries name constraints (private and loopback address
//! ranges, local DNS suffixes), so trusting it lets no one impersonate a public site with its key, and
//! a leaf is only issued for names inside them ([`LocalCa::vouches_for`]).

use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CidrSubnet, DnType, ExtendedKeyUsagePurpose, GeneralSubtree, IsCa, Issuer,
    KeyPair, KeyUsagePurpose, NameConstraints, SanType, SerialNumber,
};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use time::{Duration, OffsetDateTime};

use crate::names::HostName;

/// The CA's certificate in the CA folder (public: this is what a phone downloads and trusts).
pub const CA_CERT_FILE: &str = "opcode-web-ca.pem";
/// The CA's private key in the CA folder (mode 0400; never served, never logged).
pub const CA_KEY_FILE: &str = "opcode-web-ca-key.pem";

/// Address ranges a leaf may name: loopback, private (RFC 1918), carrier-grade NAT (tailnets), unique local.
const PERMITTED_RANGES: &[(&str, u8)] = &[
    ("127.0.0.0", 8),
    ("10.0.0.0", 8),
    ("172.16.0.0", 12),
    ("192.168.0.0", 16),
    ("100.64.0.0", 10),
    ("::1", 128),
    ("fc00::", 7),
];
/// DNS names a leaf may name: these and their sub-domains.
const PERMITTED_DOMAINS: &[&str] = &["localhost", "local", "lan", "home.arpa", "internal", "ts.net"];

/// Why the local CA could not be made, loaded or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaError {
    /// Reading or writing the CA folder failed.
    #[error("cannot {action} {}: check the data dir's permissions (--data-dir)", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The folder holds only half of a CA.
    #[error("{} exists but {} does not: remove both to make a new CA (phones must then trust the new one)", present.display(), missing.display())]
    Incomplete {
        /// The file found.
        present: PathBuf,
        /// The file missing.
        missing: PathBuf,
    },
    /// The CA files are not a certificate and key that rcgen can read, or signing failed.
    #[error("the local CA in {} is unusable: remove its two files to make a new one (phones must then trust the new one)", dir.display())]
    Unusable {
        /// The CA folder.
        dir: PathBuf,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A leaf was asked for a name the CA's constraints exclude.
    #[error(
        "the local CA only vouches for loopback, private addresses and local names, not {name}: use --tls-cert for it"
    )]
    NotLocal {
        /// The name refused.
        name: HostName,
    },
    /// A leaf was asked for no name at all.
    #[error("a certificate needs at least one name")]
    NoNames,
    /// A certificate does not verify against the CA for a name.
    #[error("the certificate does not verify against the local CA for {name}")]
    Verify {
        /// The name checked.
        name: HostName,
        /// The cause.
        #[source]
        source: rustls::Error,
    },
}

/// A leaf certificate and its private key, PEM-encoded.
#[derive(Clone)]
pub struct IssuedCert {
    /// The leaf certificate (PEM).
    pub cert_pem: String,
    /// Its private key (PKCS#8 PEM). Kept in memory only.
    pub key_pem: String,
    /// The names it covers.
    pub names: Vec<HostName>,
}

impl std::fmt::Debug for IssuedCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedCert").field("names", &self.names).finish_non_exhaustive()
    }
}

/// The local certificate authority, loaded from (or just written to) its folder.
pub struct LocalCa {
    dir: PathBuf,
    cert_pem: String,
    cert_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for LocalCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCa").field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl LocalCa {
    /// Loads the CA from `dir` (e.g. `<data_dir>/tls`), or makes it there when the folder has none;
    /// the `bool` is true when it was made now. Blocking (files, key generation).
    pub fn load_or_create(dir: &Path) -> Result<(LocalCa, bool), CaError> {
        let (cert_path, key_path) = (dir.join(CA_CERT_FILE), dir.join(CA_KEY_FILE));
        match (cert_path.exists(), key_path.exists()) {
            (true, true) => Ok((Self::load(dir)?, false)),
            (false, false) => Ok((Self::create(dir)?, true)),
            (true, false) => Err(CaError::Incomplete { present: cert_path, missing: key_path }),
            (false, true) => Err(CaError::Incomplete { present: key_path, missing: cert_path }),
        }
    }

    fn load(dir: &Path) -> Result<LocalCa, CaError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path).map_err(|source| CaError::Io { action: "read", path, source })
        };
        let (cert_pem, key_pem) = (read(CA_CERT_FILE)?, read(CA_KEY_FILE)?);
        let unusable = |source: rcgen::Error| CaError::Unusable { dir: dir.to_owned(), source: Box::new(source) };
        let key = KeyPair::from_pem(&key_pem).map_err(unusable)?;
        let issuer = Issuer::from_ca_cert_pem(&cert_pem, key).map_err(unusable)?;
        let cert_der = pem_certificate(&cert_pem).ok_or_else(|| CaError::Unusable {
            dir: dir.to_owned(),
            source: format!("{CA_CERT_FILE} holds no PEM certificate").into(),
        })?;
        Ok(LocalCa { dir: dir.to_owned(), cert_pem, cert_der, issuer })
    }

    fn create(dir: &Path) -> Result<LocalCa, CaError> {
        let unusable = |source: rcgen::Error| CaError::Unusable { dir: dir.to_owned(), source: Box::new(source) };
        let mut params = CertificateParams::default();
        let host = nix::unistd::gethostname().ok().and_then(|h| h.into_string().ok()).unwrap_or_default();
        let now = OffsetDateTime::now_utc();
        params.distinguished_name.push(DnType::OrganizationName, "opcode-web local CA");
        params
            .distinguished_name
            .push(DnType::CommonName, format!("opcode-web CA {host} {}", now.date()).trim().replace("  ", " "));
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.name_constraints = Some(NameConstraints {
            permitted_subtrees: PERMITTED_RANGES
                .iter()
                .map(|(addr, prefix)| {
                    let addr: IpAddr = addr.parse().expect("a constant address");
                    GeneralSubtree::IpAddress(CidrSubnet::from_addr_prefix(addr, *prefix))
                })
                .chain(PERMITTED_DOMAINS.iter().map(|d| GeneralSubtree::DnsName((*d).to_owned())))
                .collect(),
            excluded_subtrees: Vec::new(),
        });
        params.not_before = now - Duration::days(1);
        params.not_after = now + Duration::days(3650);
        params.serial_number = Some(random_serial());
        let key = KeyPair::generate().map_err(unusable)?;
        let cert = params.self_signed(&key).map_err(unusable)?;

        let io = |action, path: &Path| {
            let path = path.to_owned();
            move |source| CaError::Io { action, path, source }
        };
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(io("create", dir))?;
        // the key first, create_new and 0400: never overwrite a CA a phone may already trust
        let key_path = dir.join(CA_KEY_FILE);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o400)
            .open(&key_path)
            .map_err(io("write", &key_path))?;
        file.write_all(key.serialize_pem().as_bytes()).map_err(io("write", &key_path))?;
        let cert_path = dir.join(CA_CERT_FILE);
        let tmp = dir.join(format!(".{CA_CERT_FILE}.tmp"));
        std::fs::write(&tmp, cert.pem()).map_err(io("write", &tmp))?;
        std::fs::rename(&tmp, &cert_path).map_err(io("write", &cert_path))?;
        Ok(LocalCa {
            dir: dir.to_owned(),
            cert_pem: cert.pem(),
            cert_der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        })
    }

    /// The folder the CA lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The CA certificate, PEM (public: what a phone downloads to trust).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA certificate, DER.
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// The SHA-256 fingerprint of the CA certificate, as `AB:CD:…`: what a person compares on the phone.
    pub fn fingerprint(&self) -> String {
        let digest = ring::digest::digest(&ring::digest::SHA256, &self.cert_der);
        digest.as_ref().iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
    }

    /// Whether the CA's name constraints allow a leaf for `name` (loopback and private addresses,
    /// `localhost`, `*.local`, `*.lan`, `*.home.arpa`, `*.internal`, `*.ts.net`).
    pub fn vouches_for(name: &HostName) -> bool {
        match name {
            HostName::Ip(ip) => PERMITTED_RANGES.iter().any(|(range, prefix)| {
                let range: IpAddr = range.parse().expect("a constant address");
                in_range(*ip, range, *prefix)
            }),
            HostName::Dns(dns) => {
                let dns = dns.to_ascii_lowercase();
                PERMITTED_DOMAINS.iter().any(|d| dns == *d || dns.ends_with(&format!(".{d}")))
            }
        }
    }

    /// Signs a fresh leaf for `names` (server authentication, 397 days) and checks it verifies against
    /// the CA for each of them. Every name must satisfy [`LocalCa::vouches_for`]. Blocking (key generation).
    pub fn issue(&self, names: &[HostName]) -> Result<IssuedCert, CaError> {
        if names.is_empty() {
            return Err(CaError::NoNames);
        }
        if let Some(name) = names.iter().find(|n| !Self::vouches_for(n)) {
            return Err(CaError::NotLocal { name: name.clone() });
        }
        let unusable = |source: rcgen::Error| CaError::Unusable { dir: self.dir.clone(), source: Box::new(source) };
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::OrganizationName, "opcode-web");
        params.distinguished_name.push(DnType::CommonName, names[0].to_string());
        for name in names {
            params.subject_alt_names.push(match name {
                HostName::Ip(ip) => SanType::IpAddress(*ip),
                HostName::Dns(dns) => SanType::DnsName(dns.clone().try_into().map_err(unusable)?),
            });
        }
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::days(1);
        params.not_after = now + Duration::days(397);
        params.serial_number = Some(random_serial());
        let key = KeyPair::generate().map_err(unusable)?;
        let cert = params.signed_by(&key, &self.issuer).map_err(unusable)?;
        let issued = IssuedCert { cert_pem: cert.pem(), key_pem: key.serialize_pem(), names: names.to_vec() };
        // a CA key that does not match its certificate shows here, not on the phone
        for name in names {
            self.verify(cert.der(), name)?;
        }
        Ok(issued)
    }

    /// Checks that `leaf` (DER) chains to this CA and is valid now for `name`, as a browser would.
    pub fn verify(&self, leaf: &CertificateDer<'_>, name: &HostName) -> Result<(), CaError> {
        let verify_error = |source| CaError::Verify { name: name.clone(), source };
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.cert_der.clone()).map_err(verify_error)?;
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .map_err(|e| verify_error(rustls::Error::General(e.to_string())))?;
        let server_name = match name {
            HostName::Ip(ip) => ServerName::IpAddress((*ip).into()),
            HostName::Dns(dns) => {
                ServerName::try_from(dns.clone()).map_err(|e| verify_error(rustls::Error::General(e.to_string())))?
            }
        };
        use rustls::client::danger::ServerCertVerifier;
        verifier.verify_server_cert(leaf, &[], &server_name, &[], UnixTime::now()).map(|_| ()).map_err(verify_error)
    }
}

/// The first certificate of a PEM text.
fn pem_certificate(pem: &str) -> Option<CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(pem.as_bytes()).next()?.ok()
}

/// 16 random bytes, positive.
fn random_serial() -> SerialNumber {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new().fill(&mut bytes).expect("the OS random source");
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01; // no leading zero byte to strip
    SerialNumber::from_slice(&bytes)
}

fn in_range(ip: IpAddr, range: IpAddr, prefix: u8) -> bool {
    match (ip, range) {
        (IpAddr::V4(ip), IpAddr::V4(range)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(range) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(range)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(range) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_constraints_admit_local_names_only() {
        for local in
            ["127.0.0.1", "10.1.2.3", "172.20.0.1", "192.168.1.5", "100.101.102.103", "::1", "fd7a:115c:a1e0::1"]
        {
            assert!(LocalCa::vouches_for(&HostName::Ip(local.parse().unwrap())), "{local}");
        }
        for public in ["8.8.8.8", "172.32.0.1", "2001:db8::1", "100.128.0.1"] {
            assert!(!LocalCa::vouches_for(&HostName::Ip(public.parse().unwrap())), "{public}");
        }
        for local in ["localhost", "mybox.local", "box.lan", "x.home.arpa", "mybox.tail1234.ts.net"] {
            assert!(LocalCa::vouches_for(&HostName::Dns(local.into())), "{local}");
        }
        for public in ["example.com", "notlocal", "evil-local.com", "local.example.com"] {
            assert!(!LocalCa::vouches_for(&HostName::Dns(public.into())), "{public}");
        }
    }
}
