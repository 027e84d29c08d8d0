//! The panes' REST routes over real sockets, with the fake claude: CLAUDE.md (find, read, save with a
//! version check, confinement), MCP servers (through `claude mcp`), a session's timeline, forks and
//! rewinds; their bad input (unknown ids and parameters, paths outside the project, oversized and malformed
//! bodies), the audit entries of their writes, and the cross-origin rule for the cookie.

mod common;

use common::*;
use serde_json::{json, Value};

/// A query, the status it must get, and a part of the error it must say.
type QueryCase<'a> = (Vec<(&'a str, &'a str)>, u16, &'a str);

/// A raw body as JSON: PUT with a query, or POST without.
async fn call_raw(server: &TestServer, path: &str, query: &[(&str, &str)], body: Vec<u8>) -> (u16, Value) {
    let http = server.http();
    let request = if query.is_empty() { http.post(server.url(path)) } else { http.put(server.url(path)) };
    let response = request
        .bearer_auth(TOKEN)
        .query(query)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn canonical(server: &TestServer) -> std::path::PathBuf {
    std::fs::canonicalize(server.project.path()).unwrap()
}

#[tokio::test]
async fn claude_md_files_are_found_read_created_and_saved_with_a_version_check() {
    let server = TestServer::start().await;
    let project = canonical(&server);
    let p = project.display().to_string();
    std::fs::create_dir_all(project.join("src")).unwrap();
    std::fs::write(project.join("src/CLAUDE.md"), "# src rules\n").unwrap();
    std::fs::write(server.claude_dir.path().join("CLAUDE.md"), "Be brief.\n").unwrap();

    let (status, listed) = api_call(&server, "GET", "/api/claude-md", &[("project_path", p.as_str())], None).await;
    assert_eq!(status, 200, "{listed}");
    let files: Vec<(String, String, bool)> = listed["data"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["scope"].as_str().unwrap().into(), f["path"].as_str().unwrap().into(), f["exists"] == true))
        .collect();
    assert_eq!(
        files,
        [
            ("user".into(), "CLAUDE.md".into(), true),
            ("project".into(), "CLAUDE.md".into(), false),
            ("project".into(), "src/CLAUDE.md".into(), true)
        ]
    );

    // create the project's CLAUDE.md
    let file = [("project_path", p.as_str()), ("path", "CLAUDE.md")];
    let (status, absent) = api_call(&server, "GET", "/api/claude-md/file", &file, None).await;
    assert_eq!(
        (status, absent["data"]["exists"].clone(), absent["data"]["content"].clone()),
        (200, json!(false), json!(""))
    );
    let body = json!({"content": "# Project\n", "version": absent["data"]["version"]});
    let (status, created) = api_call(&server, "PUT", "/api/claude-md/file", &file, Some(body)).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(std::fs::read_to_string(project.join("CLAUDE.md")).unwrap(), "# Project\n");

    // a save over a file changed on disk since it was read is refused, and writes nothing
    std::fs::write(project.join("CLAUDE.md"), "# Changed by claude\n").unwrap();
    let body = json!({"content": "# Mine\n", "version": created["data"]["version"]});
    let (status, refused) = api_call(&server, "PUT", "/api/claude-md/file", &file, Some(body)).await;
    assert_eq!(status, 409, "{refused}");
    assert!(refused["error"].as_str().unwrap().contains("changed on disk"), "{refused}");
    assert_eq!(std::fs::read_to_string(project.join("CLAUDE.md")).unwrap(), "# Changed by claude\n");
    let (_, fresh) = api_call(&server, "GET", "/api/claude-md/file", &file, None).await;
    assert_eq!(fresh["data"]["content"], "# Changed by claude\n");
    let body = json!({"content": "# Mine\n", "version": fresh["data"]["version"]});
    assert_eq!(api_call(&server, "PUT", "/api/claude-md/file", &file, Some(body)).await.0, 200);

    // the user's file
    let user = [("scope", "user")];
    let (status, read) = api_call(&server, "GET", "/api/claude-md/file", &user, None).await;
    assert_eq!((status, read["data"]["content"].clone()), (200, json!("Be brief.\n")));
    let body = json!({"content": "Be very brief.\n", "version": read["data"]["version"]});
    assert_eq!(api_call(&server, "PUT", "/api/claude-md/file", &user, Some(body)).await.0, 200);
    assert_eq!(std::fs::read_to_string(server.claude_dir.path().join("CLAUDE.md")).unwrap(), "Be very brief.\n");
    // the seed's read route sees it too
    assert_eq!(server.get_json("/api/settings/system-prompt").await.1["data"], "Be very brief.\n");
    server.stop().await;
}

