//! Every line the genuine CLI printed (the project's recording in `crates/opcode-testkit/fixtures/claude-cli`)
//! types as expected and round-trips. The recording is part of the repository: a missing file fails.

use opcode_proto::control::{parse_claude_control_request, ClaudeControlRequest};
use opcode_proto::stream_json::{parse_line, ClaudeMessage, ContentBlock, KnownBlock};
use serde_json::Value;
use std::path::PathBuf;

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../opcode-testkit/fixtures/claude-cli")
}

/// The non-empty lines of fixture `name`; panics when it is missing or empty.
fn lines(name: &str) -> Vec<String> {
    let path = fixtures_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("fixture {} is part of the repository and must be there: {e}", path.display()));
    let lines: Vec<String> = text.lines().filter(|l| !l.trim().is_empty()).map(str::to_owned).collect();
    assert!(!lines.is_empty(), "fixture {} is empty", path.display());
    lines
}

/// The `type` of each line, with `Unknown` spelled out, so a failure shows what went untyped.
fn kind(msg: &ClaudeMessage) -> &'static str {
    match msg {
        ClaudeMessage::System(_) => "system",
        ClaudeMessage::Assistant(_) => "assistant",
        ClaudeMessage::User(_) => "user",
        ClaudeMessage::Result(_) => "result",
        ClaudeMessage::StreamEvent(_) => "stream_event",
        ClaudeMessage::Unknown(_) => "unknown",
        ClaudeMessage::NotJson(_) => "not json",
    }
}

/// Each line re-serialises to exactly what was read, and every line whose `type` we model gets its typed
/// variant (the lossless fallback to `Unknown` must not hide a type that no longer fits the CLI's output).
fn assert_typed_and_lossless(line: &str) -> ClaudeMessage {
    let msg = parse_line(line);
    let original: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    assert_eq!(msg.to_value(), original, "round trip of {line}");
    let declared = original["type"].as_str().unwrap_or_default();
    if ["system", "assistant", "user", "result", "stream_event"].contains(&declared) {
        assert_eq!(kind(&msg), declared, "a {declared} line fell back to Unknown: {line}");
    }
    msg
}

fn run_lines(name: &str) -> Vec<ClaudeMessage> {
    lines(name).iter().map(|l| assert_typed_and_lossless(l)).collect()
}

#[test]
fn execute_output_types_and_round_trips() {
    let parsed = run_lines("execute.jsonl");
    assert!(matches!(&parsed[0], ClaudeMessage::System(s) if s.subtype == "init" && s.session_id.is_some()));
    assert!(parsed.iter().any(|m| matches!(m, ClaudeMessage::Assistant(a)
        if matches!(&a.message.content[0], ContentBlock::Known(KnownBlock::Text { .. })))));
    assert!(matches!(parsed.last().unwrap(), ClaudeMessage::Result(r) if r.subtype == "success"));
    assert!(parsed.iter().all(|m| m.session_id() == Some("11111111-2222-4333-8444-555555555555")));
}

#[test]
fn resume_and_continue_keep_the_session_id() {
    for name in ["resume.jsonl", "continue.jsonl"] {
        let parsed = run_lines(name);
        assert!(matches!(parsed.last().unwrap(), ClaudeMessage::Result(r) if r.subtype == "success"), "{name}");
        assert!(parsed.iter().all(|m| m.session_id() == Some("11111111-2222-4333-8444-555555555555")), "{name}");
    }
}

#[test]
fn a_failed_resume_is_a_typed_error_result() {
    let parsed = run_lines("resume-unknown-id.jsonl");
    assert!(
        matches!(parsed.last().unwrap(), ClaudeMessage::Result(r)
            if r.subtype == "error_during_execution" && r.is_error == Some(true)),
        "{parsed:?}"
    );
}

#[test]
fn partial_messages_expose_text_deltas() {
    let parsed = run_lines("partial-messages.jsonl");
    let deltas: String = parsed
        .iter()
        .filter_map(|m| match m {
            ClaudeMessage::StreamEvent(e) => e.text_delta().map(str::to_owned),
            _ => None,
        })
        .collect();
    let whole: String = parsed
        .iter()
        .filter_map(|m| match m {
            ClaudeMessage::Assistant(a) => Some(a.message.content.iter().filter_map(|b| match b {
                ContentBlock::Known(KnownBlock::Text { text, .. }) => Some(text.clone()),
                _ => None,
            })),
            _ => None,
        })
        .flatten()
        .collect();
    assert!(!deltas.is_empty(), "no text_delta in the partial messages");
    assert_eq!(deltas, whole, "the deltas add up to the whole assistant text");
}

#[test]
fn live_session_lines_all_round_trip() {
    let mut tool_requests = 0;
    for line in lines("live-session.jsonl") {
        let wrapper: Value = serde_json::from_str(&line).unwrap();
        assert!(wrapper["dir"] == "to_claude" || wrapper["dir"] == "from_claude", "{line}");
        let msg = wrapper["msg"].to_string();
        assert_typed_and_lossless(&msg);
        if wrapper["dir"] == "from_claude" {
            if let Some(ClaudeControlRequest::ToolPermission(ask)) = parse_claude_control_request(&msg) {
                assert_eq!(ask.tool_name, "Bash");
                assert!(ask.tool_use_id.is_some(), "{msg}");
                tool_requests += 1;
            }
        }
    }
    assert_eq!(tool_requests, 2, "the recording has one allowed and one denied tool call");
}

#[test]
fn the_recording_is_of_the_pinned_cli() {
    let version = std::fs::read_to_string(fixtures_dir().join("VERSION")).unwrap();
    let version = version.split_whitespace().next().unwrap();
    let package = std::fs::read_to_string(fixtures_dir().join("../../claude-cli/package.json")).unwrap();
    let package: Value = serde_json::from_str(&package).unwrap();
    assert_eq!(
        package["dependencies"]["@anthropic-ai/claude-code"], version,
        "the pinned CLI changed: record the fixtures again with it (see fixtures/claude-cli/README.md)"
    );
}
