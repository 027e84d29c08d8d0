//! The JSON a service worker receives (after decryption), one object per push. It carries everything
//! the notification shows and everything its actions need, so the service worker fetches nothing before
//! it shows it. `docs/protocol.md` ("Web Push") is its prose; keep them together.
//!
//! Payloads stay small (under [`MAX_PAYLOAD`] bytes: push services take about 4 KiB of ciphertext):
//! summaries and texts are cut to a few hundred characters.

use opcode_proto::CompletionStatus;
use opcode_sessions::notable::{NotableEvent, NotableKind};
use serde::{Deserialize, Serialize};

/// Version of the payload format; bumped when a field changes meaning.
pub const PAYLOAD_VERSION: u32 = 1;
/// Largest payload sent, in bytes of JSON.
pub const MAX_PAYLOAD: usize = 3000;
/// Longest summary of a tool's input, in characters.
pub const MAX_SUMMARY: usize = 200;
/// Longest body text, in characters.
const MAX_BODY: usize = 300;

/// What a push is about. Closed: the service worker handles each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayloadKind {
    /// Claude asks for a permission; the notification has Allow and Deny actions.
    PermissionRequest,
    /// A live turn or a one-shot run finished.
    Finished,
    /// A live turn or a run failed.
    Failed,
    /// `POST /api/push/test`.
    Test,
}

/// What the Allow and Deny actions of a permission notification need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionPayload {
    /// The request to answer.
    pub request_id: String,
    /// The tool claude wants to use.
    pub tool_name: String,
    /// A one-line summary of its input (a Bash command, a file path, …), at most 200 characters.
    pub summary: String,
    /// Unix milliseconds when it is denied unanswered.
    pub expires_at: u64,
    /// Where to `POST` the answer (same origin, with the cookie): body `{"behavior":"allow"}` or
    /// `{"behavior":"deny","message":…}`. `409` means it was answered already.
    pub answer_url: String,
}

/// One push, as the service worker reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    /// [`PAYLOAD_VERSION`].
    pub v: u32,
    /// What it is about.
    pub kind: PayloadKind,
    /// The notification's title.
    pub title: String,
    /// The notification's body.
    pub body: String,
    /// The notification's tag: a later push with the same tag replaces it (`perm:<request id>`,
    /// `run:<session id>`, `test`).
    pub tag: String,
    /// What to open when the notification is tapped (same-origin path).
    pub url: String,
    /// The session it is about (absent for a test).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The project directory's last component (absent for a test).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Present for `permission_request`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission: Option<PermissionPayload>,
    /// Unix milliseconds when the server sent it.
    pub sent_at: u64,
}

impl Payload {
    /// The payload cut until its JSON fits in [`MAX_PAYLOAD`] bytes (texts of control characters or
    /// wide characters can be several bytes each): the body, the summary, then the title are halved in
    /// turn. Ids and URLs are never cut.
    pub fn fitted(mut self) -> Payload {
        let size = |p: &Payload| serde_json::to_vec(p).map(|v| v.len()).unwrap_or(usize::MAX);
        let halve = |text: &mut String| {
            let chars = text.chars().count();
            if chars > 1 {
                *text = one_line(text, chars / 2);
            }
        };
        for _ in 0..32 {
            if size(&self) <= MAX_PAYLOAD {
                break;
            }
            halve(&mut self.body);
            if let Some(permission) = &mut self.permission {
                halve(&mut permission.summary);
            }
            halve(&mut self.title);
        }
        self
    }
}

/// Cuts `text` to one line of at most `max` characters (whitespace runs become one space; `…` marks a cut).
pub fn one_line(text: &str, max: usize) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if joined.chars().count() <= max {
        return joined;
    }
    let mut cut: String = joined.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// A short summary of a tool's input: the field that says what it does (a Bash `command`, a file's