#[tokio::test]
async fn claude_md_paths_outside_the_project_and_bad_bodies_are_refused_and_write_nothing() {
    let server = TestServer::start_with(|_| {}).await;
    let project = canonical(&server);
    let p = project.display().to_string();
    let outside = tempfile::tempdir().unwrap();
    let outside_path = std::fs::canonicalize(outside.path()).unwrap();
    std::fs::write(outside_path.join("CLAUDE.md"), "outside\n").unwrap();
    std::os::unix::fs::symlink(&outside_path, project.join("escape")).unwrap();
    std::os::unix::fs::symlink(outside_path.join("CLAUDE.md"), project.join("CLAUDE.local.md")).unwrap();
    let version_of_outside = {
        // what a client would send to overwrite the outside file, had it read it
        let (_, read) = api_call(&server, "GET", "/api/claude-md/file", &[("scope", "user")], None).await;
        read["data"]["version"].clone()
    };
    let abs = format!("{}/CLAUDE.md", outside_path.display());
    let cases: Vec<QueryCase<'_>> = vec![
        (vec![("project_path", p.as_str()), ("path", "../CLAUDE.md")], 400, "without `..`"),
        (vec![("project_path", p.as_str()), ("path", abs.as_str())], 400, "relative to the project"),
        (vec![("project_path", p.as_str()), ("path", "notes.md")], 400, "CLAUDE.md"),
        (vec![("project_path", p.as_str()), ("path", "escape/CLAUDE.md")], 403, "leads out of the project"),
        (vec![("project_path", p.as_str()), ("path", "CLAUDE.local.md")], 403, "leads out of the project"),
        (vec![("project_path", p.as_str()), ("path", "nofolder/CLAUDE.md")], 400, "does not exist"),
        (vec![("project_path", "relative/dir"), ("path", "CLAUDE.md")], 400, "not an absolute path"),
        (vec![("project_path", "/nonexistent/dir"), ("path", "CLAUDE.md")], 400, "not an existing directory"),
        (vec![("project_path", p.as_str())], 400, "this route takes"),
        (vec![("scope", "user"), ("path", "CLAUDE.md")], 400, "this route takes"),
        (vec![("scope", "user"), ("other", "1")], 400, "unknown field"),
    ];
    for (query, expected, says) in &cases {
        for method in ["GET", "PUT"] {
            let body = (method == "PUT").then(|| json!({"content": "pwned", "version": version_of_outside}));
            let (status, answer) = api_call(&server, method, "/api/claude-md/file", query, body).await;
            assert_eq!(status, *expected, "{method} {query:?}: {answer}");
            assert_eq!(answer["success"], false);
            assert!(answer["error"].as_str().unwrap().contains(says), "{method} {query:?}: {answer}");
        }
    }
    let file = [("project_path", p.as_str()), ("path", "CLAUDE.md")];
    let (_, read) = api_call(&server, "GET", "/api/claude-md/file", &file, None).await;
    let version = read["data"]["version"].as_str().unwrap().to_owned();
    // malformed, wrongly shaped and oversized bodies
    let (status, answer) = call_raw(&server, "/api/claude-md/file", &file, b"{not json".to_vec()).await;
    assert_eq!(status, 400, "{answer}");
    let wrong = json!({"content": "x", "version": version, "extra": 1}).to_string().into_bytes();
    assert_eq!(call_raw(&server, "/api/claude-md/file", &file, wrong).await.0, 400);
    let big = json!({"content": "x".repeat(2 * 1024 * 1024), "version": version}).to_string().into_bytes();
    let (status, answer) = call_raw(&server, "/api/claude-md/file", &file, big).await;
    assert_eq!(status, 413, "{answer}");
    let over = json!({"content": "x".repeat(600 * 1024), "version": version}).to_string().into_bytes();
    assert_eq!(call_raw(&server, "/api/claude-md/file", &file, over).await.0, 413);
    // the list refuses what the file routes refuse
    assert_eq!(api_call(&server, "GET", "/api/claude-md", &[("project_path", "rel")], None).await.0, 400);
    assert_eq!(api_call(&server, "GET", "/api/claude-md", &[], None).await.0, 400);
    // nothing was written anywhere
    assert!(!project.join("CLAUDE.md").exists());
    assert_eq!(std::fs::read_to_string(outside_path.join("CLAUDE.md")).unwrap(), "outside\n");
    assert!(!server.claude_dir.path().join("CLAUDE.md").exists());
    server.stop().await;
}

