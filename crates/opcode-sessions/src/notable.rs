//! Notable events: the few moments of a session a person away from the screen wants to hear about (claude
//! asks for a permission, a turn or a run ends), announced on a broadcast channel as they are logged.
//!
//! Why a channel of its own rather than a subscription to every log: a notifier would otherwise have to
//! follow every session's log and parse every line. Announcing never waits and never fails: a
//! `broadcast` send is a push into a ring; with nobody listening it is dropped, and a listener that falls
//! more than [`NOTABLE_CAPACITY`] events behind loses the oldest (it is told how many). What listens, and
//! what it does (Web Push), is none of this crate's business.

use std::sync::Arc;

use opcode_proto::CompletionStatus;
use tokio::sync::broadcast;
use tokio::time::Instant;

/// Events a listener may fall behind by before it loses the oldest.
pub const NOTABLE_CAPACITY: usize = 256;

/// One notable moment of a session.
#[derive(Debug, Clone)]
pub struct NotableEvent {
    /// The session.
    pub session_id: String,
    /// Its project directory.
    pub project_path: String,
    /// When it was announced (right when its event was logged): whoever decides whether someone was
    /// watching at that moment compares against this.
    pub at: Instant,
    /// What happened.
    pub kind: NotableKind,
}

/// What happened. Closed: a listener handles every case. Serializable, so a cluster's worker can tell
/// the replicas (`opcode-cluster`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NotableKind {
    /// A live session's claude asks to use a tool (its `permission_request` event was logged).
    PermissionRequested {
        /// Claude's id of the request (answer with it).
        request_id: String,
        /// The tool (`Bash`, `Edit`, …).
        tool_name: String,
        /// The tool's input, raw JSON.
        input: String,
        /// Claude's description of the call, if it gave one.
        description: Option<String>,
        /// Unix milliseconds when it is denied unanswered.
        expires_at: u64,
    },
    /// A permission request got its answer (from a viewer, the timeout, or the end of the session).
    PermissionResolved {
        /// The request.
        request_id: String,
    },
    /// A live session's turn ended (claude's `result` line): claude waits for the next prompt.
    TurnFinished {
        /// The `result` line's `subtype` (`success`, `error_during_execution` for an interrupted or failed
        /// turn, `error_max_turns`, …), if it had one.
        subtype: Option<String>,
        /// The `result` line's `is_error`.
        is_error: bool,
        /// The `result` line's text (claude's last answer), if any.
        result: Option<String>,
    },
    /// A run ended (its `completion` was logged).
    RunFinished {
        /// How.
        status: CompletionStatus,
        /// Whether it was a live session (whose turns were announced one by one).
        live: bool,
        /// Why it did not succeed, as in the `completion` event.
        error: Option<String>,
    },
}

/// Announces the notable events of one session. Cheap to clone; never waits.
#[derive(Debug, Clone)]
pub(crate) struct Announcer {
    tx: broadcast::Sender<NotableEvent>,
    session_id: Arc<str>,
    project_path: Arc<str>,
}

impl Announcer {
    pub(crate) fn new(tx: broadcast::Sender<NotableEvent>, session_id: &str, project_path: &str) -> Self {
        Announcer { tx, session_id: session_id.into(), project_path: project_path.into() }
    }

    /// Announces `kind` now. Nobody listening is fine.
    pub(crate) fn announce(&self, kind: NotableKind) {
        let event = NotableEvent {
            session_id: self.session_id.to_string(),
            project_path: self.project_path.to_string(),
            at: Instant::now(),
            kind,
        };
        let _ = self.tx.send(event);
    }
}

/// What a `result` line says about its turn (read only for result lines, which are rare).
pub(crate) fn turn_finished(line: &str) -> NotableKind {
    #[derive(serde::Deserialize)]
    struct ResultLine {
        subtype: Option<String>,
        #[serde(default)]
        is_error: bool,
        result: Option<String>,
    }
    match serde_json::from_str::<ResultLine>(line) {
        Ok(r) => NotableKind::TurnFinished { subtype: r.subtype, is_error: r.is_error, result: r.result },
        Err(_) => NotableKind::TurnFinished { subtype: None, is_error: false, result: None },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_line_becomes_a_finished_turn() {
        let line = r#"{"type":"result","subtype":"success","is_error":false,"result":"done","session_id":"s"}"#;
        assert_eq!(
            turn_finished(line),
            NotableKind::TurnFinished { subtype: Some("success".into()), is_error: false, result: Some("done".into()) }
        );
        assert_eq!(
            turn_finished(r#"{"type":"result","result":7}"#),
            NotableKind::TurnFinished { subtype: None, is_error: false, result: None }
        );
    }
}
