//! The registry against real processes (the fake claude): numbering, fan-out, replay, limits, lifecycle.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use opcode_proto::{EventKind, SessionEvent};
use opcode_sessions::{RegistryConfig, SessionRegistry, StartError};

#[tokio::test]
async fn execute_uses_the_clients_id_and_numbers_every_event() {
    let f = fixture(|_| {}).await;
    let id = uuid::Uuid::new_v4().to_string();
    let run = f.registry.start_run(f.request("execute", "hi @stderr=1", Some(id.clone()))).await.unwrap();
    assert_eq!(run.session_id, id);
    assert_eq!(run.first_seq, 0);
    let events = drain(f.registry.subscribe(&id, 0).await.unwrap()).await;
    assert_well_formed(&events, &id, 0);
    assert!(matches!(events[0].kind, EventKind::Start { .. }));
    let outputs: Vec<_> = events.iter().filter(|e| matches!(e.kind, EventKind::Output { .. })).collect();
    assert_eq!(outputs.len(), 3, "init, assistant, result");
    assert!(events.iter().any(|e| e.kind == EventKind::Error { message: "fake stderr 0".into() }));
    // claude's own session id is ours
    let init = SessionEvent::to_json(outputs[0]);
    assert!(init.contains(&format!("\"session_id\":\"{id}\"")));
}

#[tokio::test]
async fn a_late_viewer_gets_the_rest_with_no_gap_and_no_duplicate() {
    let f = fixture(|c| c.log.tail_events = 8).await; // force part of the replay to come from disk
    let run = f.registry.start_run(f.request("execute", "x @lines=60 @delay=5", None)).await.unwrap();
    let mut early = f.registry.subscribe(&run.session_id, 0).await.unwrap();
    let mut first_part = Vec::new();
    while first_part.len() < 20 {
        first_part.extend(early.next_batch().await.unwrap().unwrap());
    }
    let resume_from = early.next_seq();
    drop(early); // the connection drops
    let rest = drain(f.registry.subscribe(&run.session_id, resume_from).await.unwrap()).await;
    assert_eq!(rest[0].seq, resume_from);
    assert_well_formed(&rest, &run.session_id, resume_from);
    let everything = drain(f.registry.subscribe(&run.session_id, 0).await.unwrap()).await;
    assert_eq!(everything.len() as u64, resume_from + rest.len() as u64);
    assert_well_formed(&everything, &run.session_id, 0);
}

#[tokio::test]
async fn many_viewers_see_the_same_events() {
    let f = fixture(|_| {}).await;
    let run = f.registry.start_run(f.request("execute", "x @lines=200", None)).await.unwrap();
    let mut viewers = Vec::new();
    for _ in 0..10 {
        viewers.push(tokio::spawn(drain(f.registry.subscribe(&run.session_id, 0).await.unwrap())));
    }
    let mut results = Vec::new();
    for v in viewers {
        results.push(v.await.unwrap());
    }
    for r in &results {
        assert_eq!(r, &results[0]);
        assert_well_formed(r, &run.session_id, 0);
    }
}

#[tokio::test]
async fn cancel_ends_with_cancelled_then_completion_and_kills_the_group() {
    let f = fixture(|c| c.cancel_grace = Duration::from_secs(5)).await;
    let pidfile = f.project.path().join("pids");
    let run = f
        .registry
        .start_run(f.request("execute", &format!("x @hang @grandchild @pidfile={}", pidfile.display()), None))
        .await
        .unwrap();
    let mut sub = f.registry.subscribe(&run.session_id, 0).await.unwrap();
    // wait until claude printed its init line: it is running, its pids are written
    let mut seen = 0;
    while seen < 2 {
        seen += sub.next_batch().await.unwrap().unwrap().len();
    }
    let pids = opcode_testkit::read_pids(&pidfile);
    assert_eq!(pids.len(), 2);
    f.registry.cancel(&run.session_id).unwrap();
    let events = drain(f.registry.subscribe(&run.session_id, 0).await.unwrap()).await;
    let n = events.len();
    assert_eq!(events[n - 2].kind, EventKind::Cancelled);
    assert!(matches!(
        events[n - 1].kind,
        EventKind::Completion { status: opcode_proto::CompletionStatus::Cancelled, .. }
    ));
    opcode_testkit::assert_all_dead(&pids).await;
    assert!(matches!(f.registry.cancel(&run.session_id), Err(opcode_sessions::CancelError::NotRunning(_))));
    assert!(matches!(f.registry.cancel("nope"), Err(opcode_sessions::CancelError::NotFound(_))));
}