#[tokio::test]
async fn claude_md_stays_inside_the_project_roots() {
    let root = tempfile::tempdir().unwrap();
    let root_path = std::fs::canonicalize(root.path()).unwrap();
    let server = TestServer::start_with(|c| c.project_roots = vec![root_path.clone()]).await;
    let p = canonical(&server).display().to_string();
    let (status, answer) = api_call(&server, "GET", "/api/claude-md", &[("project_path", p.as_str())], None).await;
    assert_eq!(status, 403, "{answer}");
    let body = json!({"content": "x", "version": "0"});
    let query = [("project_path", p.as_str()), ("path", "CLAUDE.md")];
    assert_eq!(api_call(&server, "PUT", "/api/claude-md/file", &query, Some(body)).await.0, 403);
    assert!(!canonical(&server).join("CLAUDE.md").exists());
    server.stop().await;
}

fn mcp_file(server: &TestServer) -> std::path::PathBuf {
    server.claude_dir.path().join(".claude.json")
}

fn stdio_config(extra: &[&str]) -> Value {
    let fixture = opcode_testkit::fake_mcp_server().display().to_string();
    json!({"type": "stdio", "command": fixture, "args": extra, "env": {"FAKE_MCP": "1"}})
}

#[tokio::test]
async fn mcp_servers_are_added_listed_tested_and_removed_through_claude() {
    let server = TestServer::start().await;
    let p = canonical(&server).display().to_string();
    // user scope: no project needed
    let body = json!({"name": "echo-server", "scope": "user", "config": stdio_config(&["--tool", "second"])});
    let (status, added) = api_call(&server, "POST", "/api/mcp/servers", &[], Some(body)).await;
    assert_eq!(status, 200, "{added}");
    assert_eq!(added["data"]["server"]["name"], "echo-server");
    let file: Value = serde_json::from_str(&std::fs::read_to_string(mcp_file(&server)).unwrap()).unwrap();
    assert_eq!(file["mcpServers"]["echo-server"]["env"]["FAKE_MCP"], "1", "claude wrote its own file");
    // the seed's shape, without parameters (the seed's client)
    let (status, listed) = server.get_json("/api/mcp/servers").await;
    assert_eq!(status, 200);
    let entry = &listed["data"][0];
    assert_eq!(
        (entry["name"].clone(), entry["transport"].clone(), entry["scope"].clone()),
        (json!("echo-server"), json!("stdio"), json!("user"))
    );
    assert!(entry["args"].is_array() && entry["env"].is_object());
    // local and project scopes belong to the project
    let remote = json!({"name": "remote", "scope": "local", "project_path": p, "config": {"type": "http", "url": "http://127.0.0.1:9/mcp", "headers": {"X-Key": "k"}}});
    assert_eq!(api_call(&server, "POST", "/api/mcp/servers", &[], Some(remote)).await.0, 200);
    let shared = json!({"name": "shared", "scope": "project", "project_path": p, "config": {"type": "sse", "url": "http://127.0.0.1:9/sse"}});
    assert_eq!(api_call(&server, "POST", "/api/mcp/servers", &[], Some(shared)).await.0, 200);
    assert!(canonical(&server).join(".mcp.json").is_file());
    let (_, all) = api_call(&server, "GET", "/api/mcp/servers", &[("project_path", p.as_str())], None).await;
    let scopes: Vec<(String, String)> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap().into(), s["scope"].as_str().unwrap().into()))
        .collect();
    assert_eq!(
        scopes,
        [("echo-server".into(), "user".into()), ("remote".into(), "local".into()), ("shared".into(), "project".into())]
    );
    assert_eq!(all["data"][1]["headers"]["X-Key"], "k");

    // test: the stdio server starts and lists its tools
    let (status, tested) =
        api_call(&server, "POST", "/api/mcp/servers/echo-server/test", &[("scope", "user")], None).await;
    assert_eq!(status, 200, "{tested}");
    assert_eq!(tested["data"]["ok"], true, "{tested}");
    assert_eq!(tested["data"]["server"], "fake-mcp 1.0.0");
    let tools: Vec<&str> =
        tested["data"]["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(tools, ["echo", "second"]);
    // one that does not start says why
    let broken = json!({"name": "broken", "scope": "user", "config": stdio_config(&["--fail"])});
    assert_eq!(api_call(&server, "POST", "/api/mcp/servers", &[], Some(broken)).await.0, 200);
    let (_, failed) = api_call(&server, "POST", "/api/mcp/servers/broken/test", &[("scope", "user")], None).await;
    assert_eq!(failed["data"]["ok"], false);
    assert!(failed["data"]["message"].as_str().unwrap().contains("asked to fail"), "{failed}");

    // remove
    for (name, query) in
        [("broken", vec![("scope", "user")]), ("shared", vec![("scope", "project"), ("project_path", p.as_str())])]
    {
        let (status, removed) = api_call(&server, "DELETE", &format!("/api/mcp/servers/{name}"), &query, None).await;
        assert_eq!(status, 200, "{removed}");
    }
    let (_, after) = api_call(&server, "GET", "/api/mcp/servers", &[("project_path", p.as_str())], None).await;
    let names: Vec<&str> = after["data"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["echo-server", "remote"]);
    server.stop().await;
}

