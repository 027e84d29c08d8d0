//! End to end with the genuine Claude Code CLI (pinned in `crates/opcode-testkit/claude-cli`, installed by
//! `cargo xtask test`), offline against the project's mock of the Messages API.
//!
//! Locally these skip, loudly, when the CLI is not installed; under CI (`CI=true`) a missing CLI fails.

mod common;

use common::genuine::{real_claude, server_for};
use common::*;
use opcode_sessions::claude_cli::PermissionPolicy;
use opcode_testkit::mock_api::MockApi;
use serde_json::Value;

fn texts(events: &[Value]) -> String {
    events.iter().filter(|e| e["type"] == "output").map(|e| e["content"].to_string()).collect::<Vec<_>>().join("\n")
}

#[tokio::test]
async fn execute_resume_and_continue_with_the_genuine_cli() {
    let Some(claude) = real_claude() else { return };
    let mock = MockApi::start().await.unwrap();
    let (server, _home) = server_for(claude, &mock, |_| {}).await;
    let mut ws = server.ws("/ws/claude").await;
    let id = uuid::Uuid::new_v4().to_string();

    send(&mut ws, server.request("execute", "first turn alpha", Some(&id))).await;
    let first = until_completion(&mut ws).await;
    assert_contiguous(&first, &id, 0);
    assert_eq!(first.last().unwrap()["status"], "success", "{first:#?}");
    let init = first.iter().find(|e| e["content"]["subtype"] == "init").expect("system/init");
    assert_eq!(init["content"]["session_id"], id.as_str(), "the client's id is claude's id");
    assert!(texts(&first).contains("Mock reply to: first turn alpha"));
    // the transcript the real CLI wrote is named by that id
    let project_id = opcode_testkit::project_dir_name(&std::fs::canonicalize(server.project.path()).unwrap());
    let transcript = server.claude_dir.path().join("projects").join(&project_id).join(format!("{id}.jsonl"));
    assert!(transcript.is_file(), "{} missing", transcript.display());

    send(&mut ws, server.request("resume", "second turn beta", Some(&id))).await;
    let second = until_completion(&mut ws).await;
    assert_contiguous(&second, &id, first.len() as u64);
    assert_eq!(second.last().unwrap()["status"], "success", "{second:#?}");
    let saw_first = mock.requests().iter().any(|r| {
        let body = r.to_string();
        body.contains("second turn beta") && body.contains("first turn alpha")
    });
    assert!(saw_first, "the resumed run sent the first turn to the API");

    send(&mut ws, server.request("continue", "third turn gamma", None)).await;
    let third = until_completion(&mut ws).await;
    assert_eq!(third[0]["session_id"], id.as_str(), "continue picks the latest session, known up front");
    assert_eq!(third.last().unwrap()["status"], "success", "{third:#?}");
    assert!(mock.requests().iter().any(|r| {
        let body = r.to_string();
        body.contains("third turn gamma") && body.contains("second turn beta")
    }));

    // the history endpoints read what the genuine CLI wrote
    let (_, projects) = server.get_json("/api/projects").await;
    let project = projects["data"].as_array().unwrap().iter().find(|p| p["id"] == project_id.as_str()).unwrap().clone();
    assert_eq!(project["path"], std::fs::canonicalize(server.project.path()).unwrap().display().to_string());
    let (_, sessions) = server.get_json(&format!("/api/projects/{project_id}/sessions")).await;
    assert_eq!(sessions["data"][0]["id"], id.as_str());
    assert_eq!(sessions["data"][0]["first_message"], "first turn alpha");
    let (_, history) = server.get_json(&format!("/api/sessions/{id}/history/{project_id}?limit=500")).await;
    let page = history["data"]["messages"].to_string();
    assert!(page.contains("first turn alpha") && page.contains("third turn gamma"));
    server.stop().await;
}

