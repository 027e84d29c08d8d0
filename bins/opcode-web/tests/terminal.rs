//! Terminals over real sockets: create, type, see; reattach shows the screen; close kills the shell and
//! its children; `--no-terminal` refuses; bad input gets a clear 4xx and nothing is started.

mod common;

use common::*;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

fn config() -> opcode_terminals::TerminalsConfig {
    let home = std::env::temp_dir().join(format!("opcode-web-terminal-home-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    opcode_terminals::TerminalsConfig {
        shell: Some("/bin/sh".into()),
        shell_args: vec!["-i".into()],
        env: vec![("HOME".into(), home.into()), ("PS1".into(), "$ ".into())],
        max_terminals: 2,
        ..Default::default()
    }
}

async fn post(server: &TestServer, path: &str, body: String) -> (u16, Value) {
    let response = server
        .http()
        .post(server.url(path))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

async fn delete(server: &TestServer, path: &str) -> (u16, Value) {
    let response = server.http().delete(server.url(path)).bearer_auth(TOKEN).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

async fn create(server: &TestServer) -> Value {
    let (status, body) =
        post(server, "/api/terminals", json!({"project_path": server.project_path()}).to_string()).await;
    assert_eq!(status, 201, "{body}");
    body["data"].clone()
}

/// Reads binary frames until their text contains `needle`; returns all of it.
async fn until(ws: &mut Ws, needle: &str) -> String {
    let mut seen = String::new();
    while !seen.contains(needle) {
        match tokio::time::timeout(LIMIT, ws.next()).await.unwrap_or_else(|_| panic!("no {needle:?}: {seen:?}")) {
            Some(Ok(Message::Binary(bytes))) => seen.push_str(&String::from_utf8_lossy(&bytes)),
            Some(Ok(Message::Text(text))) => panic!("unexpected text frame {:?}", text.as_str()),
            Some(Ok(Message::Close(frame))) => panic!("closed ({frame:?}) before {needle:?}: {seen:?}"),
            Some(Ok(_)) => {}
            other => panic!("socket ended before {needle:?}: {other:?}; {seen:?}"),
        }
    }
    seen
}

async fn keys(ws: &mut Ws, keys: &str) {
    ws.send(Message::Binary(keys.as_bytes().to_vec().into())).await.unwrap();
}

#[tokio::test]
async fn type_see_reattach_resize_and_close_kills_the_shell_and_its_children() {
    let server = TestServer::start_with_terminals(|_| {}, Some(config())).await;
    let terminal = create(&server).await;
    let id = terminal["id"].as_str().unwrap().to_owned();
    assert!(terminal.get("pid").is_none(), "the browser never sees a pid: {terminal}");
    let shell = server.state.terminals.as_ref().unwrap().info(&id).unwrap().pid;
    let (status, list) = server.get_json(&format!("/api/terminals?project_path={}", server.project_path())).await;
    assert_eq!(status, 200);
    assert_eq!(list["data"][0]["id"], id.as_str());

    let mut ws = server.ws(&format!("/ws/terminals/{id}")).await;
    keys(&mut ws, "echo hi-$((1+1))\r").await;
    until(&mut ws, "hi-2").await;
    ws.send(Message::Text(json!({"type": "resize", "rows": 40, "cols": 100}).to_string().into())).await.unwrap();
    keys(&mut ws, "stty size\r").await;
    until(&mut ws, "40 100").await;
    let pidfile = server.project.path().join("child.pid");
    keys(&mut ws, &format!("sleep 1003 & echo $! > {}; echo started-$((2+3))\r", pidfile.display())).await;
    until(&mut ws, "started-5").await;
    let child: u32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    drop(ws);

    // the terminal outlived the socket: a new one gets the screen, then goes on
    let mut ws = server.ws(&format!("/ws/terminals/{id}")).await;
    let screen = until(&mut ws, "started-5").await;
    assert!(screen.contains("hi-2"), "the screen holds what was typed before: {screen:?}");
    keys(&mut ws, "echo again-$((3+4))\r").await;
    until(&mut ws, "again-7").await;

    let (status, body) = delete(&server, &format!("/api/terminals/{id}")).await;
    assert_eq!(status, 200, "{body}");
    opcode_testkit::assert_all_dead(&[shell, child]).await;
    // the socket is told the terminal ended
    loop {
        match tokio::time::timeout(LIMIT, ws.next()).await.unwrap() {
            Some(Ok(Message::Close(Some(frame)))) => {
                assert_eq!(u16::from(frame.code), opcode_web::terminals::CLOSE_ENDED);
                break;
            }
            Some(Ok(_)) => {}
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
    let (status, body) = delete(&server, &format!("/api/terminals/{id}")).await;
    assert_eq!(status, 404, "{body}");
    server.stop().await;
}

#[tokio::test]
async fn server_shutdown_kills_every_terminal() {
    let server = TestServer::start_with_terminals(|_| {}, Some(config())).await;
    let terminals = server.state.terminals.clone().unwrap();
    let pids: Vec<u32> = [create(&server).await, create(&server).await]
        .iter()
        .map(|t| terminals.info(t["id"].as_str().unwrap()).unwrap().pid)
        .collect();
    // the limit (2) holds
    let (status, body) =
        post(&server, "/api/terminals", json!({"project_path": server.project_path()}).to_string()).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("too many terminals"));
    server.stop().await;
    opcode_testkit::assert_all_dead(&pids).await;
}

#[tokio::test]
async fn bad_input_gets_a_clear_4xx_and_starts_nothing() {
    let server = TestServer::start_with_terminals(|_| {}, Some(config())).await;
    let cases = [
        ("not json".to_owned(), 400, "expected"),
        (json!({"project_path": "relative/dir"}).to_string(), 400, "absolute"),
        (json!({"project_path": "/no/such/dir/here"}).to_string(), 400, "not an existing directory"),
        (json!({"project_path": server.project_path(), "shell": "/bin/bash"}).to_string(), 400, "unknown field"),
        (json!({"project_path": server.project_path(), "rows": 0}).to_string(), 400, "bad terminal size"),
    ];
    for (body, status, needle) in cases {
        let (got, reply) = post(&server, "/api/terminals", body.clone()).await;
        assert_eq!(got, status, "{body}: {reply}");
        let error = reply["error"].as_str().unwrap_or_else(|| panic!("no JSON error for {body}: {reply}"));
        assert!(error.contains(needle), "{body}: {error}");
    }
    assert_eq!(server.get_json("/api/terminals").await.1["data"], json!([]));
    let (status, body) = server.get_json("/api/terminals/nope").await;
    assert_eq!(status, 404, "{body}");
    assert!(body["error"].as_str().unwrap().contains("no terminal"));
    let (status, _) = delete(&server, "/api/terminals/nope").await;
    assert_eq!(status, 404);
    // an unknown id is refused before the upgrade, with the JSON error
    let err = server.ws_with("/ws/terminals/nope", &[("authorization", &format!("Bearer {TOKEN}"))]).await.unwrap_err();
    match err {
        tokio_tungstenite::tungstenite::Error::Http(response) => assert_eq!(response.status(), 404),
        other => panic!("expected a 404, got {other:?}"),
    }
    // without the token, no terminal socket either
    let id = create(&server).await["id"].as_str().unwrap().to_owned();
    assert!(server.ws_with(&format!("/ws/terminals/{id}"), &[]).await.is_err());

    // a bad control message gets an error frame and the socket goes on; an oversized frame closes it
    let mut ws = server.ws(&format!("/ws/terminals/{id}")).await;
    ws.send(Message::Text("{\"type\":\"resize\",\"rows\":\"x\"}".into())).await.unwrap();
    let error = loop {
        match tokio::time::timeout(LIMIT, ws.next()).await.unwrap() {
            Some(Ok(Message::Text(text))) => break serde_json::from_str::<Value>(&text).unwrap(),
            Some(Ok(_)) => {}
            other => panic!("expected an error frame, got {other:?}"),
        }
    };
    assert_eq!(error["type"], "error");
    assert!(error["message"].as_str().unwrap().contains("invalid control message"), "{error}");
    keys(&mut ws, "echo still-$((5+5))\r").await;
    until(&mut ws, "still-10").await;
    ws.send(Message::Binary(vec![b'x'; opcode_web::terminals::MAX_INPUT_BYTES + 1].into())).await.unwrap();
    let closed = tokio::time::timeout(LIMIT, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => {}
                _ => return None,
            }
        }
    })
    .await
    .unwrap();
    assert!(matches!(closed, Some(1009) | None), "an oversized frame closes the socket: {closed:?}");
    // the terminal itself is still there
    assert_eq!(server.get_json(&format!("/api/terminals/{id}")).await.0, 200);
    server.stop().await;
}

#[tokio::test]
async fn outside_the_project_root_is_forbidden() {
    let root = tempfile::tempdir().unwrap();
    let root_path = root.path().canonicalize().unwrap();
    let server = TestServer::start_with_terminals(|c| c.project_roots = vec![root_path], Some(config())).await;
    let (status, body) =
        post(&server, "/api/terminals", json!({"project_path": server.project_path()}).to_string()).await;
    assert_eq!(status, 403, "{body}");
    assert!(body["error"].as_str().unwrap().contains("outside the allowed project roots"), "{body}");
    let (status, _) = server.get_json(&format!("/api/terminals?project_path={}", server.project_path())).await;
    assert_eq!(status, 403);
    assert_eq!(server.state.terminals.as_ref().unwrap().list(None), []);
    server.stop().await;
}

#[tokio::test]
async fn no_terminal_refuses_every_route() {
    let server = TestServer::start_with_terminals(|_| {}, None).await;
    let (status, body) =
        post(&server, "/api/terminals", json!({"project_path": server.project_path()}).to_string()).await;
    assert_eq!(status, 403);
    assert!(body["error"].as_str().unwrap().contains("--no-terminal"), "{body}");
    assert_eq!(server.get_json("/api/terminals").await.0, 403);
    assert_eq!(delete(&server, "/api/terminals/x").await.0, 403);
    let err = server.ws_with("/ws/terminals/x", &[("authorization", &format!("Bearer {TOKEN}"))]).await.unwrap_err();
    assert!(matches!(err, tokio_tungstenite::tungstenite::Error::Http(r) if r.status() == 403));
    server.stop().await;
}
