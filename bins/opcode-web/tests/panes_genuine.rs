//! The panes with the genuine Claude Code CLI, offline against the mock Messages API, HOME in a temp dir:
//! MCP servers added and removed through our routes are the CLI's own (`claude mcp list` sees them); a
//! session's timeline and a fork at one of its turns; file checkpoints kept for our runs and restored
//! with `--rewind-files` after a preview, and refused where no checkpoint exists.

mod common;

use common::genuine::{real_claude, server_for};
use common::*;
use opcode_testkit::mock_api::MockApi;
use serde_json::{json, Value};

/// What `claude mcp list` prints, run by the server's registry (through the supervisor) in `dir`.
async fn claude_mcp_list(server: &TestServer, dir: &std::path::Path) -> String {
    let done = server.state.registry.claude_command(vec!["mcp".into(), "list".into()], dir, LIMIT).await.unwrap();
    assert!(done.success(), "{done:?}");
    done.output()
}

#[tokio::test]
async fn mcp_servers_added_through_the_routes_are_the_clis_own() {
    let Some(claude) = real_claude() else { return };
    let mock = MockApi::start().await.unwrap();
    let (server, _home) = server_for(claude, &mock, |_| {}).await;
    let project = std::fs::canonicalize(server.project.path()).unwrap();
    let p = project.display().to_string();
    let fixture = opcode_testkit::fake_mcp_server().display().to_string();
    let adds = [
        json!({"name": "echo", "scope": "user", "config": {"type": "stdio", "command": fixture, "args": ["--tool", "extra"], "env": {"K": "v"}}}),
        json!({"name": "remote", "scope": "local", "project_path": p, "config": {"type": "http", "url": "http://127.0.0.1:9/mcp", "headers": {"X-Key": "k"}}}),
        json!({"name": "shared", "scope": "project", "project_path": p, "config": {"type": "sse", "url": "http://127.0.0.1:9/sse"}}),
    ];
    for body in adds {
        let (status, added) = api_call(&server, "POST", "/api/mcp/servers", &[], Some(body.clone())).await;
        assert_eq!(status, 200, "{body}: {added}");
    }
    // the CLI sees them, in its files and in its own listing
    let listing = claude_mcp_list(&server, &project).await;
    for name in ["echo:", "remote:", "shared:"] {
        assert!(listing.contains(name), "{name} missing from claude mcp list:\n{listing}");
    }
    let shared: Value = serde_json::from_str(&std::fs::read_to_string(project.join(".mcp.json")).unwrap()).unwrap();
    assert_eq!(shared["mcpServers"]["shared"]["type"], "sse");
    let (_, listed) = api_call(&server, "GET", "/api/mcp/servers", &[("project_path", p.as_str())], None).await;
    let scopes: Vec<(&str, &str)> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["scope"].as_str().unwrap()))
        .collect();
    assert_eq!(scopes, [("echo", "user"), ("remote", "local"), ("shared", "project")]);
    // the CLI's own checks answer through us
    let (status, twice) = api_call(
        &server,
        "POST",
        "/api/mcp/servers",
        &[],
        Some(json!({"name": "echo", "scope": "user", "config": {"command": "x"}})),
    )
    .await;
    assert_eq!(status, 409, "{twice}");
    assert!(twice["error"].as_str().unwrap().contains("already exists"), "{twice}");
    // test: the stdio server starts and lists its tools; the remote one is asked through the CLI
    let (_, tested) = api_call(&server, "POST", "/api/mcp/servers/echo/test", &[("scope", "user")], None).await;
    assert_eq!(tested["data"]["ok"], true, "{tested}");
    assert_eq!(tested["data"]["tools"].as_array().unwrap().len(), 2);
    let (status, remote) = api_call(
        &server,
        "POST",
        "/api/mcp/servers/remote/test",
        &[("scope", "local"), ("project_path", p.as_str())],
        None,
    )
    .await;
    assert_eq!((status, remote["data"]["ok"].clone()), (200, json!(false)), "{remote}");
    assert!(remote["data"]["message"].as_str().unwrap().contains("remote"), "{remote}");
    // remove each; the CLI no longer lists them
    for (name, scope) in [("echo", "user"), ("remote", "local"), ("shared", "project")] {
        let (status, removed) = api_call(
            &server,
            "DELETE",
            &format!("/api/mcp/servers/{name}"),
            &[("scope", scope), ("project_path", p.as_str())],
            None,
        )
        .await;
        assert_eq!(status, 200, "{name}: {removed}");
    }
    let listing = claude_mcp_list(&server, &project).await;
    assert!(!listing.contains("echo:") && !listing.contains("shared:"), "{listing}");
    server.stop().await;
}

