//! Contract tests against the seed: the Opcode web server (`src-tauri/src/web_server.rs` of winfunc/opcode)
//! and its browser client (`src/lib/apiAdapter.ts`, `src/lib/api.ts`). Every route the seed serves answers
//! in the shape its client reads, every WebSocket request its client sends is accepted, and every event it
//! consumes has the fields it reads. The shapes are recorded in `tests/fixtures/seed/` (see its README for
//! the commit they come from); nothing here needs the network.

mod common;

use std::path::Path;

use common::*;
use serde_json::{json, Value};

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seed").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Checks `value` against a shape of the fixtures' little language (see the fixtures' README); pushes one
/// line per mismatch onto `errors`.
fn check(shape: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    match shape {
        Value::String(spec) => {
            let optional = spec.ends_with('?');
            if value.is_null() {
                if !optional && spec != "any" {
                    errors.push(format!("{at}: null or absent, expected {spec}"));
                }
                return;
            }
            let fits = spec.trim_end_matches('?').split('|').any(|kind| match kind {
                "string" => value.is_string(),
                "number" => value.is_number(),
                "boolean" => value.is_boolean(),
                "object" => value.is_object(),
                "array" => value.is_array(),
                "any" => true,
                other => panic!("unknown shape {other:?} in a fixture"),
            });
            if !fits {
                errors.push(format!("{at}: {value} is not {spec}"));
            }
        }
        Value::Object(map) if map.contains_key("object") => {
            let Some(object) = value.as_object() else {
                errors.push(format!("{at}: {value} is not an object"));
                return;
            };
            for (field, field_shape) in map["object"].as_object().unwrap() {
                check(field_shape, object.get(field).unwrap_or(&Value::Null), &format!("{at}.{field}"), errors);
            }
        }
        Value::Object(map) if map.contains_key("array_of") => {
            let Some(items) = value.as_array() else {
                errors.push(format!("{at}: {value} is not an array"));
                return;
            };
            for (i, item) in items.iter().enumerate() {
                check(&map["array_of"], item, &format!("{at}[{i}]"), errors);
            }
        }
        Value::Object(map) if map.contains_key("enum") => {
            if !map["enum"].as_array().unwrap().contains(value) {
                errors.push(format!("{at}: {value} is not one of {}", map["enum"]));
            }
        }
        other => panic!("unknown shape {other} in a fixture"),
    }
}

fn assert_shape(shape: &Value, value: &Value, what: &str) {
    let mut errors = Vec::new();
    check(shape, value, what, &mut errors);
    assert!(errors.is_empty(), "{what} does not have the shape the seed's client reads:\n{}", errors.join("\n"));
}

fn fill(template: &str, vars: &[(&str, &str)]) -> String {
    vars.iter().fold(template.to_owned(), |text, (name, value)| text.replace(&format!("{{{name}}}"), value))
}

/// The seed client's request `name` from `ws.json`, with its placeholders filled.
fn seed_request(name: &str, project_path: &str, session_id: &str) -> String {
    let text = fixture("ws.json")["requests"][name].to_string();
    fill(&text, &[("projectPath", project_path), ("sessionId", session_id)])
}

#[test]
fn the_checker_catches_the_shapes_the_seeds_client_cannot_read() {
    let routes = fixture("routes.json");
    let history = routes["routes"].as_array().unwrap().iter().find(|r| r["command"] == "load_session_history").unwrap();
    // opcode-web's answer before issue 18
    let paged = json!({ "messages": [{ "type": "user" }], "next_before": null });
    let mut errors = Vec::new();
    check(&history["data"], &paged, "history", &mut errors);
    assert!(!errors.is_empty());
    // a failed completion without its error string
    let events = fixture("ws.json")["events"].clone();
    let mut errors = Vec::new();
    check(&events["failed_completion"], &json!({"type":"completion","status":"error"}), "completion", &mut errors);
    assert_eq!(errors, ["completion.error: null or absent, expected string"]);
}

