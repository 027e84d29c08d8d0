//! Agents over real sockets with the fake claude: create, read, edit, delete, import and export Opcode's
//! agent files, refusals that write nothing, runs that reach claude with the agent's flags (the fake
//! reports its argv in its `init` line), and the run history filled from the run's `result` line.

mod common;

use common::*;
use serde_json::{json, Value};

/// The head of `cc_agents/git-commit-bot.opcode.json` of winfunc/opcode, as the desktop app exported it.
const OPCODE_FILE: &str = r#"{
  "agent": {
    "default_task": "Push all changes.",
    "icon": "bot",
    "model": "sonnet",
    "name": "Git Commit Bot",
    "system_prompt": "<task>\nYou are a Git Commit Push bot.\n</task>"
  },
  "exported_at": "2025-06-23T14:29:51.009370+00:00",
  "version": 1
}"#;

fn reviewer() -> Value {
    json!({
        "name": "Reviewer",
        "icon": "shield",
        "system_prompt": "You are a careful reviewer. SYSTEM-MARK-42",
        "default_task": "review the diff @lines=2",
        "model": "opus",
        "permission_mode": "plan",
        "allowed_tools": ["Read", "Bash(git diff:*)"],
        "disallowed_tools": ["WebFetch"],
    })
}

async fn send_json(server: &TestServer, method: reqwest::Method, path: &str, body: Option<&Value>) -> (u16, Value) {
    let mut request = server.http().request(method, server.url(path)).bearer_auth(TOKEN);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn post_text(server: &TestServer, path: &str, text: String) -> (u16, Value) {
    let response = server.http().post(server.url(path)).bearer_auth(TOKEN).body(text).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn create(server: &TestServer, agent: &Value) -> Value {
    let (status, body) = send_json(server, reqwest::Method::POST, "/api/agents", Some(agent)).await;
    assert_eq!(status, 201, "{body}");
    body["data"].clone()
}

#[tokio::test]
async fn agents_are_created_edited_exported_imported_and_deleted() {
    let server = TestServer::start().await;
    let (_, empty) = server.get_json("/api/agents").await;
    assert_eq!(empty["data"], json!([]));

    let agent = create(&server, &reviewer()).await;
    let id = agent["id"].as_i64().unwrap();
    assert_eq!(agent["name"], "Reviewer");
    assert_eq!(agent["allowed_tools"], json!(["Read", "Bash(git diff:*)"]));
    assert_eq!(agent["permission_mode"], "plan");
    assert!(agent["created_at"].as_str().unwrap().ends_with('Z'), "a date string the seed's client reads: {agent}");

    let mut edited = reviewer();
    edited["name"] = "Strict reviewer".into();
    edited["permission_mode"] = Value::Null;
    let (status, body) = send_json(&server, reqwest::Method::PUT, &format!("/api/agents/{id}"), Some(&edited)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["data"]["name"].as_str(), &body["data"]["permission_mode"]),
        (Some("Strict reviewer"), &Value::Null)
    );
    let (_, read) = server.get_json(&format!("/api/agents/{id}")).await;
    assert_eq!(read["data"], body["data"]);

    // export: a download in Opcode's format
    let response =
        server.http().get(server.url(&format!("/api/agents/{id}/export"))).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let disposition = response.headers()["content-disposition"].to_str().unwrap().to_owned();
    assert_eq!(disposition, "attachment; filename=\"strict-reviewer.opcode.json\"");
    let file = response.text().await.unwrap();
    let parsed: Value = serde_json::from_str(&file).unwrap();
    assert_eq!(parsed["version"], 1);
    assert_eq!(parsed["agent"]["system_prompt"], reviewer()["system_prompt"]);
    assert_eq!(parsed["agent"]["disallowed_tools"], json!(["WebFetch"]));

    // import it back (the name is taken: Opcode's suffix) and import Opcode's own file
    let (status, again) = post_text(&server, "/api/agents/import", file).await;
    assert_eq!(status, 201, "{again}");
    assert_eq!(again["data"]["name"], "Strict reviewer (Imported)");
    assert_eq!(again["data"]["allowed_tools"], agent["allowed_tools"]);
    let (status, bot) = post_text(&server, "/api/agents/import", format!("\u{feff}{OPCODE_FILE}\n")).await;
    assert_eq!(status, 201, "{bot}");
    assert_eq!((bot["data"]["name"].as_str(), bot["data"]["model"].as_str()), (Some("Git Commit Bot"), Some("sonnet")));
    assert_eq!(bot["data"]["default_task"], "Push all changes.");

    let (_, all) = server.get_json("/api/agents").await;
    assert_eq!(all["data"].as_array().unwrap().len(), 3);
    let (status, _) = send_json(&server, reqwest::Method::DELETE, &format!("/api/agents/{id}"), None).await;
    assert_eq!(status, 200);
    let (status, gone) = server.get_json(&format!("/api/agents/{id}")).await;
    assert_eq!((status, gone["success"].as_bool()), (404, Some(false)));
    server.stop().await;
}

#[tokio::test]
async fn bad_input_is_a_clear_4xx_and_writes_nothing() {
    let server = TestServer::start_with(|_| {}).await;
    let agent = create(&server, &reviewer()).await;
    let id = agent["id"].as_i64().unwrap();
    let project = server.project_path();
    let post = reqwest::Method::POST;
    let put = reqwest::Method::PUT;
    let mut missing_name = reviewer();
    missing_name.as_object_mut().unwrap().remove("name");
    let mut unknown_field = reviewer();
    unknown_field["colour"] = "red".into();
    let mut bad_tool = reviewer();
    bad_tool["allowed_tools"] = json!(["--dangerously-skip-permissions"]);
    let huge = json!({ "name": "x", "system_prompt": "y".repeat(600 * 1024) });
    let cases: Vec<(reqwest::Method, String, Option<Value>, u16, &str)> = vec![
        (post.clone(), "/api/agents".into(), Some(missing_name), 400, "name is missing"),
        (post.clone(), "/api/agents".into(), Some(unknown_field.clone()), 400, "unknown field `colour`"),
        (post.clone(), "/api/agents".into(), Some(bad_tool.clone()), 400, "allowed_tools"),
        (
            post.clone(),
            "/api/agents".into(),
            Some(json!({"name": "a", "system_prompt": "b", "model": "$(rm)"})),
            400,
            "model",
        ),
        (post.clone(), "/api/agents".into(), Some(huge), 413, "limit"),
        (put.clone(), format!("/api/agents/{id}"), Some(unknown_field), 400, "unknown field"),
        (put.clone(), format!("/api/agents/{id}"), Some(bad_tool), 400, "allowed_tools"),
        (put.clone(), "/api/agents/999".into(), Some(reviewer()), 404, "no agent 999"),
        (put.clone(), "/api/agents/abc".into(), Some(reviewer()), 400, "not one"),
        (reqwest::Method::GET, "/api/agents/999".into(), None, 404, "no agent 999"),
        (reqwest::Method::GET, "/api/agents/-1".into(), None, 400, "not one"),
        (reqwest::Method::GET, "/api/agents/999/export".into(), None, 404, "no agent"),
        (reqwest::Method::GET, "/api/agents/999/runs".into(), None, 404, "no agent"),
        (reqwest::Method::GET, "/api/agent-runs/999".into(), None, 404, "no agent run 999"),
        (reqwest::Method::GET, "/api/agent-runs?x=1".into(), None, 400, "unknown field `x`"),
        (reqwest::Method::DELETE, "/api/agents/999".into(), None, 404, "no agent"),
        (post.clone(), "/api/agents/999/run".into(), Some(json!({"project_path": project})), 404, "no agent"),
        (
            post.clone(),
            format!("/api/agents/{id}/run"),
            Some(json!({"project_path": "/no/such/dir"})),
            400,
            "/no/such/dir",
        ),
        (
            post.clone(),
            format!("/api/agents/{id}/run"),
            Some(json!({"project_path": "relative/dir"})),
            400,
            "not an absolute path",
        ),
        (
            post.clone(),
            format!("/api/agents/{id}/run"),
            Some(json!({"project_path": project, "tsak": "x"})),
            400,
            "unknown field `tsak`",
        ),
        (
            post.clone(),
            format!("/api/agents/{id}/run"),
            Some(json!({"project_path": project, "model": "--x"})),
            400,
            "model",
        ),
        (post.clone(), format!("/api/agents/{id}/run"), Some(json!({})), 400, "project_path"),
    ];
    for (method, path, body, expected, says) in cases {
        let (status, answer) = send_json(&server, method.clone(), &path, body.as_ref()).await;
        assert_eq!(status, expected, "{method} {path}: {answer}");
        assert_eq!(answer["success"], false, "{path}: {answer}");
        let error = answer["error"].as_str().unwrap_or_else(|| panic!("{path}: no error in {answer}"));
        assert!(error.contains(says), "{method} {path}: {error:?} does not say {says:?}");
    }
    // malformed JSON bodies and agent files
    let raw = |path: &str, text: &str| {
        server
            .http()
            .post(server.url(path))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(text.to_owned())
    };
    let response = raw("/api/agents", "{\"name\":").send().await.unwrap();
    assert_eq!(response.status(), 400);
    for (file, says) in [
        ("{not json", "not an agent file"),
        (r#"{"version":2,"agent":{"name":"a","system_prompt":"b"}}"#, "version 2"),
        (r#"{"version":1,"agent":{"system_prompt":"b"}}"#, "name is missing"),
        (r#"{"version":1,"agent":{"name":"a","system_prompt":"b","enable_network":true}}"#, "unknown field"),
    ] {
        let (status, answer) = post_text(&server, "/api/agents/import", file.to_owned()).await;
        assert_eq!(status, 400, "{file}: {answer}");
        assert!(answer["error"].as_str().unwrap().contains(says), "{file}: {answer}");
    }
    let (status, _) = post_text(&server, "/api/agents/import", " ".repeat(600 * 1024)).await;
    assert_eq!(status, 413);
    // a project outside --project-root
    let roots = TestServer::start_with(|config| config.project_roots = vec!["/nonexistent-root".into()]).await;
    let other = create(&roots, &reviewer()).await;
    let (status, answer) = send_json(
        &roots,
        post.clone(),
        &format!("/api/agents/{}/run", other["id"]),
        Some(&json!({"project_path": roots.project_path()})),
    )
    .await;
    assert_eq!(status, 403, "{answer}");
    roots.stop().await;

    // nothing was written: the one agent as it was, no run, no session
    let (_, all) = server.get_json("/api/agents").await;
    assert_eq!(all["data"], json!([agent]));
    let (_, runs) = server.get_json("/api/agent-runs").await;
    assert_eq!(runs["data"], json!([]));
    let (_, running) = server.get_json("/api/sessions/running").await;
    assert_eq!(running["data"], json!([]));
    server.stop().await;
}

#[tokio::test]
async fn a_run_reaches_claude_with_the_agents_flags_and_its_history_has_the_figures() {
    let server = TestServer::start().await;
    let agent = create(&server, &reviewer()).await;
    let id = agent["id"].as_i64().unwrap();
    let (status, run) = send_json(
        &server,
        reqwest::Method::POST,
        &format!("/api/agents/{id}/run"),
        Some(&json!({"project_path": server.project_path()})),
    )
    .await;
    assert_eq!(status, 201, "{run}");
    let session_id = run["data"]["session_id"].as_str().unwrap().to_owned();
    assert_eq!(run["data"]["status"], "running");
    assert_eq!(run["data"]["task"], "review the diff @lines=2", "the default task");

    // no browser was attached: the run went on; a viewer now replays it
    let mut ws = server.ws(&format!("/ws/sessions/{session_id}")).await;
    let events = until_completion(&mut ws).await;
    assert_eq!(events.last().unwrap()["status"], "success", "{events:#?}");
    let init = events.iter().find(|e| e["content"]["subtype"] == "init").expect("the init line");
    let argv: Vec<String> = serde_json::from_value(init["content"]["argv"].clone()).unwrap();
    let after = |flag: &str, n: usize| -> Vec<String> {
        let at = argv.iter().position(|a| a == flag).unwrap_or_else(|| panic!("{flag} missing from {argv:?}"));
        argv[at + 1..at + 1 + n].to_vec()
    };
    assert_eq!(after("--append-system-prompt", 1), ["You are a careful reviewer. SYSTEM-MARK-42"]);
    assert_eq!(after("--model", 1), ["opus"]);
    assert_eq!(after("--permission-mode", 1), ["plan"]);
    assert_eq!(after("--allowedTools", 2), ["Read", "Bash(git diff:*)"]);
    assert_eq!(after("--disallowedTools", 1), ["WebFetch"]);
    assert_eq!(argv[argv.len() - 2..], ["--", "review the diff @lines=2"]);

    let done = agent_run_until(&server, id, |r| r["status"] == "success").await;
    assert_eq!(done["session_id"], session_id.as_str());
    assert_eq!((done["input_tokens"].as_u64(), done["output_tokens"].as_u64()), (Some(10), Some(5)));
    assert_eq!((done["total_tokens"].as_u64(), done["duration_ms"].as_u64()), (Some(15), Some(12)));
    assert_eq!(done["cost_usd"].as_f64(), Some(0.0001));
    assert!(done["ended_at"].as_u64().unwrap() >= done["started_at"].as_u64().unwrap());
    let (_, one) = server.get_json(&format!("/api/agent-runs/{}", done["id"])).await;
    assert_eq!(one["data"], done);

    // a run with its own task, live, cancelled: the history says so
    let (status, live) = send_json(
        &server,
        reqwest::Method::POST,
        &format!("/api/agents/{id}/run"),
        Some(&json!({"project_path": server.project_path(), "task": "wait @hang", "live": true, "model": "haiku"})),
    )
    .await;
    assert_eq!(status, 201, "{live}");
    let live_id = live["data"]["session_id"].as_str().unwrap().to_owned();
    assert_eq!((live["data"]["live"].as_bool(), live["data"]["model"].as_str()), (Some(true), Some("haiku")));
    let mut ws = server.ws(&format!("/ws/sessions/{live_id}")).await;
    until(&mut ws, |e| e["type"] == "user_prompt").await;
    let (status, _) = send_json(&server, reqwest::Method::POST, &format!("/api/sessions/{live_id}/cancel"), None).await;
    assert_eq!(status, 200);
    let cancelled = agent_run_until(&server, id, |r| r["status"] == "cancelled").await;
    assert_eq!(cancelled["session_id"], live_id.as_str());
    let (_, history) = server.get_json("/api/agent-runs").await;
    assert_eq!(history["data"].as_array().unwrap().len(), 2);
    server.stop().await;
}
