//! What a server that runs for weeks needs: runs that survive a restart, live-session control that is
//! never lost, half-applied or stalled, bounded memory for finished runs, health, and a cap on run starts.

mod common;

use std::time::Duration;

use common::*;
use opcode_proto::control::{Behavior, PermissionDecision};
use opcode_proto::{AnsweredBy, CompletionStatus, EventKind};
use opcode_sessions::{ControlError, RunStatus, StartError};

fn is_completion(kind: &EventKind) -> bool {
    kind.is_completion()
}

fn allow() -> PermissionDecision {
    PermissionDecision { behavior: Behavior::Allow, updated_input: None, message: None, remember: false }
}

#[tokio::test]
async fn after_a_graceful_restart_every_run_is_attachable_with_the_same_events_and_a_live_one_resumes() {
    let f = fixture(|_| {}).await;
    let done = f.registry.start_run(f.request("execute", "one @lines=30", None)).await.unwrap();
    let before = drain(f.registry.subscribe(&done.session_id, 0).await.unwrap()).await;
    let live = f.registry.start_run(f.live_request("execute", "first turn", None)).await.unwrap();
    let mut sub = f.registry.subscribe(&live.session_id, 0).await.unwrap();
    f.until(
        &mut sub,
        |k| matches!(k, EventKind::Output { content } if format!("{content:?}").contains("Echo: first turn")),
    )
    .await;

    let f = f.restart().await;
    let after = drain(f.registry.subscribe(&done.session_id, 0).await.unwrap()).await;
    assert_eq!(after, before, "the same events with the same seqs");
    let live_events = drain(f.registry.subscribe(&live.session_id, 0).await.unwrap()).await;
    assert!(matches!(
        live_events.last().unwrap().kind,
        EventKind::Completion { status: CompletionStatus::Cancelled, .. }
    ));
    let list = f.registry.list().await;
    assert_eq!(list.len(), 2);
    assert!(list.iter().all(|s| s.status == RunStatus::Finished));

    // one action takes the live session up again: its numbering continues, and it answers the next prompt
    let resumed = f.registry.start_run(f.live_request("resume", "", Some(live.session_id.clone()))).await.unwrap();
    assert_eq!(resumed.first_seq, live_events.len() as u64);
    f.registry.send_prompt(&live.session_id, "second turn", None).await.unwrap();
    let mut sub = f.registry.subscribe(&live.session_id, resumed.first_seq).await.unwrap();
    let turn = f
        .until(
            &mut sub,
            |k| matches!(k, EventKind::Output { content } if format!("{content:?}").contains("Echo: second turn")),
        )
        .await;
    assert_eq!(turn[0].seq, resumed.first_seq);
    f.registry.end_live(&live.session_id).await.unwrap();
    let rest = drain(sub).await;
    assert_well_formed(&[turn, rest].concat(), &live.session_id, resumed.first_seq);
    f.registry.shutdown().await;
}

#[tokio::test]
async fn a_live_session_whose_claude_dies_shows_as_exited_unexpectedly_and_resumable() {
    let f = fixture(|_| {}).await;
    let run = f.registry.start_run(f.live_request("execute", "hello", None)).await.unwrap();
    let mut sub = f.registry.subscribe(&run.session_id, 0).await.unwrap();
    f.until(&mut sub, |k| matches!(k, EventKind::Output { content } if format!("{content:?}").contains("Echo: hello")))
        .await;
    f.registry.send_prompt(&run.session_id, "die now @exit=3", None).await.unwrap();
    drain(sub).await;
    let summary = f.registry.list().await.into_iter().find(|s| s.session_id == run.session_id).unwrap();
    assert_eq!(summary.outcome, Some(CompletionStatus::Error));
    assert!(summary.exited_unexpectedly && summary.resumable, "{summary:?}");

    // a session ended on purpose is not
    let ended = f.registry.start_run(f.live_request("execute", "bye", None)).await.unwrap();
    let mut sub = f.registry.subscribe(&ended.session_id, 0).await.unwrap();
    f.until(&mut sub, |k| matches!(k, EventKind::Output { content } if format!("{content:?}").contains("Echo: bye")))
        .await;
    f.registry.end_live(&ended.session_id).await.unwrap();
    drain(sub).await;
    let summary = f.registry.list().await.into_iter().find(|s| s.session_id == ended.session_id).unwrap();
    assert!(!summary.exited_unexpectedly && !summary.resumable, "{summary:?}");
}

#[tokio::test]
async fn an_answer_dropped_mid_way_is_applied_exactly_once_and_one_never_sent_not_at_all() {
    let f = fixture(|_| {}).await;
    let run = f.registry.start_run(f.live_request("execute", "use a tool @tool", None)).await.unwrap();
    let mut sub = f.registry.subscribe(&run.session_id, 0).await.unwrap();
    let events = f.until(&mut sub, |k| matches!(k, EventKind::PermissionRequest { .. })).await;
    let request_id = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::PermissionRequest { request_id, .. } => Some(request_id.clone()),
            _ => None,
        })
        .unwrap();
    let request_id = &request_id;

    // never polled: never sent, so it changes nothing
    drop(f.registry.answer_permission(&run.session_id, request_id, allow()));
    assert!(f.registry.list().await[0].health.as_ref().unwrap().waiting_for_you == 1, "still pending");

    // polled once (the command is sent), then its caller goes away (a dropped request)
    let mut answer = Box::pin(f.registry.answer_permission(&run.session_id, request_id, allow()));
    assert!(futures::poll!(answer.as_mut()).is_pending());
    drop(answer);
    let resolved = f.until(&mut sub, |k| matches!(k, EventKind::PermissionResolved { .. })).await;
    let resolution = resolved.iter().find(|e| matches!(e.kind, EventKind::PermissionResolved { .. })).unwrap();
    assert!(matches!(
        &resolution.kind,
        EventKind::PermissionResolved { behavior: Behavior::Allow, by: AnsweredBy::Viewer, .. }
    ));
    let again = f.registry.answer_permission(&run.session_id, request_id, allow()).await;
    assert!(matches!(again, Err(ControlError::NotPending(_))), "{again:?}");
    f.registry.end_live(&run.session_id).await.unwrap();
    let rest = drain(sub).await;
    let all: Vec<_> = [events, resolved, rest].concat();
    assert_eq!(all.iter().filter(|e| matches!(e.kind, EventKind::PermissionResolved { .. })).count(), 1);
    assert!(f.project.path().join("tool-ran.txt").exists(), "the tool ran: the answer reached claude");
}

