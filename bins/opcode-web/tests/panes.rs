//! The panes' REST routes over real sockets: CLAUDE.md (find, read, save with a version check, confinement),
//! and their bad input (unknown parameters, paths outside the project, oversized and malformed bodies).

mod common;

use common::*;
use serde_json::{json, Value};

/// `method path?query` with the token; the status and the JSON body.
async fn call(
    server: &TestServer,
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    body: Option<Value>,
) -> (u16, Value) {
    let http = server.http();
    let request = match method {
        "GET" => http.get(server.url(path)),
        "PUT" => http.put(server.url(path)),
        "POST" => http.post(server.url(path)),
        "DELETE" => http.delete(server.url(path)),
        other => panic!("{other}"),
    };
    let request = request.bearer_auth(TOKEN).query(query);
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

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

    let (status, listed) = call(&server, "GET", "/api/claude-md", &[("project_path", p.as_str())], None).await;
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
    let (status, absent) = call(&server, "GET", "/api/claude-md/file", &file, None).await;
    assert_eq!(
        (status, absent["data"]["exists"].clone(), absent["data"]["content"].clone()),
        (200, json!(false), json!(""))
    );
    let body = json!({"content": "# Project\n", "version": absent["data"]["version"]});
    let (status, created) = call(&server, "PUT", "/api/claude-md/file", &file, Some(body)).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(std::fs::read_to_string(project.join("CLAUDE.md")).unwrap(), "# Project\n");

    // a save over a file changed on disk since it was read is refused, and writes nothing
    std::fs::write(project.join("CLAUDE.md"), "# Changed by claude\n").unwrap();
    let body = json!({"content": "# Mine\n", "version": created["data"]["version"]});
    let (status, refused) = call(&server, "PUT", "/api/claude-md/file", &file, Some(body)).await;
    assert_eq!(status, 409, "{refused}");
    assert!(refused["error"].as_str().unwrap().contains("changed on disk"), "{refused}");
    assert_eq!(std::fs::read_to_string(project.join("CLAUDE.md")).unwrap(), "# Changed by claude\n");
    let (_, fresh) = call(&server, "GET", "/api/claude-md/file", &file, None).await;
    assert_eq!(fresh["data"]["content"], "# Changed by claude\n");
    let body = json!({"content": "# Mine\n", "version": fresh["data"]["version"]});
    assert_eq!(call(&server, "PUT", "/api/claude-md/file", &file, Some(body)).await.0, 200);

    // the user's file
    let user = [("scope", "user")];
    let (status, read) = call(&server, "GET", "/api/claude-md/file", &user, None).await;
    assert_eq!((status, read["data"]["content"].clone()), (200, json!("Be brief.\n")));
    let body = json!({"content": "Be very brief.\n", "version": read["data"]["version"]});
    assert_eq!(call(&server, "PUT", "/api/claude-md/file", &user, Some(body)).await.0, 200);
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
        let (_, read) = call(&server, "GET", "/api/claude-md/file", &[("scope", "user")], None).await;
        read["data"]["version"].clone()
    };
    let abs = format!("{}/CLAUDE.md", outside_path.display());
    let cases: Vec<(Vec<(&str, &str)>, u16, &str)> = vec![
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
            let (status, answer) = call(&server, method, "/api/claude-md/file", query, body).await;
            assert_eq!(status, *expected, "{method} {query:?}: {answer}");
            assert_eq!(answer["success"], false);
            assert!(answer["error"].as_str().unwrap().contains(says), "{method} {query:?}: {answer}");
        }
    }
    let file = [("project_path", p.as_str()), ("path", "CLAUDE.md")];
    let (_, read) = call(&server, "GET", "/api/claude-md/file", &file, None).await;
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
    assert_eq!(call(&server, "GET", "/api/claude-md", &[("project_path", "rel")], None).await.0, 400);
    assert_eq!(call(&server, "GET", "/api/claude-md", &[], None).await.0, 400);
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
    let (status, answer) = call(&server, "GET", "/api/claude-md", &[("project_path", p.as_str())], None).await;
    assert_eq!(status, 403, "{answer}");
    let body = json!({"content": "x", "version": "0"});
    let query = [("project_path", p.as_str()), ("path", "CLAUDE.md")];
    assert_eq!(call(&server, "PUT", "/api/claude-md/file", &query, Some(body)).await.0, 403);
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
    let (status, added) = call(&server, "POST", "/api/mcp/servers", &[], Some(body)).await;
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
    assert_eq!(call(&server, "POST", "/api/mcp/servers", &[], Some(remote)).await.0, 200);
    let shared = json!({"name": "shared", "scope": "project", "project_path": p, "config": {"type": "sse", "url": "http://127.0.0.1:9/sse"}});
    assert_eq!(call(&server, "POST", "/api/mcp/servers", &[], Some(shared)).await.0, 200);
    assert!(canonical(&server).join(".mcp.json").is_file());
    let (_, all) = call(&server, "GET", "/api/mcp/servers", &[("project_path", p.as_str())], None).await;
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
    let (status, tested) = call(&server, "POST", "/api/mcp/servers/echo-server/test", &[("scope", "user")], None).await;
    assert_eq!(status, 200, "{tested}");
    assert_eq!(tested["data"]["ok"], true, "{tested}");
    assert_eq!(tested["data"]["server"], "fake-mcp 1.0.0");
    let tools: Vec<&str> =
        tested["data"]["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(tools, ["echo", "second"]);
    // one that does not start says why
    let broken = json!({"name": "broken", "scope": "user", "config": stdio_config(&["--fail"])});
    assert_eq!(call(&server, "POST", "/api/mcp/servers", &[], Some(broken)).await.0, 200);
    let (_, failed) = call(&server, "POST", "/api/mcp/servers/broken/test", &[("scope", "user")], None).await;
    assert_eq!(failed["data"]["ok"], false);
    assert!(failed["data"]["message"].as_str().unwrap().contains("asked to fail"), "{failed}");

    // remove
    for (name, query) in
        [("broken", vec![("scope", "user")]), ("shared", vec![("scope", "project"), ("project_path", p.as_str())])]
    {
        let (status, removed) = call(&server, "DELETE", &format!("/api/mcp/servers/{name}"), &query, None).await;
        assert_eq!(status, 200, "{removed}");
    }
    let (_, after) = call(&server, "GET", "/api/mcp/servers", &[("project_path", p.as_str())], None).await;
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
        call(&server, "POST", "/api/mcp/import", &[], Some(json!({"scope": "user", "config": desktop}))).await;
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
    let (_, twice) = call(&server, "POST", "/api/mcp/import", &[], Some(again)).await;
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
        let (status, answer) = call(&server, "POST", "/api/mcp/servers", &[], Some(body.clone())).await;
        assert_eq!(status, *expected, "{body}: {answer}");
        assert!(answer["error"].as_str().unwrap().contains(says), "{body}: {answer}");
    }
    assert_eq!(call_raw(&server, "/api/mcp/servers", &[], b"{oops".to_vec()).await.0, 400);
    let big = json!({"name": "x", "scope": "user", "config": {"command": "x".repeat(2 * 1024 * 1024)}});
    assert_eq!(call_raw(&server, "/api/mcp/servers", &[], big.to_string().into_bytes()).await.0, 413);
    let wide = json!({"name": "x", "scope": "user", "config": {"command": "x", "args": ["y".repeat(70 * 1024)]}});
    assert_eq!(call(&server, "POST", "/api/mcp/servers", &[], Some(wide)).await.0, 400);
    assert_eq!(call_raw(&server, "/api/mcp/import", &[], b"[]".to_vec()).await.0, 400);
    let not_desktop = json!({"scope": "user", "config": {"servers": {}}});
    assert_eq!(call(&server, "POST", "/api/mcp/import", &[], Some(not_desktop)).await.0, 400);
    // unknown servers and bad queries
    assert_eq!(call(&server, "DELETE", "/api/mcp/servers/nobody", &[("scope", "user")], None).await.0, 404);
    assert_eq!(call(&server, "POST", "/api/mcp/servers/nobody/test", &[("scope", "user")], None).await.0, 404);
    assert_eq!(call(&server, "DELETE", "/api/mcp/servers/nobody", &[], None).await.0, 400);
    assert_eq!(call(&server, "DELETE", "/api/mcp/servers/a%20b", &[("scope", "user")], None).await.0, 400);
    assert_eq!(call(&server, "GET", "/api/mcp/servers", &[("project_path", outside.as_str())], None).await.0, 403);
    assert_eq!(
        call(&server, "GET", "/api/mcp/servers", &[("project_path", inside.as_str()), ("x", "1")], None).await.0,
        400
    );
    assert!(!mcp_file(&server).exists(), "nothing was written");
    assert!(!canonical(&server).join(".mcp.json").exists());
    server.stop().await;
}
