//! Session events: what the server streams to every viewer of a session.
//!
//! Every event carries the session id and a `seq` that the session registry assigns (strictly increasing
//! from 0, no gaps), so a client can dedupe replays and detect gaps by arithmetic alone. A run produces
//! `start`, then any number of `output` / `error`, then optionally `cancelled`, then exactly one
//! `completion`.
//!
//! Encoding is written by hand rather than derived: an `output` event *splices* claude's stdout line into
//! the frame as raw JSON, so the hot path never parses a whole message into a tree and serialises it back.
//! [`OutputContent::Json`] may only be built from text that is known to be one JSON value, which is what
//! [`OutputContent::from_line`] checks.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::control::Behavior;
use crate::envelope::read_envelope;
use crate::image::ImageAttachment;
use crate::modes::{AnsweredBy, PermissionMode};
use crate::request::CommandType;

/// Position of an event in its session's log: 0 for the first, then +1 for each next event.
pub type Seq = u64;

/// One numbered event of one session.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionEvent {
    /// The session the event belongs to (the id claude uses).
    pub session_id: String,
    /// Its position in the session's log.
    pub seq: Seq,
    /// What happened.
    pub kind: EventKind,
}

/// What a session event says.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    /// A run began.
    Start {
        /// Human-readable summary.
        message: String,
        /// The command that started the run.
        command_type: CommandType,
        /// The directory claude runs in.
        project_path: String,
        /// The model asked for, if any.
        model: Option<String>,
        /// Whether this run is a live session (one process across turns).
        live: bool,
        /// The permission mode asked for, if any.
        permission_mode: Option<PermissionMode>,
    },
    /// A prompt written to a live session's process (a new turn), or, with images, the prompt of a
    /// one-shot run that took its prompt on stdin.
    UserPrompt {
        /// The prompt.
        prompt: String,
        /// The client's id for the prompt, if it gave one (a queued prompt's, when it goes out).
        client_id: Option<String>,
        /// The images sent with it (`images` on the wire, absent when none).
        images: Vec<ImageAttachment>,
    },
    /// A prompt sent while a turn was running waits in the session's queue; it goes out (as a
    /// `user_prompt` with the same `client_id`) when the turn ends. Logged again with new text when edited.
    PromptQueued {
        /// The client's id for the prompt.
        client_id: String,
        /// The prompt.
        prompt: String,
        /// The images that go with it (`images` on the wire, absent when none).
        images: Vec<ImageAttachment>,
    },
    /// A queued prompt was removed before it went out.
    PromptUnqueued {
        /// The client's id for the prompt.
        client_id: String,
    },
    /// Claude asks to use a tool; pending until a [`EventKind::PermissionResolved`] with the same id.
    PermissionRequest {
        /// Claude's id for the request.
        request_id: String,
        /// The tool (`Bash`, `Edit`, …).
        tool_name: String,
        /// The tool's input, as raw JSON.
        input: String,
        /// The tool_use block this is about.
        tool_use_id: Option<String>,
        /// Claude's description of the call.
        description: Option<String>,
        /// How long the request waits for an answer before it is denied.
        timeout_ms: u64,
        /// When that happens, in unix milliseconds.
        expires_at: u64,
        /// What "always allow" would remember (a JSON array of the CLI's permission updates, raw): the
        /// rule(s) a viewer can show before answering with `remember`.
        remember: String,
    },
    /// The answer a permission request got.
    PermissionResolved {
        /// The request answered.
        request_id: String,
        /// Allowed or denied.
        behavior: Behavior,
        /// Who decided.
        by: AnsweredBy,
        /// The allow was remembered for the project (claude will not ask again for it).
        remembered: bool,
        /// The deny message, if any.
        message: Option<String>,
    },
    /// A viewer switched the live session's model and/or permission mode between turns, and claude was
    /// told (`set_model` / `set_permission_mode` control requests); `None` where nothing changed.
    SettingsChanged {
        /// The model used from the next turn on.
        model: Option<String>,
        /// The permission mode used from now on.
        permission_mode: Option<PermissionMode>,
    },
    /// One line of claude's stdout.
    Output {
        /// The line as JSON, or as text when it was not JSON.
        content: OutputContent,
    },
    /// A stderr line, or a failure of the run (spawn failed, line too long, invalid UTF-8).
    Error {
        /// What went wrong, readable as is.
        message: String,
    },
    /// The run was cancelled; `completion` follows.
    Cancelled,
    /// The run ended; always the last event of a run.
    Completion {
        /// How it ended.
        status: CompletionStatus,
        /// The exit code, when the process exited normally.
        exit_code: Option<i32>,
        /// The signal that ended the process, if one did.
        signal: Option<i32>,
        /// Why the run did not succeed, readable as is (`None` on success). The seed's `completion` carried
        /// this string and its client shows it; the same text also came as an `error` event before.
        error: Option<String>,
    },
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompletionStatus {
    /// claude exited with code 0.
    Success,
    /// claude failed: non-zero exit, killed by a signal it was not asked for, or never started.
    Error,
    /// The run was cancelled.
    Cancelled,
}