#[tokio::test]
async fn a_claude_desktop_config_is_imported_server_by_server() {
    let server = TestServer::start().await;
    let desktop = json!({"mcpServers": {
        "fs": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"]},
        "echo": {"command": opcode_testkit::fake_mcp_server().display().to_string()},
        "bad name": {"command": "x"},
        "no-command": {"args": []}
    }});
    let (status, imported) =
        api_call(&server, "POST", "/api/mcp/import", &[], Some(json!({"scope": "user", "config": desktop}))).await;
    assert_eq!(status, 200, "{imported}");
    assert_eq!(imported["data"]["imported"], json!(["echo", "fs"]));
    let failed: Vec<&str> =
        imported["data"]["failed"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(failed, ["bad name", "no-command"]);
    let file: Value = serde_json::from_str(&std::fs::read_to_string(mcp_file(&server)).unwrap()).unwrap();
    assert_eq!(file["mcpServers"]["fs"]["type"], "stdio");
    assert!(file["mcpServers"].get("no-command").is_none());
    // importing again: claude refuses the names it has, and says so per server
    let again = json!({"scope": "user", "config": {"mcpServers": {"fs": {"command": "npx"}}}});
    let (_, twice) = api_call(&server, "POST", "/api/mcp/import", &[], Some(again)).await;
    assert_eq!(twice["data"]["failed"][0]["name"], "fs", "{twice}");
    assert!(twice["data"]["failed"][0]["error"].as_str().unwrap().contains("already exists"), "{twice}");
    server.stop().await;
}

#[tokio::test]
async fn bad_mcp_requests_are_refused_and_write_nothing() {
    let root = tempfile::tempdir().unwrap();
    let root_path = std::fs::canonicalize(root.path()).unwrap();
    let server = TestServer::start_with(|c| c.project_roots = vec![root_path.clone()]).await;
    let outside = canonical(&server).display().to_string();
    let inside = root_path.display().to_string();
    let good = stdio_config(&[]);
    let cases: Vec<(Value, u16, &str)> = vec![
        (json!({"name": "a b", "scope": "user", "config": good}), 400, "letters, digits"),
        (json!({"name": "x", "scope": "user", "config": {"args": []}}), 400, "needs a \"command\""),
        (json!({"name": "x", "scope": "user", "config": {"type": "http", "url": "file:///etc/passwd"}}), 400, "url"),
        (json!({"name": "x", "scope": "user", "config": "npx"}), 400, "JSON object"),
        (json!({"name": "x", "scope": "galaxy", "config": good}), 400, "unknown variant"),
        (json!({"name": "x", "scope": "local", "config": good}), 400, "give project_path"),
        (json!({"name": "x", "scope": "project", "project_path": outside, "config": good}), 403, "outside"),
        (json!({"name": "x", "scope": "project", "project_path": "relative", "config": good}), 400, "absolute"),
        (json!({"name": "x", "scope": "user", "config": good, "extra": true}), 400, "unknown field"),
    ];
    for (body, expected, says) in &cases {
        let (status, answer) = api_call(&server, "POST", "/api/mcp/servers", &[], Some(body.clone())).await;
        assert_eq!(status, *expected, "{body}: {answer}");
        assert!(answer["error"].as_str().unwrap().contains(says), "{body}: {answer}");
    }
    assert_eq!(call_raw(&server, "/api/mcp/servers", &[], b"{oops".to_vec()).await.0, 400);
    let big = json!({"name": "x", "scope": "user", "config": {"command": "x".repeat(2 * 1024 * 1024)}});
    assert_eq!(call_raw(&server, "/api/mcp/servers", &[], big.to_string().into_bytes()).await.0, 413);
    let wide = json!({"name": "x", "scope": "user", "config": {"command": "x", "args": ["y".repeat(70 * 1024)]}});
    assert_eq!(api_call(&server, "POST", "/api/mcp/servers", &[], Some(wide)).await.0, 400);
    assert_eq!(call_raw(&server, "/api/mcp/import", &[], b"[]".to_vec()).await.0, 400);
    let not_desktop = json!({"scope": "user", "config": {"servers": {}}});
    assert_eq!(api_call(&server, "POST", "/api/mcp/import", &[], Some(not_desktop)).await.0, 400);
    // unknown servers and bad queries
    assert_eq!(api_call(&server, "DELETE", "/api/mcp/servers/nobody", &[("scope", "user")], None).await.0, 404);
    assert_eq!(api_call(&server, "POST", "/api/mcp/servers/nobody/test", &[("scope", "user")], None).await.0, 404);
    assert_eq!(api_call(&server, "DELETE", "/api/mcp/servers/nobody", &[], None).await.0, 400);
    assert_eq!(api_call(&server, "DELETE", "/api/mcp/servers/a%20b", &[("scope", "user")], None).await.0, 400);
    assert_eq!(api_call(&server, "GET", "/api/mcp/servers", &[("project_path", outside.as_str())], None).await.0, 403);
    assert_eq!(
        api_call(&server, "GET", "/api/mcp/servers", &[("project_path", inside.as_str()), ("x", "1")], None).await.0,
        400
    );
    assert!(!mcp_file(&server).exists(), "nothing was written");
    assert!(!canonical(&server).join(".mcp.json").exists());
    server.stop().await;
}

/// Runs `request` on a fresh socket to its completion; the events.
async fn run_to_end(server: &TestServer, request: String) -> Vec<Value> {
    let mut ws = server.ws("/ws/claude").await;
    send(&mut ws, request).await;
    let events = until_completion(&mut ws).await;
    assert_eq!(events.last().unwrap()["status"], "success", "{events:#?}");
    events
}

/// The transcripts (`*.jsonl`) the fake claude kept for the server's project.
fn transcripts(server: &TestServer) -> Vec<String> {
    let folder = server.claude_dir.path().join("projects").join(opcode_testkit::project_dir_name(&canonical(server)));
    let mut names: Vec<String> = std::fs::read_dir(folder)
        .map(|dir| dir.filter_map(|e| Some(e.ok()?.file_name().to_string_lossy().into_owned())).collect())
        .unwrap_or_default();
    names.sort();
    names
}

/// The actions (and targets) of the audit trail, oldest first.
async fn audited(server: &TestServer) -> Vec<(String, String)> {
    let mut entries: Vec<(String, String)> = audit(server)
        .await
        .iter()
        .map(|e| (e["action"].as_str().unwrap().to_owned(), e["target"].as_str().unwrap().to_owned()))
        .collect();
    entries.reverse();
    entries
}

#[tokio::test]
async fn a_fork_from_the_timeline_runs_under_a_new_id_and_is_audited() {
    let server = TestServer::start().await;
    let p = canonical(&server).display().to_string();
    let id = uuid::Uuid::new_v4().to_string();
    run_to_end(&server, server.request("execute", "first alpha", Some(&id))).await;
    run_to_end(&server, server.request("resume", "second beta", Some(&id))).await;
    let timeline_of = |session: &str| format!("/api/sessions/{session}/timeline");
    let (status, timeline) = api_call(&server, "GET", &timeline_of(&id), &[("project_path", p.as_str())], None).await;
    assert_eq!(status, 200, "{timeline}");
    let turns = timeline["data"]["turns"].as_array().unwrap().clone();
    let prompts: Vec<&str> = turns.iter().map(|t| t["prompt"].as_str().unwrap()).collect();
    assert_eq!(prompts, ["first alpha", "second beta"], "{timeline}");
    assert_eq!(turns[0]["checkpoint"], false, "the fake claude keeps no file checkpoints");

    let at = turns[0]["last_message_id"].as_str().unwrap().to_owned();
    let body = json!({"project_path": p, "message_id": at, "prompt": "forked gamma"});
    let (status, forked) = api_call(&server, "POST", &format!("/api/sessions/{id}/fork"), &[], Some(body)).await;
    assert_eq!(status, 200, "{forked}");
    let new_id = forked["data"]["session_id"].as_str().unwrap().to_owned();
    assert_ne!(new_id, id);
    assert_eq!(
        (forked["data"]["forked_from"].as_str(), forked["data"]["at"].as_str()),
        (Some(id.as_str()), Some(at.as_str()))
    );
    let mut ws = server.ws(&format!("/ws/sessions/{new_id}")).await;
    let events = until_completion(&mut ws).await;
    assert_eq!(events.last().unwrap()["status"], "success", "{events:#?}");
    assert!(transcripts(&server).contains(&format!("{new_id}.jsonl")), "the fork keeps a transcript of its own");
    let trail = audited(&server).await;
    assert!(trail.contains(&("session_forked".to_owned(), format!("{id}@{at}→{new_id}"))), "{trail:?}");
    server.stop().await;
}

#[tokio::test]
async fn timeline_fork_and_rewind_refuse_bad_input_and_start_or_write_nothing() {
    let server = TestServer::start().await;
    let p = canonical(&server).display().to_string();
    let id = uuid::Uuid::new_v4().to_string();
    run_to_end(&server, server.request("execute", "only turn", Some(&id))).await;
    let (_, timeline) =
        api_call(&server, "GET", &format!("/api/sessions/{id}/timeline"), &[("project_path", p.as_str())], None).await;
    let message = timeline["data"]["turns"][0]["message_id"].as_str().unwrap().to_owned();
    let before = transcripts(&server);
    let unknown = uuid::Uuid::new_v4().to_string();

    // the timeline
    let timeline_cases: Vec<(String, QueryCase<'_>)> = vec![
        (unknown.clone(), (vec![("project_path", p.as_str())], 404, "")),
        ("..%2Fetc".to_owned(), (vec![("project_path", p.as_str())], 400, "")),
        (id.clone(), (vec![], 400, "project_path")),
        (id.clone(), (vec![("project_path", "relative/dir")], 400, "absolute")),
        (id.clone(), (vec![("project_path", "/nonexistent/dir")], 400, "existing directory")),
        (id.clone(), (vec![("project_path", p.as_str()), ("x", "1")], 400, "unknown field")),
    ];
    for (session, (query, expected, says)) in &timeline_cases {
        let (status, answer) =
            api_call(&server, "GET", &format!("/api/sessions/{session}/timeline"), query, None).await;
        assert_eq!(status, *expected, "{session} {query:?}: {answer}");
        assert_eq!(answer["success"], false, "{answer}");
        assert!(answer["error"].as_str().unwrap().contains(says), "{session} {query:?}: {answer}");
    }

    // forks
    let fork = format!("/api/sessions/{id}/fork");
    let fork_cases: Vec<(String, Value, u16, &str)> = vec![
        (
            fork.clone(),
            json!({"project_path": p, "message_id": "no-such-message", "prompt": "x"}),
            404,
            "not in this session",
        ),
        (
            format!("/api/sessions/{unknown}/fork"),
            json!({"project_path": p, "message_id": message, "prompt": "x"}),
            404,
            "",
        ),
        (fork.clone(), json!({"project_path": p, "message_id": message, "prompt": ""}), 400, ""),
        (fork.clone(), json!({"project_path": "relative", "message_id": message, "prompt": "x"}), 400, "absolute"),
        (fork.clone(), json!({"project_path": p, "message_id": message}), 400, "missing field"),
        (
            fork.clone(),
            json!({"project_path": p, "message_id": message, "prompt": "x", "extra": 1}),
            400,
            "unknown field",
        ),
        (
            fork.clone(),
            json!({"project_path": p, "message_id": message, "prompt": "x", "permission_mode": "godMode"}),
            400,
            "",
        ),
    ];
    for (path, body, expected, says) in &fork_cases {
        let (status, answer) = api_call(&server, "POST", path, &[], Some(body.clone())).await;
        assert_eq!(status, *expected, "{path} {body}: {answer}");
        assert!(answer["error"].as_str().unwrap().contains(says), "{path} {body}: {answer}");
    }
    let (status, answer) = call_raw(&server, &fork, &[], b"{not json".to_vec()).await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("JSON"), "{answer}");
    let big = json!({"project_path": p, "message_id": message, "prompt": "x".repeat(2 * 1024 * 1024)});
    assert_eq!(call_raw(&server, &fork, &[], big.to_string().into_bytes()).await.0, 413);

    // rewinds: previews and restores
    let rewind = format!("/api/sessions/{id}/rewind");
    let preview_cases: Vec<QueryCase<'_>> = vec![
        (vec![("project_path", p.as_str()), ("message_id", "no-such-message")], 404, "not in this session"),
        (vec![("project_path", p.as_str()), ("message_id", message.as_str())], 409, "no file checkpoint"),
        (vec![("project_path", p.as_str())], 400, "message_id"),
        (vec![("project_path", "/nonexistent/dir"), ("message_id", message.as_str())], 400, "existing directory"),
    ];
    for (query, expected, says) in &preview_cases {
        let (status, answer) = api_call(&server, "GET", &rewind, query, None).await;
        assert_eq!(status, *expected, "{query:?}: {answer}");
        assert!(answer["error"].as_str().unwrap().contains(says), "{query:?}: {answer}");
    }
    let restore_cases: Vec<(String, Value, u16, &str)> = vec![
        (rewind.clone(), json!({"project_path": p, "message_id": "no-such-message"}), 404, "not in this session"),
        (rewind.clone(), json!({"project_path": p, "message_id": message}), 409, "no file checkpoint"),
        (format!("/api/sessions/{unknown}/rewind"), json!({"project_path": p, "message_id": message}), 404, ""),
        (rewind.clone(), json!({"project_path": p}), 400, "missing field"),
        (rewind.clone(), json!({"project_path": p, "message_id": message, "x": 1}), 400, "unknown field"),
    ];
    for (path, body, expected, says) in &restore_cases {
        let (status, answer) = api_call(&server, "POST", path, &[], Some(body.clone())).await;
        assert_eq!(status, *expected, "{path} {body}: {answer}");
        assert!(answer["error"].as_str().unwrap().contains(says), "{path} {body}: {answer}");
    }
    assert_eq!(call_raw(&server, &rewind, &[], b"[1, 2".to_vec()).await.0, 400);

    // nothing started, nothing written, nothing audited but the one run
    let (_, runs) = server.get_json("/api/sessions/running").await;
    let sessions: Vec<&str> =
        runs["data"].as_array().unwrap().iter().map(|r| r["session_id"].as_str().unwrap()).collect();
    assert_eq!(sessions, [id.as_str()], "only the one run: {runs}");
    assert_eq!(transcripts(&server), before);
    let trail = audited(&server).await;
    assert!(trail.iter().all(|(action, _)| action == "run_started"), "{trail:?}");
    server.stop().await;
}