#[tokio::test]
async fn cancel_mid_stream_kills_the_genuine_cli() {
    let Some(claude) = real_claude() else { return };
    let mock = MockApi::start().await.unwrap();
    let (server, _home) = server_for(claude, &mock, |_| {}).await;
    let mut ws = server.ws("/ws/claude").await;
    let id = uuid::Uuid::new_v4().to_string();
    let mut request: Value = serde_json::from_str(&server.request("execute", "please SLOWSTREAM", Some(&id))).unwrap();
    request["include_partial_messages"] = true.into();
    send(&mut ws, request.to_string()).await;
    // wait for the first token of the slow stream
    loop {
        let event = next_json(&mut ws).await.expect("streaming");
        if event["content"]["event"]["delta"]["type"] == "text_delta" {
            break;
        }
    }
    let pids = opcode_testkit::pids_with_arg(&id);
    assert!(!pids.is_empty(), "the CLI is running");
    let cancel =
        server.http().post(server.url(&format!("/api/sessions/{id}/cancel"))).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(cancel.status(), 200);
    let rest = until_completion(&mut ws).await;
    let n = rest.len();
    assert_eq!(rest[n - 2]["type"], "cancelled");
    assert_eq!(rest[n - 1]["status"], "cancelled");
    assert_all_dead(&pids).await;
    server.stop().await;
}

#[tokio::test]
async fn an_api_error_surfaces_as_error_and_completion_error() {
    let Some(claude) = real_claude() else { return };
    let mock = MockApi::start().await.unwrap();
    let (server, _home) = server_for(claude, &mock, |_| {}).await;
    let mut ws = server.ws("/ws/claude").await;
    send(&mut ws, server.request("execute", "APIERROR=400 please", None)).await;
    let events = until_completion(&mut ws).await;
    let last = events.last().unwrap();
    assert_eq!(last["status"], "error", "{events:#?}");
    assert_eq!(last["exit_code"], 1);
    assert_eq!(last["error"], "claude ended with exit code 1", "the string the seed's client shows");
    assert!(events.iter().any(|e| e["type"] == "error"));
    assert!(texts(&events).contains("\"is_error\":true"));
    server.stop().await;
}

/// The seed client's own execute request (`tests/fixtures/seed/ws.json`), with its default model, runs the
/// genuine CLI to success, and the events have the fields that client reads.
#[tokio::test]
async fn the_seed_clients_request_runs_the_genuine_cli() {
    let Some(claude) = real_claude() else { return };
    let mock = MockApi::start().await.unwrap();
    let (server, _home) = server_for(claude, &mock, |_| {}).await;
    let fixture: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/seed/ws.json")).unwrap(),
    )
    .unwrap();
    let request = fixture["requests"]["execute"].to_string().replace("{projectPath}", &server.project_path());
    let mut ws = server.ws("/ws/claude").await;
    send(&mut ws, request).await;
    let events = until_completion(&mut ws).await;
    assert_eq!(events.last().unwrap()["status"], "success", "{events:#?}");
    assert!(events[0]["message"].is_string());
    assert!(events.iter().filter(|e| e["type"] == "output").all(|e| e["content"].is_object()));
    assert!(texts(&events).contains("Mock reply to: hello"), "{events:#?}");
    server.stop().await;
}

/// `/api/settings/claude/version` asks the genuine CLI, through the supervisor, and finds its pinned version.
#[tokio::test]
async fn the_version_route_reports_the_genuine_cli() {
    let Some(claude) = real_claude() else { return };
    let pinned: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../crates/opcode-testkit/claude-cli/package.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let pinned = pinned["dependencies"]["@anthropic-ai/claude-code"].as_str().unwrap().to_owned();
    let mock = MockApi::start().await.unwrap();
    let (server, _home) = server_for(claude, &mock, |_| {}).await;
    let (status, body) = server.get_json("/api/settings/claude/version").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["is_installed"], true, "{body}");
    assert_eq!(body["data"]["version"], pinned.as_str(), "{body}");
    assert!(body["data"]["output"].as_str().unwrap().contains("Claude Code"), "{body}");
    server.stop().await;
}

