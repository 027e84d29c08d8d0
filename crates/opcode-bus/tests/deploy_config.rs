//! The nats-server config the project ships (`deploy/nats-server.conf`) is valid for the server the tests
//! run and caps JetStream's memory and storage.

use std::path::Path;

#[tokio::test]
async fn the_shipped_nats_config_is_valid_and_caps_jetstream() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/nats-server.conf");
    let output = opcode_testkit::nats::check_config(&path).await;
    assert!(output.contains("is valid"), "{output}");
    let text = std::fs::read_to_string(&path).unwrap();
    let settings: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.starts_with('#')).collect();
    for cap in ["max_mem:", "max_file:", "max_payload:"] {
        assert!(settings.iter().any(|l| l.starts_with(cap)), "deploy/nats-server.conf sets no {cap}");
    }
}
