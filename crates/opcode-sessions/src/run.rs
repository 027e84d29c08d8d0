//! The task that drives one run: turns the child's [`ProcessEvent`]s into session events, in order, and
//! ends the run with exactly one `completion`.

use std::sync::Arc;

use futures::FutureExt;

use opcode_proc::{ExitStatus, OutputStream, ProcessEvent, ProcessHandle};
use opcode_proto::event::OutputContent;
use opcode_proto::{CompletionStatus, EventKind};

use crate::live::LiveHandle;
use crate::registry::{Session, SessionRegistry};

fn stream_name(stream: OutputStream) -> &'static str {
    match stream {
        OutputStream::Stdout => "stdout",
        OutputStream::Stderr => "stderr",
    }
}

/// Maps one process event to the session event it becomes.
fn to_event(event: ProcessEvent, cancelled: bool) -> Vec<EventKind> {
    match event {
        ProcessEvent::Line { stream: OutputStream::Stdout, text } => {
            vec![EventKind::Output { content: OutputContent::from_line(text) }]
        }
        ProcessEvent::Line { stream: OutputStream::Stderr, text } => vec![EventKind::Error { message: text }],
        ProcessEvent::InvalidUtf8 { stream, lossy } => vec![EventKind::Error {
            message: format!(
                "claude wrote a line that is not valid UTF-8 on {}; shown with replacement characters: {lossy}",
                stream_name(stream)
            ),
        }],
        ProcessEvent::LineTooLong { stream, len, max } => vec![EventKind::Error {
            message: format!(
                "claude wrote a {len}-byte line on {}, over the {max}-byte limit; the line was skipped",
                stream_name(stream)
            ),
        }],
        // claude is never spawned with raw output; should it be, its bytes are reported, not lost silently
        ProcessEvent::Chunk { stream, bytes } => vec![EventKind::Error {
            message: format!("claude's {} sent {} unframed bytes", stream_name(stream), bytes.len()),
        }],
        ProcessEvent::ReadFailed { stream, message } => {
            vec![EventKind::Error { message: format!("reading claude's {} failed: {message}", stream_name(stream)) }]
        }
        ProcessEvent::Exited(status) => {
            let completion =
                |s, error| EventKind::Completion { status: s, exit_code: status.code, signal: status.signal, error };
            if cancelled {
                vec![EventKind::Cancelled, completion(CompletionStatus::Cancelled, Some(CANCELLED.to_owned()))]
            } else if status.success() {
                vec![completion(CompletionStatus::Success, None)]
            } else {
                let message = format!("claude ended with {status}");
                vec![EventKind::Error { message: message.clone() }, completion(CompletionStatus::Error, Some(message))]
            }
        }
    }
}

/// The `error` of a cancelled run's `completion`.
pub(crate) const CANCELLED: &str = "the run was cancelled";

/// Process events taken per batch at most: what is ready is appended under one lock and one wake-up.
/// Well under the log's in-memory tail, so a viewer that keeps up reads from memory, not from the disk.
const BATCH: usize = 128;

/// Stderr lines buffered between a child's stderr reader and its run task (stdout has no buffer but its
/// pipe: the run task reads it itself, through `ProcessHandle::next_event`).
pub(crate) const CHILD_EVENT_BUFFER: usize = 1024;

/// Drives the run until the child is reaped, then marks the session finished.
pub(crate) async fn drive(
    registry: SessionRegistry,
    session: Arc<Session>,
    mut child: ProcessHandle,
    live: Option<LiveHandle>,
) {
    let mut exit: Option<ExitStatus> = None;
    let mut last_events: Vec<EventKind> = Vec::new();
    let mut input_closed = false;
    while let Some(first) = child.next_event().await {
        let mut pending: Vec<EventKind> = Vec::new();
        let mut next = Some(first);
        let mut taken = 0;
        let mut saw_output = false;
        while let Some(event) = next.take() {
            taken += 1;
            let mut handled = false;
            let mut turn_ended = None;
            if let ProcessEvent::Line { stream: OutputStream::Stdout, text } = &event {
                saw_output = true;
                if let Some(live) = &live {
                    match opcode_proto::read_envelope(text).and_then(|e| e.kind).as_deref() {
                        Some("control_request") => {
                            // what came before is logged first; the actor logs the request (never waits)
                            session.log.append_batch(std::mem::take(&mut pending));
                            live.control_request(text.clone());
                            handled = true;
                        }
                        Some("result") => turn_ended = Some(crate::notable::turn_finished(text)),
                        _ => {}
                    }
                }
            }
            if let ProcessEvent::Exited(status) = &event {
                exit = Some(*status);
                if let Some(live) = &live {
                    // pending requests are resolved (in the log) before the completion
                    session.log.append_batch(std::mem::take(&mut pending));
                    input_closed = live.exited().await.input_closed;
                }
            }
            if !handled {
                let is_exit = matches!(event, ProcessEvent::Exited(_));
                let events = to_event(event, session.cancel_requested());
                if is_exit {
                    // logged by `finish_run`, once the session is marked finished
                    last_events = events;
                } else {
                    pending.extend(events);
                }
            }
            if let (Some(notable), Some(live)) = (turn_ended, &live) {
                // the result is in the log before the actor hears the turn ended, so a queued prompt it
                // sends next (its `user_prompt`) comes after the result every viewer reads
                session.log.append_batch(std::mem::take(&mut pending));
                live.turn_ended();
                registry.announcer(&session).announce(notable);
            }
            if taken < BATCH {
                next = child.next_event().now_or_never().flatten();
            }
        }
        if saw_output {
            session.output_seen();
        }
        tracing::trace!(events = pending.len(), "batch");
        session.log.append_batch(pending);
        if let Some(sink) = &registry.config().sink {
            // a sink that is behind holds the run back: claude's pipe fills and claude waits
            sink.appended(&session.id, session.log.len()).await;
        }
        // the batch is bounded; now let the viewers have their turn
        tokio::task::yield_now().await;
    }
    let cancelled = session.cancel_requested();
    let error = match exit {
        _ if cancelled => Some(CANCELLED.to_owned()),
        None => Some("lost track of the claude process".to_owned()),
        Some(status) if status.success() => None,
        Some(status) => Some(format!("claude ended with {status}")),
    };
    let (outcome, unexpected) = match exit {
        None => {
            // the supervisor's task vanished without an exit (it cannot, short of a panic): still end the run
            let message = "lost track of the claude process".to_owned();
            last_events = vec![
                EventKind::Error { message: message.clone() },
                EventKind::Completion {
                    status: CompletionStatus::Error,
                    exit_code: None,
                    signal: None,
                    error: Some(message),
                },
            ];
            (CompletionStatus::Error, true)
        }
        Some(_) if cancelled => (CompletionStatus::Cancelled, false),
        Some(status) if status.success() => (CompletionStatus::Success, live.is_some() && !input_closed),
        Some(_) => (CompletionStatus::Error, live.is_some() && !input_closed),
    };
    registry.finish_run(&session, outcome, unexpected, error, last_events).await;
}
