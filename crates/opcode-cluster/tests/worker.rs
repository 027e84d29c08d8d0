//! Workers and the replica's client on a real nats-server, with the fake claude: a run started through the
//! cluster streams its numbered events on the bus and releases its claim at the end; commands reach the
//! worker that owns the run; a session taken up on another worker continues its numbering; a second
//! start of a running session is refused wherever it lands. Starts go to a worker that has the project,
//! and a session's next run to the worker it last ran on.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use opcode_bus::{Bus, BusConfig};
use opcode_cluster::{ClusterClient, Forwarder, Worker, WorkerConfig};
use opcode_proc::TokioSupervisor;
use opcode_proto::cluster::{Prompted, Refusal, WorkerCommand, WorkerReply};
use opcode_proto::{ClaudeRequest, CompletionStatus, EventKind, SessionEvent};
use opcode_sessions::claude_store::ClaudeStore;
use opcode_sessions::{RegistryConfig, SessionRegistry};
use opcode_testkit::nats::NatsServer;

const LIMIT: Duration = Duration::from_secs(30);

fn config() -> BusConfig {
    BusConfig { lease_ttl: Duration::from_secs(2), ..BusConfig::default() }
}

/// A worker on its own data dir and Claude folder, as on a machine of its own.
struct Node {
    worker: Worker,
    _data: tempfile::TempDir,
    _claude: tempfile::TempDir,
}

async fn node(server: &NatsServer, id: &str) -> Node {
    node_with(server, id, Vec::new()).await
}

/// A worker that runs claude under `roots` only (`--project-root`; empty: anywhere).
async fn node_with(server: &NatsServer, id: &str, roots: Vec<std::path::PathBuf>) -> Node {
    let (data, claude) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let forwarder = Forwarder::new(opcode_cluster::forward::DEFAULT_WINDOW);
    let mut registry_config = RegistryConfig::new(opcode_testkit::fake_claude(), data.path().to_path_buf());
    registry_config.claude_store = ClaudeStore::new(claude.path());
    registry_config.child_env.push(("CLAUDE_CONFIG_DIR".into(), claude.path().into()));
    registry_config.sink = Some(forwarder.clone());
    registry_config.project_roots = roots;
    let registry = SessionRegistry::open(registry_config, Arc::new(TokioSupervisor::default())).await.unwrap();
    let bus = Bus::connect(&server.url(), config()).await.unwrap();
    let worker = Worker::start(bus, registry, forwarder, WorkerConfig { id: id.into() }).await.unwrap();
    Node { worker, _data: data, _claude: claude }
}

async fn client(server: &NatsServer) -> ClusterClient {
    ClusterClient::new(Bus::connect(&server.url(), config()).await.unwrap())
}

fn request(project: &std::path::Path, prompt: &str, session_id: Option<&str>, live: bool) -> ClaudeRequest {
    ClaudeRequest {
        command_type: "execute".into(),
        project_path: project.display().to_string(),
        prompt: prompt.into(),
        model: None,
        session_id: session_id.map(str::to_owned),
        include_partial_messages: false,
        live,
        permission_mode: None,
        images: Vec::new(),
        run_options: None,
    }
}

fn started(reply: WorkerReply) -> (String, u64, String) {
    match reply {
        WorkerReply::Started { session_id, first_seq, worker } => (session_id, first_seq, worker),
        other => panic!("the run did not start: {other:?}"),
    }
}

/// Reads the session's events from the bus (after `since`) until `stop` holds for one; returns them all.
async fn read_until(
    bus: &Bus,
    session: &str,
    since: Option<u64>,
    stop: impl Fn(&SessionEvent) -> bool,
) -> Vec<SessionEvent> {
    let mut events = Vec::new();
    let mut stream = std::pin::pin!(bus.read(session, since));
    let outcome = tokio::time::timeout(LIMIT, async {
        while let Some(event) = stream.next().await {
            let event = event.expect("no bus error");
            let decoded = SessionEvent::from_json(std::str::from_utf8(&event.line).unwrap()).unwrap();
            assert_eq!(decoded.seq, event.seq, "the line's seq is the bus's");
            let done = stop(&decoded);
            events.push(decoded);
            if done {
                return;
            }
        }
    })
    .await;
    assert!(outcome.is_ok(), "the event never came; events so far: {events:#?}");
    events
}

fn completion(e: &SessionEvent) -> bool {
    e.kind.is_completion()
}