/// Runs `request` on a fresh socket to its completion; the events.
async fn run(server: &TestServer, request: Value) -> Vec<Value> {
    let mut ws = server.ws("/ws/claude").await;
    send(&mut ws, request.to_string()).await;
    let events = until_completion(&mut ws).await;
    assert_eq!(events.last().unwrap()["status"], "success", "{events:#?}");
    events
}

fn request(server: &TestServer, command: &str, prompt: &str, id: &str) -> Value {
    json!({"command_type": command, "project_path": server.project_path(), "prompt": prompt, "session_id": id,
        "permission_mode": "acceptEdits"})
}

#[tokio::test]
async fn a_session_forks_at_a_turn_and_the_original_is_untouched() {
    let Some(claude) = real_claude() else { return };
    let mock = MockApi::start().await.unwrap();
    let (server, _home) = server_for(claude, &mock, |_| {}).await;
    let project = std::fs::canonicalize(server.project.path()).unwrap();
    let p = project.display().to_string();
    let id = uuid::Uuid::new_v4().to_string();
    run(&server, request(&server, "execute", "first alpha", &id)).await;
    run(&server, request(&server, "resume", "second beta", &id)).await;

    let (status, timeline) =
        api_call(&server, "GET", &format!("/api/sessions/{id}/timeline"), &[("project_path", p.as_str())], None).await;
    assert_eq!(status, 200, "{timeline}");
    let turns = timeline["data"]["turns"].as_array().unwrap().clone();
    let prompts: Vec<&str> = turns.iter().map(|t| t["prompt"].as_str().unwrap()).collect();
    assert_eq!(prompts, ["first alpha", "second beta"]);
    let transcript = server
        .claude_dir
        .path()
        .join("projects")
        .join(opcode_testkit::project_dir_name(&project))
        .join(format!("{id}.jsonl"));
    let before = std::fs::read(&transcript).unwrap();

    let at = turns[0]["last_message_id"].as_str().unwrap();
    let body = json!({"project_path": p, "message_id": at, "prompt": "forked gamma"});
    let (status, forked) = api_call(&server, "POST", &format!("/api/sessions/{id}/fork"), &[], Some(body)).await;
    assert_eq!(status, 200, "{forked}");
    let new_id = forked["data"]["session_id"].as_str().unwrap().to_owned();
    assert_ne!(new_id, id);
    let mut ws = server.ws(&format!("/ws/sessions/{new_id}")).await;
    let events = until_completion(&mut ws).await;
    assert_eq!(events.last().unwrap()["status"], "success", "{events:#?}");
    let init = events.iter().find(|e| e["content"]["subtype"] == "init").expect("system/init");
    assert_eq!(init["content"]["session_id"], new_id.as_str(), "the fork runs under its own id");
    // the fork continued from the first turn: it saw "first alpha" and not "second beta"
    let asked = mock.request_matching(|r| r.to_string().contains("forked gamma")).await.to_string();
    assert!(asked.contains("first alpha") && !asked.contains("second beta"), "{asked}");
    assert_eq!(std::fs::read(&transcript).unwrap(), before, "the original transcript is untouched");
    let (_, fork_timeline) =
        api_call(&server, "GET", &format!("/api/sessions/{new_id}/timeline"), &[("project_path", p.as_str())], None)
            .await;
    let prompts: Vec<&str> =
        fork_timeline["data"]["turns"].as_array().unwrap().iter().map(|t| t["prompt"].as_str().unwrap()).collect();
    assert_eq!(prompts, ["first alpha", "forked gamma"]);
    server.stop().await;
}

