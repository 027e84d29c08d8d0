//! opcode-web past one machine, on the bus (`opcode-bus`, NATS JetStream).
//!
//! - [`Worker`] (run by `opcode-worker`): holds a lease, takes starts from a queue shared by every worker
//!   and commands addressed to it, runs claude through its own [`opcode_sessions::SessionRegistry`], and
//!   forwards each run's events to the session's subject on the bus ([`Forwarder`]): numbered as in its
//!   log, fenced, and holding the run back while the bus is behind. When its lease is lost it cancels its
//!   runs. It also ends the runs of workers whose lease lapsed ([`reaper`]): it takes the run over (which
//!   fences the dead worker out) and writes the run's `completion(error)`.
//!   It announces its runs' notable events (permission requests, ends of turns and runs) to every
//!   replica, for their Web Push and turn snapshots.
//! - [`ClusterClient`] (used by a replica): starts runs on some worker, sends commands to the worker that
//!   owns a session's run, and lists the runs in progress across the cluster.
//!
//! The messages are `opcode_proto::cluster`'s. Nothing here talks to NATS but through `opcode-bus`.
#![warn(missing_docs)]

mod client;
mod error;
pub mod forward;
mod notable;
pub mod reaper;
mod runs;
mod subjects;
mod worker;

pub use client::{ClusterClient, ClusterStatus, WorkerStatus};
pub use error::ClusterError;
pub use forward::Forwarder;
pub use runs::ClusterRuns;
pub use worker::{Worker, WorkerConfig};
