//! Live sessions: one claude process across turns (`--input-format stream-json --permission-prompt-tool
//! stdio`). Prompts, permission answers and interrupts are written to its stdin by one writer task fed
//! through a bounded channel (ordered, with back-pressure); `can_use_tool` requests from its stdout become
//! `permission_request` events that any viewer may answer. The first answer wins: an answer removes the
//! request from the pending set under a lock, so a second answer finds nothing to answer.
//!
//! Unanswered requests are denied after the permission timeout; a session without a turn for the idle
//! timeout is ended (its input closed); when the process ends, requests still pending are resolved as
//! denied `by: "end"` so no viewer waits on a card that can no longer be answered.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opcode_proc::StdinWriter;
use opcode_proto::control::{self, Behavior, ClaudeControlRequest, PermissionDecision, ToolPermissionRequest};
use opcode_proto::{AnsweredBy, EventKind};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::error::ControlError;
use crate::registry::Session;

/// Lines waiting for claude's stdin before writers wait.
const STDIN_QUEUE: usize = 64;

/// The steering state of a live run.
#[derive(Debug)]
pub(crate) struct LiveState {
    /// Feeds the stdin writer task; `None` once the input was closed (`end`).
    stdin: Option<mpsc::Sender<String>>,
    /// Pending permission requests: request id → claude's input for the tool (raw JSON).
    pending: HashMap<String, String>,
    /// True from a prompt until claude's `result` line.
    turn_active: bool,
    /// When the last turn ended (or the session started).
    last_activity: Instant,
}

fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Starts steering a freshly spawned live run: the stdin writer, `initialize`, the first prompt, and the
/// idle watchdog.
pub(crate) async fn begin(session: &Arc<Session>, stdin: Option<StdinWriter>, prompt: &str, idle: Duration) {
    let (tx, mut rx) = mpsc::channel::<String>(STDIN_QUEUE);
    if let Some(mut writer) = stdin {
        tokio::spawn(async move {
            while let Some(line) = rx.recv().await {
                if let Err(err) = writer.write_line(&line).await {
                    tracing::debug!(%err, "claude's stdin closed");
                    break;
                }
            }
            // dropping the writer closes claude's stdin
        });
    }
    *session.live_state() =
        Some(LiveState { stdin: Some(tx), pending: HashMap::new(), turn_active: false, last_activity: Instant::now() });
    let init = control::control_request(&format!("init-{}", uuid::Uuid::new_v4()), "initialize");
    let _ = session.write_stdin(init).await;
    let _ = session.prompt(prompt).await;
    spawn_idle_watchdog(Arc::downgrade(session), idle);
}

/// Ends the session's input once it has had no turn and no pending request for `idle`.
fn spawn_idle_watchdog(session: std::sync::Weak<Session>, idle: Duration) {
    tokio::spawn(async move {
        loop {
            let wake = {
                let Some(session) = session.upgrade() else { return };
                let state = session.live_state();
                let Some(live) = state.as_ref() else { return };
                if live.stdin.is_none() {
                    return;
                }
                if live.turn_active || !live.pending.is_empty() {
                    Instant::now() + idle
                } else if live.last_activity.elapsed() >= idle {
                    drop(state);
                    tracing::info!(session_id = %session.id, "live session idle: ending it");
                    let _ = session.end_input();
                    return;
                } else {
                    live.last_activity + idle
                }
            };
            tokio::time::sleep_until(wake).await;
        }
    });
}