fn turn_result(e: &SessionEvent) -> bool {
    use opcode_proto::event::OutputContent;
    matches!(&e.kind, EventKind::Output { content: OutputContent::Json(raw) } if raw.contains(r#""type":"result""#))
}

fn assert_contiguous(events: &[SessionEvent], from: u64, session: &str) {
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.seq, from + i as u64, "contiguous seqs");
        assert_eq!(e.session_id, session);
    }
}

/// Polls the cluster's running list until `session` is (or is not) in it.
async fn until_running(client: &ClusterClient, session: &str, running: bool) {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let list = client.running().await.unwrap();
        if list.iter().any(|(s, _)| s == session) == running {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "running list never got there: {list:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_run_started_through_the_cluster_streams_its_numbered_events_and_releases_its_claim() {
    let server = NatsServer::start().await;
    let a = node(&server, "w-a").await;
    let client = client(&server).await;
    let project = tempfile::tempdir().unwrap();

    let (session, first_seq, worker) =
        started(client.start(request(project.path(), "hi @lines=3", None, false)).await.unwrap());
    assert_eq!((first_seq, worker.as_str()), (0, "w-a"));
    let events = read_until(client.bus(), &session, None, completion).await;
    assert_contiguous(&events, 0, &session);
    assert!(matches!(events[0].kind, EventKind::Start { .. }), "{:?}", events[0]);
    assert!(matches!(events.last().unwrap().kind, EventKind::Completion { status: CompletionStatus::Success, .. }));
    assert!(events.iter().filter(|e| matches!(e.kind, EventKind::Output { .. })).count() >= 3);
    until_running(&client, &session, false).await;
    assert!(a.worker.owned().is_empty(), "the worker let go of the run");

    // bad input is refused with the user's message, and nothing starts
    let mut bad = request(project.path(), "x", None, false);
    bad.command_type = "format".into();
    match client.start(bad).await.unwrap() {
        WorkerReply::Refused { refusal: Refusal::BadRequest, message } => {
            assert!(message.contains("format"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    let missing = request(std::path::Path::new("/no/such/project"), "x", None, false);
    assert!(matches!(client.start(missing).await.unwrap(), WorkerReply::Refused { refusal: Refusal::BadRequest, .. }));
    assert!(client.running().await.unwrap().is_empty());
    a.worker.shutdown().await;
}

#[tokio::test]
async fn commands_reach_the_worker_that_owns_a_live_run_and_a_second_start_is_refused() {
    let server = NatsServer::start().await;
    let (a, b) = (node(&server, "w-a").await, node(&server, "w-b").await);
    let client = client(&server).await;
    let project = tempfile::tempdir().unwrap();

    let (session, _, owner) = started(client.start(request(project.path(), "first", None, true)).await.unwrap());
    read_until(client.bus(), &session, None, turn_result).await;
    until_running(&client, &session, true).await;

    // a second start of the same session, on whichever worker it lands, is refused
    for _ in 0..4 {
        match client.start(request(project.path(), "again", Some(&session), true)).await.unwrap() {
            WorkerReply::Refused { refusal: Refusal::Conflict, message } => {
                assert!(message.contains(&owner), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }

    // a prompt goes to the owner and starts a turn
    let prompt = WorkerCommand::Prompt {
        session_id: session.clone(),
        prompt: "second".into(),
        client_id: Some("c-1".into()),
        images: Vec::new(),
    };
    assert_eq!(client.command(prompt.clone()).await.unwrap(), WorkerReply::Prompted { prompted: Prompted::Sent });
    let since = read_until(client.bus(), &session, None, |e| matches!(&e.kind, EventKind::UserPrompt { .. })).await;
    let seen = since.last().unwrap().seq;
    read_until(client.bus(), &session, Some(seen), turn_result).await;
    assert_eq!(client.command(prompt).await.unwrap(), WorkerReply::Prompted { prompted: Prompted::Duplicate });

    // an empty prompt is the worker's clear refusal
    let empty =
        WorkerCommand::Prompt { session_id: session.clone(), prompt: " ".into(), client_id: None, images: Vec::new() };
    assert!(matches!(client.command(empty).await.unwrap(), WorkerReply::Refused { refusal: Refusal::BadRequest, .. }));

    // ending the live session ends the run; its claim goes
    assert_eq!(client.command(WorkerCommand::End { session_id: session.clone() }).await.unwrap(), WorkerReply::Done);
    let all = read_until(client.bus(), &session, None, completion).await;
    assert_contiguous(&all, 0, &session);
    until_running(&client, &session, false).await;

    // commands for a session with no run are refused
    let none = WorkerCommand::Interrupt { session_id: session.clone() };
    assert!(matches!(client.command(none).await.unwrap(), WorkerReply::Refused { refusal: Refusal::Conflict, .. }));
    a.worker.shutdown().await;
    b.worker.shutdown().await;
}

#[tokio::test]
async fn a_session_taken_up_on_another_worker_continues_its_numbering() {
    let server = NatsServer::start().await;
    let client = client(&server).await;
    let project = tempfile::tempdir().unwrap();

    let a = node(&server, "w-a").await;
    let (session, _, _) = started(client.start(request(project.path(), "one @lines=2", None, false)).await.unwrap());
    let first = read_until(client.bus(), &session, None, completion).await;
    until_running(&client, &session, false).await;
    a.worker.shutdown().await;

    let b = node(&server, "w-b").await;

    let n = first.len() as u64;
    let (again, first_seq, worker) =
        started(client.start(request(project.path(), "two @lines=2", Some(&session), false)).await.unwrap());
    assert_eq!((again.as_str(), first_seq, worker.as_str()), (session.as_str(), n, "w-b"));
    let second = read_until(client.bus(), &session, Some(n - 1), completion).await;
    assert_contiguous(&second, n, &session);
    let whole = read_until(client.bus(), &session, None, |e| e.seq == second.last().unwrap().seq).await;
    assert_contiguous(&whole, 0, &session);
    assert_eq!(whole.iter().filter(|e| e.kind.is_completion()).count(), 2, "two runs, two completions");
    b.worker.shutdown().await;
}

#[tokio::test]
async fn starts_go_to_a_worker_that_has_the_project_and_a_session_back_to_where_it_last_ran() {
    let server = NatsServer::start().await;
    let client = client(&server).await;
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let [one_path, two_path] = [&one, &two].map(|d| std::fs::canonicalize(d.path()).unwrap());
    let a = node_with(&server, "w-a", vec![one_path.clone()]).await;
    let b = node_with(&server, "w-b", vec![two_path.clone()]).await;

    // each project's runs go to the one worker that serves it, every time
    for round in 0..3 {
        for (project, owner) in [(&one_path, "w-a"), (&two_path, "w-b")] {
            let reply = client.start(request(project, &format!("round {round} @lines=1"), None, false)).await.unwrap();
            let (session, _, worker) = started(reply);
            assert_eq!(worker, owner, "a run in {} went to {worker}", project.display());
            read_until(client.bus(), &session, None, completion).await;
        }
    }
    let status = client.status().await.unwrap();
    let roots: Vec<(String, Vec<String>)> = status.workers.into_iter().map(|w| (w.id, w.project_roots)).collect();
    let shown = |p: &std::path::Path| vec![p.display().to_string()];
    assert_eq!(roots, [("w-a".to_owned(), shown(&one_path)), ("w-b".to_owned(), shown(&two_path))]);
    a.worker.shutdown().await;
    b.worker.shutdown().await;

    // two workers that serve anywhere: a session's every resume goes back to where it ran (its
    // transcript is there), not to whichever worker the queue picks
    let c = node(&server, "w-c").await;
    let d = node(&server, "w-d").await;
    let (session, _, first) = started(client.start(request(&one_path, "first @lines=1", None, false)).await.unwrap());
    read_until(client.bus(), &session, None, completion).await;
    until_running(&client, &session, false).await;
    for turn in 0..6 {
        let mut again = request(&one_path, &format!("turn {turn} @lines=1"), Some(&session), false);
        again.command_type = "resume".into();
        let (_, first_seq, worker) = started(client.start(again).await.unwrap());
        assert_eq!(worker, first, "resume {turn} went to {worker}, not to {first} where the session ran");
        read_until(client.bus(), &session, Some(first_seq), completion).await;
        until_running(&client, &session, false).await;
    }
    // its worker gone, it resumes on the other one
    let (gone, other) = if first == "w-c" { (c, d) } else { (d, c) };
    gone.worker.shutdown().await;
    let mut again = request(&one_path, "after @lines=1", Some(&session), false);
    again.command_type = "resume".into();
    let (_, _, worker) = started(client.start(again).await.unwrap());
    assert_ne!(worker, first);
    other.worker.shutdown().await;
}
