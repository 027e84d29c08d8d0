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
use tokio::time::Instant;

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
    /// The timeout of one JetStream request (default 5 s).
    pub request_timeout: Duration,
    /// How long a writer waits for the ack of one attempt before it sends the message again (same id,
    /// same expected sequence: a retry is never stored twice). Short, so that a publish whose stream
    /// leader died is sent again to the new leader soon after it is elected (default 1 s).
    pub ack_timeout: Duration,
    /// How long a lost connection to NATS may stay lost before readers, writers and requests give up with
    /// [`BusError::Unreachable`] (default 10 s, the default lease TTL: past it a worker's runs are cancelled
    /// anyway). A blip shorter than this (a restart, a failover to another node) goes unnoticed.
    pub unreachable_after: Duration,
    /// How long a request made while the connection is lost waits for it to come back before
    /// [`BusError::Unreachable`] (default 2 s): a replica answers quickly that NATS is gone instead of
    /// waiting for the request timeout.
    pub reconnect_wait: Duration,
    /// Whose bus this is: a worker sets the lease bucket's TTL to its [`BusConfig::lease_ttl`]; a replica
    /// takes the bucket as the workers made it (default [`BusRole::Worker`]).
    pub role: BusRole,
}

/// Who opens the bus. Closed: the two kinds of process of a cluster.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BusRole {
    /// A worker: holds a lease, so the lease bucket's TTL is its own.
    #[default]
    Worker,
    /// A replica: holds no lease, and leaves the lease bucket's TTL as the workers set it (a replica
    /// started after the workers must not change how fast their deaths are noticed).
    Replica,
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
            ack_timeout: Duration::from_secs(1),
            unreachable_after: Duration::from_secs(10),
            reconnect_wait: Duration::from_secs(2),
            role: BusRole::Worker,
        }
    }
}

/// The events stream as [`Bus::stream_state`] reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StreamState {
    /// The stream's name.
    pub name: String,
    /// Messages stored (each carries several events).
    pub messages: u64,
    /// Bytes stored.
    pub bytes: u64,
    /// Consumers the stream has now: one per session some replica follows live, plus catch-ups longer
    /// than a few dozen messages that are reading or ended less than NATS's inactivity threshold ago.
    pub consumers: usize,
    /// How many copies the stream keeps.
    pub configured_replicas: usize,
    /// The server leading the stream (`None` on a single server, or during an election).
    pub leader: Option<String>,
    /// Every server holding a copy, the leader first (empty on a single server).
    pub replicas: Vec<StreamPeer>,
}

/// One server holding a copy of the stream.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StreamPeer {
    /// The server's name.
    pub name: String,
    /// Whether its copy is up to date and it is online.
    pub current: bool,
    /// Operations it is behind.
    pub lag: u64,
}

/// The key-value bucket of worker leases.
const WORKERS_BUCKET: &str = "OPCODE_WORKERS";
/// The key-value bucket of run ownership.
const RUNS_BUCKET: &str = "OPCODE_RUNS";
/// The key-value bucket of session placement (the worker each session last ran on).
const PLACES_BUCKET: &str = "OPCODE_PLACES";
/// How long a session's placement is remembered after its last run.
const PLACE_MAX_AGE: Duration = Duration::from_secs(90 * 24 * 3600);
/// The key-value bucket of paired devices and pairing codes.
const ACCESS_BUCKET: &str = "OPCODE_ACCESS";
/// Room left in a message for its headers under the server's `max_payload`.
const HEADER_ROOM: usize = 1024;

/// A connection to NATS with the events stream and the buckets set up. Cheap to clone: one connection, and
/// its JetStream handles shared (each holds a copy of its stream's configuration, several KB, which ten
/// thousand viewers must not each clone).
#[derive(Debug, Clone)]
pub struct Bus {
    pub(crate) shared: std::sync::Arc<Shared>,
    /// The largest payload a writer packs: the configured one, capped by the server's.
    pub(crate) max_payload: usize,
    /// Counts the client's connections: a change means it reconnected (readers then re-create their
    /// consumers at once instead of waiting to miss heartbeats).
    pub(crate) connects: tokio::sync::watch::Receiver<u64>,
    /// Counts the events stream's leader elections this client heard of: readers re-create their
    /// consumers at once (an ordered consumer lives on the stream's leader and dies with it; the client
    /// alone would notice only after two missed heartbeats, half a minute).
    pub(crate) elections: tokio::sync::watch::Receiver<u64>,
    /// The state of the connection, as the client's events report it.
    link: tokio::sync::watch::Receiver<Link>,
}

