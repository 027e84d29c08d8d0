//! Snapshot tests of the wire format, shared with the UI's tests (`frontend/src/wire.test.ts`) so the Rust
//! encoder and the TypeScript types cannot drift apart.
//!
//! `tests/snapshots/events/*.json` hold one session event of every kind, as the encoder writes it (exact
//! bytes, one line): this test asserts the encoder produces exactly those bytes and the decoder reads them
//! back; the Vitest test parses the same files into the UI's types and runs them through its reducer.
//! Together they form one session, seq 0 to 11, so the reducer can apply them in order.
//!
//! `tests/snapshots/requests/*.json` hold what the UI sends (a run request and each control message): this
//! test asserts the server reads each as meant; the Vitest test checks each against the UI's request types.
//!
//! To change the wire on purpose, run `UPDATE_SNAPSHOTS=1 cargo test -p opcode-proto --test wire_snapshots`
//! (refused under `CI`), review the diff, and update `docs/protocol.md` and `frontend/src/events.ts`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use opcode_proto::control::{Behavior, ControlMessage};
use opcode_proto::event::{request_error_json, OutputContent};
use opcode_proto::request::parse_request;
use opcode_proto::{CommandType, CompletionStatus, EventKind, ImageAttachment, SessionEvent};

const SESSION: &str = "11111111-2222-4333-8444-555555555555";
/// A 1×1 PNG, base64.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

fn snapshots(kind: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots").join(kind)
}

/// The snapshot file of an event. The match is exhaustive on purpose: a new kind of event does not compile
/// here until it has a snapshot (and so a case in the UI's test).
fn file_of(kind: &EventKind) -> &'static str {
    match kind {
        EventKind::Start { .. } => "start.json",
        EventKind::UserPrompt { .. } => "user_prompt.json",
        EventKind::PromptQueued { .. } => "prompt_queued.json",
        EventKind::PromptUnqueued { .. } => "prompt_unqueued.json",
        EventKind::PermissionRequest { .. } => "permission_request.json",
        EventKind::PermissionResolved { .. } => "permission_resolved.json",
        EventKind::SettingsChanged { .. } => "settings_changed.json",
        EventKind::Output { content: OutputContent::Json(_) } => "output_json.json",
        EventKind::Output { content: OutputContent::Text(_) } => "output_text.json",
        EventKind::Error { .. } => "error.json",
        EventKind::Cancelled => "cancelled.json",
        EventKind::Completion { .. } => "completion.json",
    }
}

/// One live session that asks for a tool, is answered, prints a stray line and a stderr line, and is
/// cancelled.
fn session() -> Vec<SessionEvent> {
    let assistant = r#"{"type":"assistant","message":{"role":"assistant","content":[{"type":"tool_use","id":"toolu_01","name":"Bash","input":{"command":"ls -a"}}]},"session_id":"11111111-2222-4333-8444-555555555555"}"#;
    let kinds = vec![
        EventKind::Start {
            message: "live session started".into(),
            command_type: CommandType::Execute,
            project_path: "/home/dev/project \"q\"".into(),
            model: Some("opus".into()),
            live: true,
            permission_mode: Some(opcode_proto::PermissionMode::Default),
        },
        EventKind::UserPrompt {
            prompt: "list the files\nall of them".into(),
            client_id: Some("c-1".into()),
            images: vec![ImageAttachment { media_type: "image/png".into(), data: PNG.into() }],
        },
        EventKind::PromptQueued { client_id: "c-2".into(), prompt: "and then the tests".into(), images: vec![] },
        EventKind::PromptUnqueued { client_id: "c-2".into() },
        EventKind::Output { content: OutputContent::from_line(assistant.into()) },
        EventKind::PermissionRequest {
            request_id: "req-1".into(),
            tool_name: "Bash".into(),
            input: r#"{"command":"ls -a"}"#.into(),
            tool_use_id: Some("toolu_01".into()),
            description: Some("List files".into()),
            timeout_ms: 1_800_000,
            expires_at: 1_800_000_000_000,
            // keys in order, as a decoded JSON value has them
            remember: r#"[{"behavior":"allow","destination":"localSettings","rules":[{"ruleContent":"ls -a","toolName":"Bash"}],"type":"addRules"}]"#.into(),
        },
        EventKind::PermissionResolved {
            request_id: "req-1".into(),
            behavior: Behavior::Allow,
            by: opcode_proto::AnsweredBy::Viewer,
            message: None,
            remembered: true,
        },
        EventKind::SettingsChanged {
            model: Some("sonnet".into()),
            permission_mode: Some(opcode_proto::PermissionMode::AcceptEdits),
        },
        EventKind::Output { content: OutputContent::from_line("a line that is not JSON: {".into()) },
        EventKind::Error { message: "claude stderr: warning ✓".into() },
        EventKind::Cancelled,
        EventKind::Completion {
            status: CompletionStatus::Cancelled,
            exit_code: None,
            signal: Some(15),
            error: Some("the run was cancelled".into()),
        },
    ];
    kinds
        .into_iter()
        .enumerate()
        .map(|(seq, kind)| SessionEvent { session_id: SESSION.into(), seq: seq as u64, kind })
        .collect()
}

