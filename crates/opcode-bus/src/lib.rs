//! The bus: the one crate that talks to NATS JetStream (`async-nats`). It knows nothing of claude, HTTP or
//! the sessions layer: a *session* is an id with numbered, opaque event lines, and a *worker* is an id that
//! holds a lease and owns runs.
//!
//! - **Events** ([`SessionWriter`], [`Bus::read`]): one stream (`OPCODE_EVENTS`), one subject per session
//!   (`opcode.events.<session>`), several events per message (headers `Opcode-Seq` = first event seq,
//!   `Opcode-Count`; the payload is the lines joined by `\n`). Every publish is *fenced*: it carries the
//!   stream sequence of the last message the writer saw on the subject as the expected last subject
//!   sequence, so the server refuses it if anybody else published in between ([`BusError::Fenced`]); and
//!   it carries a `Nats-Msg-Id` of session, writer, first seq and count, so a retry after a lost ack is
//!   recognised instead of stored twice (the server refuses the retry's stale expected sequence and the
//!   writer finds its own id on the subject's last message, or the server drops the repeated id). A writer
//!   publishes one message at a time and waits for its ack, so event seqs on a subject are contiguous and
//!   unique: no gap, no duplicate, whatever fails. A line larger than a message is split into chunks
//!   (`Opcode-Chunk: i/n`) that readers reassemble; a chunked line whose writer died before its last chunk
//!   is dropped by readers and written again by the next writer.
//! - **Leases and runs** ([`WorkerLease`], [`RunClaim`]): key-value buckets. A worker's lease is a key in
//!   `OPCODE_WORKERS` whose entries expire after the lease TTL unless renewed by revision; a run is a key
//!   in `OPCODE_RUNS` created by compare-and-set, so at most one worker owns a session's run.
//! - **Access** ([`SharedDevice`], [`Bus::watch_devices`], [`Bus::redeem_pairing_code`]): the bucket
//!   `OPCODE_ACCESS` shares paired devices (their credentials' hashes only) and one-time pairing codes
//!   (hashed) between replicas; a code is redeemed by compare-and-set, so exactly once across replicas.
//!
//! Everything is tested against a real `nats-server` (one node and a 3-node cluster) in `tests/`.
#![warn(missing_docs)]

mod access;
mod error;
mod lease;
mod reader;
mod rpc;
mod wire;
mod writer;

use std::time::Duration;

use async_nats::jetstream;
use bytes::Bytes;

pub use access::{CodeState, DeviceChange, DeviceWatch, SharedDevice, CODE_KEPT_AFTER};
pub use error::BusError;
pub use lease::{RunClaim, WorkerLease};
pub use rpc::Request;
pub use writer::SessionWriter;

use error::valid_id;

/// One event of a session: its seq (assigned by the writer, contiguous per session, starting at 0) and its
/// line (an opaque JSON line without a newline; the bus never parses it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberedEvent {
    /// The event's seq within its session.
    pub seq: u64,
    /// The event's line, without a trailing newline.
    pub line: Bytes,
}

impl NumberedEvent {
    /// An event `seq` with `line`.
    pub fn new(seq: u64, line: impl Into<Bytes>) -> NumberedEvent {
        NumberedEvent { seq, line: line.into() }
    }
}