#[tokio::test]
async fn a_refusal_on_stderr_reaches_the_client() {
    let Some(claude) = real_claude() else { return };
    let mock = MockApi::start().await.unwrap();
    let (server, _home) = server_for(claude, &mock, |_| {}).await;
    let mut ws = server.ws("/ws/claude").await;
    // the CLI refuses to resume a session it has no transcript of: exit 1, the reason only on stderr
    let unknown = uuid::Uuid::new_v4().to_string();
    send(&mut ws, server.request("resume", "hello", Some(&unknown))).await;
    let events = until_completion(&mut ws).await;
    let expected = format!("No conversation found with session ID: {unknown}");
    assert!(
        events.iter().any(|e| e["type"] == "error" && e["message"].as_str().unwrap().contains(&expected)),
        "{events:#?}"
    );
    let last = events.last().unwrap();
    assert_eq!((&last["status"], &last["exit_code"]), (&Value::from("error"), &Value::from(1)), "{events:#?}");
    assert!(mock.requests().is_empty(), "refused before any API call");
    server.stop().await;
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .is_ok_and(|s| s.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0")))
}

/// `--permissions skip` runs `--dangerously-skip-permissions`, which the CLI refuses to root outside a
/// sandbox it knows of (`IS_SANDBOX=1`, bubblewrap) with a line on stderr only. Both sides of that rule
/// are checked for whichever user runs the tests: no user skips this test.
#[tokio::test]
async fn skip_permissions_follows_the_clis_root_rule() {
    let Some(claude) = real_claude() else { return };
    let mock = MockApi::start().await.unwrap();
    for sandbox in ["1", "0"] {
        let (server, _home) = server_for(claude.clone(), &mock, |c| {
            c.permissions = PermissionPolicy::SkipPermissions;
            c.child_env.push(("IS_SANDBOX".into(), sandbox.into()));
            c.child_env.push(("CLAUDE_CODE_BUBBLEWRAP".into(), "".into()));
        })
        .await;
        let mut ws = server.ws("/ws/claude").await;
        let prompt = format!("skip permissions with IS_SANDBOX={sandbox}");
        send(&mut ws, server.request("execute", &prompt, None)).await;
        let events = until_completion(&mut ws).await;
        let refused = events.iter().any(|e| {
            e["type"] == "error" && e["message"].as_str().unwrap().contains("cannot be used with root/sudo privileges")
        });
        let status = events.last().unwrap()["status"].clone();
        if sandbox == "0" && is_root() {
            assert!(refused, "root outside a sandbox is refused, and the client is told: {events:#?}");
            assert_eq!(status, "error");
        } else {
            assert!(!refused, "{events:#?}");
            assert_eq!(status, "success", "{events:#?}");
            assert!(texts(&events).contains(&format!("Mock reply to: {prompt}")), "{events:#?}");
        }
        server.stop().await;
    }
}

#[tokio::test]
async fn live_session_with_browser_approvals_on_the_genuine_cli() {
    let Some(claude) = real_claude() else { return };
    let mock = MockApi::start().await.unwrap();
    let (server, _home) = server_for(claude, &mock, |_| {}).await;
    let mut ws = server.ws("/ws/claude").await;
    let id = uuid::Uuid::new_v4().to_string();
    send(&mut ws, server.live_request("please USETOOL now", &id)).await;

    // 1. approved from this WebSocket: the tool really runs
    let ask = until(&mut ws, |e| e["type"] == "permission_request").await.pop().unwrap();
    assert_eq!(ask["tool_name"], "Bash");
    assert!(!server.project.path().join("tool-ran.txt").exists());
    let allow = serde_json::json!({"type":"permission_response","session_id":id,"request_id":ask["request_id"],"behavior":"allow"});
    send(&mut ws, allow.to_string()).await;
    until(&mut ws, is_result).await;
    assert!(server.project.path().join("tool-ran.txt").exists(), "the approved Bash call ran");
    let pids = opcode_testkit::pids_with_arg(&id);
    assert!(!pids.is_empty());

    // 2. denied: claude is told, the tool does not run
    std::fs::remove_file(server.project.path().join("tool-ran.txt")).unwrap();
    send(&mut ws, serde_json::json!({"type":"prompt","session_id":id,"prompt":"please USETOOL again"}).to_string())
        .await;
    let ask = until(&mut ws, |e| e["type"] == "permission_request").await.pop().unwrap();
    let deny = serde_json::json!({"type":"permission_response","session_id":id,"request_id":ask["request_id"],
        "behavior":"deny","message":"denied from the browser"});
    send(&mut ws, deny.to_string()).await;
    let denied_turn = until(&mut ws, is_result).await;
    assert!(!server.project.path().join("tool-ran.txt").exists(), "the denied call did not run");
    // claude records the denial as the tool's error result (this CLI version then tells the API the tool
    // use was interrupted, so the message itself does not reach the model)
    let told = denied_turn.iter().any(|e| {
        e["content"]["type"] == "user"
            && e["content"]["message"]["content"].as_array().is_some_and(|blocks| {
                blocks.iter().any(|b| {
                    b["type"] == "tool_result" && b["is_error"] == true && b["content"] == "denied from the browser"
                })
            })
    });
    assert!(told, "claude saw the denial: {denied_turn:#?}");
    let resolved = denied_turn.iter().find(|e| e["type"] == "permission_resolved").unwrap();
    assert_eq!(resolved["behavior"], "deny");

    // 3. a plain follow-up: same process, and the API sees the whole conversation
    send(&mut ws, serde_json::json!({"type":"prompt","session_id":id,"prompt":"a plain turn"}).to_string()).await;
    let plain = until(&mut ws, is_result).await;
    assert!(texts(&plain).contains("Mock reply to: a plain turn"));
    assert_eq!(opcode_testkit::pids_with_arg(&id), pids, "the same claude process");
    let last = mock.requests().into_iter().rev().find(|r| r.to_string().contains("a plain turn")).unwrap();
    let conversation = last["messages"].to_string();
    assert!(conversation.contains("please USETOOL now") && conversation.contains("please USETOOL again"));

    // 4. interrupt a slow turn; the session stays usable
    send(&mut ws, serde_json::json!({"type":"prompt","session_id":id,"prompt":"please SLOWSTREAM"}).to_string()).await;
    until(&mut ws, |e| e["type"] == "user_prompt").await;
    let slow_turn = mock.request_matching(|r| r.to_string().contains("please SLOWSTREAM"));
    tokio::time::timeout(LIMIT, slow_turn).await.expect("the slow turn reached the API");
    send(&mut ws, serde_json::json!({"type":"interrupt","session_id":id}).to_string()).await;
    let interrupted = until(&mut ws, is_result).await;
    assert!(!texts(&interrupted).contains(&"slow ".repeat(100)), "the slow reply was cut short");
    send(&mut ws, serde_json::json!({"type":"prompt","session_id":id,"prompt":"after the interrupt"}).to_string())
        .await;
    let after = until(&mut ws, is_result).await;
    assert!(texts(&after).contains("Mock reply to: after the interrupt"), "{after:#?}");
    assert_eq!(opcode_testkit::pids_with_arg(&id), pids);

    send(&mut ws, serde_json::json!({"type":"end","session_id":id}).to_string()).await;
    let end = until_completion(&mut ws).await;
    assert_eq!(end.last().unwrap()["status"], "success", "{end:#?}");
    assert_all_dead(&pids).await;
    server.stop().await;
}

#[tokio::test]
async fn a_prompt_that_looks_like_a_flag_reaches_the_genuine_cli_as_a_prompt() {
    let Some(claude) = real_claude() else { return };
    let mock = MockApi::start().await.unwrap();
    let (server, _home) = server_for(claude, &mock, |_| {}).await;
    let mut ws = server.ws("/ws/claude").await;
    let project_id = opcode_testkit::project_dir_name(&std::fs::canonicalize(server.project.path()).unwrap());
    for prompt in ["--version", "-c"] {
        let id = uuid::Uuid::new_v4().to_string();
        send(&mut ws, server.request("execute", prompt, Some(&id))).await;
        let events = until_completion(&mut ws).await;
        assert_eq!(events.last().unwrap()["status"], "success", "{prompt}: {events:#?}");
        assert!(texts(&events).contains(&format!("Mock reply to: {prompt}")), "{prompt}: {events:#?}");
        let transcript = server.claude_dir.path().join("projects").join(&project_id).join(format!("{id}.jsonl"));
        let text = std::fs::read_to_string(&transcript).unwrap_or_else(|e| panic!("{}: {e}", transcript.display()));
        let first_user = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|v| v["type"] == "user")
            .expect("a user message in the transcript");
        let content = &first_user["message"]["content"];
        let said =
            content.as_str().map(str::to_owned).unwrap_or_else(|| content[0]["text"].as_str().unwrap_or("").to_owned());
        assert_eq!(said, prompt, "the first user message is the prompt, byte for byte");
    }
    server.stop().await;
}

