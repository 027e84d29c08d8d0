//! A typed, lossless view of Claude Code's `--output-format stream-json` lines.
//!
//! Modelled on the genuine CLI's output (`crates/opcode-testkit/fixtures/claude-cli/*.jsonl`): `system`
//! (`init`, `status`, `api_retry`, …), `assistant`, `user`, `result`, `stream_event`, `control_request` /
//! `control_response`, and whatever a newer CLI adds. Every struct keeps the fields it does not name in `extra`, and
//! [`parse_line`] only returns a typed variant when serialising it gives back exactly the value it read;
//! otherwise it returns [`ClaudeMessage::Unknown`]. So `serialize(parse(x)) == x` for every JSON object,
//! by construction, and unknown types and fields survive.
//!
//! Parsing never fails: a line that is not JSON is [`ClaudeMessage::NotJson`].

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One line of claude's stdout.
#[derive(Debug, Clone, PartialEq)]
pub enum ClaudeMessage {
    /// `{"type":"system",…}`: `init` (first line of a run), `status`, `api_retry`, …
    System(SystemMessage),
    /// `{"type":"assistant",…}`: a whole assistant message.
    Assistant(AssistantMessage),
    /// `{"type":"user",…}`: a user turn, usually tool results.
    User(UserMessage),
    /// `{"type":"result",…}`: the last line of a turn, with cost and usage.
    Result(ResultMessage),
    /// `{"type":"stream_event",…}`: a token-level delta (`--include-partial-messages`).
    StreamEvent(StreamEventMessage),
    /// A JSON object of any other type, or one whose known fields have unexpected shapes.
    Unknown(Value),
    /// A line that is not a JSON object, kept as it was.
    NotJson(String),
}

/// A `system` line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemMessage {
    /// `init`, `status`, `api_retry`, …
    pub subtype: String,
    /// The session id (present on `init`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The model (on `init`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The working directory (on `init`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// Every other field, untouched.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An `assistant` line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssistantMessage {
    /// The API message.
    pub message: ApiMessage,
    /// The session id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Every other field, untouched.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A `user` line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserMessage {
    /// The user message: `content` is a string or a list of blocks.
    pub message: Value,
    /// The session id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Every other field, untouched.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The `message` of an assistant line, as the Messages API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiMessage {
    /// The content blocks, in order.
    pub content: Vec<ContentBlock>,
    /// The model that answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Every other field, untouched.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One content block of a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ContentBlock {
    /// A known block type.
    Known(KnownBlock),
    /// Any other block, untouched.
    Other(Value),
}

/// The content block types the UI renders specially.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum KnownBlock {
    /// Assistant text (Markdown).
    Text {
        /// The text.
        text: String,
        /// Every other field.
        #[serde(flatten)]
        extra: Map<String, Value>,
    },
    /// Extended thinking.
    Thinking {
        /// The thinking text.
        thinking: String,
        /// Every other field (signature, …).
        #[serde(flatten)]
        extra: Map<String, Value>,
    },
    /// A tool call.
    ToolUse {
        /// The call id, matched by a later `tool_result`.
        id: String,
        /// The tool (`Bash`, `Edit`, …).
        name: String,
        /// The tool's input.
        input: Value,
        /// Every other field.
        #[serde(flatten)]
        extra: Map<String, Value>,
    },
    /// The result of a tool call.
    ToolResult {
        /// The call this answers.
        tool_use_id: String,
        /// The result: text or blocks.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<Value>,
        /// Every other field (`is_error`, …).
        #[serde(flatten)]
        extra: Map<String, Value>,
    },
}

