//! `opcode-bench`: drives the real `opcode-web` over loopback exactly as a browser does (token,
//! `/ws/claude`, `/ws/sessions/{id}?since=`), with `bench-emitter` as claude, and compares it with the
//! floor: a minimal relay built on the same crates (`floor.rs`: child stdout line → WebSocket frame,
//! nothing else). Run through `cargo xtask bench`, which builds both in release mode and records the table
//! in `docs/benchmarks.md`.
//!
//! `opcode-bench run --server-bin B --emitter-bin E [--smoke] [--only throughput,latency,sessions,viewers,
//! replay,files,project-files,git,cancel,startup,terminal,finished,usage]` prints a Markdown table; `--smoke` runs every
//! scenario once with tiny sizes (to prove the bench works; no figure is asserted). `finished` is the cost
//! of 1,000 finished runs (fds, RSS) and a restart with them (time until they replay); `terminal` is `cat`
//! of a 100 MB file in a terminal, read over its WebSocket; `git` is `/api/git/status` and a turn snapshot
//! on a generated repository of 100,000 files.
//! `usage` indexes generated transcripts (1 GB) and times the usage reports.
//! `opcode-bench run --cluster --server-bin B --emitter-bin E --worker-bin W [--smoke] [--only throughput,
//! latency,failover,idle-viewers]` runs the cluster scenarios instead (`cluster.rs`: replicas and
//! `opcode-worker`s on NATS JetStream beside the embedded log; nats-server from `NATS_SERVER_BIN`).
//! `opcode-bench floor --emitter-bin E` is the floor server (started by `run` as its own process).

mod client;
mod cluster;
mod floor;
mod git;
mod procinfo;
mod scenarios;
mod usage;

use std::path::PathBuf;

use anyhow::{bail, Context};

/// Where the bench finds its programs and how big it runs.
#[derive(Debug, Clone)]
pub(crate) struct Setup {
    pub(crate) server_bin: PathBuf,
    pub(crate) emitter_bin: PathBuf,
    /// `opcode-worker`, for the cluster scenarios.
    pub(crate) worker_bin: Option<PathBuf>,
    pub(crate) smoke: bool,
    /// Run only the scenarios whose names are listed (comma separated), for profiling one at a time.
    pub(crate) only: Option<String>,
}

impl Setup {
    /// Whether scenario `name` runs.
    pub(crate) fn wants(&self, name: &str) -> bool {
        self.only.as_deref().is_none_or(|only| only.split(',').any(|n| n == name))
    }
}

fn arg(args: &[String], flag: &str) -> Option<String> {
    args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let emitter_bin = PathBuf::from(arg(&args, "--emitter-bin").context("--emitter-bin is required")?);
    match args.first().map(String::as_str) {
        Some("floor") => floor::serve(emitter_bin).await,
        Some("run") => {
            let setup = Setup {
                server_bin: PathBuf::from(arg(&args, "--server-bin").context("--server-bin is required")?),
                emitter_bin,
                worker_bin: arg(&args, "--worker-bin").map(PathBuf::from),
                smoke: args.iter().any(|a| a == "--smoke"),
                only: arg(&args, "--only"),
            };
            let table = if args.iter().any(|a| a == "--cluster") {
                cluster::run_all(&setup).await?
            } else {
                scenarios::run_all(&setup).await?
            };
            println!("{table}");
            Ok(())
        }
        _ => bail!("usage: opcode-bench run --server-bin PATH --emitter-bin PATH [--smoke] [--only NAMES] [--cluster --worker-bin PATH] | floor --emitter-bin PATH"),
    }
}
