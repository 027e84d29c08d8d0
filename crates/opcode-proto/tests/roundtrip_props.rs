//! Property tests: stream-json parsing is lossless *and* types every well-formed line of a known type, the
//! envelope read agrees with the full parse, and request/line parsing never panics.
//!
//! Losslessness alone cannot fail (a line that would not round-trip falls back to `Unknown` by design), so
//! the typed-view properties generate lines of the shapes the CLI prints and demand the typed variant with
//! the very field values generated.
//!
//! This is the stable-toolchain stand-in for a cargo-fuzz target (cargo-fuzz needs nightly): proptest
//! generates arbitrary JSON and arbitrary text and runs them through both parsers.

use opcode_proto::request::parse_request;
use opcode_proto::stream_json::{parse_line, ClaudeMessage, ContentBlock, KnownBlock};
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

/// Fields a line may carry besides the ones the typed view names: never one of those names.
fn extra_fields() -> impl Strategy<Value = serde_json::Map<String, Value>> {
    prop::collection::btree_map("x_[a-z_]{1,6}", json_value(), 0..4).prop_map(|m| m.into_iter().collect())
}

fn opt_string() -> impl Strategy<Value = Option<String>> {
    prop::option::of("[a-zA-Z0-9 _-]{0,12}")
}

/// A content block of a known type, as the API sends it: `(the JSON, its expected typed view)`.
fn known_block() -> impl Strategy<Value = (Value, KnownBlock)> {
    let extra = || prop::collection::btree_map("x_[a-z]{1,4}", json_value(), 0..2);
    prop_oneof![
        ("\\PC{0,12}", extra()).prop_map(|(text, extra)| {
            let extra: serde_json::Map<_, _> = extra.into_iter().collect();
            let mut v = serde_json::json!({"type": "text", "text": text});
            v.as_object_mut().unwrap().extend(extra.clone());
            (v, KnownBlock::Text { text, extra })
        }),
        ("[a-z ]{0,12}", extra()).prop_map(|(thinking, extra)| {
            let extra: serde_json::Map<_, _> = extra.into_iter().collect();
            let mut v = serde_json::json!({"type": "thinking", "thinking": thinking});
            v.as_object_mut().unwrap().extend(extra.clone());
            (v, KnownBlock::Thinking { thinking, extra })
        }),
        ("toolu_[a-z0-9]{1,8}", "[A-Z][a-z]{1,8}", json_value()).prop_map(|(id, name, input)| {
            let v = serde_json::json!({"type": "tool_use", "id": id, "name": name, "input": input});
            (v, KnownBlock::ToolUse { id, name, input, extra: serde_json::Map::new() })
        }),
        ("toolu_[a-z0-9]{1,8}", prop::option::of(json_value()), any::<bool>()).prop_map(|(id, content, is_error)| {
            let mut v = serde_json::json!({"type": "tool_result", "tool_use_id": id, "is_error": is_error});
            // a JSON null `content` would read back as "absent": the API never sends it
            let content = content.filter(|c| !c.is_null());
            if let Some(c) = &content {
                v["content"] = c.clone();
            }
            let extra: serde_json::Map<_, _> = [("is_error".to_owned(), Value::Bool(is_error))].into_iter().collect();
            (v, KnownBlock::ToolResult { tool_use_id: id, content, extra })
        }),
    ]
}

fn with(mut base: Value, extra: serde_json::Map<String, Value>, optional: &[(&str, &Option<String>)]) -> Value {
    let object = base.as_object_mut().unwrap();
    object.extend(extra);
    for (key, value) in optional {
        if let Some(value) = value {
            object.insert((*key).to_owned(), Value::String(value.clone()));
        }
    }
    base
}

