//! The local CA: made once, reused, with leaves that verify against it for every address of this machine.

use opcode_tls::{machine_names, server_config, server_config_from_files, HostName, LocalCa, CA_KEY_FILE};

#[test]
fn the_ca_is_made_once_and_reused() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join("tls");
    let (first, created) = LocalCa::load_or_create(&dir).unwrap();
    assert!(created);
    let (again, created) = LocalCa::load_or_create(&dir).unwrap();
    assert!(!created, "the second start reuses the CA");
    assert_eq!(first.cert_pem(), again.cert_pem());
    assert_eq!(first.fingerprint(), again.fingerprint());
    assert_eq!(first.fingerprint().len(), 32 * 3 - 1);

    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.join(CA_KEY_FILE)).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o400, "the key is readable by its owner only");
    assert!(!first.cert_pem().contains("PRIVATE KEY"));

    // a leaf from the reloaded CA verifies against the first one: same key, same name
    let leaf = again.issue(&[HostName::Dns("localhost".into())]).unwrap();
    let der = rustls::pki_types::pem::PemObject::from_pem_slice(leaf.cert_pem.as_bytes()).unwrap();
    first.verify(&der, &HostName::Dns("localhost".into())).unwrap();
}

#[test]
fn a_leaf_covers_every_address_of_the_machine_and_nothing_else() {
    let data = tempfile::tempdir().unwrap();
    let (ca, _) = LocalCa::load_or_create(data.path()).unwrap();
    let names: Vec<HostName> = machine_names().into_iter().filter(LocalCa::vouches_for).collect();
    assert!(names.contains(&HostName::Ip("127.0.0.1".parse().unwrap())));
    assert!(names.contains(&HostName::Ip("::1".parse().unwrap())));
    assert!(names.contains(&HostName::Dns("localhost".into())));
    let leaf = ca.issue(&names).unwrap();
    let der: rustls::pki_types::CertificateDer<'_> =
        rustls::pki_types::pem::PemObject::from_pem_slice(leaf.cert_pem.as_bytes()).unwrap();
    for name in &names {
        ca.verify(&der, name).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let other = HostName::Ip("192.168.254.254".parse().unwrap());
    if !names.contains(&other) {
        assert!(ca.verify(&der, &other).is_err(), "not valid for an address it does not name");
    }
    // a different CA's leaf does not verify against this one
    let stranger = tempfile::tempdir().unwrap();
    let (other_ca, _) = LocalCa::load_or_create(stranger.path()).unwrap();
    let foreign = other_ca.issue(&[HostName::Dns("localhost".into())]).unwrap();
    let foreign: rustls::pki_types::CertificateDer<'_> =
        rustls::pki_types::pem::PemObject::from_pem_slice(foreign.cert_pem.as_bytes()).unwrap();
    assert!(ca.verify(&foreign, &HostName::Dns("localhost".into())).is_err());
    // and the pair makes a server configuration
    server_config(&leaf.cert_pem, &leaf.key_pem, "test").unwrap();
}

#[test]
fn public_names_are_refused() {
    let data = tempfile::tempdir().unwrap();
    let (ca, _) = LocalCa::load_or_create(data.path()).unwrap();
    let err = ca.issue(&[HostName::Dns("localhost".into()), HostName::Dns("example.com".into())]).unwrap_err();
    assert!(err.to_string().contains("example.com"), "{err}");
}

#[test]
fn half_a_ca_is_an_error_that_says_what_to_do() {
    let data = tempfile::tempdir().unwrap();
    LocalCa::load_or_create(data.path()).unwrap();
    std::fs::remove_file(data.path().join(opcode_tls::CA_CERT_FILE)).unwrap();
    let err = LocalCa::load_or_create(data.path()).unwrap_err();
    assert!(err.to_string().contains("remove both"), "{err}");
}

#[test]
fn user_files_that_are_not_a_pair_are_refused_clearly() {
    let data = tempfile::tempdir().unwrap();
    let (ca, _) = LocalCa::load_or_create(data.path()).unwrap();
    let a = ca.issue(&[HostName::Dns("localhost".into())]).unwrap();
    let b = ca.issue(&[HostName::Dns("localhost".into())]).unwrap();
    let (cert, key) = (data.path().join("cert.pem"), data.path().join("key.pem"));
    std::fs::write(&cert, &a.cert_pem).unwrap();
    std::fs::write(&key, &a.key_pem).unwrap();
    server_config_from_files(&cert, &key).unwrap();
    std::fs::write(&key, &b.key_pem).unwrap();
    let err = server_config_from_files(&cert, &key).unwrap_err();
    assert!(err.to_string().contains("--tls-key"), "{err}");
    let err = server_config_from_files(&key, &key).unwrap_err();
    assert!(err.to_string().contains("no PEM certificate"), "{err}");
    let err = server_config_from_files(&data.path().join("missing.pem"), &key).unwrap_err();
    assert!(err.to_string().contains("missing.pem"), "{err}");
}