/// Asserts `dir/name` holds exactly `text` plus a newline, or writes it under `UPDATE_SNAPSHOTS=1`.
fn check_snapshot(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    let expected = format!("{text}\n");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        assert!(std::env::var_os("CI").is_none(), "UPDATE_SNAPSHOTS under CI: snapshots are reviewed, not written");
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(&path, &expected).unwrap();
        return;
    }
    let recorded =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("snapshot {} is missing: {e}", path.display()));
    assert_eq!(recorded, expected, "the wire changed for {name}: see this file's doc to update on purpose");
}

/// The snapshot folder holds exactly `names`: no stale snapshot is left for the UI's test to trust.
fn assert_exactly(dir: &Path, names: &BTreeSet<String>) {
    let on_disk: BTreeSet<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(&on_disk, names, "snapshots in {} without a case here, or cases without a file", dir.display());
}

#[test]
fn every_event_kind_encodes_exactly_as_recorded() {
    let dir = snapshots("events");
    let mut names = BTreeSet::new();
    for event in session() {
        let name = file_of(&event.kind);
        assert!(names.insert(name.to_owned()), "two events for {name}");
        let json = event.to_json();
        check_snapshot(&dir, name, &json);
        let decoded = SessionEvent::from_json(&json).unwrap();
        if let EventKind::Output { content: OutputContent::Json(_) } = &event.kind {
            // a client decodes spliced content into a tree (keys in its own order): the same JSON, not bytes
            let value = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap();
            assert_eq!(value(&decoded.to_json()), value(&json), "{name} decodes to what was encoded");
        } else {
            assert_eq!(decoded, event, "{name} decodes to what was encoded");
        }
    }
    // the request error is not a session event (no seq): the UI tells it apart by that
    let request_error = request_error_json("project_path must be an absolute path", Some(SESSION));
    check_snapshot(&dir, "request_error.json", &request_error);
    names.insert("request_error.json".to_owned());
    assert_exactly(&dir, &names);
}

