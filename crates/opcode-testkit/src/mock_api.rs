//! A mock of the Anthropic Messages API, enough for the genuine Claude Code CLI to run offline:
//! `POST /v1/messages` (streaming SSE and plain JSON) and `POST /v1/messages/count_tokens`.
//!
//! What it answers is chosen by the newest prompt (see `latest_user_turn`), so one mock serves every
//! scenario:
//! - `USETOOL` → a `Bash` tool_use running `echo hi-from-tool > tool-ran.txt`;
//! - `USETOUCH` → a `Bash` tool_use running `touch touched.txt` (a command without a redirection, which a
//!   remembered rule can allow);
//! - `USEWRITE=<word>` → a `Write` tool_use writing `<word>` and a newline to `notes.txt` in the working
//!   directory the CLI names in its system prompt (an edit the CLI's file checkpoints record);
//! - `SLOWSTREAM` → 100 text deltas, 100 ms apart (for cancel tests);
//! - `APIERROR=<status>` → that HTTP status with an API error body (401, 429, 500, 529, …);
//! - no new prompt but a `tool_result` → text `Tool finished: <result>`;
//! - anything else → text `Mock reply to: <prompt> [N messages]`, N being the number of messages the
//!   request carried (so a resumed run can be seen to include the earlier turn).
//!
//! Every request body is recorded ([`MockApi::requests`], awaitable with [`MockApi::request_matching`]),
//! and appended to the file named by
//! `MOCK_ANTHROPIC_DUMP` when that is set (for looking at what the CLI sends).

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

/// A running mock; stops when dropped.
#[derive(Debug)]
pub struct MockApi {
    /// `http://127.0.0.1:PORT`, for `ANTHROPIC_BASE_URL`.
    pub url: String,
    requests: Requests,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MockApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MockApi {
    /// Starts the mock on an ephemeral loopback port.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_on("127.0.0.1:0").await
    }

    /// Starts the mock on `addr`.
    pub async fn start_on(addr: &str) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let requests = Requests::new(tokio::sync::watch::Sender::new(Vec::new()));
        let app = Router::new()
            .route("/v1/messages", post(messages))
            .route("/v1/messages/count_tokens", post(count_tokens))
            .fallback(|| async { (StatusCode::NOT_FOUND, Json(error_body("not_found_error", "no such route"))) })
            .with_state(requests.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(MockApi { url, requests, task })
    }

    /// Every `/v1/messages` request body received so far.
    pub fn requests(&self) -> Vec<Value> {
        self.requests.borrow().clone()
    }

    /// Waits for the first `/v1/messages` request (received before or after the call) whose body
    /// satisfies `matches`, and returns it. An event to await, so a test never polls the mock.
    pub async fn request_matching(&self, matches: impl Fn(&Value) -> bool) -> Value {
        let mut received = self.requests.subscribe();
        let all = received.wait_for(|all| all.iter().any(&matches)).await.expect("the mock owns its sender");
        all.iter().find(|r| matches(r)).cloned().expect("wait_for saw one")
    }
}

/// Every request body so far; a watch channel, so that a test can await the next one.
type Requests = std::sync::Arc<tokio::sync::watch::Sender<Vec<Value>>>;

fn error_body(kind: &str, message: &str) -> Value {
    json!({"type":"error","error":{"type":kind,"message":message}})
}

async fn count_tokens() -> Json<Value> {
    Json(json!({"input_tokens": 10}))
}

/// The newest prompt text, and the newest tool result, among the messages after the last assistant turn.
///
/// The CLI sends more than plain user turns: `<system-reminder>` blocks, `system` messages, and a prompt
/// typed while a turn was running arrives as a `system` message ("The user sent a new message while you
/// were working: …").
fn latest_user_turn(body: &Value) -> (String, Option<String>) {
    let messages = body["messages"].as_array().map(Vec::as_slice).unwrap_or_default();
    let tail_start = messages.iter().rposition(|m| m["role"] == "assistant").map_or(0, |i| i + 1);
    let mut prompt = String::new();
    let mut tool_result = None;
    for message in &messages[tail_start..] {
        let blocks: Vec<Value> = match &message["content"] {
            Value::String(text) => vec![serde_json::json!({"type":"text","text":text})],
            Value::Array(blocks) => blocks.clone(),
            _ => Vec::new(),
        };
        for block in blocks {
            if block["type"] == "tool_result" {
                tool_result = Some(block["content"].to_string());
            }
            let Some(text) = block["text"].as_str() else { continue };
            if message["role"] == "system" {
                if let Some((_, typed)) = text.split_once("while you were working:") {
                    prompt = typed.trim().to_owned();
                }
            } else if !text.trim_start().starts_with('<') {
                prompt = text.to_owned();
            }
        }
    }
    (prompt, tool_result)
}

