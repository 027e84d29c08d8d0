//! Queued prompts of live sessions: a prompt sent while a turn runs waits on the server and goes out when
//! the turn ends; client ids make resends harmless; nothing queued is lost across a restart.

mod common;

use common::*;
use opcode_proto::{EventKind, SessionEvent};
use opcode_sessions::{ControlError, PromptOutcome};

fn echoed(text: &'static str) -> impl Fn(&EventKind) -> bool {
    move |k| matches!(k, EventKind::Output { content } if format!("{content:?}").contains(&format!("Echo: {text}")))
}

fn turn_ended(kind: &EventKind) -> bool {
    matches!(kind, EventKind::Output { content: opcode_proto::event::OutputContent::Json(raw) }
        if opcode_proto::read_envelope(raw).and_then(|e| e.kind).as_deref() == Some("result"))
}

fn sent_prompts(events: &[SessionEvent]) -> Vec<(String, Option<String>)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::UserPrompt { prompt, client_id, .. } => Some((prompt.clone(), client_id.clone())),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn prompts_sent_during_a_turn_queue_and_go_out_in_order_when_it_ends() {
    let f = fixture(|_| {}).await;
    let run = f.registry.start_run(f.live_request("execute", "slow @lines=40 @delay=15", None)).await.unwrap();
    let id = run.session_id.as_str();
    let mut sub = f.registry.subscribe(id, 0).await.unwrap();
    let first = f
        .until(&mut sub, |k| matches!(k, EventKind::Output { content } if format!("{content:?}").contains("line 0")))
        .await;

    let send = |prompt: &'static str, client: &'static str| f.registry.send_prompt(id, prompt, Some(client));
    assert_eq!(send("alpha", "a").await.unwrap(), PromptOutcome::Queued);
    assert_eq!(send("beta", "b").await.unwrap(), PromptOutcome::Queued);
    assert_eq!(send("gamma", "c").await.unwrap(), PromptOutcome::Queued);
    assert_eq!(send("alpha again", "a").await.unwrap(), PromptOutcome::Duplicate, "a resend is not delivered twice");
    f.registry.edit_queued(id, "b", "beta edited").await.unwrap();
    f.registry.unqueue(id, "c").await.unwrap();
    assert!(matches!(f.registry.unqueue(id, "c").await, Err(ControlError::NotQueued(_))));
    assert!(matches!(f.registry.send_prompt(id, "x", Some("")).await, Err(ControlError::BadClientId(_))));

    let events = f.until(&mut sub, echoed("beta edited")).await;
    f.registry.end_live(id).await.unwrap();
    let all = [first, events, drain(sub).await].concat();
    assert_well_formed(&all, id, 0);
    assert_eq!(
        sent_prompts(&all),
        [
            ("slow @lines=40 @delay=15".to_owned(), None),
            ("alpha".to_owned(), Some("a".to_owned())),
            ("beta edited".to_owned(), Some("b".to_owned()))
        ]
    );
    let queued = all.iter().filter(|e| matches!(e.kind, EventKind::PromptQueued { .. })).count();
    assert_eq!(queued, 4, "a, b, c, and b's edit");
    assert!(all.iter().any(|e| e.kind == EventKind::PromptUnqueued { client_id: "c".into() }));
    assert!(!all.iter().any(|e| echoed("gamma")(&e.kind)), "a removed prompt never goes out");
}

