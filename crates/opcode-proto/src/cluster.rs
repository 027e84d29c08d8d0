//! What an `opcode-web` replica asks an `opcode-worker` over the bus (request and reply, JSON), and the
//! answer: the same operations a server on its own performs on its registry, named as closed enums.
//!
//! A start goes to any worker (a queue group); every other command goes to the worker that owns the
//! session's run. A refusal carries a [`Refusal`] kind, so the replica answers the browser with the same
//! status a server on its own would, and the worker's message, written for the user.

use serde::{Deserialize, Serialize};

use crate::control::{PermissionDecision, SettingsChange};
use crate::image::ImageAttachment;
use crate::request::ClaudeRequest;
use crate::Seq;

/// Where a forked session starts: a copy of session `from` up to its message `at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForkPoint {
    /// The session copied.
    pub from: String,
    /// The message (of `from`) the copy ends with.
    pub at: String,
}

/// What a worker tells the cluster about itself (the value of its lease): where it can run claude, so a
/// replica sends each start to a worker that has the project.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerCard {
    /// The directories (absolute, canonical) under which it runs claude; empty: anywhere.
    #[serde(default)]
    pub project_roots: Vec<String>,
    /// How many runs it takes at once.
    #[serde(default)]
    pub max_sessions: Option<usize>,
}

impl WorkerCard {
    /// Whether the worker may run claude in `project` (an absolute path), judged by the path alone.
    pub fn serves(&self, project: &str) -> bool {
        let project = std::path::Path::new(project);
        self.project_roots.is_empty() || self.project_roots.iter().any(|root| project.starts_with(root))
    }
}

/// One command for a worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum WorkerCommand {
    /// Start a run (any worker may take it).
    Start {
        /// The request, as a browser sent it (the worker validates it again).
        request: ClaudeRequest,
        /// Where the new session is copied from, for a fork (`None`: a plain start).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fork: Option<ForkPoint>,
    },
    /// Cancel the session's run.
    Cancel {
        /// The session.
        session_id: String,
    },
    /// A prompt for the live session (sent now, or queued behind the turn in progress).
    Prompt {
        /// The session.
        session_id: String,
        /// The prompt.
        prompt: String,
        /// The sender's id for the prompt (a resend with the same id is a no-op).
        client_id: Option<String>,
        /// Images sent with it.
        #[serde(default)]
        images: Vec<ImageAttachment>,
    },
    /// Replace the text of a queued prompt.
    EditQueued {
        /// The session.
        session_id: String,
        /// The queued prompt's client id.
        client_id: String,
        /// Its new text.
        prompt: String,
    },
    /// Take a queued prompt out of the queue.
    Unqueue {
        /// The session.
        session_id: String,
        /// The queued prompt's client id.
        client_id: String,
    },
    /// Answer a permission request of the live session.
    Answer {
        /// The session.
        session_id: String,
        /// The permission request.
        request_id: String,
        /// The answer.
        decision: PermissionDecision,
    },
    /// Interrupt the live session's turn.
    Interrupt {
        /// The session.
        session_id: String,
    },
    /// Change the live session's model and/or permission mode.
    Settings {
        /// The session.
        session_id: String,
        /// The change.
        change: SettingsChange,
    },
    /// End the live session (close claude's input).
    End {
        /// The session.
        session_id: String,
    },
    /// The worker's sessions with their latest runs (sent to each live worker for a cluster-wide list).
    List,
}

impl WorkerCommand {
    /// The session the command is about (`None` for a start, whose session id may be chosen by the worker).
    pub fn session_id(&self) -> Option<&str> {
        match self {
            WorkerCommand::Start { .. } | WorkerCommand::List => None,
            WorkerCommand::Cancel { session_id }
            | WorkerCommand::Prompt { session_id, .. }
            | WorkerCommand::EditQueued { session_id, .. }
            | WorkerCommand::Unqueue { session_id, .. }
            | WorkerCommand::Answer { session_id, .. }
            | WorkerCommand::Interrupt { session_id }
            | WorkerCommand::Settings { session_id, .. }
            | WorkerCommand::End { session_id } => Some(session_id),
        }
    }
}

/// What became of a prompt (as the sessions layer's `PromptOutcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prompted {
    /// Written to claude: a new turn.
    Sent,
    /// Waiting behind the turn in progress.
    Queued,
    /// Its client id was seen before: nothing was done.
    Duplicate,
}

/// Why a worker did not do what it was asked; decides the status the replica answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// The request is wrong (a bad field, an empty prompt, a path that is not a project): `400`.
    BadRequest,
    /// Not allowed (outside the project roots, bypass disabled): `403`.
    Forbidden,
    /// No such session or request: `404`.
    NotFound,
    /// The session is not in a state for it (already running, not running, not live, already answered):
    /// `409`.
    Conflict,
    /// Too many runs, or too many started lately: `429`.
    Busy,
    /// The worker cannot do it now (shutting down, its lease lost, the bus unavailable): `503`.
    Unavailable,
}

/// A worker's answer to a [`WorkerCommand`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum WorkerReply {
    /// The run started; its events are on the bus from `first_seq` on.
    Started {
        /// The run's session.
        session_id: String,
        /// The seq of the run's `start` event.
        first_seq: Seq,
        /// The worker that owns the run.
        worker: String,
    },
    /// A prompt was taken.
    Prompted {
        /// What became of it.
        prompted: Prompted,
    },
    /// The worker's sessions (the sessions layer's run summaries, as JSON), newest first.
    Runs {
        /// The summaries.
        runs: Vec<serde_json::Value>,
    },
    /// Done.
    Done,
    /// Not done, and why.
    Refused {
        /// The kind of refusal.
        refusal: Refusal,
        /// What to tell the user.
        message: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_and_replies_read_back_as_written() {
        let command = WorkerCommand::Prompt {
            session_id: "s1".into(),
            prompt: "next".into(),
            client_id: Some("c1".into()),
            images: Vec::new(),
        };
        let json = serde_json::to_string(&command).unwrap();
        assert!(json.contains(r#""op":"prompt""#), "{json}");
        assert_eq!(serde_json::from_str::<WorkerCommand>(&json).unwrap(), command);
        assert_eq!(command.session_id(), Some("s1"));

        let reply = WorkerReply::Refused { refusal: Refusal::Conflict, message: "already running".into() };
        let json = serde_json::to_string(&reply).unwrap();
        assert_eq!(json, r#"{"outcome":"refused","refusal":"conflict","message":"already running"}"#);
        assert_eq!(serde_json::from_str::<WorkerReply>(&json).unwrap(), reply);
    }

    #[test]
    fn an_unknown_command_is_refused_when_read() {
        assert!(serde_json::from_str::<WorkerCommand>(r#"{"op":"format_disk","session_id":"s"}"#).is_err());
    }
}
