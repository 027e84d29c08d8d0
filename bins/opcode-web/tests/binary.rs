//! The real `opcode-web` binary: prints its URL with a generated token, and on SIGTERM cancels every run,
//! kills every process group and exits 0; after a `kill -9` a new server on the same data dir serves every
//! run, ends the one that was in progress, and takes it up again in one action.

mod common;

use std::time::Duration;

use common::binary::Binary;
use common::*;
use serde_json::Value;

fn run_request(project: &std::path::Path, command: &str, prompt: &str, id: &str, live: bool) -> String {
    serde_json::json!({"command_type":command,"project_path":project,"prompt":prompt,"session_id":id,"live":live})
        .to_string()
}

/// `replay` (every event from seq 0) holds each event seen live, unchanged at its seq.
fn assert_replays(replay: &[Value], seen: &[Value]) {
    assert!(!seen.is_empty());
    for event in seen.iter().filter(|e| e["seq"].is_u64()) {
        let seq = event["seq"].as_u64().unwrap() as usize;
        assert_eq!(replay.get(seq), Some(event), "event {seq} replays unchanged");
    }
}

fn echoes(text: &'static str) -> impl Fn(&Value) -> bool {
    move |e| e["content"].to_string().contains(text)
}

#[tokio::test]
async fn after_kill_9_a_new_server_serves_every_run_ends_the_interrupted_one_and_resumes_it() {
    let data = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    let a = Binary::start(data.path(), Some("restart-token-0123456789")).await;
    let (done_id, live_id) = (uuid::Uuid::new_v4().to_string(), uuid::Uuid::new_v4().to_string());
    let mut ws = a.ws("/ws/claude").await;
    send(&mut ws, run_request(project.path(), "execute", "finished @lines=40", &done_id, false)).await;
    let finished = until_completion(&mut ws).await;
    assert_eq!(finished.last().unwrap()["status"], "success");
    let mut live = a.ws("/ws/claude").await;
    send(&mut live, run_request(project.path(), "execute", "first turn", &live_id, true)).await;
    let before_crash = until(&mut live, echoes("Echo: first turn")).await;
    let claude_pids = opcode_testkit::pids_with_arg(&live_id);
    assert!(!claude_pids.is_empty());

    a.process.control().kill(); // kill -9: no shutdown, no last words
    assert_eq!(a.exited().await.signal, Some(9));
    // the live claude loses its input with the server, and ends
    assert_all_dead(&claude_pids).await;

    let b = Binary::start(data.path(), Some("restart-token-0123456789")).await;
    let mut ws = b.ws(&format!("/ws/sessions/{done_id}")).await;
    assert_replays(&until_completion(&mut ws).await, &finished);
    let mut ws = b.ws(&format!("/ws/sessions/{live_id}")).await;
    let replay = until_completion(&mut ws).await;
    assert_replays(&replay, &before_crash);
    let end = replay.last().unwrap();
    assert_eq!(end["status"], "error");
    assert!(end["error"].as_str().unwrap().contains("server restarted"), "{end}");
    assert_contiguous(&replay, &live_id, 0);

    let http = reqwest::Client::new();
    let running: Value = http
        .get(format!("{}/api/sessions/running", b.url))
        .bearer_auth(&b.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let summary = running["data"].as_array().unwrap().iter().find(|s| s["session_id"] == live_id.as_str()).unwrap();
    assert_eq!(summary["exited_unexpectedly"], true);
    assert_eq!(summary["resumable"], true);

    // one action takes it up again; the numbering continues
    let mut ws = b.ws("/ws/claude").await;
    send(&mut ws, run_request(project.path(), "resume", "", &live_id, true)).await;
    let start = next_json(&mut ws).await.unwrap();
    assert_eq!((start["type"].as_str(), start["seq"].as_u64()), (Some("start"), Some(replay.len() as u64)));
    send(&mut ws, serde_json::json!({"type":"prompt","session_id":live_id,"prompt":"second turn"}).to_string()).await;
    until(&mut ws, echoes("Echo: second turn")).await;

    b.process.cancel(Duration::from_secs(20));
    assert_eq!(b.exited().await.code, Some(0));
}

#[tokio::test]
async fn sigterm_stops_every_run_and_exits_zero() {
    let data = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    let server = Binary::start(data.path(), None).await;
    let (url, token) = (server.url.clone(), server.token.clone());
    assert_eq!(token.len(), 64, "a strong generated token");
    let http = reqwest::Client::new();
    let projects = http.get(format!("{url}/api/projects")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(projects.status(), 200);

    // a run that would never end, with a grandchild
    let pidfile = project.path().join("pids");
    let mut ws = server.ws("/ws/claude").await;
    let body = serde_json::json!({"command_type":"execute","project_path":project.path(),
        "prompt":format!("x @hang @grandchild @pidfile={}", pidfile.display())});
    send(&mut ws, body.to_string()).await;
    while next_json(&mut ws).await.expect("init")["content"]["subtype"] != "init" {}
    let pids = opcode_testkit::read_pids(&pidfile);
    assert_eq!(pids.len(), 2);

    server.process.cancel(Duration::from_secs(20)); // SIGTERM to the server
    let exit = server.exited().await;
    assert_eq!(exit.code, Some(0), "clean exit, not {exit}");
    assert_all_dead(&pids).await;
}

#[tokio::test]
async fn with_a_local_ca_the_binary_speaks_https_with_a_ca_made_once() {
    let data = tempfile::tempdir().unwrap();
    let server = Binary::start_with(data.path(), None, &["--tls-local-ca"]).await;
    assert!(server.url.starts_with("https://127.0.0.1:"), "{}", server.url);
    let ca_pem = std::fs::read(data.path().join("tls").join(opcode_tls::CA_CERT_FILE)).unwrap();
    let client = |pem: &[u8]| {
        reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(pem).unwrap())
            .build()
            .unwrap()
    };
    let health = client(&ca_pem).get(format!("{}/api/projects", server.url)).bearer_auth(&server.token).send().await;
    assert_eq!(health.unwrap().status(), 200);
    let localhost = server.url.replace("127.0.0.1", "localhost");
    assert_eq!(client(&ca_pem).get(format!("{localhost}/api/health")).send().await.unwrap().status(), 200);
    server.process.cancel(Duration::from_secs(20));
    assert_eq!(server.exited().await.code, Some(0));

    // the second start reuses the CA: what a phone trusted stays trusted
    let again = Binary::start_with(data.path(), None, &["--tls-local-ca"]).await;
    assert_eq!(std::fs::read(data.path().join("tls").join(opcode_tls::CA_CERT_FILE)).unwrap(), ca_pem);
    let health = client(&ca_pem).get(format!("{}/api/health", again.url)).send().await.unwrap();
    assert_eq!(health.status(), 200);
    again.process.cancel(Duration::from_secs(20));
    assert_eq!(again.exited().await.code, Some(0));
}