/// What every clone of a [`Bus`] shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) js: jetstream::Context,
    pub(crate) stream: jetstream::stream::Stream,
    pub(crate) workers: jetstream::kv::Store,
    pub(crate) runs: jetstream::kv::Store,
    /// Where each session last ran (session → worker), for placing its next run.
    pub(crate) places: jetstream::kv::Store,
    /// Paired devices and pairing codes, shared by a cluster's replicas.
    pub(crate) access: jetstream::kv::Store,
    pub(crate) config: BusConfig,
    /// The URL(s) connected to, for messages.
    pub(crate) url: String,
}

/// A counter of the leader elections of `stream` (JetStream's `LEADER_ELECTED` advisories), kept by a task
/// that lives as long as the client's subscription and a receiver.
async fn watch_elections(
    client: &async_nats::Client,
    stream: &str,
) -> Result<tokio::sync::watch::Receiver<u64>, async_nats::SubscribeError> {
    use futures::StreamExt;
    let mut advisories = client.subscribe(format!("$JS.EVENT.ADVISORY.STREAM.LEADER_ELECTED.{stream}")).await?;
    let (tx, rx) = tokio::sync::watch::channel(0u64);
    tokio::spawn(async move {
        while advisories.next().await.is_some() {
            if tx.is_closed() {
                return;
            }
            tracing::info!("the events stream has a new leader");
            tx.send_modify(|n| *n += 1);
        }
    });
    Ok(rx)
}

