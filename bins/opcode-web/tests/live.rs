//! Live sessions with the fake claude: approvals from any viewer, follow-ups on the same process,
//! interrupt, end, timeouts.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

#[tokio::test]
async fn a_second_viewer_approves_the_tool_and_it_runs() {
    let server = TestServer::start().await;
    let mut owner = server.ws("/ws/claude").await;
    let id = uuid::Uuid::new_v4().to_string();
    send(&mut owner, server.live_request("please @tool", &id)).await;
    let seen = until(&mut owner, |e| e["type"] == "permission_request").await;
    assert_eq!(seen[0]["type"], "start");
    assert_eq!(seen[0]["live"], true);
    assert_eq!(seen[1]["type"], "user_prompt");
    let request = seen.last().unwrap().clone();
    assert_eq!(request["tool_name"], "Bash");
    assert_eq!(request["input"]["command"], "echo hi > tool-ran.txt");
    assert!(request["expires_at"].as_u64().unwrap() > 0);
    let request_id = request["request_id"].as_str().unwrap().to_owned();
    assert!(!server.project.path().join("tool-ran.txt").exists(), "nothing runs before the answer");

    // a phone attaches later: it sees the pending request in the replay and answers it
    let mut phone = server.ws(&format!("/ws/sessions/{id}")).await;
    until(&mut phone, |e| e["type"] == "permission_request").await;
    let answer = json!({"type":"permission_response","session_id":id,"request_id":request_id,"behavior":"allow"});
    send(&mut phone, answer.to_string()).await;
    let rest = until(&mut owner, is_result).await;
    let resolved = rest.iter().find(|e| e["type"] == "permission_resolved").expect("resolution");
    assert_eq!(resolved["behavior"], "allow");
    assert_eq!(resolved["by"], "viewer");
    assert!(rest.iter().any(|e| e["content"]["message"]["content"][0]["content"] == "ran"));
    assert!(server.project.path().join("tool-ran.txt").exists(), "the tool really ran");

    // the first answer won: a second one is refused, the socket stays usable
    send(&mut phone, answer.to_string()).await;
    let refusal = until(&mut phone, |e| e.get("seq").is_none()).await.pop().unwrap();
    assert!(refusal["message"].as_str().unwrap().contains("not pending"), "{refusal}");
    server.stop().await;
}

