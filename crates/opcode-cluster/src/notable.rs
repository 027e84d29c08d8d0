//! Notable events across the cluster: a worker announces its registry's notable events (permission
//! requests, ends of turns and runs) on the bus; each replica turns what it hears back into its own
//! broadcast, which its Web Push notifier and turn tracker listen to as on a server on its own.
//!
//! At most once and never stored, like the broadcast they come from: a replica that is down or reconnecting
//! misses what was announced meanwhile (the events themselves stay in the stream). Every replica hears
//! every announcement; each notifies the devices subscribed through it.

use bytes::Bytes;
use futures::StreamExt;
use opcode_bus::Bus;
use opcode_sessions::notable::{NotableEvent, NotableKind, NOTABLE_CAPACITY};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::{subjects, ClusterError};

/// A notable event on the wire (the moment it happened is when a replica hears it).
#[derive(Debug, Serialize, Deserialize)]
struct Announcement {
    session_id: String,
    project_path: String,
    #[serde(flatten)]
    kind: NotableKind,
}

/// Announces every event of `events` (a worker's registry's) on the bus until `stop`.
pub(crate) async fn announce(bus: Bus, mut events: broadcast::Receiver<NotableEvent>, stop: CancellationToken) {
    loop {
        let event = tokio::select! {
            _ = stop.cancelled() => return,
            event = events.recv() => match event {
                Ok(event) => event,
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "notable events were not announced (the announcer fell behind)");
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
        };
        let announcement =
            Announcement { session_id: event.session_id, project_path: event.project_path, kind: event.kind };
        let payload = match serde_json::to_vec(&announcement) {
            Ok(payload) => Bytes::from(payload),
            Err(err) => {
                tracing::warn!(%err, "a notable event could not be encoded");
                continue;
            }
        };
        if let Err(err) = bus.announce(subjects::NOTABLE, payload).await {
            tracing::warn!(session_id = %announcement.session_id, %err, "a notable event was not announced");
        }
    }
}

/// Subscribes to the workers' announcements (in place on the server when this returns) and re-announces
/// them on the returned channel, for as long as the bus's connection lasts.
pub(crate) async fn listen(bus: &Bus) -> Result<broadcast::Sender<NotableEvent>, ClusterError> {
    let heard = bus.serve(subjects::NOTABLE, None).await?;
    let (tx, _) = broadcast::channel(NOTABLE_CAPACITY);
    let sender = tx.clone();
    tokio::spawn(async move {
        let mut heard = std::pin::pin!(heard);
        while let Some(message) = heard.next().await {
            match serde_json::from_slice::<Announcement>(message.payload()) {
                Ok(a) => {
                    let event = NotableEvent {
                        session_id: a.session_id,
                        project_path: a.project_path,
                        at: tokio::time::Instant::now(),
                        kind: a.kind,
                    };
                    // nobody listening is fine, as on a server on its own
                    let _ = sender.send(event);
                }
                Err(err) => tracing::warn!(%err, "an announcement that is not a notable event was ignored"),
            }
        }
    });
    Ok(tx)
}