/// `file_path`, a `url`, a `pattern`, …), else the input's JSON; one line, at most [`MAX_SUMMARY`].
pub fn summarize_input(tool_name: &str, input: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(input).unwrap_or(serde_json::Value::Null);
    let preferred: &[&str] = match tool_name {
        "Bash" => &["command"],
        "Edit" | "MultiEdit" | "Write" | "Read" => &["file_path"],
        "NotebookEdit" => &["notebook_path"],
        "WebFetch" => &["url"],
        "WebSearch" => &["query"],
        "Glob" | "Grep" => &["pattern"],
        "Task" => &["description"],
        _ => &[],
    };
    let generic = ["command", "file_path", "path", "url", "query", "pattern", "description"];
    let found = preferred
        .iter()
        .chain(generic.iter())
        .find_map(|key| value.get(key).and_then(|v| v.as_str()).filter(|s| !s.trim().is_empty()));
    match found {
        Some(text) => one_line(text, MAX_SUMMARY),
        None => one_line(input, MAX_SUMMARY),
    }
}

fn project_name(path: &str) -> String {
    std::path::Path::new(path).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.to_owned())
}

/// The path that opens a session in the UI.
pub fn session_url(session_id: &str) -> String {
    format!("/?session={session_id}")
}

/// The push for a notable event, if it deserves one: permission requests; finished and failed turns
/// (not an interrupted one, `error_during_execution`: the user asked for it); finished one-shot runs;
/// failed runs. Not: answers to requests, cancelled runs, the successful end of a live session (its
/// turns were announced).
pub fn for_event(event: &NotableEvent, sent_at: u64) -> Option<Payload> {
    let project = project_name(&event.project_path);
    let base = |kind, title: String, body: String, tag: String| Payload {
        v: PAYLOAD_VERSION,
        kind,
        title,
        body: one_line(&body, MAX_BODY),
        tag,
        url: session_url(&event.session_id),
        session_id: Some(event.session_id.clone()),
        project: Some(project.clone()),
        permission: None,
        sent_at,
    };
    let run_tag = format!("run:{}", event.session_id);
    match &event.kind {
        NotableKind::PermissionRequested { request_id, tool_name, input, description, expires_at } => {
            let summary = summarize_input(tool_name, input);
            let body = match description {
                Some(d) if !d.trim().is_empty() => format!("{summary} — {d}"),
                _ => summary.clone(),
            };
            let mut payload = base(
                PayloadKind::PermissionRequest,
                one_line(&format!("{project}: allow {tool_name}?"), 100),
                body,
                format!("perm:{request_id}"),
            );
            payload.permission = Some(PermissionPayload {
                request_id: request_id.clone(),
                tool_name: one_line(tool_name, 100),
                summary,
                expires_at: *expires_at,
                answer_url: format!("/api/sessions/{}/permissions/{request_id}", event.session_id),
            });
            Some(payload.fitted())
        }
        NotableKind::PermissionResolved { .. } => None,
        NotableKind::TurnFinished { subtype, is_error, result } => {
            if subtype.as_deref() == Some("error_during_execution") {
                return None;
            }
            if *is_error {
                let why = subtype.clone().unwrap_or_else(|| "an error".to_owned());
                Some(base(PayloadKind::Failed, format!("{project}: the turn failed"), why, run_tag).fitted())
            } else {
                let body = result
                    .clone()
                    .filter(|r| !r.trim().is_empty())
                    .unwrap_or_else(|| "Claude is waiting for your next prompt".to_owned());
                Some(base(PayloadKind::Finished, format!("{project}: Claude is done"), body, run_tag).fitted())
            }
        }
        NotableKind::RunFinished { status: CompletionStatus::Success, live: false, .. } => Some(base(
            PayloadKind::Finished,
            format!("{project}: run finished"),
            "The run finished".to_owned(),
            run_tag,
        )),
        NotableKind::RunFinished { status: CompletionStatus::Error, error, .. } => {
            let why = error.clone().unwrap_or_else(|| "The run failed".to_owned());
            Some(base(PayloadKind::Failed, format!("{project}: run failed"), why, run_tag).fitted())
        }
        NotableKind::RunFinished { .. } => None,
    }
}

