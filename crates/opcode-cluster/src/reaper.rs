//! Ending the runs of workers that died: a worker whose lease lapsed cannot end its runs, so any other
//! worker takes each of them over (a compare-and-set on the run's owner, so one does it) and writes the
//! run's `error` and `completion(error)` through a fresh fenced writer, which also fences the dead worker
//! out should it come back.

use std::time::Duration;

use opcode_bus::{Bus, BusError, NumberedEvent};
use opcode_proto::event::{encode_event, session_id_json};
use opcode_proto::{CompletionStatus, EventKind};
use tokio_util::sync::CancellationToken;

/// How often the runs are checked at most: a quarter of the lease, and at least every second, so a dead
/// worker's runs end within the lease and a second or so.
fn period(bus: &Bus) -> Duration {
    (bus.config().lease_ttl / 4).min(Duration::from_secs(1)).max(Duration::from_millis(100))
}

/// Sweeps until `stop`.
pub(crate) async fn run(bus: Bus, me: String, stop: CancellationToken) {
    let mut tick = tokio::time::interval(period(&bus));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Err(err) = sweep(&bus, &me).await {
            tracing::warn!(%err, "could not check for runs of lost workers");
        }
    }
}

/// The message of a run whose worker was lost.
pub fn lost_message(worker: &str) -> String {
    format!("the run was lost with its worker {worker} (its lease lapsed); its claude process ended with it")
}

/// Ends every run whose owner's lease has lapsed, as worker `me`; returns the sessions it ended.
pub async fn sweep(bus: &Bus, me: &str) -> Result<Vec<String>, BusError> {
    let mut ended = Vec::new();
    for (session, owner) in bus.running().await? {
        if owner == me || bus.worker_alive(&owner).await? {
            continue;
        }
        let claim = match bus.reclaim_run(&session, me).await {
            Ok(claim) => claim,
            // another worker was first, or the owner came back
            Err(BusError::AlreadyRunning { .. }) => continue,
            Err(err) => return Err(err),
        };
        let mut writer = bus.writer(&session).await?;
        let next = writer.next_seq();
        if !ended_already(bus, &session, next).await? {
            let message = lost_message(&owner);
            let session_json = session_id_json(&session);
            let kinds = [
                EventKind::Error { message: message.clone() },
                EventKind::Completion {
                    status: CompletionStatus::Error,
                    exit_code: None,
                    signal: None,
                    error: Some(message),
                },
            ];
            let events: Vec<NumberedEvent> = kinds
                .iter()
                .enumerate()
                .map(|(i, kind)| {
                    let seq = next + i as u64;
                    NumberedEvent::new(seq, encode_event(&session_json, seq, kind))
                })
                .collect();
            writer.publish(&events).await?;
            tracing::warn!(session_id = %session, dead = %owner, "ended the run of a lost worker");
        }
        claim.release().await?;
        ended.push(session);
    }
    Ok(ended)
}

/// Whether the session's last event on the bus is a `completion` (the dead worker got it out, then died
/// before releasing the run).
async fn ended_already(bus: &Bus, session: &str, next: u64) -> Result<bool, BusError> {
    use futures::TryStreamExt;
    let Some(last) = next.checked_sub(1) else { return Ok(false) };
    let events: Vec<NumberedEvent> = bus.read_to_end(session, last.checked_sub(1)).try_collect().await?;
    Ok(events.last().is_some_and(|e| e.line.starts_with(b"{\"type\":\"completion\"")))
}