#[tokio::test]
async fn always_allow_is_kept_by_the_genuine_cli_in_the_projects_settings() {
    let Some(claude) = real_claude() else { return };
    let mock = MockApi::start().await.unwrap();
    let (server, _home) = server_for(claude, &mock, |_| {}).await;
    let mut ws = server.ws("/ws/claude").await;
    let id = uuid::Uuid::new_v4().to_string();
    send(&mut ws, server.live_request("please USETOUCH now", &id)).await;
    let ask = until(&mut ws, |e| e["type"] == "permission_request").await.pop().unwrap();
    assert_eq!(ask["remember"][0]["type"], "addRules", "{ask}");
    assert_eq!(ask["remember"][0]["destination"], "localSettings");
    let allow = serde_json::json!({"type":"permission_response","session_id":id,"request_id":ask["request_id"],
        "behavior":"allow","remember":true});
    send(&mut ws, allow.to_string()).await;
    until(&mut ws, is_result).await;
    let project = std::fs::canonicalize(server.project.path()).unwrap();
    let settings = std::fs::read_to_string(project.join(".claude/settings.local.json"))
        .expect("the CLI wrote the rule into the project's local settings");
    let settings: Value = serde_json::from_str(&settings).unwrap();
    let allowed = settings["permissions"]["allow"].as_array().cloned().unwrap_or_default();
    assert!(allowed.iter().any(|r| r.as_str().is_some_and(|r| r.starts_with("Bash("))), "{settings}");
    // the server lists what the CLI wrote
    let (status, listed) = server.get_json(&format!("/api/permission-rules?project_path={}", project.display())).await;
    assert_eq!(status, 200);
    assert_eq!(listed["data"]["allow"], settings["permissions"]["allow"]);
    // and the CLI no longer asks for that command
    assert!(project.join("touched.txt").exists(), "the approved command ran");
    std::fs::remove_file(project.join("touched.txt")).unwrap();
    send(&mut ws, serde_json::json!({"type":"prompt","session_id":id,"prompt":"please USETOUCH again"}).to_string())
        .await;
    let turn = until(&mut ws, is_result).await;
    assert!(turn.iter().all(|e| e["type"] != "permission_request"), "{turn:#?}");
    assert!(project.join("touched.txt").exists(), "the remembered command ran unasked");
    send(&mut ws, serde_json::json!({"type":"end","session_id":id}).to_string()).await;
    until_completion(&mut ws).await;
    server.stop().await;
}