#[tokio::test]
async fn pane_writes_are_audited_with_their_targets() {
    let server = TestServer::start().await;
    let project = canonical(&server);
    let p = project.display().to_string();
    let file = [("project_path", p.as_str()), ("path", "CLAUDE.md")];
    let (_, read) = api_call(&server, "GET", "/api/claude-md/file", &file, None).await;
    let body = json!({"content": "# Rules\n", "version": read["data"]["version"]});
    assert_eq!(api_call(&server, "PUT", "/api/claude-md/file", &file, Some(body)).await.0, 200);
    let add = json!({"name": "echo", "scope": "local", "project_path": p, "config": stdio_config(&[])});
    assert_eq!(api_call(&server, "POST", "/api/mcp/servers", &[], Some(add)).await.0, 200);
    let desktop = json!({"scope": "user", "config": {"mcpServers": {"imported": {"command": "npx"}}}});
    assert_eq!(api_call(&server, "POST", "/api/mcp/import", &[], Some(desktop)).await.0, 200);
    let query = [("scope", "local"), ("project_path", p.as_str())];
    assert_eq!(api_call(&server, "DELETE", "/api/mcp/servers/echo", &query, None).await.0, 200);
    // reads and tests are not audited
    assert_eq!(api_call(&server, "GET", "/api/mcp/servers", &[], None).await.0, 200);
    assert_eq!(
        audited(&server).await,
        [
            ("claude_md_saved".to_owned(), project.join("CLAUDE.md").display().to_string()),
            ("mcp_server_added".to_owned(), "local:echo".to_owned()),
            ("mcp_server_added".to_owned(), "user:imported".to_owned()),
            ("mcp_server_removed".to_owned(), "local:echo".to_owned()),
        ]
    );
    let entry = &audit(&server).await[0];
    assert_eq!((entry["actor_kind"].as_str(), entry["addr"].as_str()), (Some("token"), Some("127.0.0.1")));
    server.stop().await;
}