#[tokio::test]
async fn a_spawn_failure_ends_with_error_and_completion_error() {
    let f = fixture(|c| c.claude_bin = "/nonexistent/claude".into()).await;
    let run = f.registry.start_run(f.request("execute", "x", None)).await.unwrap();
    let events = drain(f.registry.subscribe(&run.session_id, 0).await.unwrap()).await;
    let kinds: Vec<_> = events.iter().map(|e| e.kind.type_name()).collect();
    assert_eq!(kinds, ["start", "error", "completion"]);
    assert!(matches!(&events[1].kind, EventKind::Error { message } if message.contains("/nonexistent/claude")));
    assert_eq!(f.registry.running(), 0);
}

#[tokio::test]
async fn refused_requests_spawn_nothing() {
    let f = fixture(|c| c.max_running = 1).await;
    let nothing = f.registry.start_run(f.request("continue", "x", None)).await;
    assert!(matches!(nothing, Err(StartError::NothingToContinue(_))), "{nothing:?}");
    let id = uuid::Uuid::new_v4().to_string();
    f.registry.start_run(f.request("execute", "x @hang", Some(id.clone()))).await.unwrap();
    assert_eq!(f.supervisor.spawned.load(Ordering::SeqCst), 1);

    let again = f.registry.start_run(f.request("execute", "x", Some(id.clone()))).await;
    assert!(matches!(again, Err(StartError::AlreadyRunning(_))), "{again:?}");
    let over = f.registry.start_run(f.request("execute", "x", None)).await;
    assert!(matches!(over, Err(StartError::TooManyRuns { limit: 1 })), "{over:?}");
    let mut missing = f.request("execute", "x", None);
    missing.project_path = "/nonexistent/project".into();
    assert!(matches!(f.registry.start_run(missing).await, Err(StartError::ProjectNotFound(_))));
    assert_eq!(f.supervisor.spawned.load(Ordering::SeqCst), 1, "no process for a refused request");
    f.registry.shutdown().await;
}

#[tokio::test]
async fn project_roots_confine_project_paths() {
    let f = fixture(|c| c.project_roots = vec!["/nonexistent-root".into()]).await;
    let refused = f.registry.start_run(f.request("execute", "x", None)).await;
    assert!(matches!(refused, Err(StartError::OutsideProjectRoots { .. })), "{refused:?}");
    assert_eq!(f.supervisor.spawned.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn resume_and_continue_keep_the_id_and_the_numbering() {
    let f = fixture(|_| {}).await;
    let first = f.registry.start_run(f.request("execute", "one", None)).await.unwrap();
    let events = drain(f.registry.subscribe(&first.session_id, 0).await.unwrap()).await;
    let next = events.len() as u64;

    let resumed = f.registry.start_run(f.request("resume", "two", Some(first.session_id.clone()))).await.unwrap();
    assert_eq!(resumed.session_id, first.session_id);
    assert_eq!(resumed.first_seq, next, "numbering continues across runs");
    let second = drain(f.registry.subscribe(&first.session_id, next).await.unwrap()).await;
    assert_well_formed(&second, &first.session_id, next);
    assert!(second.iter().any(|e| e.to_json().contains("Echo: two (turn 2)")), "claude saw the first turn");

    let continued = f.registry.start_run(f.request("continue", "three", None)).await.unwrap();
    assert_eq!(continued.session_id, first.session_id, "continue resolves the latest session up front");
    let third = drain(f.registry.subscribe(&first.session_id, continued.first_seq).await.unwrap()).await;
    assert!(third.iter().any(|e| e.to_json().contains("Echo: three (turn 3)")));
}

#[tokio::test]
async fn shutdown_cancels_every_run_and_waits_for_them() {
    let f = fixture(|c| c.cancel_grace = Duration::from_millis(200)).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(f.registry.start_run(f.request("execute", "x @ignore-term", None)).await.unwrap().session_id);
    }
    tokio::time::timeout(Duration::from_secs(20), f.registry.shutdown()).await.expect("shutdown in time");
    assert_eq!(f.registry.running(), 0);
    for id in ids {
        let events = drain(f.registry.subscribe(&id, 0).await.unwrap()).await;
        assert!(matches!(
            events.last().unwrap().kind,
            EventKind::Completion { status: opcode_proto::CompletionStatus::Cancelled, .. }
        ));
    }
    assert!(matches!(f.registry.start_run(f.request("execute", "x", None)).await, Err(StartError::ShuttingDown)));
}

#[tokio::test]
async fn finished_sessions_are_evicted_after_the_ttl() {
    let f = fixture(|c| c.finished_ttl = Duration::from_millis(100)).await;
    let mut evictions = f.registry.evictions();
    let run = f.registry.start_run(f.request("execute", "x", None)).await.unwrap();
    drain(f.registry.subscribe(&run.session_id, 0).await.unwrap()).await;
    let log = f.registry.logs_dir().join(format!("{}.jsonl", run.session_id));
    assert!(log.exists());
    tokio::time::timeout(Duration::from_secs(10), evictions.wait_for(|n| *n >= 1)).await.expect("evicted").unwrap();
    assert!(f.registry.subscribe(&run.session_id, 0).await.is_none());
    assert!(!log.exists(), "its log is deleted");
    assert!(f.registry.list().await.is_empty());
}

#[tokio::test]
async fn log_folders_of_servers_that_are_gone_are_cleared_and_a_running_servers_kept() {
    let data = tempfile::tempdir().unwrap();
    // an older version's folder (no lock file, no remembered runs) and a folder whose lock is held
    let stale = data.path().join("logs/999999999-deadbeef");
    let alive = data.path().join("logs/running-server");
    for dir in [&stale, &alive] {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("s.jsonl"), "{}\n").unwrap();
    }
    let held = std::fs::File::create(alive.join(".lock")).unwrap();
    held.try_lock().unwrap();
    let config = RegistryConfig::new(opcode_testkit::fake_claude(), data.path().to_path_buf());
    let registry = SessionRegistry::open(config, Arc::new(Counting::default())).await.unwrap();
    assert!(!stale.exists(), "the folder of a server that is gone is cleared");
    assert!(alive.join("s.jsonl").exists(), "a running server's logs are left alone");
    registry.shutdown().await;
}

