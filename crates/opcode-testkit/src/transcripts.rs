//! Claude transcript lines for tests, derived from a transcript the genuine CLI wrote
//! (`fixtures/claude-cli/transcripts/`), so their shape is the CLI's own.

use std::path::PathBuf;

use serde_json::Value;

/// The genuine CLI's transcript: three runs of session `11111111-2222-4333-8444-555555555555` in
/// project `/home/dev/project` (three answers of 10 input and 6 output tokens on `claude-opus-5-5`).
pub fn genuine_transcript() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/claude-cli/transcripts/-home-dev-project/11111111-2222-4333-8444-555555555555.jsonl")
}

/// The genuine transcript's first assistant line.
fn template() -> Value {
    let text = std::fs::read_to_string(genuine_transcript()).expect("the genuine transcript fixture");
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("a JSON line"))
        .find(|v| v["type"] == "assistant")
        .expect("an assistant line in the genuine transcript")
}

/// Tokens of a message: input, output, cache creation, cache read.
pub type Tokens = [u64; 4];

/// An assistant line as the CLI writes it (with its newline): message `id` answering request `request`,
/// at `timestamp` (RFC 3339), on `model`, with `tokens`; no `cwd`.
pub fn assistant_line(session: &str, id: &str, request: &str, timestamp: &str, model: &str, tokens: Tokens) -> String {
    let mut v = template();
    v["sessionId"] = session.into();
    v["timestamp"] = timestamp.into();
    v["requestRef"] = request.into();
    v["uuid"] = format!("{id}-{request}-{timestamp}").into();
    v.as_object_mut().expect("an object").remove("cwd");
    v["message"]["id"] = id.into();
    v["message"]["model"] = model.into();
    let usage = &mut v["message"]["usage"];
    usage["input_tokens"] = tokens[0].into();
    usage["output_tokens"] = tokens[1].into();
    usage["cache_creation_input_tokens"] = tokens[2].into();
    usage["cache_read_input_tokens"] = tokens[3].into();
    format!("{v}\n")
}

/// The same line with a text of `text_len` bytes (a big answer).
pub fn with_text(line: &str, text_len: usize) -> String {
    let mut v: Value = serde_json::from_str(line).expect("a JSON line");
    v["message"]["content"][0]["text"] = "x".repeat(text_len).into();
    format!("{v}\n")
}

/// A user prompt line (with its newline) naming the project directory `cwd`.
pub fn user_line(session: &str, cwd: &str, timestamp: &str) -> String {
    let v = serde_json::json!({"type": "user", "sessionId": session, "cwd": cwd, "timestamp": timestamp,
        "message": {"role": "user", "content": "hi"}});
    format!("{v}\n")
}
