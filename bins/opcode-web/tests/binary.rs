//! The real `opcode-web` binary: prints its URL with a generated token, and on SIGTERM cancels every run,
//! kills every process group and exits 0.

mod common;

use std::time::Duration;

use common::*;
use opcode_proc::{ProcessEvent, ProcessSpec, ProcessSupervisor, TokioSupervisor};

#[tokio::test]
async fn sigterm_stops_every_run_and_exits_zero() {
    let data = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    let spec = ProcessSpec::new(env!("CARGO_BIN_EXE_opcode-web"))
        .args(["--port", "0", "--data-dir"])
        .arg(data.path())
        .arg("--claude-bin")
        .arg(opcode_testkit::fake_claude())
        .env("HOME", data.path())
        .env_remove("OPCODE_TOKEN");
    let mut server = TokioSupervisor::default().spawn(spec).await.unwrap();
    let mut url = None;
    let mut open = None;
    while open.is_none() {
        match tokio::time::timeout(LIMIT, server.next_event()).await.expect("start-up in time") {
            Some(ProcessEvent::Line { text, .. }) => {
                if let Some(rest) = text.split("listening on ").nth(1) {
                    url = Some(rest.trim().to_owned());
                }
                if let Some(rest) = text.strip_prefix("open: ") {
                    open = Some(rest.trim().to_owned());
                }
                assert!(
                    !text.contains("token=") || text.starts_with("open: ") || text.starts_with("from a phone"),
                    "token in a log line: {text}"
                );
            }
            Some(ProcessEvent::Exited(status)) => panic!("server exited at start-up: {status}"),
            Some(_) => {}
            None => panic!("server output ended"),
        }
    }
    let (url, open) = (url.unwrap(), open.unwrap());
    let token = open.split("?token=").nth(1).unwrap().to_owned();
    assert_eq!(token.len(), 64, "a strong generated token");
    let http = reqwest::Client::new();
    let projects = http.get(format!("{url}/api/projects")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(projects.status(), 200);

    // a run that would never end, with a grandchild
    let pidfile = project.path().join("pids");
    let ws_url = format!("{}/ws/claude", url.replace("http://", "ws://"));
    let mut request = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(ws_url).unwrap();
    request.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let body = serde_json::json!({"command_type":"execute","project_path":project.path(),
        "prompt":format!("x @hang @grandchild @pidfile={}", pidfile.display())});
    send(&mut ws, body.to_string()).await;
    while next_json(&mut ws).await.expect("init")["content"]["subtype"] != "init" {}
    let pids = opcode_testkit::read_pids(&pidfile);
    assert_eq!(pids.len(), 2);

    server.cancel(Duration::from_secs(20)); // SIGTERM to the server
    let mut exit = None;
    while let Some(event) = tokio::time::timeout(LIMIT, server.next_event()).await.expect("exit in time") {
        if let ProcessEvent::Exited(status) = event {
            exit = Some(status);
        }
    }
    let exit = exit.unwrap();
    assert_eq!(exit.code, Some(0), "clean exit, not {exit}");
    assert_all_dead(&pids).await;
}