/// A transcript of two lines in Claude's folder of the server, for the project of `server`.
fn write_transcript(server: &TestServer, session_id: &str) -> (String, Vec<Value>) {
    let project = std::fs::canonicalize(server.project.path()).unwrap();
    let project_id = opcode_sessions::claude_store::project_id_for(&project);
    let folder = server.claude_dir.path().join("projects").join(&project_id);
    std::fs::create_dir_all(&folder).unwrap();
    let lines = vec![
        json!({"type":"user","message":{"role":"user","content":"hi"},"cwd":project,"sessionId":session_id}),
        json!({"type":"assistant","sessionId":session_id,"requestId":"req_1","timestamp":"2026-03-01T10:00:00.000Z",
            "message":{"id":"msg_1","model":"claude-sonnet-4-5-20250929","role":"assistant",
                "content":[{"type":"text","text":"hello"}],"usage":{"input_tokens":10,"output_tokens":6}}}),
    ];
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(folder.join(format!("{session_id}.jsonl")), text).unwrap();
    (project_id, lines)
}

#[tokio::test]
async fn every_seed_route_answers_in_the_shape_its_client_reads() {
    let server = TestServer::start().await;
    let claude = server.claude_dir.path();
    std::fs::write(claude.join("settings.json"), r#"{"model":"opus","permissions":{"allow":["Bash(ls:*)"]}}"#).unwrap();
    std::fs::write(claude.join("CLAUDE.md"), "Answer in French.\n").unwrap();
    std::fs::create_dir_all(claude.join("commands")).unwrap();
    std::fs::write(claude.join("commands/hello.md"), "---\ndescription: Greet\n---\nSay hello to $ARGUMENTS\n")
        .unwrap();
    std::fs::create_dir_all(server.project.path().join(".claude/commands")).unwrap();
    std::fs::write(server.project.path().join(".claude/commands/build.md"), "Run !`make`\n").unwrap();
    let session_id = "6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b";
    let (project_id, lines) = write_transcript(&server, session_id);

    // the seed client's resume request, kept running so that running/output/cancel have a run
    let mut ws = server.ws("/ws/claude").await;
    let request = seed_request("resume", &server.project_path(), session_id).replace("once more", "once more @hang");
    send(&mut ws, request).await;
    until(&mut ws, |e| e["type"] == "output" && e["content"]["subtype"] == "init").await;

    // an agent, so that the agents list has one whose shape is checked
    let agent = serde_json::json!({"name": "Reviewer", "system_prompt": "You review.", "default_task": "Review."});
    let created = server.http().post(server.url("/api/agents")).bearer_auth(TOKEN).json(&agent).send().await.unwrap();
    assert_eq!(created.status(), 201);

    let routes = fixture("routes.json");
    let project_path = server.project_path();
    let vars = [("projectId", project_id.as_str()), ("sessionId", session_id), ("projectPath", project_path.as_str())];
    for route in routes["routes"].as_array().unwrap() {
        let path = fill(route["path"].as_str().unwrap(), &vars);
        let (status, body) = server.get_json(&path).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_shape(&routes["envelope"], &body, &path);
        assert_eq!(body["success"], true, "{path}: {body}");
        assert_shape(&route["data"], &body["data"], &path);
        let data = &body["data"];
        // and the real thing, not a stub
        match route["command"].as_str().unwrap() {
            "get_claude_settings" => {
                assert_eq!(data["data"], json!({"model":"opus","permissions":{"allow":["Bash(ls:*)"]}}))
            }
            "get_system_prompt" => assert_eq!(data, "Answer in French.\n"),
            "check_claude_version" => {
                assert_eq!(data["is_installed"], true, "{data}");
                assert_eq!(data["version"], "0.0.0-fake");
                assert_eq!(data["output"], "0.0.0-fake (Claude Code)");
            }
            "list_claude_installations" => {
                let fake = std::fs::canonicalize(opcode_testkit::fake_claude()).unwrap();
                assert_eq!(data[0]["path"], fake.to_str().unwrap());
                assert_eq!(data[0]["installation_type"], "Custom");
            }
            "open_new_session" => {
                let id = uuid::Uuid::parse_str(data.as_str().unwrap()).unwrap();
                assert_eq!(id.get_version_num(), 4);
            }
            "slash_commands_list" => {
                let commands: Vec<(&str, &str)> = data
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| (c["scope"].as_str().unwrap(), c["full_command"].as_str().unwrap()))
                    .collect();
                assert!(commands.contains(&("project", "/build")), "{commands:?}");
                assert!(commands.contains(&("user", "/hello")), "{commands:?}");
            }
            "load_session_history" => assert_eq!(data.as_array().unwrap()[..2], lines[..]),
            "list_running_claude_sessions" => {
                let entry = data
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|s| s["process_type"]["ClaudeSession"]["session_id"] == session_id)
                    .unwrap_or_else(|| panic!("the seed's client finds no running session in {data}"));
                assert_eq!(entry["session_id"], session_id);
                assert_eq!(entry["status"], "running");
            }
            "get_usage_stats" => {
                assert_eq!((data["total_sessions"].as_u64(), data["total_input_tokens"].as_u64()), (Some(1), Some(10)));
                assert_eq!(data["by_date"][0]["date"], "2026-03-01", "{data}");
                assert_eq!(data["by_model"][0]["model"], "claude-sonnet-4-5-20250929", "{data}");
            }
            "list_projects" => assert!(data.as_array().unwrap().iter().any(|p| p["id"] == project_id.as_str())),
            _ => {}
        }
    }

    // the cancel route was the last: the run ends cancelled, with the error string the seed's client shows
    let events = until_completion(&mut ws).await;
    let completion = events.last().unwrap();
    assert_shape(&fixture("ws.json")["events"]["failed_completion"], completion, "cancelled completion");
    assert_eq!(completion["status"], "cancelled");

    // once the run is over, the seed's client must not try to reattach to it
    let mut attach = server.ws(&format!("/ws/sessions/{session_id}")).await;
    let (_, code) = until_close(&mut attach).await;
    assert_eq!(code, Some(1000));
    let (_, running) = server.get_json("/api/sessions/running").await;
    let entry = running["data"].as_array().unwrap().iter().find(|s| s["session_id"] == session_id).unwrap();
    assert_eq!(entry["status"], "finished");
    assert_eq!(entry["process_type"], json!({}));
    server.stop().await;
}

