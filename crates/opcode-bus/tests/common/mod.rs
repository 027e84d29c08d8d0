//! Helpers shared by the bus tests: a bus on a fresh real nats-server, events, and reading a session back.
#![allow(dead_code)]

use std::time::Duration;

use futures::StreamExt;
use opcode_bus::{Bus, BusConfig, NumberedEvent};
use opcode_testkit::nats::NatsServer;

/// A configuration with short timeouts for tests: 2 s leases.
pub(crate) fn test_config() -> BusConfig {
    BusConfig { lease_ttl: Duration::from_secs(2), ..BusConfig::default() }
}

/// A fresh server and a bus connected to it.
pub(crate) async fn server_and_bus() -> (NatsServer, Bus) {
    let server = NatsServer::start().await;
    let bus = Bus::connect(&server.url(), test_config()).await.expect("connect to the test server");
    (server, bus)
}

/// Events `from..to` with lines naming their seq and `tag`.
pub(crate) fn events(from: u64, to: u64, tag: &str) -> Vec<NumberedEvent> {
    (from..to).map(|seq| NumberedEvent::new(seq, format!(r#"{{"seq":{seq},"by":"{tag}"}}"#))).collect()
}

/// Every event of `session` after `since`, up to what is stored now (fails on a bus error).
pub(crate) async fn read_all(bus: &Bus, session: &str, since: Option<u64>) -> Vec<NumberedEvent> {
    let events: Vec<_> = tokio::time::timeout(Duration::from_secs(60), bus.read_to_end(session, since).collect())
        .await
        .expect("reading to the end finished");
    events.into_iter().map(|e| e.expect("no bus error while reading")).collect()
}

/// Asserts that `events` have the seqs `from..to`, each once, in order.
pub(crate) fn assert_seqs(events: &[NumberedEvent], from: u64, to: u64) {
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    let expected: Vec<u64> = (from..to).collect();
    assert!(
        seqs == expected,
        "expected seqs {from}..{to}, got {} events: {:?}…",
        seqs.len(),
        &seqs[..seqs.len().min(20)]
    );
}

/// A unique session id for a test.
pub(crate) fn session() -> String {
    uuid::Uuid::new_v4().to_string()
}