/// A `result` line: the end of a turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultMessage {
    /// `success`, `error_during_execution`, `error_max_turns`, …
    pub subtype: String,
    /// Whether the turn failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_error: Option<bool>,
    /// Wall time of the turn in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Turns taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_turns: Option<u64>,
    /// Cost in USD, as the CLI wrote it: a number, not an `f64`, so that an integer (`0`, as the CLI
    /// writes for a run that made no API call) re-serialises as an integer. [`ResultMessage::cost_usd`]
    /// reads it as a float.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_cost_usd: Option<serde_json::Number>,
    /// The session id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Every other field, untouched.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ResultMessage {
    /// The cost in USD, if the line carries one.
    pub fn cost_usd(&self) -> Option<f64> {
        self.total_cost_usd.as_ref().and_then(serde_json::Number::as_f64)
    }
}

/// A `stream_event` line: one raw streaming event of the Messages API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamEventMessage {
    /// `message_start`, `content_block_delta`, … as the API sent it.
    pub event: Value,
    /// The session id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Every other field, untouched.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl StreamEventMessage {
    /// The text of a `content_block_delta` / `text_delta`, if this is one.
    pub fn text_delta(&self) -> Option<&str> {
        let delta = self.event.get("delta")?;
        (delta.get("type")? == "text_delta").then(|| delta.get("text")?.as_str())?
    }
}

/// Parses one stdout line. Never fails; see the module doc for the lossless guarantee.
pub fn parse_line(line: &str) -> ClaudeMessage {
    match serde_json::from_str::<Value>(line) {
        Ok(value @ Value::Object(_)) => from_value(value),
        _ => ClaudeMessage::NotJson(line.to_owned()),
    }
}

/// Types a JSON value; anything that would not round-trip exactly stays [`ClaudeMessage::Unknown`].
pub fn from_value(value: Value) -> ClaudeMessage {
    fn typed<T>(value: &Value, wrap: fn(T) -> ClaudeMessage) -> Option<ClaudeMessage>
    where
        T: for<'de> Deserialize<'de> + Serialize,
    {
        let parsed: T = serde_json::from_value(value.clone()).ok()?;
        // keep the typed view only if it is lossless for this very value
        (serde_json::to_value(&parsed).ok()? == *value).then(|| wrap(parsed))
    }
    let Some(kind) = value.get("type").and_then(Value::as_str) else {
        return ClaudeMessage::Unknown(value);
    };
    let typed = match kind {
        "system" => typed(&value, ClaudeMessage::System),
        "assistant" => typed(&value, ClaudeMessage::Assistant),
        "user" => typed(&value, ClaudeMessage::User),
        "result" => typed(&value, ClaudeMessage::Result),
        "stream_event" => typed(&value, ClaudeMessage::StreamEvent),
        _ => None,
    };
    typed.unwrap_or(ClaudeMessage::Unknown(value))
}

impl ClaudeMessage {
    /// The JSON value this message stands for (a string for [`ClaudeMessage::NotJson`]).
    pub fn to_value(&self) -> Value {
        let typed = match self {
            ClaudeMessage::System(m) => serde_json::to_value(m),
            ClaudeMessage::Assistant(m) => serde_json::to_value(m),
            ClaudeMessage::User(m) => serde_json::to_value(m),
            ClaudeMessage::Result(m) => serde_json::to_value(m),
            ClaudeMessage::StreamEvent(m) => serde_json::to_value(m),
            ClaudeMessage::Unknown(v) => return v.clone(),
            ClaudeMessage::NotJson(s) => return Value::String(s.clone()),
        };
        // our own structs always serialise; `type` sits in `extra`, as read
        typed.unwrap_or(Value::Null)
    }

    /// The session id carried by the line, if any.
    pub fn session_id(&self) -> Option<&str> {
        match self {
            ClaudeMessage::System(m) => m.session_id.as_deref(),
            ClaudeMessage::Assistant(m) => m.session_id.as_deref(),
            ClaudeMessage::User(m) => m.session_id.as_deref(),
            ClaudeMessage::Result(m) => m.session_id.as_deref(),
            ClaudeMessage::StreamEvent(m) => m.session_id.as_deref(),
            ClaudeMessage::Unknown(v) => v.get("session_id").and_then(Value::as_str),
            ClaudeMessage::NotJson(_) => None,
        }
    }
}
