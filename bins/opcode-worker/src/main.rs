//! The `opcode-worker` binary: flags → bus and registry → serve commands until SIGINT/SIGTERM → end the
//! runs, give the lease back → exit 0. Everything it does is `opcode-cluster`'s [`Worker`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use opcode_bus::{Bus, BusConfig};
use opcode_cluster::{Forwarder, Worker, WorkerConfig};
use opcode_proc::TokioSupervisor;
use opcode_sessions::claude_cli::find_claude_binary;
use opcode_sessions::{RegistryConfig, SessionRegistry};
use tracing_subscriber::EnvFilter;

/// A worker of an opcode-web cluster: runs claude for the replicas (`opcode-web --nats-url`) and publishes
/// each run's events on NATS JetStream.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The NATS server(s), comma separated (for example nats://127.0.0.1:4222).
    #[arg(long, env = "OPCODE_NATS_URL")]
    nats_url: String,
    /// This worker's id on the bus (letters, digits, '-', '_'); default: a new one each start.
    #[arg(long, env = "OPCODE_WORKER_ID")]
    worker_id: Option<String>,
    /// Where the worker keeps its logs of runs and its state.
    #[arg(long, env = "OPCODE_DATA_DIR")]
    data_dir: PathBuf,
    /// The claude binary (default: found on PATH and the usual places).
    #[arg(long, env = "OPCODE_CLAUDE_BIN")]
    claude_bin: Option<PathBuf>,
    /// Runs must be in one of these folders (repeatable).
    #[arg(long = "project-root")]
    project_roots: Vec<PathBuf>,
    /// Concurrent runs on this worker.
    #[arg(long, default_value_t = 16)]
    max_sessions: usize,
    /// Seconds a worker's lease lives without renewal: after it the worker's runs are ended by others.
    #[arg(long, default_value_t = 10)]
    lease_ttl: u64,
    /// Replicas of the events stream (3 on a 3-node NATS cluster).
    #[arg(long, default_value_t = 1)]
    stream_replicas: usize,
    /// Allow runs to ask for bypassPermissions.
    #[arg(long)]
    allow_bypass_permissions: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();

    let claude_bin = find_claude_binary(args.claude_bin.as_deref()).map_err(|e| anyhow::anyhow!("{e}"))?;
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create data dir {}", args.data_dir.display()))?;
    let lease_ttl = Duration::from_secs(args.lease_ttl.max(1));
    let bus_config = BusConfig {
        lease_ttl,
        // cut off from NATS for its lease, the worker has lost it: its runs are cancelled, and their last
        // events cannot be published either
        unreachable_after: lease_ttl,
        replicas: args.stream_replicas.max(1),
        ..BusConfig::default()
    };
    let bus = Bus::connect(&args.nats_url, bus_config).await?;

    let forwarder = Forwarder::new(opcode_cluster::forward::DEFAULT_WINDOW);
    let mut config = RegistryConfig::new(claude_bin, args.data_dir.clone());
    config.max_running = args.max_sessions.max(1);
    config.allow_bypass_permissions = args.allow_bypass_permissions;
    config.project_roots = args
        .project_roots
        .iter()
        .map(|r| std::fs::canonicalize(r).with_context(|| format!("--project-root {} does not exist", r.display())))
        .collect::<anyhow::Result<_>>()?;
    config.sink = Some(forwarder.clone());
    // a worker killed with -9 takes its claude processes with it: its runs are ended by other workers
    config.claude_dies_with_server = true;
    let registry = SessionRegistry::open(config, Arc::new(TokioSupervisor::default())).await?;

    let id = args.worker_id.unwrap_or_else(|| format!("worker-{}", uuid::Uuid::new_v4().simple()));
    let worker = Worker::start(bus, registry, forwarder, WorkerConfig { id: id.clone() }).await?;
    // before the line tests and scripts wait for: a SIGTERM right after it must shut down cleanly
    let shutdown = opcode_proc::shutdown_signal().context("cannot listen for SIGINT and SIGTERM")?;
    println!("opcode-worker {id} serving on {}", args.nats_url);

    let lost = tokio::select! {
        () = shutdown => false,
        () = worker.lease_lost() => true,
    };
    tracing::info!("shutting down: ending runs");
    worker.shutdown().await;
    if lost {
        // cut off from NATS past the lease: the runs were cancelled and are ended elsewhere; a supervisor
        // (systemd, a container runtime) starts the worker again with a fresh lease
        anyhow::bail!(
            "worker {id} lost its lease (cut off from NATS for longer than --lease-ttl); its runs were cancelled"
        );
    }
    Ok(())
}