/// The content of an `output` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputContent {
    /// One complete JSON value, kept as its original text.
    Json(String),
    /// A line that was not JSON, sent as a JSON string.
    Text(String),
}

impl OutputContent {
    /// Classifies a stdout line: JSON objects are kept raw (to be spliced), anything else becomes text.
    /// Never drops a line.
    pub fn from_line(line: String) -> Self {
        if read_envelope(&line).is_some() {
            OutputContent::Json(line)
        } else {
            OutputContent::Text(line)
        }
    }
}

impl EventKind {
    /// The `type` tag on the wire.
    pub fn type_name(&self) -> &'static str {
        match self {
            EventKind::Start { .. } => "start",
            EventKind::UserPrompt { .. } => "user_prompt",
            EventKind::PromptQueued { .. } => "prompt_queued",
            EventKind::PromptUnqueued { .. } => "prompt_unqueued",
            EventKind::PermissionRequest { .. } => "permission_request",
            EventKind::PermissionResolved { .. } => "permission_resolved",
            EventKind::SettingsChanged { .. } => "settings_changed",
            EventKind::Output { .. } => "output",
            EventKind::Error { .. } => "error",
            EventKind::Cancelled => "cancelled",
            EventKind::Completion { .. } => "completion",
        }
    }

    /// True for the terminal `completion` event.
    pub fn is_completion(&self) -> bool {
        matches!(self, EventKind::Completion { .. })
    }
}