proptest! {
    #[test]
    fn stream_json_round_trips(value in stream_json_object()) {
        let text = value.to_string();
        prop_assert_eq!(parse_line(&text).to_value(), value);
    }

    #[test]
    fn system_lines_are_typed(
        subtype in "[a-z_]{1,10}", session_id in opt_string(), model in opt_string(), cwd in opt_string(),
        extra in extra_fields(),
    ) {
        let base = serde_json::json!({"type": "system", "subtype": subtype});
        let value = with(base, extra, &[("session_id", &session_id), ("model", &model), ("cwd", &cwd)]);
        let text = value.to_string();
        match parse_line(&text) {
            ClaudeMessage::System(m) => {
                prop_assert_eq!(&m.subtype, &subtype);
                prop_assert_eq!(&m.session_id, &session_id);
                prop_assert_eq!(&m.model, &model);
                prop_assert_eq!(&m.cwd, &cwd);
                prop_assert_eq!(ClaudeMessage::System(m).to_value(), value);
            }
            other => prop_assert!(false, "{text} parsed as {other:?}"),
        }
    }

    #[test]
    fn assistant_lines_are_typed_block_by_block(
        blocks in prop::collection::vec(known_block(), 0..4), model in opt_string(), session_id in opt_string(),
        extra in extra_fields(),
    ) {
        let (json_blocks, typed): (Vec<Value>, Vec<KnownBlock>) = blocks.into_iter().unzip();
        let mut message = serde_json::json!({"content": json_blocks, "role": "assistant"});
        if let Some(model) = &model {
            message["model"] = model.clone().into();
        }
        let base = serde_json::json!({"type": "assistant", "message": message});
        let value = with(base, extra, &[("session_id", &session_id)]);
        let text = value.to_string();
        match parse_line(&text) {
            ClaudeMessage::Assistant(m) => {
                let got: Vec<KnownBlock> = m.message.content.iter().map(|b| match b {
                    ContentBlock::Known(k) => k.clone(),
                    ContentBlock::Other(v) => panic!("known block left untyped: {v}"),
                }).collect();
                prop_assert_eq!(got, typed);
                prop_assert_eq!(&m.message.model, &model);
                prop_assert_eq!(&m.session_id, &session_id);
                prop_assert_eq!(ClaudeMessage::Assistant(m).to_value(), value);
            }
            other => prop_assert!(false, "{text} parsed as {other:?}"),
        }
    }

    #[test]
    fn result_lines_are_typed(
        subtype in "[a-z_]{1,12}", is_error in prop::option::of(any::<bool>()),
        duration_ms in prop::option::of(any::<u64>()), num_turns in prop::option::of(0u64..1000),
        cost in prop::option::of(prop_oneof![
            (0u32..1_000_000).prop_map(|c| Value::from(f64::from(c) / 1000.0 + 0.0001)),
            // the CLI writes `0` (an integer) for a turn that made no API call
            (0u64..3).prop_map(Value::from),
        ]),
        session_id in opt_string(), extra in extra_fields(),
    ) {
        let mut base = serde_json::json!({"type": "result", "subtype": subtype});
        for (key, v) in [
            ("is_error", is_error.map(Value::from)),
            ("duration_ms", duration_ms.map(Value::from)),
            ("num_turns", num_turns.map(Value::from)),
            ("total_cost_usd", cost.clone()),
        ] {
            if let Some(v) = v {
                base[key] = v;
            }
        }
        let value = with(base, extra, &[("session_id", &session_id)]);
        let text = value.to_string();
        // serde_json reads some floats one ulp off what it wrote: compare with what it reads
        let value: Value = serde_json::from_str(&text).unwrap();
        match parse_line(&text) {
            ClaudeMessage::Result(m) => {
                prop_assert_eq!(&m.subtype, &subtype);
                prop_assert_eq!(m.is_error, is_error);
                prop_assert_eq!(m.duration_ms, duration_ms);
                prop_assert_eq!(m.num_turns, num_turns);
                prop_assert_eq!(m.cost_usd(), value.get("total_cost_usd").and_then(Value::as_f64));
                prop_assert_eq!(m.total_cost_usd.is_some(), cost.is_some());
                prop_assert_eq!(&m.session_id, &session_id);
                prop_assert_eq!(ClaudeMessage::Result(m).to_value(), value);
            }
            other => prop_assert!(false, "{text} parsed as {other:?}"),
        }
    }

    #[test]
    fn text_deltas_are_read_from_stream_events(text in "\\PC{0,16}", index in 0u64..4, session_id in opt_string()) {
        let event = serde_json::json!({"type": "content_block_delta", "index": index,
            "delta": {"type": "text_delta", "text": text}});
        let value = with(serde_json::json!({"type": "stream_event", "event": event}), Default::default(),
            &[("session_id", &session_id)]);
        match parse_line(&value.to_string()) {
            ClaudeMessage::StreamEvent(e) => {
                prop_assert_eq!(e.text_delta(), Some(text.as_str()));
                prop_assert_eq!(e.session_id.as_ref(), session_id.as_ref());
            }
            other => prop_assert!(false, "parsed as {other:?}"),
        }
    }

    #[test]
    fn the_envelope_agrees_with_the_full_parse(mut value in stream_json_object(), session_id in opt_string()) {
        // the envelope's fields are strings when present (a non-string one is not an envelope: text)
        value.as_object_mut().unwrap().retain(|k, _| k != "session_id" && k != "subtype");
        let value = with(value, Default::default(), &[("session_id", &session_id)]);
        let text = value.to_string();
        let envelope = read_envelope(&text).expect("a JSON object has an envelope");
        prop_assert_eq!(envelope.kind.as_deref(), value["type"].as_str());
        let parsed = parse_line(&text);
        prop_assert_eq!(envelope.session_id.as_deref(), parsed.session_id());
        prop_assert_eq!(envelope.session_id.as_deref(), session_id.as_deref());
        prop_assert!(matches!(OutputContent::from_line(text.clone()), OutputContent::Json(raw) if raw == text));
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
