//! Forwarding a run's events from the worker's log to the bus, and holding the run back while the bus is
//! behind.
//!
//! A forward task follows the session's log from the seq the bus expects next, publishes what it reads in
//! batches through the session's fenced [`SessionWriter`], and records how far it got. The registry's run
//! task asks the [`Forwarder`] (its [`EventSink`]) after every batch of claude's output; while the bus is
//! more than [`Forwarder::window`] events behind, the answer waits, so claude's pipe fills and claude waits
//! too: memory stays bounded whatever the bus's pace.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use opcode_bus::{BusError, NumberedEvent, SessionWriter};
use opcode_sessions::{EventSink, Subscription};
use tokio::sync::watch;

/// Events a run may be ahead of the bus before it is held back.
pub const DEFAULT_WINDOW: u64 = 2048;

/// Events a forward task publishes per batch at most: each batch waits for the stream's acks (one message
/// in flight per session, for the fence), so the more it carries the fewer round trips a session's pace
/// pays for; half the default window, so claude writes the next half while one is in flight.
pub(crate) const FORWARD_BATCH: usize = 1024;

/// The [`EventSink`] of a worker's registry: knows how far each forwarded session's events are on the bus.
#[derive(Debug)]
pub struct Forwarder {
    window: u64,
    /// Per forwarded session: the number of its events on the bus (seqs `0..n`).
    published: Mutex<HashMap<String, watch::Sender<u64>>>,
}

impl Forwarder {
    /// A forwarder that lets a run be at most `window` events ahead of the bus.
    pub fn new(window: u64) -> Arc<Forwarder> {
        Arc::new(Forwarder { window, published: Mutex::new(HashMap::new()) })
    }

    /// How many events a run may be ahead of the bus.
    pub fn window(&self) -> u64 {
        self.window
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, watch::Sender<u64>>> {
        self.published.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts tracking `session`, whose first `on_bus` events are on the bus already.
    pub(crate) fn track(&self, session: &str, on_bus: u64) -> watch::Sender<u64> {
        let (tx, _) = watch::channel(on_bus);
        self.map().insert(session.to_owned(), tx.clone());
        tx
    }

    /// Stops tracking `session`: its run no longer waits for the bus.
    pub(crate) fn untrack(&self, session: &str) {
        self.map().remove(session);
    }
}

impl EventSink for Forwarder {
    fn appended(&self, session_id: &str, len: u64) -> BoxFuture<'static, ()> {
        let Some(mut published) = self.map().get(session_id).map(watch::Sender::subscribe) else {
            return Box::pin(std::future::ready(()));
        };
        let need = len.saturating_sub(self.window);
        Box::pin(async move {
            // ends when the forward task is gone too (its sender dropped): nothing to wait for then
            let _ = published.wait_for(|n| *n >= need).await;
        })
    }
}

/// How a forward task ended.
#[derive(Debug)]
pub(crate) enum Forwarded {
    /// The run's completion is on the bus.
    Complete,
    /// The bus refused or failed: the run cannot be forwarded any more.
    Failed(BusError),
}

/// Publishes the events `subscription` reads (it starts at `writer.next_seq()`) until the run's
/// completion, updating `published` after every batch.
pub(crate) async fn forward(
    mut subscription: Subscription,
    mut writer: SessionWriter,
    published: watch::Sender<u64>,
) -> Forwarded {
    loop {
        let first = subscription.next_seq();
        let lines = match subscription.next_batch().await {
            Ok(Some(lines)) => lines,
            Ok(None) => return Forwarded::Complete,
            Err(err) => {
                tracing::error!(%err, "the run's own log is unreadable; its events stop here");
                return Forwarded::Complete;
            }
        };
        let batch: Vec<NumberedEvent> =
            lines.into_iter().enumerate().map(|(i, line)| NumberedEvent::new(first + i as u64, line)).collect();
        if let Err(err) = writer.publish(&batch).await {
            return Forwarded::Failed(err);
        }
        published.send_replace(writer.next_seq());
    }
}
