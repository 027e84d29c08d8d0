//! Every line the genuine CLI printed (`shared/claude-cli/*.jsonl`) types as expected and round-trips.

use opcode_proto::stream_json::{parse_line, ClaudeMessage, ContentBlock, KnownBlock};
use std::path::PathBuf;

fn shared_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/claude-cli");
    dir.is_dir().then_some(dir)
}

fn lines(name: &str) -> Vec<String> {
    let Some(dir) = shared_dir() else {
        eprintln!("shared/claude-cli not found next to the repository: skipping {name}");
        return Vec::new();
    };
    std::fs::read_to_string(dir.join(name)).unwrap().lines().map(str::to_owned).collect()
}

#[test]
fn execute_output_types_and_round_trips() {
    let lines = lines("execute.jsonl");
    let parsed: Vec<_> = lines.iter().map(|l| parse_line(l)).collect();
    if parsed.is_empty() {
        return;
    }
    assert!(matches!(&parsed[0], ClaudeMessage::System(s) if s.subtype == "init" && s.session_id.is_some()));
    assert!(parsed.iter().any(|m| matches!(m, ClaudeMessage::Assistant(a)
        if matches!(&a.message.content[0], ContentBlock::Known(KnownBlock::Text { .. })))));
    assert!(matches!(parsed.last().unwrap(), ClaudeMessage::Result(r) if r.subtype == "success"));
    for (line, msg) in lines.iter().zip(&parsed) {
        let original: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(msg.to_value(), original);
    }
}

#[test]
fn partial_messages_expose_text_deltas() {
    let deltas: String = lines("partial-messages.jsonl")
        .iter()
        .filter_map(|l| match parse_line(l) {
            ClaudeMessage::StreamEvent(e) => e.text_delta().map(str::to_owned),
            _ => None,
        })
        .collect();
    if shared_dir().is_some() {
        assert!(!deltas.is_empty());
    }
}

#[test]
fn live_session_lines_all_round_trip() {
    for line in lines("live-session.jsonl") {
        let wrapper: serde_json::Value = serde_json::from_str(&line).unwrap();
        let msg = wrapper["msg"].to_string();
        assert_eq!(parse_line(&msg).to_value(), wrapper["msg"], "{msg}");
    }
}
