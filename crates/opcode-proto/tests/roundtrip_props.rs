//! Property tests: stream-json parsing is lossless, and request/line parsing never panics.
//!
//! This is the stable-toolchain stand-in for a cargo-fuzz target (cargo-fuzz needs nightly): proptest
//! generates arbitrary JSON and arbitrary text and runs them through both parsers.

use opcode_proto::request::parse_request;
use opcode_proto::stream_json::parse_line;
use opcode_proto::{event::OutputContent, read_envelope};
use proptest::prelude::*;
use serde_json::Value;

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "[a-z ]{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,6}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn stream_json_object() -> impl Strategy<Value = Value> {
    let kind = prop_oneof![
        Just("system"),
        Just("assistant"),
        Just("user"),
        Just("result"),
        Just("stream_event"),
        Just("brand_new"),
    ];
    let block = prop_oneof![
        "[a-z]{0,5}".prop_map(|t| serde_json::json!({"type":"text","text":t})),
        json_value().prop_map(|i| serde_json::json!({"type":"tool_use","id":"t1","name":"Bash","input":i})),
        json_value().prop_map(|c| serde_json::json!({"type":"tool_result","tool_use_id":"t1","content":c})),
        json_value(),
    ];
    (kind, prop::collection::btree_map("[a-z_]{1,8}", json_value(), 0..5), prop::collection::vec(block, 0..3)).prop_map(
        |(kind, fields, blocks)| {
            let mut map: serde_json::Map<String, Value> = fields.into_iter().collect();
            map.insert("type".into(), kind.into());
            if kind == "assistant" {
                map.insert("message".into(), serde_json::json!({"content": blocks, "model": "m"}));
            }
            Value::Object(map)
        },
    )
}

proptest! {
    #[test]
    fn stream_json_round_trips(value in stream_json_object()) {
        let text = value.to_string();
        prop_assert_eq!(parse_line(&text).to_value(), value);
    }

    #[test]
    fn any_text_parses_without_panic(text in any::<String>()) {
        let _ = parse_line(&text);
        let _ = parse_request(&text);
        let _ = read_envelope(&text);
        // a line is never dropped: it is either spliced JSON or a string
        match OutputContent::from_line(text.clone()) {
            OutputContent::Json(raw) => prop_assert!(serde_json::from_str::<Value>(&raw).is_ok()),
            OutputContent::Text(t) => prop_assert_eq!(t, text),
        }
    }

    #[test]
    fn request_like_json_never_panics(value in json_value()) {
        let _ = parse_request(&value.to_string());
    }
}