/// Whether the client is connected to NATS, or since when it is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// Connected.
    Up,
    /// Disconnected since then (the client keeps reconnecting).
    Down(Instant),
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
        let (link_tx, link) = tokio::sync::watch::channel(Link::Up);
        let link_tx = std::sync::Arc::new(link_tx);
        let options = async_nats::ConnectOptions::new()
            .name("opcode-bus")
            .connection_timeout(config.connect_timeout)
            .request_timeout(Some(config.request_timeout))
            .max_reconnects(None)
            // a lost server is retried soon: up to 1 s apart (the client's default grows to 4 s)
            .reconnect_delay_callback(|attempts| Duration::from_millis((attempts as u64 * 100).min(1000)))
            .event_callback(move |event| {
                let connects_tx = std::sync::Arc::clone(&connects_tx);
                let link_tx = std::sync::Arc::clone(&link_tx);
                async move {
                    match event {
                        async_nats::Event::Connected => {
                            link_tx.send_replace(Link::Up);
                            connects_tx.send_modify(|n| *n += 1);
                        }
                        async_nats::Event::Disconnected => {
                            tracing::warn!("disconnected from NATS, reconnecting");
                            link_tx.send_if_modified(|link| match link {
                                Link::Up => {
                                    *link = Link::Down(Instant::now());
                                    true
                                }
                                Link::Down(_) => false,
                            });
                        }
                        _ => {}
                    }
                }
            });
        let client = tokio::time::timeout(config.connect_timeout + Duration::from_secs(1), options.connect(addrs))
            .await
            .map_err(|_| connect_err(format!("no answer within {:?}", config.connect_timeout)))?
            .map_err(|err| connect_err(err.to_string()))?;
        let max_payload = config.max_message_bytes.min(client.max_payload().saturating_sub(HEADER_ROOM)).max(1);
        let elections = watch_elections(&client, &config.stream).await.map_err(|e| connect_err(e.to_string()))?;
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
        let places = jetstream::kv::Config {
            max_age: PLACE_MAX_AGE,
            ..bucket(PLACES_BUCKET, "opcode sessions: a key per session, its value the worker it last ran on")
        };
        let workers = match (config.role, js.get_key_value(WORKERS_BUCKET).await) {
            (BusRole::Replica, Ok(existing)) => existing,
            _ => js.create_or_update_key_value(workers).await.map_err(|e| setup_err(WORKERS_BUCKET, &e))?,
        };
        let runs = js.create_or_update_key_value(runs).await.map_err(|e| setup_err(RUNS_BUCKET, &e))?;
        let access = access::bucket_config(bucket(ACCESS_BUCKET, access::BUCKET_DESCRIPTION));
        let access = js.create_or_update_key_value(access).await.map_err(|e| setup_err(ACCESS_BUCKET, &e))?;
        let places = js.create_or_update_key_value(places).await.map_err(|e| setup_err(PLACES_BUCKET, &e))?;
        tracing::debug!(max_payload, "bus connected");
        let shared = Shared { js, stream, workers, runs, places, access, config, url: url.to_owned() };
        Ok(Bus { shared: std::sync::Arc::new(shared), max_payload, connects, elections, link })
    }

    /// The configuration the bus was opened with.
    pub fn config(&self) -> &BusConfig {
        &self.shared.config
    }

    /// The subject of `session`'s events.
    pub fn subject(&self, session: &str) -> String {
        format!("{}.{session}", self.shared.config.subject_prefix)
    }

    /// Checks `session` and returns its subject.
    pub(crate) fn session_subject(&self, session: &str) -> Result<String, BusError> {
        if !valid_id(session) {
            return Err(BusError::InvalidSession(session.to_owned()));
        }
        Ok(self.subject(session))
    }

    /// Whether the client is connected to a NATS server now (it reconnects on its own when not).
    pub fn connected(&self) -> bool {
        *self.link.borrow() == Link::Up
    }

    /// The events stream as its leader reports it: size, leader and replicas.
    pub async fn stream_state(&self) -> Result<StreamState, BusError> {
        self.wait_connected().await?;
        let info = self.shared.stream.get_info().await.map_err(|e| BusError::nats("stream info", e))?;
        let cluster = info.cluster.unwrap_or_default();
        let mut replicas: Vec<StreamPeer> = cluster
            .replicas
            .iter()
            .map(|p| StreamPeer { name: p.name.clone(), current: p.current && !p.offline, lag: p.lag.unwrap_or(0) })
            .collect();
        let leader = cluster.leader.filter(|l| !l.is_empty());
        if let Some(leader) = &leader {
            replicas.insert(0, StreamPeer { name: leader.clone(), current: true, lag: 0 });
        }
        Ok(StreamState {
            name: info.config.name.clone(),
            messages: info.state.messages,
            bytes: info.state.bytes,
            consumers: info.state.consumer_count,
            configured_replicas: info.config.num_replicas,
            leader,
            replicas,
        })
    }

    /// Ok at once while the client is connected to NATS; while it is not, waits up to
    /// [`BusConfig::reconnect_wait`] for the connection to come back, then [`BusError::Unreachable`]. What a
    /// replica checks before it answers a request, so that it says at once that the bus is gone instead of
    /// waiting for a request timeout.
    pub async fn wait_connected(&self) -> Result<(), BusError> {
        if *self.link.borrow() == Link::Up {
            return Ok(());
        }
        let mut link = self.link.clone();
        let up = tokio::time::timeout(self.shared.config.reconnect_wait, async {
            link.wait_for(|link| *link == Link::Up).await.is_ok()
        })
        .await;
        match up {
            Ok(true) => Ok(()),
            _ => Err(self.unreachable()),
        }
    }

    /// Resolves once the connection to NATS has been lost for [`BusConfig::unreachable_after`] without
    /// coming back in between (at once if it has been already); never while it is up. Cancel-safe.
    pub async fn unreachable_for_too_long(&self) -> BusError {
        let bound = self.shared.config.unreachable_after;
        let mut link = self.link.clone();
        loop {
            let state = *link.borrow_and_update();
            let changed = match state {
                Link::Up => link.changed().await,
                Link::Down(since) => tokio::select! {
                    () = tokio::time::sleep_until(since + bound) => return self.unreachable(),
                    changed = link.changed() => changed,
                },
            };
            if changed.is_err() {
                // the client is gone: nothing will report a state again
                std::future::pending::<()>().await;
            }
        }
    }

    /// [`BusError::Unreachable`] for this bus, with how long the connection has been lost.
    fn unreachable(&self) -> BusError {
        let lost_for = match *self.link.borrow() {
            Link::Down(since) => since.elapsed(),
            Link::Up => Duration::ZERO,
        };
        BusError::Unreachable { url: self.shared.url.to_string(), lost_for }
    }

    /// The server name of the events stream's current leader (clustered streams; `None` for one server or
    /// while there is no leader).
    pub async fn stream_leader(&self) -> Result<Option<String>, BusError> {
        let info = self.shared.stream.get_info().await.map_err(|e| BusError::nats("stream info", e))?;
        Ok(info.cluster.and_then(|c| c.leader).filter(|l| !l.is_empty()))
    }
}
