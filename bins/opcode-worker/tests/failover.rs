//! The `opcode-worker` binary as a process, on a real nats-server, with the fake claude: killed with
//! `kill -9` mid-run, its claude dies with it and another worker ends the run with a `completion(error)`
//! saying the worker was lost; with no NATS at the URL it stops at once with a clear error; when NATS dies
//! for good mid-run it cancels its claude (the whole process group) and exits non-zero saying it lost its
//! lease.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use opcode_bus::{Bus, BusConfig};
use opcode_cluster::{ClusterClient, Forwarder, Worker, WorkerConfig};
use opcode_proc::{OutputStream, ProcessEvent, ProcessHandle, ProcessSpec, ProcessSupervisor, TokioSupervisor};
use opcode_proto::cluster::WorkerReply;
use opcode_proto::{ClaudeRequest, CompletionStatus, EventKind, SessionEvent};
use opcode_sessions::claude_store::ClaudeStore;
use opcode_sessions::{RegistryConfig, SessionRegistry};
use opcode_testkit::nats::NatsServer;

const LIMIT: Duration = Duration::from_secs(30);

fn bus_config() -> BusConfig {
    BusConfig { lease_ttl: Duration::from_secs(2), ..BusConfig::default() }
}

fn worker_spec(nats_url: &str, id: &str, data: &Path, claude: &Path) -> ProcessSpec {
    ProcessSpec::new(env!("CARGO_BIN_EXE_opcode-worker"))
        .args(["--nats-url", nats_url, "--worker-id", id, "--lease-ttl", "2"])
        .arg("--data-dir")
        .arg(data)
        .arg("--claude-bin")
        .arg(opcode_testkit::fake_claude())
        .env("CLAUDE_CONFIG_DIR", claude)
        .env("RUST_LOG", "warn")
}

/// Reads the process's output until a stdout line contains `needle` (returns) or it exits (panics).
async fn until_line(process: &mut ProcessHandle, needle: &str) {
    let mut seen = Vec::new();
    let found = tokio::time::timeout(LIMIT, async {
        while let Some(event) = process.next_event().await {
            match event {
                ProcessEvent::Line { stream: OutputStream::Stdout, text } if text.contains(needle) => return true,
                ProcessEvent::Line { text, .. } => seen.push(text),
                ProcessEvent::Exited(status) => {
                    seen.push(format!("exited: {status}"));
                    return false;
                }
                _ => {}
            }
        }
        false
    })
    .await;
    assert!(matches!(found, Ok(true)), "no line with {needle:?}; the worker wrote: {seen:#?}");
}

/// A one-shot run request of `prompt` in `project`.
fn one_shot(project: &Path, prompt: String) -> ClaudeRequest {
    let request = serde_json::json!({"command_type": "execute", "project_path": project, "prompt": prompt});
    serde_json::from_value(request).unwrap()
}

/// Waits (within [`LIMIT`]) for the process to exit; its exit status and every line it wrote.
async fn exit_and_output(process: &mut ProcessHandle) -> (opcode_proc::ExitStatus, String) {
    let mut said = Vec::new();
    let status = tokio::time::timeout(LIMIT, async {
        while let Some(event) = process.next_event().await {
            match event {
                ProcessEvent::Line { text, .. } => said.push(text),
                ProcessEvent::Exited(status) => return status,
                _ => {}
            }
        }
        panic!("no exit");
    })
    .await;
    let said = said.join("\n");
    (status.unwrap_or_else(|_| panic!("no exit within {LIMIT:?}; it wrote: {said}")), said)
}