/// The payload of a test notification.
pub fn test(sent_at: u64) -> Payload {
    Payload {
        v: PAYLOAD_VERSION,
        kind: PayloadKind::Test,
        title: "opcode-web".to_owned(),
        body: "Notifications work on this device".to_owned(),
        tag: "test".to_owned(),
        url: "/".to_owned(),
        session_id: None,
        project: None,
        permission: None,
        sent_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: NotableKind) -> NotableEvent {
        NotableEvent {
            session_id: "s1".into(),
            project_path: "/home/me/app".into(),
            at: tokio::time::Instant::now(),
            kind,
        }
    }

    #[test]
    fn inputs_are_summarized_on_one_short_line() {
        assert_eq!(summarize_input("Bash", r#"{"command":"ls  -la\n/tmp","description":"list"}"#), "ls -la /tmp");
        assert_eq!(summarize_input("Edit", r#"{"file_path":"/a/b.rs","old_string":"x"}"#), "/a/b.rs");
        assert_eq!(summarize_input("mcp__x__y", r#"{"n":1}"#), r#"{"n":1}"#);
        let long = summarize_input("Bash", &serde_json::json!({ "command": "é".repeat(500) }).to_string());
        assert_eq!(long.chars().count(), MAX_SUMMARY);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn a_payload_of_control_characters_still_fits() {
        let nasty = "\u{1}".repeat(5000);
        let payload = for_event(
            &event(NotableKind::PermissionRequested {
                request_id: "r".into(),
                tool_name: nasty.clone(),
                input: serde_json::json!({ "command": nasty }).to_string(),
                description: Some(nasty.clone()),
                expires_at: 1,
            }),
            0,
        )
        .unwrap();
        assert!(serde_json::to_vec(&payload).unwrap().len() <= MAX_PAYLOAD);
        assert_eq!(payload.permission.unwrap().request_id, "r");
    }

    #[test]
    fn which_events_become_pushes() {
        let permission = for_event(
            &event(NotableKind::PermissionRequested {
                request_id: "r1".into(),
                tool_name: "Bash".into(),
                input: r#"{"command":"rm -rf build"}"#.into(),
                description: None,
                expires_at: 99,
            }),
            5,
        )
        .unwrap();
        assert_eq!(permission.kind, PayloadKind::PermissionRequest);
        assert_eq!(permission.title, "app: allow Bash?");
        assert_eq!(permission.url, "/?session=s1");
        let p = permission.permission.unwrap();
        assert_eq!((p.summary.as_str(), p.answer_url.as_str()), ("rm -rf build", "/api/sessions/s1/permissions/r1"));

        let turn = |subtype: &str, is_error| NotableKind::TurnFinished {
            subtype: Some(subtype.into()),
            is_error,
            result: Some("All tests pass".into()),
        };
        assert_eq!(for_event(&event(turn("success", false)), 0).unwrap().body, "All tests pass");
        assert_eq!(for_event(&event(turn("error_max_turns", true)), 0).unwrap().kind, PayloadKind::Failed);
        assert!(for_event(&event(turn("error_during_execution", true)), 0).is_none());
        let run = |status, live| NotableKind::RunFinished {
            status,
            live,
            error: Some("claude ended with exit code 1".into()),
        };
        assert_eq!(for_event(&event(run(CompletionStatus::Success, false)), 0).unwrap().kind, PayloadKind::Finished);
        assert!(for_event(&event(run(CompletionStatus::Success, true)), 0).is_none());
        assert!(for_event(&event(run(CompletionStatus::Cancelled, false)), 0).is_none());
        let failed = for_event(&event(run(CompletionStatus::Error, true)), 0).unwrap();
        assert_eq!((failed.kind, failed.body.as_str()), (PayloadKind::Failed, "claude ended with exit code 1"));
        assert!(for_event(&event(NotableKind::PermissionResolved { request_id: "r1".into() }), 0).is_none());
    }
}
