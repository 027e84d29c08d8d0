//! The task that drives one run: turns the child's [`ProcessEvent`]s into session events, in order, and
//! ends the run with exactly one `completion`.

use std::sync::Arc;

use futures::FutureExt;

use opcode_proc::{OutputStream, ProcessEvent, ProcessHandle};
use opcode_proto::event::OutputContent;
use opcode_proto::{CompletionStatus, EventKind};

use crate::registry::Session;

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

/// Lines buffered between a child's readers and its run task: when viewers keep the workers busy, the
/// run task still takes up to this many lines per turn, so viewers do not slow the run.
pub(crate) const CHILD_EVENT_BUFFER: usize = 1024;

/// Drives the run until the child is reaped, then marks the session finished.
pub(crate) async fn drive(session: Arc<Session>, mut child: ProcessHandle, live: bool) {
    let mut completed = false;
    while let Some(first) = child.next_event().await {
        let mut pending: Vec<EventKind> = Vec::new();
        let mut next = Some(first);
        let mut taken = 0;
        while let Some(event) = next.take() {
            taken += 1;
            let exited = matches!(event, ProcessEvent::Exited(_));
            let mut handled = false;
            if live {
                if let ProcessEvent::Line { stream: OutputStream::Stdout, text } = &event {
                    // a cheap test first: control requests are rare, every line passes here
                    if text.contains("\"control_request\"") {
                        session.log.append_batch(std::mem::take(&mut pending));
                        handled = session.handle_control_line(text).await;
                    }
                    if opcode_proto::read_envelope(text).is_some_and(|e| e.kind.as_deref() == Some("result")) {
                        session.turn_ended();
                    }
                }
                if exited {
                    session.log.append_batch(std::mem::take(&mut pending));
                    session.close_live();
                }
            }
            if !handled {
                pending.extend(to_event(event, session.cancel_requested()));
            }
            completed |= exited;
            if taken < BATCH {
                next = child.next_event().now_or_never().flatten();
            }
        }
        tracing::trace!(events = pending.len(), "batch");
        session.log.append_batch(pending);
        // the batch is bounded; now let the viewers have their turn
        tokio::task::yield_now().await;
    }
    if !completed {
        // the supervisor's task vanished without an exit (it cannot, short of a panic): still end the run
        let message = "lost track of the claude process".to_owned();
        session.log.append(EventKind::Error { message: message.clone() });
        session.log.append(EventKind::Completion {
            status: CompletionStatus::Error,
            exit_code: None,
            signal: None,
            error: Some(message),
        });
    }
    session.finish_run();
}
