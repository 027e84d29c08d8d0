//! An in-process cluster worker for replica tests: its own data dir, the fake claude (or another), on any
//! NATS URL with any bus settings.

use std::sync::Arc;

use opcode_bus::{Bus, BusConfig};
use opcode_cluster::{Forwarder, Worker, WorkerConfig};
use opcode_proc::TokioSupervisor;
use opcode_sessions::claude_store::ClaudeStore;
use opcode_sessions::{RegistryConfig, SessionRegistry};

/// A worker `id` on the NATS at `url`, with its own data dir and Claude folder (kept while the dirs live),
/// running claude in any project folder; `adjust` changes its registry (another claude, its environment).
pub async fn worker_on(
    url: &str,
    bus: BusConfig,
    id: &str,
    adjust: impl FnOnce(&mut RegistryConfig),
) -> (Worker, tempfile::TempDir, tempfile::TempDir) {
    let (data, claude) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let forwarder = Forwarder::new(opcode_cluster::forward::DEFAULT_WINDOW);
    let mut config = RegistryConfig::new(opcode_testkit::fake_claude(), data.path().to_path_buf());
    config.claude_store = ClaudeStore::new(claude.path());
    config.child_env.push(("CLAUDE_CONFIG_DIR".into(), claude.path().into()));
    config.sink = Some(forwarder.clone());
    adjust(&mut config);
    let registry = SessionRegistry::open(config, Arc::new(TokioSupervisor::default())).await.unwrap();
    let bus = Bus::connect(url, bus).await.unwrap();
    let worker = Worker::start(bus, registry, forwarder, WorkerConfig { id: id.into() }).await.unwrap();
    (worker, data, claude)
}
