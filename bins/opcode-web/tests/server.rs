//! The server end to end: real sockets, real WebSocket clients, real child processes (the fake claude).

mod common;

use common::*;
use serde_json::Value;

#[tokio::test]
async fn execute_streams_the_run_with_the_clients_id_on_every_event() {
    let server = TestServer::start().await;
    let mut ws = server.ws("/ws/claude").await;
    let id = uuid::Uuid::new_v4().to_string();
    send(&mut ws, server.request("execute", "hello there @stderr=1", Some(&id))).await;
    let events = until_completion(&mut ws).await;
    assert_contiguous(&events, &id, 0);
    let kinds: Vec<_> = events.iter().map(|e| e["type"].as_str().unwrap().to_owned()).collect();
    assert_eq!(kinds.first().map(String::as_str), Some("start"));
    assert_eq!(kinds.last().map(String::as_str), Some("completion"));
    assert_eq!(events.last().unwrap()["status"], "success");
    // stdout lines arrive parsed; claude's own id is the client's
    let init = events.iter().find(|e| e["type"] == "output" && e["content"]["subtype"] == "init").unwrap();
    assert_eq!(init["content"]["session_id"], id.as_str());
    assert!(events.iter().any(
        |e| e["type"] == "output" && e["content"]["message"]["content"][0]["text"] == "Echo: hello there (turn 1)"
    ));
    // stderr reaches the client as an error event of that session
    assert!(events.iter().any(|e| e["type"] == "error" && e["message"] == "fake stderr 0"));
    server.stop().await;
}