enum Reply {
    Text { text: String, delay: Duration, chunks: usize },
    Tool(&'static str, String),
    Error(StatusCode),
}

/// The working directory the CLI states in its system prompt (`Working directory: /path`).
fn working_directory(body: &Value) -> Option<String> {
    let text = body["system"].to_string();
    let start = text.find("Working directory: ")? + "Working directory: ".len();
    let rest = &text[start..];
    let end = rest.find(['\\', '"']).unwrap_or(rest.len());
    Some(rest[..end].trim().to_owned())
}

fn choose(body: &Value) -> Reply {
    let (text, tool_result) = latest_user_turn(body);
    if let Some(code) = text.split("APIERROR=").nth(1).and_then(|r| r.get(..3)).and_then(|c| c.parse().ok()) {
        return Reply::Error(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    }
    if text.contains("USETOUCH") {
        return Reply::Tool("Bash", TOUCH_INPUT.to_owned());
    }
    if text.contains("USETOOL") {
        return Reply::Tool("Bash", TOOL_INPUT.to_owned());
    }
    if let Some(rest) = text.split("USEWRITE=").nth(1) {
        let word: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '-').collect();
        let dir = working_directory(body).unwrap_or_else(|| ".".to_owned());
        let input = json!({"file_path": format!("{dir}/notes.txt"), "content": format!("{word}\n")});
        return Reply::Tool("Write", input.to_string());
    }
    if text.contains("SLOWSTREAM") {
        return Reply::Text { text: "slow ".repeat(100), delay: Duration::from_millis(100), chunks: 100 };
    }
    if let Some(result) = tool_result {
        return Reply::Text { text: format!("Tool finished: {result}"), delay: Duration::ZERO, chunks: 1 };
    }
    let count = body["messages"].as_array().map_or(0, Vec::len);
    let prompt: String = text.chars().take(200).collect();
    Reply::Text { text: format!("Mock reply to: {prompt} [{count} messages]"), delay: Duration::ZERO, chunks: 3 }
}

fn message(content: Value, stop_reason: &str) -> Value {
    // a fresh id per answer: the CLI merges assistant messages that share an id
    let id = format!("msg_mock_{}", uuid::Uuid::new_v4().simple());
    json!({"id":id,"type":"message","role":"assistant","model":"claude-mock-1","content":content,
        "stop_reason":stop_reason,"stop_sequence":null,"usage":{"input_tokens":10,"output_tokens":6}})
}

fn sse(event: &str, data: &Value) -> String {
    format!("event: {event}\ndata: {data}\n\n")
}

const TOOL_INPUT: &str = r#"{"command":"echo hi-from-tool > tool-ran.txt","description":"write file"}"#;
const TOUCH_INPUT: &str = r#"{"command":"touch touched.txt","description":"touch a file"}"#;

async fn messages(State(requests): State<Requests>, Json(body): Json<Value>) -> Response {
    requests.send_modify(|all| all.push(body.clone()));
    if let Some(path) = std::env::var_os("MOCK_ANTHROPIC_DUMP") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
            let _ = writeln!(f, "{body}");
        }
    }
    let reply = choose(&body);
    if let Reply::Error(status) = reply {
        let kind = match status.as_u16() {
            401 => "authentication_error",
            429 => "rate_limit_error",
            529 => "overloaded_error",
            400 => "invalid_request_error",
            _ => "api_error",
        };
        return (status, Json(error_body(kind, &format!("mock API error {status}")))).into_response();
    }
    let streaming = body["stream"].as_bool().unwrap_or(false);
    if !streaming {
        let content = match &reply {
            Reply::Tool(name, input) => json!([{"type":"tool_use","id":tool_id(),"name":name,
                "input":serde_json::from_str::<Value>(input).unwrap_or_default()}]),
            Reply::Text { text, .. } => json!([{"type":"text","text":text}]),
            Reply::Error(_) => unreachable!(),
        };
        let stop = if matches!(reply, Reply::Tool(..)) { "tool_use" } else { "end_turn" };
        return Json(message(content, stop)).into_response();
    }
    let stream = futures::stream::unfold((reply, 0usize), |(reply, step)| async move {
        let frames = sse_frames(&reply, step).await?;
        Some((Ok::<_, Infallible>(frames), (reply, step + 1)))
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// The SSE frames of step `step` of a reply; `None` when the reply is complete.
async fn sse_frames(reply: &Reply, step: usize) -> Option<String> {
    let start = |stop: &str| sse("message_start", &json!({"type":"message_start","message":message(json!([]), stop)}));
    match reply {
        Reply::Tool(name, input) => match step {
            0 => Some(
                start("tool_use")
                    + &sse(
                        "content_block_start",
                        &json!({"type":"content_block_start","index":0,
                        "content_block":{"type":"tool_use","id":tool_id(),"name":name,"input":{}}}),
                    )
                    + &sse(
                        "content_block_delta",
                        &json!({"type":"content_block_delta","index":0,
                        "delta":{"type":"input_json_delta","partial_json":input}}),
                    )
                    + &sse("content_block_stop", &json!({"type":"content_block_stop","index":0}))
                    + &finish("tool_use"),
            ),
            _ => None,
        },
        Reply::Text { text, delay, chunks } => {
            let pieces = split(text, *chunks);
            if step == 0 {
                return Some(
                    start("end_turn")
                        + &sse(
                            "content_block_start",
                            &json!({"type":"content_block_start","index":0,
                            "content_block":{"type":"text","text":""}}),
                        ),
                );
            }
            if step <= pieces.len() {
                if !delay.is_zero() {
                    tokio::time::sleep(*delay).await;
                }
                let piece = &pieces[step - 1];
                return Some(sse(
                    "content_block_delta",
                    &json!({"type":"content_block_delta","index":0,
                    "delta":{"type":"text_delta","text":piece}}),
                ));
            }
            (step == pieces.len() + 1).then(|| {
                sse("content_block_stop", &json!({"type":"content_block_stop","index":0})) + &finish("end_turn")
            })
        }
        Reply::Error(_) => None,
    }
}

/// A fresh tool_use id per answer (the CLI pairs results with uses by id across a whole transcript).
fn tool_id() -> String {
    format!("toolu_mock_{}", uuid::Uuid::new_v4().simple())
}

fn finish(stop_reason: &str) -> String {
    sse(
        "message_delta",
        &json!({"type":"message_delta","delta":{"stop_reason":stop_reason,"stop_sequence":null},
        "usage":{"output_tokens":6}}),
    ) + &sse("message_stop", &json!({"type":"message_stop"}))
}

fn split(text: &str, chunks: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let size = chars.len().div_ceil(chunks.max(1)).max(1);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}