#[tokio::test]
async fn a_worker_killed_mid_run_takes_its_claude_with_it_and_another_worker_ends_the_run() {
    let server = NatsServer::start().await;
    let supervisor = TokioSupervisor::default();
    let (data, claude, project) =
        (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut doomed =
        supervisor.spawn(worker_spec(&server.url(), "w-doomed", data.path(), claude.path())).await.unwrap();
    until_line(&mut doomed, "serving").await;

    let client = ClusterClient::new(Bus::connect(&server.url(), bus_config()).await.unwrap());
    let pidfile = project.path().join("claude.pid");
    let request = one_shot(project.path(), format!("wait @pidfile={} @hang", pidfile.display()));
    let session = match client.start(request).await.unwrap() {
        WorkerReply::Started { session_id, worker, .. } => {
            assert_eq!(worker, "w-doomed");
            session_id
        }
        other => panic!("{other:?}"),
    };
    let claude_pids = opcode_testkit::wait_for_pids(&pidfile).await;

    // a second worker, in this process, is there to notice
    let (data_b, claude_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let forwarder = Forwarder::new(opcode_cluster::forward::DEFAULT_WINDOW);
    let mut config = RegistryConfig::new(opcode_testkit::fake_claude(), data_b.path().to_path_buf());
    config.claude_store = ClaudeStore::new(claude_b.path());
    config.sink = Some(forwarder.clone());
    let registry = SessionRegistry::open(config, Arc::new(TokioSupervisor::default())).await.unwrap();
    let survivor = Worker::start(
        Bus::connect(&server.url(), bus_config()).await.unwrap(),
        registry,
        forwarder,
        WorkerConfig { id: "w-survivor".into() },
    )
    .await
    .unwrap();

    // kill -9 the worker (its own process group; claude has a group of its own)
    assert!(doomed.control().kill());
    let exited = tokio::time::timeout(LIMIT, async {
        while let Some(event) = doomed.next_event().await {
            if let ProcessEvent::Exited(status) = event {
                return status;
            }
        }
        panic!("no exit");
    })
    .await
    .unwrap();
    assert_eq!(exited.signal, Some(9), "{exited}");
    opcode_testkit::assert_all_dead(&claude_pids).await;

    // the run ends on the bus, said as it is
    let mut events = Vec::new();
    let mut stream = std::pin::pin!(client.bus().read(&session, None));
    let ended = tokio::time::timeout(LIMIT, async {
        while let Some(event) = stream.next().await {
            let event = SessionEvent::from_json(std::str::from_utf8(&event.unwrap().line).unwrap()).unwrap();
            let done = event.kind.is_completion();
            events.push(event);
            if done {
                return;
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "no completion; events: {events:#?}");
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.seq, i as u64, "no gap, no repeat");
    }
    match &events.last().unwrap().kind {
        EventKind::Completion { status: CompletionStatus::Error, error: Some(error), .. } => {
            assert!(error.contains("w-doomed") && error.contains("lost"), "{error}")
        }
        other => panic!("{other:?}"),
    }
    let deadline = tokio::time::Instant::now() + LIMIT;
    while client.running().await.unwrap().iter().any(|(s, _)| *s == session) {
        assert!(tokio::time::Instant::now() < deadline, "the run stayed in the running list");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    survivor.shutdown().await;
}

#[tokio::test]
async fn with_no_nats_at_the_url_the_worker_stops_at_once_saying_so() {
    let (data, claude) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // a port nothing listens on: bound, then closed
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("nats://127.0.0.1:{port}");
    let mut worker =
        TokioSupervisor::default().spawn(worker_spec(&url, "w-lonely", data.path(), claude.path())).await.unwrap();
    let (status, said) = exit_and_output(&mut worker).await;
    assert!(!status.success(), "{status}");
    assert!(said.contains("cannot reach NATS at") && said.contains(&url), "{said}");
}

#[tokio::test]
async fn with_nats_gone_for_good_the_worker_cancels_its_claude_and_exits_saying_so() {
    let mut server = NatsServer::start().await;
    let (data, claude, project) =
        (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut worker = TokioSupervisor::default()
        .spawn(worker_spec(&server.url(), "w-cut-off", data.path(), claude.path()))
        .await
        .unwrap();
    until_line(&mut worker, "serving").await;
    let client = ClusterClient::new(Bus::connect(&server.url(), bus_config()).await.unwrap());
    let pidfile = project.path().join("claude.pid");
    let request = one_shot(project.path(), format!("wait @pidfile={} @grandchild @hang", pidfile.display()));
    let reply = client.start(request).await.unwrap();
    assert!(matches!(reply, WorkerReply::Started { .. }), "{reply:?}");
    let claude_pids = opcode_testkit::wait_for_pids(&pidfile).await;

    // NATS dies and stays dead: past its lease the worker cancels the run and exits, saying why
    server.stop().await;
    let (status, said) = exit_and_output(&mut worker).await;
    assert!(!status.success(), "{status}");
    assert!(said.contains("w-cut-off lost its lease") && said.contains("runs were cancelled"), "{said}");
    // claude and its grandchild died with the run, not later
    opcode_testkit::assert_all_dead(&claude_pids).await;
}