/// A 1×1 PNG, base64.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

/// The image blocks (`media_type`, `data`) of the user messages of one Messages API request.
fn image_blocks(request: &Value) -> Vec<(String, String)> {
    let messages = request["messages"].as_array().cloned().unwrap_or_default();
    messages
        .iter()
        .filter(|m| m["role"] == "user")
        .filter_map(|m| m["content"].as_array().cloned())
        .flatten()
        .filter(|b| b["type"] == "image" && b["source"]["type"] == "base64")
        .map(|b| {
            let source = &b["source"];
            (
                source["media_type"].as_str().unwrap_or_default().to_owned(),
                source["data"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn an_image_reaches_the_messages_api_from_a_live_session_and_from_a_one_shot_run() {
    let Some(claude) = real_claude() else { return };
    let mock = MockApi::start().await.unwrap();
    let (server, _home) = server_for(claude, &mock, |_| {}).await;
    let image = serde_json::json!([{"media_type":"image/png","data":PNG}]);

    // a one-shot run: the prompt and the image go to claude as one stream-json user message on stdin
    let mut ws = server.ws("/ws/claude").await;
    let mut request: Value = serde_json::from_str(&server.request("execute", "what is in picture one", None)).unwrap();
    request["images"] = image.clone();
    send(&mut ws, request.to_string()).await;
    let run = until_completion(&mut ws).await;
    assert_eq!(run.last().unwrap()["status"], "success", "{run:#?}");
    let shown = run.iter().find(|e| e["type"] == "user_prompt").expect("the run's prompt is in its log");
    assert_eq!(shown["images"], image, "the transcript has the image");
    let sent = mock.requests().into_iter().find(|r| r.to_string().contains("what is in picture one")).unwrap();
    assert_eq!(image_blocks(&sent), [("image/png".to_owned(), PNG.to_owned())], "{sent:#}");
    // the mock answers the request's last text block: the CLI may add one of its own naming the image file
    assert!(texts(&run).contains("Mock reply to:"), "the mock's answer reached the browser: {run:#?}");

    // a live session: its first prompt and a follow-up with an image
    let mut ws = server.ws("/ws/claude").await;
    let id = uuid::Uuid::new_v4().to_string();
    let mut request: Value = serde_json::from_str(&server.live_request("what is in picture two", &id)).unwrap();
    request["images"] = image.clone();
    send(&mut ws, request.to_string()).await;
    until(&mut ws, is_result).await;
    let sent = mock.requests().into_iter().find(|r| r.to_string().contains("what is in picture two")).unwrap();
    assert_eq!(image_blocks(&sent), [("image/png".to_owned(), PNG.to_owned())], "{sent:#}");
    let follow_up = serde_json::json!({"type":"prompt","session_id":id,"prompt":"and picture three",
        "images":[{"media_type":"image/png","data":PNG}]});
    send(&mut ws, follow_up.to_string()).await;
    let turn = until(&mut ws, is_result).await;
    let prompt = turn.iter().find(|e| e["type"] == "user_prompt").unwrap();
    assert_eq!(prompt["images"], image);
    let sent = mock.requests().into_iter().rev().find(|r| r.to_string().contains("and picture three")).unwrap();
    assert_eq!(image_blocks(&sent).len(), 2, "both images of the conversation went to the API: {sent:#}");
    send(&mut ws, serde_json::json!({"type":"end","session_id":id}).to_string()).await;
    let end = until_completion(&mut ws).await;
    assert_eq!(end.last().unwrap()["status"], "success", "{end:#?}");
    server.stop().await;
}

/// A live session's model is switched between turns: the genuine CLI answers the `set_model` control
/// request with success, and its next request to the Messages API asks for the new model.
#[tokio::test]
async fn set_model_between_turns_reaches_the_genuine_clis_next_request() {
    let Some(claude) = real_claude() else { return };
    let mock = MockApi::start().await.unwrap();
    let (server, _home) = server_for(claude, &mock, |_| {}).await;
    let mut ws = server.ws("/ws/claude").await;
    let id = uuid::Uuid::new_v4().to_string();
    send(&mut ws, server.live_request("the first turn", &id)).await;
    until(&mut ws, is_result).await;
    let first = mock.requests().into_iter().rev().find(|r| r.to_string().contains("the first turn")).unwrap();
    let new_model = "claude-sonnet-4-5-20250929";
    assert_ne!(first["model"], new_model, "the first turn used another model: {}", first["model"]);

    let response = server
        .http()
        .post(server.url(&format!("/api/sessions/{id}/settings")))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({"model": new_model, "permission_mode": "acceptEdits"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    let mut seen: Vec<Value> = Vec::new();
    while seen.iter().filter(|e| is_settings_answer(e)).count() < 2 {
        seen.push(next_json(&mut ws).await.expect("the session goes on"));
    }
    let answers: Vec<&Value> = seen.iter().filter(|e| is_settings_answer(e)).collect();
    assert!(answers.iter().all(|e| e["content"]["response"]["subtype"] == "success"), "{answers:#?}");
    assert!(seen.iter().any(|e| e["type"] == "settings_changed" && e["model"] == new_model), "{seen:#?}");

    send(&mut ws, serde_json::json!({"type":"prompt","session_id":id,"prompt":"the second turn"}).to_string()).await;
    let second = until(&mut ws, is_result).await;
    assert!(texts(&second).contains("Mock reply to: the second turn"), "{second:#?}");
    let next = mock.requests().into_iter().rev().find(|r| r.to_string().contains("the second turn")).unwrap();
    assert_eq!(next["model"], new_model, "the next request uses the new model");

    send(&mut ws, serde_json::json!({"type":"end","session_id":id}).to_string()).await;
    let end = until_completion(&mut ws).await;
    assert_eq!(end.last().unwrap()["status"], "success", "{end:#?}");
    server.stop().await;
}

#[tokio::test]
async fn an_agents_system_prompt_and_tools_reach_the_messages_api_with_the_genuine_cli() {
    let Some(claude) = real_claude() else { return };
    let mock = MockApi::start().await.unwrap();
    let (server, _home) = server_for(claude, &mock, |_| {}).await;
    const MARK: &str = "AGENT-SYSTEM-MARK-7f3";
    let agent = serde_json::json!({
        "name": "Terse", "system_prompt": format!("{MARK}: answer in one word."), "model": "sonnet",
        "default_task": "agent task alpha", "disallowed_tools": ["WebFetch"],
    });
    let created = server.http().post(server.url("/api/agents")).bearer_auth(TOKEN).json(&agent).send().await.unwrap();
    assert_eq!(created.status(), 201);
    let id = created.json::<Value>().await.unwrap()["data"]["id"].as_i64().unwrap();
    let run = server
        .http()
        .post(server.url(&format!("/api/agents/{id}/run")))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({ "project_path": server.project_path() }))
        .send()
        .await
        .unwrap();
    assert_eq!(run.status(), 201);

    // the request of the agent's task carries its system prompt, and no WebFetch tool
    let request = tokio::time::timeout(LIMIT, mock.request_matching(|r| r.to_string().contains("agent task alpha")))
        .await
        .expect("the agent's request reached the mock");
    assert!(request["system"].to_string().contains(MARK), "system prompt: {}", request["system"]);
    let tools: Vec<&str> =
        request["tools"].as_array().into_iter().flatten().filter_map(|t| t["name"].as_str()).collect();
    assert!(tools.contains(&"Bash"), "the CLI offers its tools: {tools:?}");
    assert!(!tools.contains(&"WebFetch"), "--disallowedTools took WebFetch away: {tools:?}");

    let done = agent_run_until(&server, id, |r| r["status"] != "running").await;
    assert_eq!(done["status"], "success", "{done}");
    assert!(done["total_tokens"].as_u64().unwrap() > 0, "figures from the genuine result line: {done}");
    assert!(done["cost_usd"].as_f64().is_some(), "{done}");
    server.stop().await;
}
