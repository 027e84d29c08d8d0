//! [`BusError`]: what can go wrong on the bus, each with a message a user (or operator) can act on.

use std::time::Duration;

/// Errors of the bus.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// No NATS server answered at the URL within the connect timeout.
    #[error("cannot reach NATS at {url}: {detail}. Is nats-server running there (with JetStream on, see deploy/nats-server.conf)?")]
    Connect {
        /// The URL (or comma-separated URLs) tried.
        url: String,
        /// What the client reported.
        detail: String,
    },
    /// The server answered but the stream or a bucket could not be created or updated (JetStream off,
    /// limits too small for the configuration, not enough cluster nodes for the replicas, …).
    #[error("NATS at {url}: could not set up {what}: {detail}. Is JetStream enabled, with room for the configured limits and replicas?")]
    Setup {
        /// The URL connected to.
        url: String,
        /// Which stream or bucket.
        what: String,
        /// What the server reported.
        detail: String,
    },
    /// A session id that cannot name a subject or key.
    #[error("session id {0:?} cannot be used on the bus: use 1 to 128 ASCII letters, digits, '-' or '_'")]
    InvalidSession(String),
    /// A worker id that cannot name a key.
    #[error("worker id {0:?} cannot be used on the bus: use 1 to 128 ASCII letters, digits, '-' or '_'")]
    InvalidWorker(String),
    /// A device id or code hash that is not lowercase hex (the bus only carries ids and hashes).
    #[error("{0:?} is not a device id or a hash (lowercase hex): nothing was read or written")]
    InvalidAccessKey(String),
    /// A batch whose first event does not continue the session's numbering.
    #[error("session {session}: events must be contiguous: expected seq {expected}, got {got}")]
    NotContiguous {
        /// The session.
        session: String,
        /// The seq the writer expected ([`crate::SessionWriter::next_seq`] at that point).
        expected: u64,
        /// The seq it was given.
        got: u64,
    },
    /// An event line containing a newline (the bus carries single lines, newline-separated).
    #[error("session {session}: event {seq} contains a newline; the bus carries single lines")]
    LineWithNewline {
        /// The session.
        session: String,
        /// The event's seq.
        seq: u64,
    },
    /// Another writer published to the session, or this writer's view of the subject was stale: the
    /// server refused the publish, nothing of it was stored, and this writer will publish nothing more.
    #[error("session {session}: fenced out: another writer has published to this session (or this writer's view was stale); nothing more is accepted from this writer. Open a new writer to continue after the stream's last event")]
    Fenced {
        /// The session.
        session: String,
    },
    /// NATS did not acknowledge a publish within the publish timeout (retries included); the batch may
    /// or may not be stored, and a retry by the same writer is de-duplicated.
    #[error("session {session}: NATS did not store the events within {waited:?} ({detail}); is the NATS cluster reachable and does it have a quorum?")]
    Unavailable {
        /// The session.
        session: String,
        /// How long the writer kept retrying.
        waited: Duration,
        /// The last error.
        detail: String,
    },
    /// The connection to NATS is lost and did not come back in time (the client keeps trying): the
    /// cluster's bus is down or cut off from this machine.
    #[error("the cluster's bus is unreachable: lost the connection to NATS at {url} {lost_for:.0?} ago and could not reconnect. Is nats-server running, and reachable from this machine?")]
    Unreachable {
        /// The URL (or comma-separated URLs) connected to.
        url: String,
        /// How long the connection had been lost.
        lost_for: Duration,
    },
    /// The session already has a run, owned by `owner`.
    #[error("session {session} is already running on worker {owner}")]
    AlreadyRunning {
        /// The session.
        session: String,
        /// The worker that owns the run.
        owner: String,
    },
    /// The worker id already holds a live lease: another process with that id is running.
    #[error("worker {worker} already holds a live lease: another process with this worker id is running (or died less than a lease TTL ago)")]
    LeaseHeld {
        /// The worker id.
        worker: String,
    },
    /// The events a reader asked for are no longer in the stream (its limits discarded them).
    #[error("session {session}: events from seq {wanted} are gone (the stream's limits discarded them); the oldest kept is {first_available}")]
    Truncated {
        /// The session.
        session: String,
        /// The first seq the reader needed.
        wanted: u64,
        /// The first seq the stream still has.
        first_available: u64,
    },
    /// A message on the session's subject that this crate did not write (missing or bad headers).
    #[error("session {session}: malformed message at stream seq {stream_seq}: {detail}")]
    Corrupt {
        /// The session.
        session: String,
        /// Its stream sequence.
        stream_seq: u64,
        /// What is wrong with it.
        detail: String,
    },
    /// Nobody serves the subject a request was sent to.
    #[error("nobody answers on {subject}")]
    NoResponders {
        /// The subject.
        subject: String,
    },
    /// A request got no answer in time.
    #[error("no answer on {subject} within {waited:?}")]
    TimedOut {
        /// The subject.
        subject: String,
        /// How long the requester waited.
        waited: Duration,
    },
    /// Any other failed request to NATS.
    #[error("NATS request failed ({what}): {detail}")]
    Nats {
        /// What was being done.
        what: String,
        /// What the client reported.
        detail: String,
    },
}

impl BusError {
    /// A [`BusError::Nats`] for `what` from any error.
    pub(crate) fn nats(what: impl Into<String>, err: impl std::fmt::Display) -> BusError {
        BusError::Nats { what: what.into(), detail: err.to_string() }
    }
}

/// Checks that `id` can be a subject token and a key: 1–128 of `[A-Za-z0-9_-]`.
pub(crate) fn valid_id(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