#[tokio::test]
async fn the_seed_clients_websocket_requests_are_accepted_and_its_events_have_the_fields_it_reads() {
    let server = TestServer::start().await;
    let shapes = fixture("ws.json")["events"].clone();
    let project = server.project_path();

    // execute, continue and resume, each on its own socket as the seed's client does
    let mut session_id = String::new();
    for name in ["execute", "continue", "resume"] {
        let mut ws = server.ws("/ws/claude").await;
        send(&mut ws, seed_request(name, &project, &session_id)).await;
        let events = until_completion(&mut ws).await;
        assert_eq!(events[0]["type"], "start", "{name}: {events:?}");
        for event in &events {
            let kind = event["type"].as_str().unwrap();
            assert!(shapes.get(kind).is_some(), "{name}: an event type the seed's client ignores: {event}");
            assert_shape(&shapes[kind], event, &format!("{name} {kind}"));
        }
        let completion = events.last().unwrap();
        assert_eq!(completion["status"], "success", "{name}: {events:?}");
        let id = events[0]["session_id"].as_str().unwrap().to_owned();
        if name != "execute" {
            assert_eq!(id, session_id, "{name} works on the same conversation");
        }
        assert!(events.iter().any(|e| e["type"] == "output" && e["content"]["session_id"] == id.as_str()));
        session_id = id;
    }

    // a run that fails: the completion says why
    let mut ws = server.ws("/ws/claude").await;
    send(&mut ws, seed_request("execute", &project, "").replace("hello", "hello @exit=3")).await;
    let events = until_completion(&mut ws).await;
    let completion = events.last().unwrap();
    assert_shape(&shapes["failed_completion"], completion, "failed completion");
    assert_eq!(completion["status"], "error");
    assert!(completion["error"].as_str().unwrap().contains("exit code 3"), "{completion}");

    // what the seed's client sends without a project: an error it shows, and nothing runs
    send(&mut ws, seed_request("no_project", &project, "")).await;
    let refused = next_json(&mut ws).await.unwrap();
    assert_shape(&shapes["error"], &refused, "request error");
    assert_eq!(refused["type"], "error");
    assert!(refused["message"].as_str().unwrap().contains("project_path"), "{refused}");
    server.stop().await;
}