#[test]
fn every_request_the_ui_sends_is_read_as_meant() {
    let dir = snapshots("requests");
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("snapshot {} is missing: {e}", path.display()))
    };
    let control =
        |name: &str| -> ControlMessage { serde_json::from_str(&read(name)).unwrap_or_else(|e| panic!("{name}: {e}")) };

    let run = parse_request(&read("execute.json")).expect("execute.json is a valid request");
    assert_eq!(run.command, CommandType::Execute);
    assert_eq!(run.project_path, "/home/dev/project");
    assert_eq!(run.prompt, "say hello");
    assert_eq!((run.model, run.session_id, run.include_partial_messages, run.live), (None, None, false, false));

    let live = parse_request(&read("live.json")).expect("live.json is a valid request");
    assert_eq!(live.command, CommandType::Execute);
    assert!(live.live && live.include_partial_messages);
    assert_eq!(live.model.as_deref(), Some("opus"));
    assert_eq!(live.session_id.map(|id| id.to_string()).as_deref(), Some(SESSION));
    assert_eq!(live.permission_mode, Some(opcode_proto::PermissionMode::AcceptEdits));

    let agent = parse_request(&read("run_options.json")).expect("run_options.json is a valid request");
    assert_eq!(agent.options.append_system_prompt.as_deref(), Some("You are a careful reviewer."));
    assert_eq!(agent.options.allowed_tools, ["Read", "Bash(git diff:*)"]);
    assert_eq!(agent.options.disallowed_tools, ["WebFetch"]);
    assert_eq!(agent.permission_mode, Some(opcode_proto::PermissionMode::Plan));

    let resume = parse_request(&read("resume.json")).expect("resume.json is a valid request");
    assert_eq!(resume.command, CommandType::Resume);
    assert_eq!(resume.session_id.map(|id| id.to_string()).as_deref(), Some(SESSION));

    assert_eq!(
        control("prompt.json"),
        ControlMessage::Prompt {
            session_id: SESSION.into(),
            prompt: "and now the tests".into(),
            client_id: None,
            images: vec![]
        }
    );
    // images: checked when the request is validated (a control message's when the registry gets it)
    let with_image = parse_request(&read("execute_images.json")).expect("execute_images.json is a valid request");
    assert_eq!(with_image.images, [ImageAttachment { media_type: "image/png".into(), data: PNG.into() }]);
    match control("prompt_images.json") {
        ControlMessage::Prompt { client_id, images, .. } => {
            assert_eq!(client_id.as_deref(), Some("c-3"));
            assert_eq!(
                images,
                [ImageAttachment { media_type: "image/jpeg".into(), data: "/9j/4AAQSkZJRgABAQ==".into() }]
            );
            opcode_proto::image::check_images(&images).expect("a JPEG's bytes");
        }
        other => panic!("prompt_images.json read as {other:?}"),
    }
    match control("permission_allow.json") {
        ControlMessage::PermissionResponse { session_id, request_id, decision } => {
            assert_eq!((session_id.as_str(), request_id.as_str()), (SESSION, "req-1"));
            assert_eq!(decision.behavior, Behavior::Allow);
            assert_eq!(decision.updated_input, Some(serde_json::json!({"command": "ls"})));
        }
        other => panic!("permission_allow.json read as {other:?}"),
    }
    match control("permission_deny.json") {
        ControlMessage::PermissionResponse { decision, .. } => {
            assert_eq!(decision.behavior, Behavior::Deny);
            assert_eq!(decision.message.as_deref(), Some("not in this folder"));
        }
        other => panic!("permission_deny.json read as {other:?}"),
    }
    assert_eq!(control("interrupt.json"), ControlMessage::Interrupt { session_id: SESSION.into() });
    assert_eq!(control("end.json"), ControlMessage::End { session_id: SESSION.into() });
    assert_eq!(
        control("settings.json"),
        ControlMessage::Settings {
            session_id: SESSION.into(),
            change: opcode_proto::control::SettingsChange {
                model: Some("sonnet".into()),
                permission_mode: Some(opcode_proto::PermissionMode::Plan),
            },
        }
    );

    let names = [
        "execute.json",
        "execute_images.json",
        "live.json",
        "resume.json",
        "run_options.json",
        "prompt.json",
        "prompt_images.json",
        "permission_allow.json",
        "permission_deny.json",
        "interrupt.json",
        "end.json",
        "settings.json",
    ];
    assert_exactly(&dir, &names.iter().map(|n| (*n).to_owned()).collect());
}