/// How the bus lays out its stream and buckets. [`BusConfig::default`] suits one server; a cluster of three
/// sets [`BusConfig::replicas`] to 3.
#[derive(Debug, Clone)]
pub struct BusConfig {
    /// The events stream's name (default `OPCODE_EVENTS`).
    pub stream: String,
    /// The subject prefix: session `s` publishes on `<prefix>.s` (default `opcode.events`).
    pub subject_prefix: String,
    /// Replicas of the stream and the buckets: 1, or 3 on a cluster (needs as many JetStream nodes).
    pub replicas: usize,
    /// The stream's size cap in bytes; the oldest messages are discarded past it (readers that need them
    /// get [`BusError::Truncated`]). Must fit in the server's `max_file` (see `deploy/nats-server.conf`).
    pub max_bytes: i64,
    /// The largest message payload a writer packs (default 1 MiB); capped below the server's `max_payload`.
    pub max_message_bytes: usize,
    /// How long the server remembers message ids to de-duplicate retries (default 2 minutes).
    pub duplicate_window: Duration,
    /// A worker lease's time to live: a worker that does not renew within it has lost its lease (default 10 s).
    pub lease_ttl: Duration,
    /// The bound on connecting at start (default 5 s): no endless retry when NATS is not there.
    pub connect_timeout: Duration,
    /// How long a writer keeps retrying one message (same id, same expected sequence) while NATS does not
    /// acknowledge it, e.g. during a leader election, before [`BusError::Unavailable`] (default 30 s).
    pub publish_timeout: Duration,
    /// The timeout of one JetStream request or ack wait (default 5 s).
    pub request_timeout: Duration,
}

impl Default for BusConfig {
    fn default() -> Self {
        BusConfig {
            stream: "OPCODE_EVENTS".into(),
            subject_prefix: "opcode.events".into(),
            replicas: 1,
            max_bytes: 1 << 30,
            max_message_bytes: 1 << 20,
            duplicate_window: Duration::from_secs(120),
            lease_ttl: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            publish_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(5),
        }
    }
}

/// The key-value bucket of worker leases.
const WORKERS_BUCKET: &str = "OPCODE_WORKERS";
/// The key-value bucket of run ownership.
const RUNS_BUCKET: &str = "OPCODE_RUNS";
/// The key-value bucket of paired devices and pairing codes.
const ACCESS_BUCKET: &str = "OPCODE_ACCESS";
/// Room left in a message for its headers under the server's `max_payload`.
const HEADER_ROOM: usize = 1024;

/// A connection to NATS with the events stream and the buckets set up. Cheap to clone (one connection).
#[derive(Debug, Clone)]
pub struct Bus {
    pub(crate) js: jetstream::Context,
    pub(crate) stream: jetstream::stream::Stream,
    pub(crate) workers: jetstream::kv::Store,
    pub(crate) runs: jetstream::kv::Store,
    pub(crate) access: jetstream::kv::Store,
    pub(crate) config: BusConfig,
    /// The largest payload a writer packs: the configured one, capped by the server's.
    pub(crate) max_payload: usize,
    /// Counts the client's connections: a change means it reconnected (readers then re-create their
    /// consumers at once instead of waiting to miss heartbeats).
    pub(crate) connects: tokio::sync::watch::Receiver<u64>,
}