#[tokio::test]
async fn a_denial_stops_the_tool_and_claude_is_told() {
    let server = TestServer::start().await;
    let mut ws = server.ws("/ws/claude").await;
    let id = uuid::Uuid::new_v4().to_string();
    send(&mut ws, server.live_request("please @tool", &id)).await;
    let request = until(&mut ws, |e| e["type"] == "permission_request").await.pop().unwrap();
    let url = server.url(&format!("/api/sessions/{id}/permissions/{}", request["request_id"].as_str().unwrap()));
    let response = server
        .http()
        .post(url)
        .bearer_auth(TOKEN)
        .json(&json!({"behavior":"deny","message":"not on my watch"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let rest = until(&mut ws, is_result).await;
    let tool_result = rest
        .iter()
        .find_map(|e| {
            e["content"]["message"]["content"].as_array()?.iter().find(|b| b["type"] == "tool_result").cloned()
        })
        .expect("a tool_result");
    assert_eq!(tool_result["is_error"], true);
    assert_eq!(tool_result["content"], "not on my watch");
    assert!(!server.project.path().join("tool-ran.txt").exists());
    server.stop().await;
}

#[tokio::test]
async fn follow_ups_reuse_the_process_and_interrupt_keeps_the_session() {
    let server = TestServer::start().await;
    let mut ws = server.ws("/ws/claude").await;
    let id = uuid::Uuid::new_v4().to_string();
    send(&mut ws, server.live_request("first", &id)).await;
    until(&mut ws, is_result).await;
    let pids = opcode_testkit::pids_with_arg(&id);
    assert_eq!(pids.len(), 1);

    send(&mut ws, json!({"type":"prompt","session_id":id,"prompt":"second"}).to_string()).await;
    let second = until(&mut ws, is_result).await;
    assert!(second.iter().any(|e| e["type"] == "user_prompt" && e["prompt"] == "second"));
    assert!(Value::Array(second.clone()).to_string().contains("Echo: second (turn 2)"));
    assert_eq!(opcode_testkit::pids_with_arg(&id), pids, "the same process answered");

    // a long turn, interrupted: it ends early and the session takes the next prompt
    send(&mut ws, json!({"type":"prompt","session_id":id,"prompt":"long @lines=200 @delay=20"}).to_string()).await;
    until(&mut ws, |e| e["content"]["message"]["content"][0]["text"] == "line 2").await;
    let interrupt = server
        .http()
        .post(server.url(&format!("/api/sessions/{id}/interrupt")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(interrupt.status(), 200);
    let interrupted = until(&mut ws, is_result).await;
    assert_eq!(interrupted.last().unwrap()["content"]["subtype"], "error_during_execution");
    assert!(interrupted.len() < 150, "the turn stopped early");
    send(&mut ws, json!({"type":"prompt","session_id":id,"prompt":"after"}).to_string()).await;
    let after = until(&mut ws, is_result).await;
    assert!(Value::Array(after).to_string().contains("Echo: after (turn 4)"));
    assert_eq!(opcode_testkit::pids_with_arg(&id), pids);

    send(&mut ws, json!({"type":"end","session_id":id}).to_string()).await;
    let end = until_completion(&mut ws).await;
    assert_eq!(end.last().unwrap()["status"], "success");
    server.stop().await;
}

#[tokio::test]
async fn unanswered_requests_are_denied_after_the_timeout() {
    let server = TestServer::start_with(|c| c.permission_timeout = Duration::from_millis(300)).await;
    let mut ws = server.ws("/ws/claude").await;
    let id = uuid::Uuid::new_v4().to_string();
    send(&mut ws, server.live_request("please @tool", &id)).await;
    let request = until(&mut ws, |e| e["type"] == "permission_request").await.pop().unwrap();
    assert_eq!(request["timeout_ms"], 300);
    let rest = until(&mut ws, is_result).await;
    let resolved = rest.iter().find(|e| e["type"] == "permission_resolved").unwrap();
    assert_eq!(resolved["by"], "timeout");
    assert_eq!(resolved["behavior"], "deny");
    assert!(!server.project.path().join("tool-ran.txt").exists());
    server.stop().await;
}

#[tokio::test]
async fn an_idle_live_session_ends_by_itself() {
    let server = TestServer::start_with(|c| c.live_idle_timeout = Duration::from_millis(200)).await;
    let mut ws = server.ws("/ws/claude").await;
    let id = uuid::Uuid::new_v4().to_string();
    send(&mut ws, server.live_request("hello", &id)).await;
    let events = until_completion(&mut ws).await;
    assert_eq!(events.last().unwrap()["status"], "success");
    assert!(events.iter().any(is_result));
    server.stop().await;
}

#[tokio::test]
async fn bypass_needs_the_servers_permission_and_controls_need_a_live_session() {
    let server = TestServer::start().await;
    let mut ws = server.ws("/ws/claude").await;
    let mut request: Value =
        serde_json::from_str(&server.live_request("x", &uuid::Uuid::new_v4().to_string())).unwrap();
    request["permission_mode"] = "bypassPermissions".into();
    send(&mut ws, request.to_string()).await;
    let refusal = next_json(&mut ws).await.unwrap();
    assert!(refusal["message"].as_str().unwrap().contains("--allow-bypass-permissions"), "{refusal}");
    assert!(server.state.registry.list().await.is_empty());

    // a one-shot run takes no follow-ups
    let id = uuid::Uuid::new_v4().to_string();
    send(&mut ws, server.request("execute", "x @hang", Some(&id))).await;
    until(&mut ws, |e| e["type"] == "start").await;
    send(&mut ws, json!({"type":"prompt","session_id":id,"prompt":"more"}).to_string()).await;
    let refusal = until(&mut ws, |e| e.get("seq").is_none()).await.pop().unwrap();
    assert!(refusal["message"].as_str().unwrap().contains("not a live session"), "{refusal}");
    let status = server
        .http()
        .post(server.url("/api/sessions/00000000-0000-4000-8000-000000000000/interrupt"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 404);
    server.stop().await;
}

#[tokio::test]
async fn pending_requests_are_resolved_when_the_session_is_cancelled() {
    let server = TestServer::start().await;
    let mut ws = server.ws("/ws/claude").await;
    let id = uuid::Uuid::new_v4().to_string();
    send(&mut ws, server.live_request("please @tool", &id)).await;
    until(&mut ws, |e| e["type"] == "permission_request").await;
    server.state.registry.cancel(&id).unwrap();
    let rest = until_completion(&mut ws).await;
    let resolved = rest.iter().find(|e| e["type"] == "permission_resolved").expect("resolved at the end");
    assert_eq!(resolved["by"], "end");
    assert_eq!(rest.last().unwrap()["status"], "cancelled");
    server.stop().await;
}

#[tokio::test]
async fn prompts_queue_during_a_turn_over_websocket_and_rest_and_bad_queue_requests_get_4xx() {
    let server = TestServer::start().await;
    let mut ws = server.ws("/ws/claude").await;
    let id = uuid::Uuid::new_v4().to_string();
    send(&mut ws, server.live_request("slow @lines=60 @delay=15", &id)).await;
    until(&mut ws, |e| e["content"].to_string().contains("line 0")).await;
    // over the socket, with a client id
    send(&mut ws, json!({"type":"prompt","session_id":id,"prompt":"first queued","client_id":"w-1"}).to_string()).await;
    until(&mut ws, |e| e["type"] == "prompt_queued" && e["client_id"] == "w-1").await;
    // over REST: the answer says what became of it
    let http = server.http();
    let post = |body: Value| {
        http.post(server.url(&format!("/api/sessions/{id}/prompt"))).bearer_auth(TOKEN).json(&body).send()
    };
    let queued: Value = post(json!({"prompt":"second queued","client_id":"r-1"})).await.unwrap().json().await.unwrap();
    assert_eq!(queued["data"]["outcome"], "queued");
    let again: Value = post(json!({"prompt":"second queued","client_id":"r-1"})).await.unwrap().json().await.unwrap();
    assert_eq!(again["data"]["outcome"], "duplicate");
    let queue_url = |client: &str| server.url(&format!("/api/sessions/{id}/queue/{client}"));
    let edit = http.put(queue_url("r-1")).bearer_auth(TOKEN).json(&json!({"prompt":"second, edited"})).send().await;
    assert_eq!(edit.unwrap().status(), 200);
    // bad input: nothing changes
    let status = |r: reqwest::Result<reqwest::Response>| r.unwrap().status().as_u16();
    assert_eq!(status(http.delete(queue_url("nope")).bearer_auth(TOKEN).send().await), 404);
    assert_eq!(status(post(json!({"prompt":"x","client_id":""})).await), 400);
    assert_eq!(status(post(json!({"prompt":"x","client_id":"a\u{7}b"})).await), 400);
    let malformed = http.put(queue_url("r-1")).bearer_auth(TOKEN).header("content-type", "application/json");
    assert_eq!(status(malformed.body("{\"prompt\":").send().await), 400);
    let unknown = server.url("/api/sessions/00000000-0000-4000-8000-000000000000/queue/r-1");
    assert_eq!(status(http.delete(unknown).bearer_auth(TOKEN).send().await), 404);
    // both go out in order once the turn ends, the edit's text included
    let rest = until(&mut ws, |e| e["content"].to_string().contains("Echo: second, edited")).await;
    let sent: Vec<&Value> = rest.iter().filter(|e| e["type"] == "user_prompt").collect();
    assert_eq!(sent.iter().map(|e| e["client_id"].as_str().unwrap()).collect::<Vec<_>>(), ["w-1", "r-1"]);
    assert_eq!(sent[1]["prompt"], "second, edited");
    server.stop().await;
}

#[tokio::test]
async fn always_allow_is_remembered_in_the_projects_settings_and_can_be_listed_edited_and_removed() {
    let server = TestServer::start().await;
    let mut ws = server.ws("/ws/claude").await;
    let id = uuid::Uuid::new_v4().to_string();
    send(&mut ws, server.live_request("please @tool", &id)).await;
    let ask = until(&mut ws, |e| e["type"] == "permission_request").await.pop().unwrap();
    assert_eq!(ask["remember"][0]["rules"][0]["ruleContent"], "echo hi *", "the CLI's own suggestion");
    let answer = json!({"type":"permission_response","session_id":id,"request_id":ask["request_id"],
        "behavior":"allow","remember":true});
    send(&mut ws, answer.to_string()).await;
    let turn = until(&mut ws, is_result).await;
    let resolved = turn.iter().find(|e| e["type"] == "permission_resolved").unwrap();
    assert_eq!(resolved["remembered"], true);

    // claude wrote the rule into the project's local settings; the server lists it
    let http = server.http();
    let project = std::fs::canonicalize(server.project.path()).unwrap();
    let rules_url = server.url(&format!("/api/permission-rules?project_path={}", project.display()));
    let listed: Value = http.get(&rules_url).bearer_auth(TOKEN).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["data"]["allow"], json!(["Bash(echo hi *)"]), "{listed}");
    assert_eq!(listed["data"]["file"], project.join(".claude/settings.local.json").display().to_string());

    // the next time claude does not ask
    std::fs::remove_file(project.join("tool-ran.txt")).unwrap();
    send(&mut ws, json!({"type":"prompt","session_id":id,"prompt":"again @tool"}).to_string()).await;
    let again = until(&mut ws, is_result).await;
    assert!(again.iter().all(|e| e["type"] != "permission_request"), "remembered: not asked again");
    assert!(project.join("tool-ran.txt").exists());

    // bad input changes nothing
    let version = listed["data"]["version"].as_str().unwrap().to_owned();
    let put = |url: &str, body: Value| http.put(url.to_owned()).bearer_auth(TOKEN).json(&body).send();
    let status = |r: reqwest::Result<reqwest::Response>| r.unwrap().status().as_u16();
    assert_eq!(status(put(&rules_url, json!({"allow":["a\nb"],"version":version})).await), 400);
    assert_eq!(status(put(&rules_url, json!({"allow":[],"version":"stale"})).await), 409);
    assert_eq!(status(put(&rules_url, json!({"allow":[],"version":version,"extra":1})).await), 422);
    let relative = server.url("/api/permission-rules?project_path=relative/dir");
    assert_eq!(status(http.get(relative).bearer_auth(TOKEN).send().await), 400);
    let unknown = format!("{rules_url}&other=1");
    assert_eq!(status(http.get(unknown).bearer_auth(TOKEN).send().await), 400);
    let missing = server.url("/api/permission-rules?project_path=/nonexistent/project");
    assert_eq!(status(http.get(missing).bearer_auth(TOKEN).send().await), 400);
    let still: Value = http.get(&rules_url).bearer_auth(TOKEN).send().await.unwrap().json().await.unwrap();
    assert_eq!(still["data"]["allow"], json!(["Bash(echo hi *)"]));

    // removed: claude asks again
    let removed = put(&rules_url, json!({"allow":[],"deny":["WebFetch"],"version":version})).await.unwrap();
    assert_eq!(removed.status(), 200);
    let settings: Value =
        serde_json::from_str(&std::fs::read_to_string(project.join(".claude/settings.local.json")).unwrap()).unwrap();
    assert_eq!(settings["permissions"], json!({"allow":[],"deny":["WebFetch"],"ask":[]}));
    send(&mut ws, json!({"type":"prompt","session_id":id,"prompt":"third @tool"}).to_string()).await;
    until(&mut ws, |e| e["type"] == "permission_request").await;
    server.stop().await;
}