#[tokio::test]
async fn a_prompt_between_turns_goes_out_at_once_and_once_only() {
    let f = fixture(|_| {}).await;
    let run = f.registry.start_run(f.live_request("execute", "hello", None)).await.unwrap();
    let id = run.session_id.as_str();
    let mut sub = f.registry.subscribe(id, 0).await.unwrap();
    f.until(&mut sub, turn_ended).await;
    assert_eq!(f.registry.send_prompt(id, "next", Some("n-1")).await.unwrap(), PromptOutcome::Sent);
    assert_eq!(f.registry.send_prompt(id, "next", Some("n-1")).await.unwrap(), PromptOutcome::Duplicate);
    f.until(&mut sub, echoed("next")).await;
    f.registry.end_live(id).await.unwrap();
    let all = drain(f.registry.subscribe(id, 0).await.unwrap()).await;
    assert_eq!(sent_prompts(&all).iter().filter(|(_, c)| c.as_deref() == Some("n-1")).count(), 1);
    // after the end nothing is queued: the session is not live
    let late = f.registry.send_prompt(id, "too late", Some("n-2")).await;
    assert!(matches!(late, Err(ControlError::NotLive(_))), "{late:?}");
    assert_eq!(drain(f.registry.subscribe(id, 0).await.unwrap()).await, all, "nothing was logged");
}

#[tokio::test]
async fn a_prompt_queued_when_the_server_restarts_goes_out_when_the_session_is_taken_up() {
    let f = fixture(|_| {}).await;
    let run = f.registry.start_run(f.live_request("execute", "long @lines=500 @delay=20", None)).await.unwrap();
    let id = run.session_id.clone();
    let mut sub = f.registry.subscribe(&id, 0).await.unwrap();
    f.until(&mut sub, |k| matches!(k, EventKind::Output { content } if format!("{content:?}").contains("line 0")))
        .await;
    assert_eq!(f.registry.send_prompt(&id, "after the restart", Some("q-1")).await.unwrap(), PromptOutcome::Queued);
    drop(sub);

    let f = f.restart().await;
    let resumed = f.registry.start_run(f.live_request("resume", "", Some(id.clone()))).await.unwrap();
    let mut sub = f.registry.subscribe(&id, resumed.first_seq).await.unwrap();
    f.until(&mut sub, echoed("after the restart")).await;
    // the phone resends it after reconnecting: not delivered twice
    assert_eq!(f.registry.send_prompt(&id, "after the restart", Some("q-1")).await.unwrap(), PromptOutcome::Duplicate);
    f.registry.end_live(&id).await.unwrap();
    drain(sub).await;
    let all = drain(f.registry.subscribe(&id, 0).await.unwrap()).await;
    let sent: Vec<_> = sent_prompts(&all).into_iter().filter(|(_, c)| c.as_deref() == Some("q-1")).collect();
    assert_eq!(sent.len(), 1);
}

// several worker threads, as in the server: the session's actor runs beside the run task
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_queued_prompt_goes_out_after_the_result_of_the_turn_before_it_in_the_log() {
    // viewers read a turn's end from its `result`: a queued prompt's `user_prompt` logged before that result
    // would make the old turn's result look like the new turn's (an interruption read as an error)
    let f = fixture(|_| {}).await;
    let run = f.registry.start_run(f.live_request("execute", "slow @lines=20 @delay=5", None)).await.unwrap();
    let id = run.session_id.as_str();
    let mut sub = f.registry.subscribe(id, 0).await.unwrap();
    let first = f
        .until(&mut sub, |k| matches!(k, EventKind::Output { content } if format!("{content:?}").contains("line 0")))
        .await;
    let clients: Vec<String> = (0..12).map(|i| format!("q{i}")).collect();
    for client in &clients {
        let outcome = f.registry.send_prompt(id, &format!("queued {client}"), Some(client)).await.unwrap();
        assert_eq!(outcome, PromptOutcome::Queued);
    }
    let events = f.until(&mut sub, echoed("queued q11")).await;
    let events = [first, events].concat();
    f.registry.end_live(id).await.unwrap();
    let all = [events, drain(sub).await].concat();
    assert_well_formed(&all, id, 0);
    let mut open_turn = false;
    for event in &all {
        match &event.kind {
            EventKind::UserPrompt { prompt, .. } => {
                assert!(!open_turn, "`{prompt}` went out (seq {}) before the turn before it ended", event.seq);
                open_turn = true;
            }
            kind if turn_ended(kind) => open_turn = false,
            _ => {}
        }
    }
    assert_eq!(sent_prompts(&all).len(), 13);
}
