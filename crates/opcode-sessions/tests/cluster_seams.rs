//! The seams a cluster builds on, with the fake claude: a session's events numbered on one machine are
//! imported into another's registry (replayed there, and a run there continues their numbering), and an
//! event sink that is behind holds a run back instead of letting events pile up.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use opcode_proto::{EventKind, SessionEvent};
use opcode_sessions::{EventSink, ImportError};
use tokio::sync::{watch, Notify};

use common::{assert_well_formed, drain, fixture};

fn decode(lines: &[Bytes]) -> Vec<SessionEvent> {
    lines.iter().map(|b| SessionEvent::from_json(std::str::from_utf8(b).unwrap()).unwrap()).collect()
}

#[tokio::test]
async fn events_numbered_elsewhere_are_replayed_here_and_a_run_here_continues_their_numbering() {
    // machine A runs the session
    let a = fixture(|_| {}).await;
    let started = a.registry.start_run(a.request("execute", "hello @lines=3", None)).await.unwrap();
    let sid = started.session_id.clone();
    drain(a.registry.subscribe(&sid, 0).await.unwrap()).await;
    let lines = a.registry.events_so_far(&sid).await.unwrap().unwrap();
    let n = lines.len() as u64;
    assert!(n >= 5, "a run's events: {n}");

    // machine B imports them in two parts, out of order first
    let b = fixture(|_| {}).await;
    let gap = b.registry.import_events(&sid, 2, lines[2..].to_vec()).await.unwrap_err();
    assert!(matches!(gap, ImportError::Gap { expected: 0, got: 2, .. }), "{gap}");
    assert!(b.registry.events_so_far(&sid).await.unwrap().unwrap().is_empty(), "nothing appended on a gap");
    assert_eq!(b.registry.import_events(&sid, 0, lines[..2].to_vec()).await.unwrap(), 2);
    assert_eq!(b.registry.import_events(&sid, 2, lines[2..].to_vec()).await.unwrap(), n);

    // a viewer on B replays exactly A's events
    let replayed = b.registry.events_so_far(&sid).await.unwrap().unwrap();
    assert_eq!(replayed, lines, "the same bytes, the same seqs");
    let from_sub = drain(b.registry.subscribe(&sid, 0).await.unwrap()).await;
    assert_eq!(from_sub.len() as u64, n);

    // a run on B continues the numbering
    let next = b.registry.start_run(b.request("execute", "again @lines=2", Some(sid.clone()))).await.unwrap();
    assert_eq!(next.first_seq, n, "the run's start follows the imported events");
    let again = drain(b.registry.subscribe(&sid, n).await.unwrap()).await;
    assert_well_formed(&again, &sid, n);

    // and while a run is in progress, importing is refused
    let running = b.registry.start_run(b.request("execute", "wait @hang", Some(sid.clone()))).await.unwrap();
    let len = running.first_seq + 1;
    let refused = b.registry.import_events(&sid, len, vec![lines[0].clone()]).await.unwrap_err();
    assert!(matches!(refused, ImportError::Running(_)), "{refused}");
    b.registry.cancel(&sid).unwrap();
    drain(b.registry.subscribe(&sid, running.first_seq).await.unwrap()).await;
    let all = decode(&b.registry.events_so_far(&sid).await.unwrap().unwrap());
    assert!(all.iter().enumerate().all(|(i, e)| e.seq == i as u64), "no gap, no repeat");
}

/// A sink whose gate the test opens; it remembers every length it was told of.
#[derive(Debug)]
struct Gate {
    open: watch::Receiver<bool>,
    told: Mutex<Vec<u64>>,
    called: Notify,
}

impl EventSink for Gate {
    fn appended(&self, _session_id: &str, len: u64) -> BoxFuture<'static, ()> {
        self.told.lock().unwrap().push(len);
        self.called.notify_one();
        let mut open = self.open.clone();
        Box::pin(async move {
            let _ = open.wait_for(|open| *open).await;
        })
    }
}

#[tokio::test]
async fn a_sink_that_is_behind_holds_the_run_back_and_the_run_then_finishes_whole() {
    let (opener, open) = watch::channel(false);
    let gate = Arc::new(Gate { open, told: Mutex::new(Vec::new()), called: Notify::new() });
    let sink: Arc<dyn EventSink> = gate.clone();
    let f = fixture(|c| c.sink = Some(sink)).await;
    // 4000 lines of 1 KiB: far more than a pipe holds
    let started = f.registry.start_run(f.request("execute", "go @flood=4000", None)).await.unwrap();
    let sid = started.session_id.clone();
    tokio::time::timeout(Duration::from_secs(30), gate.called.notified()).await.expect("the sink was told");
    let held_at = gate.told.lock().unwrap()[0];

    // while the sink is behind, the log does not grow (a window of observation: nothing may arrive in it)
    let mut sub = f.registry.subscribe(&sid, 0).await.unwrap();
    let mut seen = 0u64;
    let watched = tokio::time::timeout(Duration::from_millis(500), async {
        loop {
            match sub.next_batch().await.unwrap() {
                Some(batch) => seen += batch.len() as u64,
                None => return,
            }
        }
    })
    .await;
    assert!(watched.is_err(), "the run did not end while held");
    assert_eq!(seen, held_at, "nothing beyond what the sink was told of was appended");
    assert_eq!(gate.told.lock().unwrap().len(), 1, "the run waited on the sink");

    opener.send(true).unwrap();
    let rest = drain(sub).await;
    let mut all = decode(&f.registry.events_so_far(&sid).await.unwrap().unwrap());
    assert_eq!(all.len() as u64, held_at + rest.len() as u64);
    assert_well_formed(&all, &sid, 0);
    let floods = all.iter().filter(|e| matches!(&e.kind, EventKind::Output { .. })).count();
    assert!(floods >= 4000, "every line arrived: {floods}");
    let told = gate.told.lock().unwrap().clone();
    assert!(told.windows(2).all(|w| w[0] <= w[1]), "lengths only grow: {told:?}");
    all.pop();
    assert!(*told.last().unwrap() <= all.len() as u64 + 1);
}