#[tokio::test]
async fn files_edited_by_a_run_are_restored_from_its_checkpoints_after_a_preview() {
    let Some(claude) = real_claude() else { return };
    let mock = MockApi::start().await.unwrap();
    let (server, _home) = server_for(claude, &mock, |_| {}).await;
    let project = std::fs::canonicalize(server.project.path()).unwrap();
    let p = project.display().to_string();
    let notes = project.join("notes.txt");
    let id = uuid::Uuid::new_v4().to_string();
    run(&server, request(&server, "execute", "please USEWRITE=first", &id)).await;
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "first\n", "the Write tool ran");
    run(&server, request(&server, "resume", "please USEWRITE=second", &id)).await;
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "second\n");

    let (_, timeline) =
        api_call(&server, "GET", &format!("/api/sessions/{id}/timeline"), &[("project_path", p.as_str())], None).await;
    let turns = timeline["data"]["turns"].as_array().unwrap().clone();
    assert_eq!(turns.len(), 2, "{timeline}");
    assert!(turns.iter().all(|t| t["checkpoint"] == true), "our runs keep checkpoints: {timeline}");
    assert_eq!(turns[1]["files_changed"], json!([notes.display().to_string()]));
    assert_eq!(turns[1]["tools"][0]["name"], "Write");
    let (first, second) = (turns[0]["message_id"].as_str().unwrap(), turns[1]["message_id"].as_str().unwrap());

    // preview, then restore to the second prompt: notes.txt as the first turn left it
    let rewind = format!("/api/sessions/{id}/rewind");
    let (status, preview) =
        api_call(&server, "GET", &rewind, &[("project_path", p.as_str()), ("message_id", second)], None).await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(preview["data"]["files"][0]["change"], "modify", "{preview}");
    let diff = preview["data"]["files"][0]["diff"].as_str().unwrap();
    assert!(diff.contains("-second") && diff.contains("+first"), "{diff}");
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "second\n", "a preview changes nothing");
    let (status, done) =
        api_call(&server, "POST", &rewind, &[], Some(json!({"project_path": p, "message_id": second}))).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "first\n");
    // to the first prompt: the file did not exist yet
    let (_, preview) =
        api_call(&server, "GET", &rewind, &[("project_path", p.as_str()), ("message_id", first)], None).await;
    assert_eq!(preview["data"]["files"][0]["change"], "delete", "{preview}");
    let (status, _) =
        api_call(&server, "POST", &rewind, &[], Some(json!({"project_path": p, "message_id": first}))).await;
    assert_eq!(status, 200);
    assert!(!notes.exists(), "the file made after the first prompt is gone");
    let trail: Vec<String> = audit(&server)
        .await
        .iter()
        .filter(|e| e["action"] == "files_rewound")
        .map(|e| e["target"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(trail, [format!("{id}@{first}"), format!("{id}@{second}")], "each restore is audited, newest first");
    server.stop().await;
}

#[tokio::test]
async fn a_rewind_without_a_checkpoint_is_refused() {
    let Some(claude) = real_claude() else { return };
    let mock = MockApi::start().await.unwrap();
    let (server, _home) =
        server_for(claude, &mock, |c| c.child_env.push(("CLAUDE_CODE_DISABLE_FILE_CHECKPOINTING".into(), "1".into())))
            .await;
    let project = std::fs::canonicalize(server.project.path()).unwrap();
    let p = project.display().to_string();
    let id = uuid::Uuid::new_v4().to_string();
    run(&server, request(&server, "execute", "please USEWRITE=only", &id)).await;
    let (_, timeline) =
        api_call(&server, "GET", &format!("/api/sessions/{id}/timeline"), &[("project_path", p.as_str())], None).await;
    let turn = &timeline["data"]["turns"][0];
    assert_eq!(turn["checkpoint"], false, "{timeline}");
    let message = turn["message_id"].as_str().unwrap();
    let rewind = format!("/api/sessions/{id}/rewind");
    let (status, preview) =
        api_call(&server, "GET", &rewind, &[("project_path", p.as_str()), ("message_id", message)], None).await;
    assert_eq!(status, 409, "{preview}");
    assert!(preview["error"].as_str().unwrap().contains("no file checkpoint"), "{preview}");
    let (status, refused) =
        api_call(&server, "POST", &rewind, &[], Some(json!({"project_path": p, "message_id": message}))).await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(std::fs::read_to_string(project.join("notes.txt")).unwrap(), "only\n", "nothing was restored");
    server.stop().await;
}
