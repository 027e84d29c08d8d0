//! Renders session events readably in a terminal: assistant text, tool calls and results, errors, and a
//! result line with cost and duration. `--json` prints the events as they are.

use std::io::Write;

use opcode_proto::stream_json::{parse_line, ClaudeMessage, ContentBlock, KnownBlock};
use serde_json::Value;

/// How a run ended, as far as the renderer saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Not ended yet.
    Running,
    /// `completion` with status success.
    Success,
    /// `completion` with status error.
    Failed,
    /// `completion` with status cancelled.
    Cancelled,
}

/// Prints events; remembers how the run ended.
#[derive(Debug)]
pub(crate) struct Renderer {
    json: bool,
    pub(crate) outcome: Outcome,
}

fn first_line(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() > max {
        format!("{}…", line.chars().take(max).collect::<String>())
    } else {
        line.to_owned()
    }
}

impl Renderer {
    pub(crate) fn new(json: bool) -> Self {
        Renderer { json, outcome: Outcome::Running }
    }

    /// Renders one encoded event.
    pub(crate) fn event(&mut self, frame: &str) {
        let Ok(event) = serde_json::from_str::<Value>(frame) else { return };
        if event["type"] == "completion" {
            self.outcome = match event["status"].as_str() {
                Some("success") => Outcome::Success,
                Some("cancelled") => Outcome::Cancelled,
                _ => Outcome::Failed,
            };
        }
        let mut out = std::io::stdout().lock();
        if self.json {
            let _ = writeln!(out, "{frame}");
            return;
        }
        match event["type"].as_str().unwrap_or_default() {
            "start" => {
                let _ = writeln!(
                    out,
                    "▶ {} · session {}",
                    event["message"].as_str().unwrap_or(""),
                    event["session_id"].as_str().unwrap_or("")
                );
            }
            "output" => self.output(&mut out, &event["content"]),
            "error" => eprintln!("error: {}", event["message"].as_str().unwrap_or_default()),
            "cancelled" => {
                let _ = writeln!(out, "✗ cancelled");
            }
            "user_prompt" => {
                let _ = writeln!(out, "> {}", event["prompt"].as_str().unwrap_or_default());
            }
            "permission_request" => {
                let _ = writeln!(
                    out,
                    "? {} wants to run: {}",
                    event["tool_name"].as_str().unwrap_or("a tool"),
                    event["input"]
                );
            }
            "completion" => {
                let status = event["status"].as_str().unwrap_or("unknown");
                let detail = match (event["exit_code"].as_i64(), event["signal"].as_i64()) {
                    (Some(code), _) => format!("exit code {code}"),
                    (None, Some(signal)) => format!("signal {signal}"),
                    _ => String::new(),
                };
                let _ = writeln!(out, "■ run {status} {detail}");
            }
            _ => {}
        }
    }

    fn output(&self, out: &mut impl Write, content: &Value) {
        let Value::Object(_) = content else {
            let _ = writeln!(out, "{}", content.as_str().unwrap_or_default());
            return;
        };
        if content["type"] == "result" {
            // rendered from the raw value: the summary needs only a few fields
            let seconds = content["duration_ms"].as_f64().unwrap_or(0.0) / 1000.0;
            let _ = writeln!(
                out,
                "{} {} · {:.1}s · {} turn(s) · ${:.4} · {} in / {} out tokens",
                if content["is_error"] == true { "✗" } else { "✓" },
                content["subtype"].as_str().unwrap_or("result"),
                seconds,
                content["num_turns"].as_u64().unwrap_or(0),
                content["total_cost_usd"].as_f64().unwrap_or(0.0),
                content["usage"]["input_tokens"].as_u64().unwrap_or(0),
                content["usage"]["output_tokens"].as_u64().unwrap_or(0),
            );
            return;
        }
        match parse_line(&content.to_string()) {
            ClaudeMessage::System(system) if system.subtype == "init" => {
                let model = system.model.unwrap_or_default();
                let _ = writeln!(out, "· claude {model} in {}", system.cwd.unwrap_or_default());
            }
            ClaudeMessage::Assistant(message) => {
                for block in message.message.content {
                    match block {
                        ContentBlock::Known(KnownBlock::Text { text, .. }) => {
                            let _ = writeln!(out, "{text}");
                        }
                        ContentBlock::Known(KnownBlock::Thinking { thinking, .. }) => {
                            let _ = writeln!(out, "  (thinking) {}", first_line(&thinking, 100));
                        }
                        ContentBlock::Known(KnownBlock::ToolUse { name, input, .. }) => {
                            let shown = input
                                .get("command")
                                .and_then(Value::as_str)
                                .map_or_else(|| input.to_string(), str::to_owned);
                            let _ = writeln!(out, "⏺ {name}({})", first_line(&shown, 100));
                        }
                        _ => {}
                    }
                }
            }
            ClaudeMessage::User(message) => {
                for block in message.message["content"].as_array().into_iter().flatten() {
                    if block["type"] == "tool_result" {
                        let text = match &block["content"] {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        let mark = if block["is_error"] == true { "✗" } else { "⎿" };
                        let _ = writeln!(out, "  {mark} {}", first_line(&text, 100));
                    }
                }
            }
            _ => {}
        }
    }
}
