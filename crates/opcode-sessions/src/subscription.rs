//! A viewer's cursor into a session's log.
//!
//! A subscription does not receive pushed events: it *reads* the log by seq, from where it is, and waits
//! on the log's status when it has caught up. So it sees every event exactly once and in order (no gap,
//! no duplicate, by construction), a slow viewer costs the run nothing (it simply reads older events
//! from the disk later), and replay-then-live needs no hand-over.

use std::sync::Arc;

use bytes::Bytes;
use opcode_proto::Seq;
use tokio::sync::watch;

use crate::error::LogError;
use crate::log::{Batch, EventLog, LogStatus};

/// How every encoded `completion` event begins (the encoder writes `type` first).
const COMPLETION_PREFIX: &[u8] = b"{\"type\":\"completion\"";

/// Events read per batch at most. Small enough that a hundred viewers catching up take turns quickly (the
/// run's own reader is polled between them), large enough to write many frames per socket flush.
const BATCH_MAX: usize = 128;

/// A cursor into one session's events. Obtain with [`crate::SessionRegistry::subscribe`].
#[derive(Debug)]
pub struct Subscription {
    log: Arc<EventLog>,
    next: Seq,
    status: watch::Receiver<LogStatus>,
    /// Follow one run only: end after its `completion`.
    one_run: bool,
    /// The run followed has ended.
    done: bool,
    /// Events returned per batch at most.
    batch_max: usize,
}

impl Subscription {
    pub(crate) fn new(log: Arc<EventLog>, from: Seq) -> Self {
        let status = log.watch();
        Subscription { log, next: from, status, one_run: false, done: false, batch_max: BATCH_MAX }
    }

    /// This subscription returns batches of up to `max` events (at least 1) instead of 128: for a reader
    /// that pays per batch, such as a forwarder whose every batch waits for a network round trip.
    pub fn in_batches_of(mut self, max: usize) -> Self {
        self.batch_max = max.max(1);
        self
    }

    /// This subscription follows one run: it ends after that run's `completion` (the last event of a
    /// run), even when another run of the session starts right after it.
    pub fn until_completion(mut self) -> Self {
        self.one_run = true;
        self
    }

    /// The seq of the next event this subscription will return.
    pub fn next_seq(&self) -> Seq {
        self.next
    }

    /// The session this subscription reads.
    pub fn session_id(&self) -> &str {
        self.log.session_id()
    }

    /// The next events (encoded JSON frames, in seq order, at least one), waiting for them if needed.
    /// `Ok(None)` once every event has been returned and no run of the session is live.
    pub async fn next_batch(&mut self) -> Result<Option<Vec<Bytes>>, LogError> {
        if self.done {
            return Ok(None);
        }
        loop {
            let status = *self.status.borrow_and_update();
            if self.next < status.next_seq {
                let events = match self.log.locate(self.next, self.batch_max) {
                    Batch::Ready(events) => events,
                    Batch::OnDisk { offset, skip, count } => {
                        let log = self.log.clone();
                        tokio::task::spawn_blocking(move || log.read_file(offset, skip, count))
                            .await
                            .unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()))?
                    }
                };
                let mut events = events;
                if self.one_run {
                    if let Some(end) = events.iter().position(|e| e.starts_with(COMPLETION_PREFIX)) {
                        events.truncate(end + 1);
                        self.done = true;
                    }
                }
                self.next += events.len() as u64;
                return Ok(Some(events));
            }
            if !status.live {
                return Ok(None);
            }
            if self.status.changed().await.is_err() {
                // the log is gone (session evicted): deliver what is left, then end
                let status = *self.status.borrow();
                if self.next >= status.next_seq {
                    return Ok(None);
                }
            }
        }
    }
}