#[tokio::test]
async fn pane_writes_with_the_cookie_from_another_origin_are_refused_and_change_nothing() {
    let server = TestServer::start().await;
    let project = canonical(&server);
    let p = project.display().to_string();
    let cookie = browser_cookie(&server).await;
    let http = server.http();
    let own = format!("http://{}", server.addr);
    let save = server.url(&format!("/api/claude-md/file?project_path={p}&path=CLAUDE.md"));
    let (_, read) =
        api_call(&server, "GET", "/api/claude-md/file", &[("project_path", p.as_str()), ("path", "CLAUDE.md")], None)
            .await;
    let body = json!({"content": "# pwned\n", "version": read["data"]["version"]});
    let add = json!({"name": "evil", "scope": "user", "config": stdio_config(&[])});
    let id = uuid::Uuid::new_v4().to_string();
    let fork = json!({"project_path": p, "message_id": "m", "prompt": "x"});
    let refused = [
        (http.put(&save).json(&body).header("sec-fetch-site", "same-site"), "same-site save"),
        (http.put(&save).json(&body).header("origin", "http://127.0.0.1:1"), "foreign Origin save"),
        (http.put(&save).json(&body), "save without Origin or Sec-Fetch-Site"),
        (http.post(server.url("/api/mcp/servers")).json(&add).header("sec-fetch-site", "cross-site"), "cross-site add"),
        (http.delete(server.url("/api/mcp/servers/evil?scope=user")).header("origin", "null"), "opaque remove"),
        (
            http.post(server.url(&format!("/api/sessions/{id}/fork")))
                .json(&fork)
                .header("sec-fetch-site", "same-site"),
            "fork",
        ),
    ];
    for (request, what) in refused {
        let response = request.header("cookie", &cookie).send().await.unwrap();
        assert_eq!(response.status(), 403, "{what}");
        let answer: Value = response.json().await.unwrap();
        assert!(answer["error"].as_str().unwrap().contains("cross-origin request refused"), "{what}: {answer}");
    }
    assert!(!project.join("CLAUDE.md").exists());
    assert!(!server.claude_dir.path().join(".claude.json").exists());
    assert!(audited(&server).await.iter().all(|(action, _)| action == "device_paired"));
    // the server's own page may
    let response = http.put(&save).json(&body).header("cookie", &cookie).header("origin", &own).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(std::fs::read_to_string(project.join("CLAUDE.md")).unwrap(), "# pwned\n");
    let entry = &audit(&server).await[0];
    assert_eq!((entry["action"].as_str(), entry["actor_kind"].as_str()), (Some("claude_md_saved"), Some("device")));
    server.stop().await;
}