#[tokio::test]
async fn a_prompt_that_looks_like_a_flag_is_a_prompt() {
    let f = fixture(|_| {}).await;
    for prompt in ["--version", "-h what does this do", "--model=opus hi", "-c"] {
        let run = f.registry.start_run(f.request("execute", prompt, None)).await.unwrap();
        let events = drain(f.registry.subscribe(&run.session_id, 0).await.unwrap()).await;
        assert_well_formed(&events, &run.session_id, 0);
        assert!(
            events.iter().any(|e| matches!(&e.kind, EventKind::Completion { status, .. } if *status == opcode_proto::CompletionStatus::Success)),
            "{prompt}: {events:?}"
        );
        // the run's first user message in Claude's transcript is the prompt, byte for byte
        let transcript = f
            ._claude
            .path()
            .join("projects")
            .join(opcode_testkit::project_dir_name(&std::fs::canonicalize(f.project.path()).unwrap()))
            .join(format!("{}.jsonl", run.session_id));
        let text = std::fs::read_to_string(&transcript).unwrap_or_else(|e| panic!("{}: {e}", transcript.display()));
        let first_user = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|v| v["type"] == "user")
            .expect("a user message");
        assert_eq!(first_user["message"]["content"], prompt);
    }
}

#[tokio::test]
async fn a_subscription_to_one_run_ends_at_its_completion_even_when_the_next_run_starts_at_once() {
    let f = fixture(|_| {}).await;
    let first = f.registry.start_run(f.request("execute", "one", None)).await.unwrap();
    let one_run = f.registry.subscribe(&first.session_id, 0).await.unwrap().until_completion();
    let mut whole = f.registry.subscribe(&first.session_id, 0).await.unwrap();
    f.until(&mut whole, EventKind::is_completion).await;
    // the next run begins before the first run's end has reached every viewer
    let second = f.registry.start_run(f.request("resume", "two", Some(first.session_id.clone()))).await.unwrap();
    let events = drain(one_run).await;
    assert_eq!(events.len() as u64, second.first_seq, "exactly the first run");
    assert_well_formed(&events, &first.session_id, 0);
    drain(f.registry.subscribe(&first.session_id, second.first_seq).await.unwrap()).await;
}