fn push_json_str(out: &mut String, s: &str) {
    // Serialising a &str into a String cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

/// `,"images":[…]` when there are images (absent otherwise, so prompts without images read as before).
fn push_images(out: &mut String, images: &[ImageAttachment]) {
    if !images.is_empty() {
        out.push_str(",\"images\":");
        out.push_str(&serde_json::to_string(images).expect("images always serialise"));
    }
}

fn push_field_str(out: &mut String, name: &str, value: Option<&str>) {
    let _ = write!(out, ",\"{name}\":");
    match value {
        Some(v) => push_json_str(out, v),
        None => out.push_str("null"),
    }
}

/// A session id as a JSON string literal (quoted and escaped), to encode many events of one session
/// without escaping the id each time.
pub fn session_id_json(session_id: &str) -> String {
    serde_json::to_string(session_id).unwrap_or_default()
}

impl SessionEvent {
    /// Encodes the event as one JSON object (no trailing newline). `output` content is spliced verbatim.
    pub fn to_json(&self) -> String {
        encode_event(&session_id_json(&self.session_id), self.seq, &self.kind)
    }
}

/// Encodes an event of the session whose id is `session_json` (from [`session_id_json`]): the same bytes
/// as [`SessionEvent::to_json`], without building a `SessionEvent`.
pub fn encode_event(session_json: &str, seq: Seq, kind: &EventKind) -> String {
    {
        let extra = match kind {
            EventKind::Output { content: OutputContent::Json(raw) } => raw.len(),
            EventKind::Output { content: OutputContent::Text(t) } => t.len() + 8,
            _ => 64,
        };
        let mut out = String::with_capacity(64 + session_json.len() + extra);
        out.push_str("{\"type\":\"");
        out.push_str(kind.type_name());
        out.push_str("\",\"session_id\":");
        out.push_str(session_json);
        let _ = write!(out, ",\"seq\":{seq}");
        match kind {
            EventKind::Start { message, command_type, project_path, model, live, permission_mode } => {
                push_field_str(&mut out, "message", Some(message));
                let _ = write!(out, ",\"command_type\":\"{}\"", command_type.as_str());
                push_field_str(&mut out, "project_path", Some(project_path));
                push_field_str(&mut out, "model", model.as_deref());
                let _ = write!(out, ",\"live\":{live}");
                push_field_str(&mut out, "permission_mode", permission_mode.map(PermissionMode::as_str));
            }
            EventKind::UserPrompt { prompt, client_id, images } => {
                push_field_str(&mut out, "prompt", Some(prompt));
                push_field_str(&mut out, "client_id", client_id.as_deref());
                push_images(&mut out, images);
            }
            EventKind::PromptQueued { client_id, prompt, images } => {
                push_field_str(&mut out, "client_id", Some(client_id));
                push_field_str(&mut out, "prompt", Some(prompt));
                push_images(&mut out, images);
            }
            EventKind::PromptUnqueued { client_id } => push_field_str(&mut out, "client_id", Some(client_id)),
            EventKind::PermissionRequest {
                request_id,
                tool_name,
                input,
                tool_use_id,
                description,
                timeout_ms,
                expires_at,
                remember,
            } => {
                push_field_str(&mut out, "request_id", Some(request_id));
                push_field_str(&mut out, "tool_name", Some(tool_name));
                out.push_str(",\"input\":");
                out.push_str(input.trim());
                push_field_str(&mut out, "tool_use_id", tool_use_id.as_deref());
                push_field_str(&mut out, "description", description.as_deref());
                let _ = write!(out, ",\"timeout_ms\":{timeout_ms},\"expires_at\":{expires_at}");
                out.push_str(",\"remember\":");
                out.push_str(remember.trim());
            }
            EventKind::PermissionResolved { request_id, behavior, by, message, remembered } => {
                push_field_str(&mut out, "request_id", Some(request_id));
                push_field_str(&mut out, "behavior", Some(behavior.as_str()));
                push_field_str(&mut out, "by", Some(by.as_str()));
                push_field_str(&mut out, "message", message.as_deref());
                let _ = write!(out, ",\"remembered\":{remembered}");
            }
            EventKind::SettingsChanged { model, permission_mode } => {
                push_field_str(&mut out, "model", model.as_deref());
                push_field_str(&mut out, "permission_mode", permission_mode.map(PermissionMode::as_str));
            }
            EventKind::Output { content } => {
                out.push_str(",\"content\":");
                match content {
                    OutputContent::Json(raw) => out.push_str(raw.trim()),
                    OutputContent::Text(text) => push_json_str(&mut out, text),
                }
            }
            EventKind::Error { message } => {
                out.push_str(",\"message\":");
                push_json_str(&mut out, message);
            }
            EventKind::Cancelled => {}
            EventKind::Completion { status, exit_code, signal, error } => {
                let status = match status {
                    CompletionStatus::Success => "success",
                    CompletionStatus::Error => "error",
                    CompletionStatus::Cancelled => "cancelled",
                };
                let _ = write!(out, ",\"status\":\"{status}\",\"exit_code\":");
                match exit_code {
                    Some(c) => {
                        let _ = write!(out, "{c}");
                    }
                    None => out.push_str("null"),
                }
                out.push_str(",\"signal\":");
                match signal {
                    Some(s) => {
                        let _ = write!(out, "{s}");
                    }
                    None => out.push_str("null"),
                }
                out.push_str(",\"error\":");
                match error {
                    Some(e) => push_json_str(&mut out, e),
                    None => out.push_str("null"),
                }
            }
        }
        out.push('}');
        out
    }
}

impl SessionEvent {
    /// Decodes an event encoded by [`SessionEvent::to_json`] (used by clients: the CLI, tests).
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        let wire: WireEvent = serde_json::from_str(text)?;
        let kind = match wire.kind.as_str() {
            "start" => EventKind::Start {
                message: wire.message.unwrap_or_default(),
                command_type: wire.command_type.unwrap_or(CommandType::Execute),
                project_path: wire.project_path.unwrap_or_default(),
                model: wire.model,
                live: wire.live.unwrap_or(false),
                permission_mode: wire.permission_mode,
            },
            "user_prompt" => EventKind::UserPrompt {
                prompt: wire.prompt.unwrap_or_default(),
                client_id: wire.client_id,
                images: wire.images.unwrap_or_default(),
            },
            "prompt_queued" => EventKind::PromptQueued {
                client_id: wire.client_id.unwrap_or_default(),
                prompt: wire.prompt.unwrap_or_default(),
                images: wire.images.unwrap_or_default(),
            },
            "prompt_unqueued" => EventKind::PromptUnqueued { client_id: wire.client_id.unwrap_or_default() },
            "permission_request" => EventKind::PermissionRequest {
                request_id: wire.request_id.unwrap_or_default(),
                tool_name: wire.tool_name.unwrap_or_default(),
                input: wire.input.map_or_else(|| "null".to_owned(), |v| v.to_string()),
                tool_use_id: wire.tool_use_id,
                description: wire.description,
                timeout_ms: wire.timeout_ms.unwrap_or(0),
                expires_at: wire.expires_at.unwrap_or(0),
                remember: wire.remember.map_or_else(|| "[]".to_owned(), |v| v.to_string()),
            },
            "permission_resolved" => EventKind::PermissionResolved {
                request_id: wire.request_id.unwrap_or_default(),
                behavior: wire.behavior.unwrap_or(Behavior::Deny),
                by: wire.by.unwrap_or(AnsweredBy::End),
                message: wire.message,
                remembered: wire.remembered.unwrap_or(false),
            },
            "settings_changed" => {
                EventKind::SettingsChanged { model: wire.model, permission_mode: wire.permission_mode }
            }
            "output" => EventKind::Output {
                content: match wire.content {
                    Some(serde_json::Value::String(s)) => OutputContent::Text(s),
                    Some(v) => OutputContent::Json(v.to_string()),
                    None => OutputContent::Text(String::new()),
                },
            },
            "error" => EventKind::Error { message: wire.message.unwrap_or_default() },
            "cancelled" => EventKind::Cancelled,
            "completion" => EventKind::Completion {
                status: wire.status.unwrap_or(CompletionStatus::Error),
                exit_code: wire.exit_code,
                signal: wire.signal,
                error: wire.error,
            },
            other => {
                return Err(serde::de::Error::custom(format!("unknown event type {other:?}")));
            }
        };
        Ok(SessionEvent { session_id: wire.session_id, seq: wire.seq, kind })
    }
}