#[tokio::test]
async fn bad_input_to_each_new_route_is_a_clear_4xx() {
    let roots = tempfile::tempdir().unwrap();
    let inside = std::fs::canonicalize(roots.path()).unwrap().join("app");
    std::fs::create_dir_all(&inside).unwrap();
    let root = std::fs::canonicalize(roots.path()).unwrap();
    let server = TestServer::start_with(move |config| config.project_roots = vec![root]).await;
    let session_id = "6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b";
    let (project_id, _) = write_transcript(&server, session_id);
    let outside = server.project_path();
    let inside = inside.display().to_string();
    let enc = |s: &str| s.replace('/', "%2F");
    let history = format!("/api/sessions/{session_id}/history/{project_id}");

    let mut cases: Vec<(String, u16, &str)> = vec![
        (format!("/api/sessions/new?path={}", enc(&inside)), 200, ""),
        ("/api/sessions/new?path=relative%2Fdir".into(), 400, "not an absolute path"),
        ("/api/sessions/new?path=%2Fno%2Fsuch%2Fdir".into(), 400, "not an existing directory"),
        (format!("/api/sessions/new?path={}", enc(&outside)), 403, "outside the allowed project roots"),
        ("/api/sessions/new?bogus=1".into(), 400, "unknown field `bogus`"),
        (format!("/api/slash-commands?projectPath={}", enc(&inside)), 200, ""),
        ("/api/slash-commands?projectPath=..%2Fx".into(), 400, "not an absolute path"),
        (format!("/api/slash-commands?projectPath={}", enc(&outside)), 403, "outside the allowed project roots"),
        (format!("/api/slash-commands?projectPath={}%2F..%2F..", enc(&inside)), 403, "outside the allowed"),
        (format!("/api/slash-commands?project_path={}", enc(&inside)), 400, "unknown field `project_path`"),
        (history.clone(), 200, ""),
        (format!("{history}?before=abc"), 400, "before"),
        (format!("{history}?limit=-1"), 400, "limit"),
        (format!("{history}?page=2"), 400, "unknown field `page`"),
        (format!("/api/sessions/6f1e2d3c-4b5a-4978-8a6b-000000000000/history/{project_id}"), 404, "not found"),
        (format!("/api/sessions/not-a-uuid/history/{project_id}"), 400, "not a valid session id"),
        (format!("/api/sessions/{session_id}/history/a.b"), 400, "not a valid project id"),
        (format!("/api/sessions/{session_id}/cancel"), 404, "no session"),
    ];
    for write in fixture("routes.json")["refused_writes"].as_array().unwrap() {
        cases.push((write["path"].as_str().unwrap().to_owned(), 400, "never writes"));
    }
    for route in
        ["/api/agents", "/api/usage", "/api/mcp/servers", "/api/settings/claude", "/api/settings/system-prompt"]
    {
        cases.push((format!("{route}?x=1"), 400, "unknown field `x`"));
    }
    for (path, expected, says) in cases {
        let (status, body) = server.get_json(&path).await;
        assert_eq!(status, expected, "{path}: {body}");
        if expected != 200 {
            assert_eq!(body["success"], false, "{path}: {body}");
            let error = body["error"].as_str().unwrap_or_else(|| panic!("{path}: no error string in {body}"));
            assert!(error.contains(says), "{path}: {error:?} does not say {says:?}");
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn a_claude_binary_that_is_missing_or_not_claude_is_reported_not_installed() {
    let server = TestServer::start_with(|config| config.claude_bin = "/no/such/claude".into()).await;
    let (status, body) = server.get_json("/api/settings/claude/version").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["is_installed"], false);
    assert!(body["data"]["output"].as_str().unwrap().contains("/no/such/claude"), "{body}");
    server.stop().await;

    // a binary that fails: what it said on stderr is the output
    let bin = tempfile::tempdir().unwrap();
    let script = bin.path().join("claude");
    std::fs::write(&script, "#!/bin/sh\necho \"claude: broken install\" >&2\nexit 2\n").unwrap();
    let mut permissions = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&script, permissions).unwrap();
    let server = TestServer::start_with(move |config| config.claude_bin = script).await;
    let (_, body) = server.get_json("/api/settings/claude/version").await;
    assert_eq!(body["data"], json!({"is_installed": false, "version": null, "output": "claude: broken install"}));
    server.stop().await;
}

/// The real binary with `HOME` in a temporary folder: settings, `CLAUDE.md` and user commands come from
/// `~/.claude`, and the installations list finds a claude in `~/.local/bin`.
#[tokio::test]
async fn the_binary_reads_claudes_files_from_home_and_lists_the_installations_there() {
    use opcode_proc::{ProcessEvent, ProcessSpec, ProcessSupervisor, TokioSupervisor};

    let home = tempfile::tempdir().unwrap();
    let claude = home.path().join(".claude");
    std::fs::create_dir_all(claude.join("commands/git")).unwrap();
    std::fs::write(claude.join("settings.json"), r#"{"includeCoAuthoredBy":false}"#).unwrap();
    std::fs::write(claude.join("CLAUDE.md"), "Use tabs.").unwrap();
    std::fs::write(claude.join("commands/git/sync.md"), "Sync the branch").unwrap();
    std::fs::create_dir_all(home.path().join(".local/bin")).unwrap();
    let local = home.path().join(".local/bin/claude");
    std::fs::copy(opcode_testkit::fake_claude(), &local).unwrap();
    let spec = ProcessSpec::new(env!("CARGO_BIN_EXE_opcode-web"))
        .args(["--port", "0", "--token", TOKEN, "--data-dir"])
        .arg(home.path().join("data"))
        .arg("--claude-bin")
        .arg(opcode_testkit::fake_claude())
        .env("HOME", home.path())
        .env("PATH", home.path().join("no-bin"))
        .env_remove("CLAUDE_CONFIG_DIR")
        .env_remove("OPCODE_TOKEN");
    let mut server = TokioSupervisor::default().spawn(spec).await.unwrap();
    let url = loop {
        match tokio::time::timeout(LIMIT, server.next_event()).await.expect("start-up in time") {
            Some(ProcessEvent::Line { text, .. }) => {
                if let Some(rest) = text.split("listening on ").nth(1) {
                    break rest.trim().to_owned();
                }
            }
            Some(ProcessEvent::Exited(status)) => panic!("server exited at start-up: {status}"),
            Some(_) => {}
            None => panic!("server output ended"),
        }
    };
    let http = reqwest::Client::new();
    let get = |path: &str| {
        let request = http.get(format!("{url}{path}")).bearer_auth(TOKEN);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap()["data"].clone() }
    };
    assert_eq!(get("/api/settings/claude").await, json!({"data": {"includeCoAuthoredBy": false}}));
    assert_eq!(get("/api/settings/system-prompt").await, "Use tabs.");
    let commands = get("/api/slash-commands").await;
    let sync = commands.as_array().unwrap().iter().find(|c| c["scope"] == "user").expect("the user's command");
    assert_eq!((&sync["full_command"], &sync["namespace"]), (&json!("/git:sync"), &json!("git")));
    let installations = get("/api/settings/claude/installations").await;
    let fake = std::fs::canonicalize(opcode_testkit::fake_claude()).unwrap();
    assert_eq!(
        installations[0],
        json!({"path": fake, "version": null, "source": "configured", "installation_type": "Custom"})
    );
    let local = std::fs::canonicalize(&local).unwrap();
    assert!(
        installations
            .as_array()
            .unwrap()
            .contains(&json!({"path": local, "version": null, "source": "local-bin", "installation_type": "System"})),
        "{installations}"
    );
    server.cancel(std::time::Duration::from_secs(10));
    while tokio::time::timeout(LIMIT, server.next_event()).await.expect("exit in time").is_some() {}
}