#[tokio::test]
async fn a_claude_that_stops_reading_stdin_never_stalls_output_or_control() {
    let f = fixture(|_| {}).await;
    let go = f.project.path().join("go");
    let prompt = format!("stall @stall-stdin={} @lines=50", go.display());
    let run = f.registry.start_run(f.live_request("execute", &prompt, None)).await.unwrap();
    let mut sub = f.registry.subscribe(&run.session_id, 0).await.unwrap();
    f.until(&mut sub, |k| matches!(k, EventKind::Output { content } if format!("{content:?}").contains("stalled")))
        .await;
    // a prompt during the turn queues on the server: it never touches the stalled input
    let queued = f.registry.send_prompt(&run.session_id, "later", Some("later")).await.unwrap();
    assert_eq!(queued, opcode_sessions::PromptOutcome::Queued);
    // fill the pipe and the stdin queue with interrupts: one then fails at once instead of waiting
    let mut stalled = false;
    for _ in 0..5000 {
        let sent = tokio::time::timeout(Duration::from_secs(10), f.registry.interrupt(&run.session_id))
            .await
            .expect("a command never waits on claude's stdin");
        if let Err(err) = sent {
            assert!(matches!(err, ControlError::InputStalled(_)), "{err}");
            stalled = true;
            break;
        }
    }
    assert!(stalled, "the queue filled");
    // claude now sends a control request whose reply cannot be written, then goes on printing
    std::fs::write(&go, "").unwrap();
    let events = f
        .until(&mut sub, |k| matches!(k, EventKind::Output { content } if format!("{content:?}").contains("line 49")))
        .await;
    assert!(events.iter().all(|e| !matches!(e.kind, EventKind::Completion { .. })));
    f.registry.end_live(&run.session_id).await.unwrap();
    let rest = drain(sub).await;
    assert!(rest.iter().any(|e| is_completion(&e.kind)));
}

#[tokio::test]
async fn finished_sessions_beyond_the_cap_leave_memory_and_stay_attachable() {
    let f = fixture(|c| c.max_finished_in_memory = 2).await;
    let mut runs = Vec::new();
    for i in 0..5 {
        let run = f.registry.start_run(f.request("execute", &format!("run {i} @lines=20"), None)).await.unwrap();
        let events = drain(f.registry.subscribe(&run.session_id, 0).await.unwrap()).await;
        runs.push((run.session_id, events));
    }
    f.registry.flushed().await;
    assert_eq!(f.registry.loaded(), 2);
    assert_eq!(f.registry.list().await.len(), 5);
    for (id, events) in &runs {
        assert_eq!(&drain(f.registry.subscribe(id, 0).await.unwrap()).await, events);
        assert!(f.registry.loaded() <= 2);
    }
    // and one of them can be taken up again, its numbering continuing
    let (id, events) = &runs[0];
    let resumed = f.registry.start_run(f.request("resume", "again", Some(id.clone()))).await.unwrap();
    assert_eq!(resumed.first_seq, events.len() as u64);
    let all = drain(f.registry.subscribe(id, 0).await.unwrap()).await;
    assert_eq!(&all[..events.len()], &events[..]);
}

#[tokio::test]
async fn the_running_list_reports_the_health_of_a_run() {
    let f = fixture(|_| {}).await;
    let run = f.registry.start_run(f.request("execute", "wait @hang", None)).await.unwrap();
    let mut sub = f.registry.subscribe(&run.session_id, 0).await.unwrap();
    f.until(&mut sub, |k| matches!(k, EventKind::Output { .. })).await;
    let summary = f.registry.list().await.into_iter().next().unwrap();
    assert_eq!(summary.status, RunStatus::Running);
    let health = summary.health.expect("a running run has health");
    assert!(health.alive && health.processes >= 1 && health.rss_bytes > 0, "{health:?}");
    assert_eq!(health.waiting_for_you, 0);
    f.registry.cancel(&run.session_id).unwrap();
    drain(sub).await;
    let summary = f.registry.list().await.into_iter().next().unwrap();
    assert!(summary.health.is_none() && summary.outcome == Some(CompletionStatus::Cancelled));
}

#[tokio::test]
async fn run_starts_per_minute_are_capped_and_a_refused_start_spawns_nothing() {
    let f = fixture(|c| c.max_runs_per_minute = Some(2)).await;
    for _ in 0..2 {
        let run = f.registry.start_run(f.request("execute", "x", None)).await.unwrap();
        drain(f.registry.subscribe(&run.session_id, 0).await.unwrap()).await;
    }
    let refused = f.registry.start_run(f.request("execute", "x", None)).await;
    let Err(StartError::RateLimited { limit: 2, retry_after_secs }) = refused else { panic!("{refused:?}") };
    assert!((1..=60).contains(&retry_after_secs));
    assert_eq!(f.supervisor.spawned.load(std::sync::atomic::Ordering::SeqCst), 2);
    assert_eq!(f.registry.list().await.len(), 2, "no session was created");
}