impl Session {
    pub(crate) fn live_state(&self) -> std::sync::MutexGuard<'_, Option<LiveState>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn not_live(&self) -> ControlError {
        ControlError::NotLive(self.id.clone())
    }

    /// Queues one line for claude's stdin (waits while the queue is full).
    async fn write_stdin(&self, line: String) -> Result<(), ControlError> {
        let sender = self.live_state().as_ref().and_then(|l| l.stdin.clone()).ok_or_else(|| self.not_live())?;
        sender.send(line).await.map_err(|_| self.not_live())
    }

    /// Writes a prompt as a new turn and logs it.
    pub(crate) async fn prompt(&self, prompt: &str) -> Result<(), ControlError> {
        // marked before writing: claude's `result` may come back before this function resumes
        let set_active = |active: bool| {
            if let Some(live) = self.live_state().as_mut() {
                live.turn_active = active;
            }
        };
        set_active(true);
        if let Err(err) = self.write_stdin(control::user_turn(prompt)).await {
            set_active(false);
            return Err(err);
        }
        self.log.append(EventKind::UserPrompt { prompt: prompt.to_owned() });
        Ok(())
    }

    /// Answers a pending permission request (first answer wins) and logs the resolution.
    pub(crate) async fn answer(
        &self,
        request_id: &str,
        decision: &PermissionDecision,
        by: AnsweredBy,
    ) -> Result<(), ControlError> {
        let original_input = {
            let mut state = self.live_state();
            let live = state.as_mut().ok_or_else(|| self.not_live())?;
            live.pending.remove(request_id).ok_or_else(|| ControlError::NotPending(request_id.to_owned()))?
        };
        let input = decision.updated_input.as_ref().map_or(original_input, |v| v.to_string());
        let line = control::permission_response(request_id, decision.behavior, &input, decision.message.as_deref());
        // the process may already be gone; the resolution is logged either way
        let _ = self.write_stdin(line).await;
        self.log.append(EventKind::PermissionResolved {
            request_id: request_id.to_owned(),
            behavior: decision.behavior,
            by,
            message: decision.message.clone(),
        });
        Ok(())
    }

    /// Asks claude to stop the current turn.
    pub(crate) async fn interrupt(&self) -> Result<(), ControlError> {
        self.write_stdin(control::control_request(&format!("interrupt-{}", uuid::Uuid::new_v4()), "interrupt")).await
    }

    /// Closes claude's input (the writer task ends and drops the pipe); claude then exits.
    pub(crate) fn end_input(&self) -> Result<(), ControlError> {
        let mut state = self.live_state();
        let live = state.as_mut().ok_or_else(|| self.not_live())?;
        live.stdin.take().map(drop).ok_or_else(|| self.not_live())
    }

    /// Handles a stdout line of a live run that may be claude's control request; returns true if it was
    /// one (and so is not to be logged as output).
    pub(crate) async fn handle_control_line(self: &Arc<Self>, line: &str) -> bool {
        match control::parse_claude_control_request(line) {
            Some(ClaudeControlRequest::ToolPermission(request)) => {
                self.permission_requested(request);
                true
            }
            Some(ClaudeControlRequest::Unsupported { request_id, subtype }) => {
                tracing::debug!(subtype, "unsupported control request from claude");
                let reply = control::control_error(&request_id, &format!("opcode-web does not handle {subtype}"));
                let _ = self.write_stdin(reply).await;
                true
            }
            None => false,
        }
    }

    fn permission_requested(self: &Arc<Self>, request: ToolPermissionRequest) {
        let timeout = self.permission_timeout();
        if let Some(live) = self.live_state().as_mut() {
            live.pending.insert(request.request_id.clone(), request.input.clone());
        }
        self.log.append(EventKind::PermissionRequest {
            request_id: request.request_id.clone(),
            tool_name: request.tool_name,
            input: request.input,
            tool_use_id: request.tool_use_id,
            description: request.description,
            timeout_ms: timeout.as_millis() as u64,
            expires_at: unix_ms() + timeout.as_millis() as u64,
        });
        let session = Arc::downgrade(self);
        tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            if let Some(session) = session.upgrade() {
                let deny = PermissionDecision {
                    behavior: Behavior::Deny,
                    updated_input: None,
                    message: Some(format!("no answer within {} s: denied", timeout.as_secs())),
                };
                let _ = session.answer(&request.request_id, &deny, AnsweredBy::Timeout).await;
            }
        });
    }

    /// Notes the end of a turn (claude's `result` line).
    pub(crate) fn turn_ended(&self) {
        if let Some(live) = self.live_state().as_mut() {
            live.turn_active = false;
            live.last_activity = Instant::now();
        }
    }

    /// The process ended: resolve what is still pending and forget the live state.
    pub(crate) fn close_live(&self) {
        let Some(live) = self.live_state().take() else { return };
        for request_id in live.pending.into_keys() {
            self.log.append(EventKind::PermissionResolved {
                request_id,
                behavior: Behavior::Deny,
                by: AnsweredBy::End,
                message: Some("the session ended before an answer".to_owned()),
            });
        }
    }
}