impl Bus {
    /// Connects to NATS at `url` (one URL, or several comma-separated for a cluster) and creates or updates
    /// the events stream and the buckets. Fails within about [`BusConfig::connect_timeout`] with
    /// [`BusError::Connect`] naming the URL when nothing answers (no endless retry at start), and with
    /// [`BusError::Setup`] when JetStream is off or refuses the configuration. Once connected the client
    /// reconnects on its own, forever.
    #[tracing::instrument(skip(config), fields(stream = %config.stream))]
    pub async fn connect(url: &str, config: BusConfig) -> Result<Bus, BusError> {
        let addrs: Vec<&str> = url.split(',').map(str::trim).filter(|a| !a.is_empty()).collect();
        let connect_err = |detail: String| BusError::Connect { url: url.to_owned(), detail };
        if addrs.is_empty() {
            return Err(connect_err("no server URL given".into()));
        }
        let (connects_tx, connects) = tokio::sync::watch::channel(0u64);
        let connects_tx = std::sync::Arc::new(connects_tx);
        let options = async_nats::ConnectOptions::new()
            .name("opcode-bus")
            .connection_timeout(config.connect_timeout)
            .request_timeout(Some(config.request_timeout))
            .max_reconnects(None)
            // a lost server is retried soon: up to 1 s apart (the client's default grows to 4 s)
            .reconnect_delay_callback(|attempts| Duration::from_millis((attempts as u64 * 100).min(1000)))
            .event_callback(move |event| {
                let connects_tx = std::sync::Arc::clone(&connects_tx);
                async move {
                    match event {
                        async_nats::Event::Connected => connects_tx.send_modify(|n| *n += 1),
                        async_nats::Event::Disconnected => tracing::warn!("disconnected from NATS, reconnecting"),
                        _ => {}
                    }
                }
            });
        let client = tokio::time::timeout(config.connect_timeout + Duration::from_secs(1), options.connect(addrs))
            .await
            .map_err(|_| connect_err(format!("no answer within {:?}", config.connect_timeout)))?
            .map_err(|err| connect_err(err.to_string()))?;
        let max_payload = config.max_message_bytes.min(client.max_payload().saturating_sub(HEADER_ROOM)).max(1);
        let js = jetstream::ContextBuilder::new().timeout(config.request_timeout).build(client);
        let setup_err = |what: &str, err: &dyn std::fmt::Display| BusError::Setup {
            url: url.to_owned(),
            what: what.to_owned(),
            detail: err.to_string(),
        };
        let stream_config = jetstream::stream::Config {
            name: config.stream.clone(),
            subjects: vec![format!("{}.>", config.subject_prefix)],
            max_bytes: config.max_bytes,
            discard: jetstream::stream::DiscardPolicy::Old,
            storage: jetstream::stream::StorageType::File,
            num_replicas: config.replicas,
            duplicate_window: config.duplicate_window,
            allow_direct: true,
            ..Default::default()
        };
        js.create_or_update_stream(stream_config).await.map_err(|e| setup_err(&config.stream, &e))?;
        let stream = js.get_stream(&config.stream).await.map_err(|e| setup_err(&config.stream, &e))?;
        let bucket = |bucket: &str, description: &str| jetstream::kv::Config {
            bucket: bucket.into(),
            description: description.into(),
            history: 1,
            num_replicas: config.replicas,
            ..Default::default()
        };
        let workers = jetstream::kv::Config {
            max_age: config.lease_ttl,
            // a lapsed lease leaves a marker that watchers see (server 2.11+)
            limit_markers: Some(config.lease_ttl.max(Duration::from_secs(1))),
            ..bucket(WORKERS_BUCKET, "opcode worker leases: a key per live worker, expiring unless renewed")
        };
        let runs = bucket(RUNS_BUCKET, "opcode runs: a key per running session, its value the owning worker");
        let workers = js.create_or_update_key_value(workers).await.map_err(|e| setup_err(WORKERS_BUCKET, &e))?;
        let runs = js.create_or_update_key_value(runs).await.map_err(|e| setup_err(RUNS_BUCKET, &e))?;
        let access = access::bucket_config(bucket(ACCESS_BUCKET, access::BUCKET_DESCRIPTION));
        let access = js.create_or_update_key_value(access).await.map_err(|e| setup_err(ACCESS_BUCKET, &e))?;
        tracing::debug!(max_payload, "bus connected");
        Ok(Bus { js, stream, workers, runs, access, config, max_payload, connects })
    }

    /// The configuration the bus was opened with.
    pub fn config(&self) -> &BusConfig {
        &self.config
    }

    /// The subject of `session`'s events.
    pub fn subject(&self, session: &str) -> String {
        format!("{}.{session}", self.config.subject_prefix)
    }

    /// Checks `session` and returns its subject.
    pub(crate) fn session_subject(&self, session: &str) -> Result<String, BusError> {
        if !valid_id(session) {
            return Err(BusError::InvalidSession(session.to_owned()));
        }
        Ok(self.subject(session))
    }

    /// The server name of the events stream's current leader (clustered streams; `None` for one server or
    /// while there is no leader).
    pub async fn stream_leader(&self) -> Result<Option<String>, BusError> {
        let info = self.stream.get_info().await.map_err(|e| BusError::nats("stream info", e))?;
        Ok(info.cluster.and_then(|c| c.leader).filter(|l| !l.is_empty()))
    }
}
