//! The envelope of a stream-json line: its `type`, `subtype` and `session_id`, read without building a
//! `serde_json::Value` of the whole message.
//!
//! This is the only parse the server's hot path does per stdout line. Reading it also proves the line is
//! one well-formed JSON object, which is what allows the raw text to be spliced into an event frame.

use std::borrow::Cow;

use serde::Deserialize;

/// The few top-level fields every stream-json line is routed by. Borrowed from the line when possible.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Envelope<'a> {
    /// `system`, `assistant`, `user`, `result`, `stream_event`, `control_request`, …
    #[serde(rename = "type", borrow, default)]
    pub kind: Option<Cow<'a, str>>,
    /// `init`, `success`, `error_during_execution`, … where present.
    #[serde(borrow, default)]
    pub subtype: Option<Cow<'a, str>>,
    /// The claude session id, present on almost every line.
    #[serde(borrow, default)]
    pub session_id: Option<Cow<'a, str>>,
}

/// Reads the envelope of `line`; `None` if the line is not exactly one JSON object.
pub fn read_envelope(line: &str) -> Option<Envelope<'_>> {
    if !line.trim_start().starts_with('{') {
        return None;
    }
    serde_json::from_str(line).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_type_and_session_wherever_they_are() {
        // the real `result` line has `type` late in the object
        let line = r#"{"duration_ms":3,"session_id":"abc","nested":{"type":"x"},"type":"result","subtype":"success"}"#;
        let env = read_envelope(line).unwrap();
        assert_eq!(env.kind.as_deref(), Some("result"));
        assert_eq!(env.subtype.as_deref(), Some("success"));
        assert_eq!(env.session_id.as_deref(), Some("abc"));
    }

    #[test]
    fn refuses_what_is_not_one_object() {
        for line in ["", "hello", "[1,2]", "{\"type\":", "{} {}", "\"s\""] {
            assert!(read_envelope(line).is_none(), "{line}");
        }
    }
}