#[tokio::test]
async fn twenty_concurrent_sessions_never_see_each_others_events() {
    let server = TestServer::start_with(|c| c.max_running = 32).await;
    let mut clients = Vec::new();
    for i in 0..20 {
        let mut ws = server.ws("/ws/claude").await;
        let id = uuid::Uuid::new_v4().to_string();
        send(&mut ws, server.request("execute", &format!("tag{i}x @lines=25 @delay=2"), Some(&id))).await;
        clients.push((i, id, ws));
    }
    let mut tasks = Vec::new();
    for (i, id, mut ws) in clients {
        tasks.push(tokio::spawn(async move {
            let events = until_completion(&mut ws).await;
            assert_contiguous(&events, &id, 0);
            assert_eq!(events.iter().filter(|e| e["type"] == "output").count(), 27, "init + 25 lines + result");
            let text = Value::Array(events.clone()).to_string();
            assert!(text.contains(&format!("tag{i}x")));
            for other in (0..20).filter(|o| *o != i) {
                assert!(!text.contains(&format!("tag{other}x")), "session {i} saw session {other}'s events");
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    server.stop().await;
}

#[tokio::test]
async fn two_runs_on_one_socket_stay_apart() {
    let server = TestServer::start().await;
    let mut ws = server.ws("/ws/claude").await;
    let (a, b) = (uuid::Uuid::new_v4().to_string(), uuid::Uuid::new_v4().to_string());
    send(&mut ws, server.request("execute", "alpha @lines=20 @delay=3", Some(&a))).await;
    send(&mut ws, server.request("execute", "beta @lines=20 @delay=3", Some(&b))).await;
    let mut by_session: std::collections::HashMap<String, Vec<Value>> = Default::default();
    let mut completions = 0;
    while completions < 2 {
        let event = next_json(&mut ws).await.expect("events of both runs");
        completions += usize::from(event["type"] == "completion");
        by_session.entry(event["session_id"].as_str().unwrap().to_owned()).or_default().push(event);
    }
    assert_contiguous(&by_session[&a], &a, 0);
    assert_contiguous(&by_session[&b], &b, 0);
    server.stop().await;
}

#[tokio::test]
async fn cancel_kills_the_process_group_and_says_so() {
    let server = TestServer::start().await;
    let pidfile = server.project.path().join("pids");
    let mut ws = server.ws("/ws/claude").await;
    let id = uuid::Uuid::new_v4().to_string();
    send(&mut ws, server.request("execute", &format!("x @hang @grandchild @pidfile={}", pidfile.display()), Some(&id)))
        .await;
    // wait for claude's init line: it runs, its pids are written
    while next_json(&mut ws).await.expect("init")["content"]["subtype"] != "init" {}
    let pids = opcode_testkit::read_pids(&pidfile);
    assert_eq!(pids.len(), 2, "fake claude and its grandchild");

    let response =
        server.http().post(server.url(&format!("/api/sessions/{id}/cancel"))).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let events = until_completion(&mut ws).await;
    let n = events.len();
    assert_eq!(events[n - 2]["type"], "cancelled");
    assert_eq!(events[n - 1]["status"], "cancelled");
    assert_all_dead(&pids).await;

    // cancelling again: the run is over; an unknown id: 404
    let again =
        server.http().get(server.url(&format!("/api/sessions/{id}/cancel"))).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(again.status(), 409);
    let unknown = server
        .http()
        .post(server.url("/api/sessions/00000000-0000-4000-8000-000000000000/cancel"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    server.stop().await;
}

#[tokio::test]
async fn a_dropped_socket_does_not_stop_the_run_and_attach_resumes_without_gap_or_duplicate() {
    let server = TestServer::start_with(|c| c.log.tail_events = 16).await;
    let mut ws = server.ws("/ws/claude").await;
    let id = uuid::Uuid::new_v4().to_string();
    send(&mut ws, server.request("execute", "x @lines=80 @delay=10", Some(&id))).await;
    let mut seen = Vec::new();
    while seen.len() < 10 {
        seen.push(next_json(&mut ws).await.unwrap());
    }
    drop(ws); // the phone went to sleep
    let last = seen.last().unwrap()["seq"].as_u64().unwrap();
    let mut attach = server.ws(&format!("/ws/sessions/{id}?since={last}")).await;
    let (rest, code) = until_close(&mut attach).await;
    assert_eq!(code, Some(1000), "closed normally after completion");
    assert_contiguous(&rest, &id, last + 1);
    assert_eq!(rest.last().unwrap()["status"], "success", "the run went on without its socket");
    let all: Vec<Value> = seen.into_iter().chain(rest).collect();
    assert_contiguous(&all, &id, 0);
    assert_eq!(all.iter().filter(|e| e["type"] == "output").count(), 82);

    // several viewers of a finished run all get the whole log
    for _ in 0..3 {
        let mut viewer = server.ws(&format!("/ws/sessions/{id}")).await;
        let (events, _) = until_close(&mut viewer).await;
        assert_eq!(events, all);
    }
    let (status, output) = server.get_json(&format!("/api/sessions/{id}/output")).await;
    assert_eq!(status, 200);
    assert_eq!(output["data"].as_array().unwrap(), &all);
    server.stop().await;
}

#[tokio::test]
async fn bad_requests_spawn_nothing_and_the_socket_stays_usable() {
    let server = TestServer::start().await;
    let mut ws = server.ws("/ws/claude").await;
    let bad = [
        "not json".to_owned(),
        r#"{"command_type":"explode","project_path":"/tmp","prompt":"x"}"#.to_owned(),
        server.request("execute", "   ", None),
        server.request("resume", "x", None),
        server.request("execute", "x", Some("../../etc/passwd")),
        r#"{"command_type":"execute","project_path":"/nonexistent/dir","prompt":"x"}"#.to_owned(),
    ];
    for request in bad {
        send(&mut ws, request.clone()).await;
        let reply = next_json(&mut ws).await.expect("an error reply");
        assert_eq!(reply["type"], "error", "{request}");
        assert!(reply.get("seq").is_none(), "a refusal is not a session event");
        assert!(!reply["message"].as_str().unwrap().is_empty());
    }
    assert!(server.state.registry.list().await.is_empty(), "nothing was started");
    send(&mut ws, server.request("execute", "after the errors", None)).await;
    let events = until_completion(&mut ws).await;
    assert_eq!(events.last().unwrap()["status"], "success");
    server.stop().await;
}

#[tokio::test]
async fn a_second_run_on_a_live_session_is_refused() {
    let server = TestServer::start().await;
    let mut ws = server.ws("/ws/claude").await;
    let id = uuid::Uuid::new_v4().to_string();
    send(&mut ws, server.request("execute", "x @hang", Some(&id))).await;
    assert_eq!(next_json(&mut ws).await.unwrap()["type"], "start");
    send(&mut ws, server.request("resume", "again", Some(&id))).await;
    loop {
        let reply = next_json(&mut ws).await.unwrap();
        if reply.get("seq").is_none() {
            assert!(reply["message"].as_str().unwrap().contains("already has a run"), "{reply}");
            break;
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn the_cap_on_concurrent_runs_is_enforced() {
    let server = TestServer::start_with(|c| c.max_running = 1).await;
    let mut ws = server.ws("/ws/claude").await;
    send(&mut ws, server.request("execute", "x @hang", None)).await;
    assert_eq!(next_json(&mut ws).await.unwrap()["type"], "start");
    send(&mut ws, server.request("execute", "y", None)).await;
    loop {
        let reply = next_json(&mut ws).await.unwrap();
        if reply.get("seq").is_none() {
            assert!(reply["message"].as_str().unwrap().contains("--max-sessions"), "{reply}");
            break;
        }
    }
    let (_, running) = server.get_json("/api/sessions/running").await;
    assert_eq!(running["data"].as_array().unwrap().len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn attaching_to_an_unknown_session_closes_with_4404() {
    let server = TestServer::start().await;
    let mut ws = server.ws("/ws/sessions/00000000-0000-4000-8000-000000000000").await;
    let (events, code) = until_close(&mut ws).await;
    assert!(events.is_empty());
    assert_eq!(code, Some(4404));
    server.stop().await;
}

#[tokio::test]
async fn shutdown_cancels_runs_closes_sockets_and_leaves_no_process() {
    let server = TestServer::start().await;
    let pidfile = server.project.path().join("pids");
    let mut ws = server.ws("/ws/claude").await;
    send(&mut ws, server.request("execute", &format!("x @hang @grandchild @pidfile={}", pidfile.display()), None))
        .await;
    while next_json(&mut ws).await.expect("init")["content"]["subtype"] != "init" {}
    let pids = opcode_testkit::read_pids(&pidfile);
    let stop = tokio::spawn(server.stop());
    let (events, code) = until_close(&mut ws).await;
    assert_eq!(events.last().unwrap()["status"], "cancelled", "viewers learn the run was cancelled");
    assert_eq!(code, Some(1001));
    stop.await.unwrap();
    assert_all_dead(&pids).await;
}

#[tokio::test]
async fn history_endpoints_read_claudes_transcripts() {
    let server = TestServer::start().await;
    let mut ws = server.ws("/ws/claude").await;
    let id = uuid::Uuid::new_v4().to_string();
    send(&mut ws, server.request("execute", "remember this", Some(&id))).await;
    until_completion(&mut ws).await;

    let (status, projects) = server.get_json("/api/projects").await;
    assert_eq!(status, 200);
    assert_eq!(projects["success"], true);
    let project = &projects["data"][0];
    let canonical = std::fs::canonicalize(server.project.path()).unwrap();
    assert_eq!(project["path"], canonical.display().to_string());
    assert_eq!(project["sessions"][0], id.as_str());
    let project_id = project["id"].as_str().unwrap();

    let (_, sessions) = server.get_json(&format!("/api/projects/{project_id}/sessions")).await;
    assert_eq!(sessions["data"][0]["id"], id.as_str());
    assert_eq!(sessions["data"][0]["first_message"], "remember this");

    let (_, history) = server.get_json(&format!("/api/sessions/{id}/history/{project_id}?limit=1")).await;
    let page = &history["data"];
    assert_eq!(page["messages"].as_array().unwrap().len(), 1);
    assert_eq!(page["messages"][0]["type"], "assistant");
    let before = page["next_before"].as_u64().unwrap();
    let (_, older) =
        server.get_json(&format!("/api/sessions/{id}/history/{project_id}?limit=10&before={before}")).await;
    assert_eq!(older["data"]["messages"][0]["type"], "user");
    assert_eq!(older["data"]["next_before"], Value::Null);

    let (status, bad) = server.get_json(&format!("/api/sessions/{id}/history/..")).await;
    assert!(status == 400 || status == 404, "{status} {bad}");
    let (status, _) = server.get_json(&format!("/api/sessions/not-a-uuid/history/{project_id}")).await;
    assert_eq!(status, 400);
    server.stop().await;
}

#[tokio::test]
async fn a_silent_peer_is_dropped_while_a_live_one_stays() {
    let server = TestServer::start_full(|_| {}, std::time::Duration::from_millis(100)).await;
    let request = opcode_proto::ClaudeRequest {
        command_type: "execute".into(),
        project_path: server.project_path(),
        prompt: "x @hang".into(),
        model: None,
        session_id: None,
        include_partial_messages: false,
        live: false,
        permission_mode: None,
        images: Vec::new(),
        run_options: None,
    };
    let run = server.state.registry.start_run(request.validate().unwrap()).await.unwrap();
    // a phone that went away without closing: a raw socket after the upgrade, which never answers a ping
    let mut silent = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let upgrade = format!(
        "GET /ws/sessions/{} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Bearer {TOKEN}\r\n\r\n",
        run.session_id, server.addr
    );
    tokio::io::AsyncWriteExt::write_all(&mut silent, upgrade.as_bytes()).await.unwrap();
    // a phone that is there: reading answers the server's pings
    let mut present = server.ws(&format!("/ws/sessions/{}", run.session_id)).await;
    let reader = tokio::spawn(async move { until_close(&mut present).await });
    // the silent socket is dropped after three silent intervals: the server closes the connection, which
    // the raw socket sees as the end of the stream (the pings and events before it are read and ignored)
    let mut sink = Vec::new();
    let read = tokio::io::AsyncReadExt::read_to_end(&mut silent, &mut sink);
    tokio::time::timeout(LIMIT, read).await.expect("the silent peer is dropped in time").unwrap();
    assert!(String::from_utf8_lossy(&sink).starts_with("HTTP/1.1 101"), "it was upgraded");
    // the present one was kept through the same time and still gets the run's end
    server.state.registry.cancel(&run.session_id).unwrap();
    let (events, code) = reader.await.unwrap();
    assert_eq!(events.last().unwrap()["status"], "cancelled");
    assert_eq!(code, Some(1000));
    server.stop().await;
}
