//! Slash commands and live settings over real sockets: `GET /api/projects/commands` (the composer's `/`
//! menu) and `POST /api/sessions/{id}/settings` / the `settings` control message (a live session's model
//! and permission mode, switched between turns), with the fake claude.

mod common;

use common::*;
use serde_json::{json, Value};

fn names(group: &Value) -> Vec<String> {
    group.as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn the_commands_route_lists_builtin_user_and_project_commands() {
    let server = TestServer::start().await;
    let commands = server.project.path().join(".claude/commands/db");
    std::fs::create_dir_all(&commands).unwrap();
    std::fs::write(
        commands.join("migrate.md"),
        "---\ndescription: Run the migrations\nargument-hint: <target>\n---\nMigrate to $ARGUMENTS\n",
    )
    .unwrap();
    std::fs::create_dir_all(server.claude_dir.path().join("commands")).unwrap();
    std::fs::write(server.claude_dir.path().join("commands/standup.md"), "Write my standup notes\n").unwrap();

    let (status, body) = server.get_json(&format!("/api/projects/commands?path={}", enc(&server.project_path()))).await;
    assert_eq!(status, 200, "{body}");
    let data = &body["data"];
    assert_eq!(
        data["project"],
        json!([{"name":"db:migrate","description":"Run the migrations","argument_hint":"<target>"}])
    );
    assert_eq!(data["user"], json!([{"name":"standup","description":"Write my standup notes","argument_hint":null}]));
    let builtin = names(&data["builtin"]);
    assert!(builtin.contains(&"compact".to_owned()), "{builtin:?}");
    assert!(!builtin.iter().any(|n| ["config", "login", "vim", "terminal-setup"].contains(&n.as_str())), "{builtin:?}");
    server.stop().await;
}

#[tokio::test]
async fn the_commands_route_refuses_bad_paths_with_a_clear_4xx() {
    let root = tempfile::tempdir().unwrap();
    let inside = root.path().join("inside");
    std::fs::create_dir_all(&inside).unwrap();
    let outside = tempfile::tempdir().unwrap();
    let root_path = std::fs::canonicalize(root.path()).unwrap();
    let server = TestServer::start_with(move |c| c.project_roots = vec![root_path]).await;
    let inside = inside.display().to_string();
    let cases = [
        ("/api/projects/commands".to_owned(), 400, "path is missing"),
        ("/api/projects/commands?path=relative%2Fdir".to_owned(), 400, "not an absolute path"),
        (format!("/api/projects/commands?path={}", enc(&format!("{inside}/nope"))), 400, "nope"),
        (format!("/api/projects/commands?path={}", enc(&outside.path().display().to_string())), 403, "outside"),
        (format!("/api/projects/commands?path={}%2F..%2F..", enc(&inside)), 403, "outside"),
        (format!("/api/projects/commands?path={}&x=1", enc(&inside)), 400, "unknown field"),
        (format!("/api/projects/commands?path={}", enc(&inside)), 200, ""),
    ];
    for (path, status, says) in cases {
        let (got, body) = server.get_json(&path).await;
        assert_eq!(got, status, "{path}: {body}");
        if status != 200 {
            assert_eq!(body["success"], false);
            assert!(body["error"].as_str().unwrap().contains(says), "{path}: {body}");
        }
    }
    server.stop().await;
}

async fn post_settings(server: &TestServer, id: &str, body: &str) -> (u16, Value) {
    let response = server
        .http()
        .post(server.url(&format!("/api/sessions/{id}/settings")))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn settings_switch_the_model_and_mode_between_turns_and_every_viewer_sees_it() {
    let server = TestServer::start().await;
    let mut ws = server.ws("/ws/claude").await;
    let id = uuid::Uuid::new_v4().to_string();
    send(&mut ws, server.live_request("first @delay=50 @lines=2", &id)).await;
    let first = until(&mut ws, is_result).await;
    let init = first.iter().find(|e| e["content"]["subtype"] == "init").unwrap();
    assert_eq!(init["content"]["model"], "claude-fake-1");

    // REST: both at once
    let (status, body) = post_settings(&server, &id, r#"{"model":"claude-sonnet-x","permission_mode":"plan"}"#).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!({"model":"claude-sonnet-x","permission_mode":"plan"}));
    // the change is logged, and claude answers both control requests with success (in either order)
    let mut seen: Vec<Value> = Vec::new();
    while !(seen.iter().any(|e| e["type"] == "settings_changed")
        && seen.iter().filter(|e| is_settings_answer(e)).count() == 2)
    {
        seen.push(next_json(&mut ws).await.expect("the session goes on"));
    }
    let changed = seen.iter().find(|e| e["type"] == "settings_changed").unwrap();
    assert_eq!((&changed["model"], &changed["permission_mode"]), (&json!("claude-sonnet-x"), &json!("plan")));
    let answers: Vec<&Value> = seen.iter().filter(|e| is_settings_answer(e)).collect();
    assert!(answers.iter().all(|e| e["content"]["response"]["subtype"] == "success"), "{answers:#?}");

    // the run's summary says what it runs with now
    let running = server.get_json("/api/sessions/running").await.1;
    let run = running["data"].as_array().unwrap().iter().find(|r| r["session_id"] == id.as_str()).unwrap().clone();
    assert_eq!((&run["model"], &run["permission_mode"]), (&json!("claude-sonnet-x"), &json!("plan")), "{run}");

    // a second viewer replays it
    let mut phone = server.ws(&format!("/ws/sessions/{id}")).await;
    until(&mut phone, |e| e["type"] == "settings_changed" && e["model"] == "claude-sonnet-x").await;

    // WebSocket: the mode alone; the next turn runs with what was set
    send(&mut phone, json!({"type":"settings","session_id":id,"permission_mode":"acceptEdits"}).to_string()).await;
    let changed = until(&mut ws, |e| e["type"] == "settings_changed").await.pop().unwrap();
    assert_eq!((&changed["model"], &changed["permission_mode"]), (&Value::Null, &json!("acceptEdits")));
    send(&mut ws, json!({"type":"prompt","session_id":id,"prompt":"second"}).to_string()).await;
    let second = until(&mut ws, is_result).await;
    let init = second.iter().find(|e| e["content"]["subtype"] == "init").unwrap();
    assert_eq!(
        (&init["content"]["model"], &init["content"]["permissionMode"]),
        (&json!("claude-sonnet-x"), &json!("acceptEdits"))
    );

    send(&mut ws, json!({"type":"end","session_id":id}).to_string()).await;
    until_completion(&mut ws).await;
    server.stop().await;
}

#[tokio::test]
async fn settings_are_refused_during_a_turn_and_for_bad_input_and_nothing_is_sent() {
    let server = TestServer::start().await;
    let mut ws = server.ws("/ws/claude").await;
    let id = uuid::Uuid::new_v4().to_string();
    let gate = server.project.path().join("gate");
    // a turn that holds until the gate file exists (its input stalls meanwhile: nothing can slip through)
    send(&mut ws, server.live_request(&format!("slow @lines=1 @delay=20 @stall-stdin={}", gate.display()), &id)).await;
    until(&mut ws, |e| e["type"] == "user_prompt").await;

    let (status, body) = post_settings(&server, &id, r#"{"model":"opus"}"#).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("between turns only"), "{body}");
    send(&mut ws, json!({"type":"settings","session_id":id,"model":"opus"}).to_string()).await;
    let refusal = until(&mut ws, |e| e.get("seq").is_none()).await.pop().unwrap();
    assert!(refusal["message"].as_str().unwrap().contains("between turns only"), "{refusal}");

    let unknown = uuid::Uuid::new_v4().to_string();
    let cases: [(&str, &str, u16, &str); 9] = [
        (&id, r#"{"permission_mode":"bypassPermissions"}"#, 400, "--allow-bypass-permissions"),
        (&id, "{}", 400, "nothing to change"),
        (&id, r#"{"permission_mode":"yolo"}"#, 400, "unknown variant"),
        (&id, r#"{"model":""}"#, 400, "not valid"),
        (&id, r#"{"model":"a b"}"#, 400, "not valid"),
        (&id, r#"{"model":"opus","color":"red"}"#, 400, "unknown field"),
        (&id, "{not json", 400, "JSON"),
        (&unknown, r#"{"model":"opus"}"#, 404, "no session"),
        (&id, &format!(r#"{{"model":"{}"}}"#, "m".repeat(8000)), 413, "limit"),
    ];
    for (session, body, status, says) in cases {
        let (got, answer) = post_settings(&server, session, body).await;
        assert_eq!(got, status, "{body}: {answer}");
        assert!(answer["error"].as_str().unwrap_or_default().contains(says), "{body}: {answer}");
    }

    std::fs::write(&gate, "").unwrap();
    until(&mut ws, is_result).await;
    send(&mut ws, json!({"type":"end","session_id":id}).to_string()).await;
    let rest = until_completion(&mut ws).await;
    let events: Vec<Value> =
        server.get_json(&format!("/api/sessions/{id}/output")).await.1["data"].as_array().unwrap().clone();
    assert!(!events.iter().any(|e| e["type"] == "settings_changed"), "nothing was changed: {rest:#?}");

    // a finished session is not live
    let (status, body) = post_settings(&server, &id, r#"{"model":"opus"}"#).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("not a live session"), "{body}");
    server.stop().await;
}