#[derive(Deserialize)]
struct WireEvent {
    #[serde(rename = "type")]
    kind: String,
    session_id: String,
    seq: Seq,
    message: Option<String>,
    command_type: Option<CommandType>,
    project_path: Option<String>,
    model: Option<String>,
    content: Option<serde_json::Value>,
    status: Option<CompletionStatus>,
    exit_code: Option<i32>,
    signal: Option<i32>,
    error: Option<String>,
    live: Option<bool>,
    permission_mode: Option<PermissionMode>,
    prompt: Option<String>,
    client_id: Option<String>,
    images: Option<Vec<ImageAttachment>>,
    request_id: Option<String>,
    tool_name: Option<String>,
    input: Option<serde_json::Value>,
    tool_use_id: Option<String>,
    description: Option<String>,
    timeout_ms: Option<u64>,
    expires_at: Option<u64>,
    behavior: Option<Behavior>,
    by: Option<AnsweredBy>,
    remember: Option<serde_json::Value>,
    remembered: Option<bool>,
}

/// A refusal of a request that never became a run: `{"type":"error","message":…,"session_id"?}`, no `seq`.
pub fn request_error_json(message: &str, session_id: Option<&str>) -> String {
    serde_json::json!({ "type": "error", "message": message, "session_id": session_id }).to_string()
}

/// How a [`bus_unreachable_json`] frame begins.
const BUS_UNREACHABLE_PREFIX: &str = r#"{"type":"error","code":"bus_unreachable","#;

/// The frame that ends a session's events on a cluster's replica when the cluster's bus (NATS) is
/// unreachable: a request-error frame (no `seq`) with `"code":"bus_unreachable"`; the socket closes after it
/// (code 4503) and a client re-attaches with `since=` once it can.
pub fn bus_unreachable_json(message: &str, session_id: &str) -> String {
    let rest = serde_json::json!({ "message": message, "session_id": session_id }).to_string();
    format!("{BUS_UNREACHABLE_PREFIX}{}", &rest[1..])
}

/// Whether `frame` is a [`bus_unreachable_json`] frame.
pub fn is_bus_unreachable(frame: &[u8]) -> bool {
    frame.starts_with(BUS_UNREACHABLE_PREFIX.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: EventKind) -> SessionEvent {
        SessionEvent { session_id: "s-1".into(), seq: 7, kind }
    }

    #[test]
    fn a_bus_unreachable_frame_is_a_request_error_that_says_so() {
        let frame = bus_unreachable_json("NATS \"gone\"", "s-1");
        let value: serde_json::Value = serde_json::from_str(&frame).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"type":"error","code":"bus_unreachable","message":"NATS \"gone\"","session_id":"s-1"})
        );
        assert!(is_bus_unreachable(frame.as_bytes()));
        assert!(!is_bus_unreachable(request_error_json("NATS", Some("s-1")).as_bytes()));
    }

    #[test]
    fn output_splices_the_raw_line() {
        let line = r#"{"type":"assistant","message":{"content":[]},"session_id":"s-1"}"#.to_owned();
        let e = ev(EventKind::Output { content: OutputContent::from_line(line.clone()) });
        let json = e.to_json();
        assert_eq!(json, format!(r#"{{"type":"output","session_id":"s-1","seq":7,"content":{line}}}"#));
    }

    #[test]
    fn non_json_line_becomes_a_string_not_dropped() {
        let e = ev(EventKind::Output { content: OutputContent::from_line("plain \"text\"".into()) });
        let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(v["content"], "plain \"text\"");
    }

    #[test]
    fn every_kind_round_trips_and_is_valid_json() {
        let kinds = vec![
            EventKind::Start {
                message: "started".into(),
                command_type: CommandType::Resume,
                project_path: "/p \"q\"".into(),
                model: Some("opus".into()),
                live: true,
                permission_mode: Some(PermissionMode::Plan),
            },
            EventKind::UserPrompt { prompt: "again".into(), client_id: Some("c-1".into()), images: vec![] },
            EventKind::PromptQueued { client_id: "c-2".into(), prompt: "next".into(), images: vec![] },
            EventKind::PromptUnqueued { client_id: "c-2".into() },
            EventKind::PermissionRequest {
                request_id: "r1".into(),
                tool_name: "Bash".into(),
                input: r#"{"command":"ls"}"#.into(),
                tool_use_id: Some("toolu_1".into()),
                description: None,
                timeout_ms: 1000,
                expires_at: 1_800_000_000_000,
                remember: r#"[{"rules":[{"ruleContent":"ls","toolName":"Bash"}],"type":"addRules"}]"#.into(),
            },
            EventKind::PermissionResolved {
                request_id: "r1".into(),
                behavior: Behavior::Deny,
                by: AnsweredBy::Timeout,
                message: Some("no answer".into()),
                remembered: false,
            },
            EventKind::SettingsChanged { model: Some("sonnet".into()), permission_mode: Some(PermissionMode::Plan) },
            EventKind::SettingsChanged { model: None, permission_mode: Some(PermissionMode::AcceptEdits) },
            EventKind::Output { content: OutputContent::Json(r#"{"a":[1,2]}"#.into()) },
            EventKind::Output { content: OutputContent::Text("x".into()) },
            EventKind::Error { message: "boom\nline".into() },
            EventKind::Cancelled,
            EventKind::Completion {
                status: CompletionStatus::Cancelled,
                exit_code: None,
                signal: Some(15),
                error: Some("the run was cancelled".into()),
            },
            EventKind::Completion { status: CompletionStatus::Success, exit_code: Some(0), signal: None, error: None },
            EventKind::Completion {
                status: CompletionStatus::Error,
                exit_code: Some(2),
                signal: None,
                error: Some("claude ended with \"exit code 2\"".into()),
            },
        ];
        for kind in kinds {
            let e = ev(kind);
            let json = e.to_json();
            let v: serde_json::Value = serde_json::from_str(&json).expect(&json);
            assert_eq!(v["type"], e.kind.type_name());
            assert_eq!(v["seq"], 7);
            assert_eq!(v["session_id"], "s-1");
            assert_eq!(SessionEvent::from_json(&json).unwrap(), e, "{json}");
        }
    }
}
