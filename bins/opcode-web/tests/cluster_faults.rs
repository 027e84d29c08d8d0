//! A cluster losing parts of NATS under a run, end to end: real nats-servers, a worker (in this process,
//! running the fake claude), an `opcode-web --nats-url` replica as a process, viewers on its WebSocket.
//!
//! - a 3-node cluster loses its stream leader mid-run: the run pauses and goes on; the viewer sees every
//!   line once, seqs without a gap, one successful completion, and a replay from the replica matches;
//! - NATS restarts mid-run (within the worker's lease): the run carries on, nothing lost or repeated;
//! - NATS is gone for good: the worker loses its lease and cancels its claude (the process group dies);
//!   the replica's viewers get an error frame saying the cluster's bus is unreachable and a close with
//!   4503; REST answers 503 and a start is refused with that message, quickly.
//!
//! The pauses are printed (`cargo test -- --nocapture`), never asserted: figures go to the report.

mod common;

use std::time::Duration;

use common::binary::Binary;
use common::cluster::worker_on;
use common::*;
use futures::StreamExt;
use opcode_bus::{Bus, BusConfig};
use opcode_testkit::nats::{NatsCluster, NatsServer};
use serde_json::{json, Value};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

/// How long a whole phase may take (a cluster's election and a run of a few seconds included).
const PHASE: Duration = Duration::from_secs(90);

/// A replica (the `opcode-web` binary) of the cluster at `url`, with its own data dir.
async fn replica(url: &str, extra: &[&str]) -> (Binary, tempfile::TempDir) {
    let data = tempfile::tempdir().unwrap();
    let mut args = vec!["--nats-url", url];
    args.extend_from_slice(extra);
    (Binary::start_with(data.path(), Some(TOKEN), &args).await, data)
}

/// A one-shot run request for session `id` in `project`.
fn run(project: &std::path::Path, prompt: &str, id: &str) -> String {
    json!({"command_type":"execute","project_path":project,"prompt":prompt,"session_id":id}).to_string()
}

/// One frame and when it arrived.
type Arrival = (Instant, Value);

/// Reads frames until `done` holds for one (returned with all before it) or the socket closes (then the
/// close code too). Panics past `limit`.
async fn read_until(ws: &mut Ws, limit: Duration, done: impl Fn(&Value) -> bool) -> (Vec<Arrival>, Option<u16>) {
    let deadline = Instant::now() + limit;
    let mut seen = Vec::new();
    loop {
        let frame = tokio::time::timeout_at(deadline, ws.next()).await;
        let frame = frame.unwrap_or_else(|_| panic!("nothing awaited within {limit:?}; saw {} frames", seen.len()));
        match frame {
            Some(Ok(Message::Text(text))) => {
                let value: Value = serde_json::from_str(&text).unwrap();
                let hit = done(&value);
                seen.push((Instant::now(), value));
                if hit {
                    return (seen, None);
                }
            }
            Some(Ok(Message::Close(frame))) => return (seen, Some(frame.map_or(1005, |f| u16::from(f.code)))),
            None | Some(Err(_)) => return (seen, Some(1006)),
            Some(Ok(_)) => {}
        }
    }
}

/// The text of an `output` event of the fake claude's `@lines` (`line i`).
fn line_of(event: &Value) -> Option<&str> {
    event["content"]["message"]["content"][0]["text"].as_str().filter(|t| t.starts_with("line "))
}

/// The number of `line i` outputs among `events`.
fn lines(events: &[Value]) -> usize {
    events.iter().filter(|e| line_of(e).is_some()).count()
}

/// Checks `events` are one whole run of `@lines=n`: seqs from 0 without a gap or a repeat, each line once
/// and in order, one completion, successful, last.
fn assert_whole_run(events: &[Value], id: &str, n: usize) {
    assert_contiguous(events, id, 0);
    let texts: Vec<&str> = events.iter().filter_map(line_of).collect();
    let expected: Vec<String> = (0..n).map(|i| format!("line {i}")).collect();
    assert_eq!(texts, expected, "every line exactly once, in order");
    let completions: Vec<&Value> = events.iter().filter(|e| e["type"] == "completion").collect();
    assert_eq!(completions.len(), 1, "one completion");
    assert_eq!(events.last(), Some(completions[0]), "the completion comes last");
    assert_eq!(completions[0]["status"], "success", "{}", completions[0]);
}

/// The longest wait between two frames that arrived after `from`, or between `from` and the first one.
fn longest_pause(seen: &[Arrival], from: Instant) -> Duration {
    let mut last = from;
    let mut longest = Duration::ZERO;
    for (at, _) in seen.iter().filter(|(at, _)| *at >= from) {
        longest = longest.max(*at - last);
        last = *at;
    }
    longest
}

/// Replays the session from the replica (`/ws/sessions/{id}`, from seq 0) until the socket closes.
async fn replay(replica: &Binary, id: &str) -> Vec<Value> {
    let mut ws = replica.ws(&format!("/ws/sessions/{id}")).await;
    let (events, code) = until_close(&mut ws).await;
    assert_eq!(code, Some(1000), "the replay of a finished run closes normally");
    events
}

/// Starts a run of `lines` lines 10 ms apart on `replica`'s `/ws/claude`, calls `fault` once line `at`
/// has arrived, and follows the run to its completion on the same socket. Checks the viewer saw one whole
/// run (every line once, no seq gap, one successful completion), that lines came after the fault began,
/// and that a replay from the replica is the same; returns the longest pause the viewer saw from then.
async fn run_across<F: std::future::Future<Output = ()>>(
    replica: &Binary,
    lines_in_run: usize,
    at: usize,
    fault: impl FnOnce() -> F,
) -> Duration {
    let project = tempfile::tempdir().unwrap();
    let id = uuid::Uuid::new_v4().to_string();
    let mut ws = replica.ws("/ws/claude").await;
    send(&mut ws, run(project.path(), &format!("count @lines={lines_in_run} @delay=10"), &id)).await;
    let at_line = format!("line {at}");
    let (mut seen, closed) = read_until(&mut ws, PHASE, |e| line_of(e) == Some(at_line.as_str())).await;
    assert_eq!(closed, None, "{seen:?}");

    let began = Instant::now();
    fault().await;

    let (rest, closed) = read_until(&mut ws, PHASE, |e| e["type"] == "completion").await;
    assert_eq!(closed, None, "the socket stays open to the completion: {rest:?}");
    seen.extend(rest);
    let events: Vec<Value> = seen.iter().map(|(_, e)| e.clone()).collect();
    assert_whole_run(&events, &id, lines_in_run);
    let after: Vec<Value> = seen.iter().filter(|(t, _)| *t > began).map(|(_, e)| e.clone()).collect();
    assert!(lines(&after) > 0, "the fault came mid-run (lines came after it)");
    assert_eq!(replay(replica, &id).await, events, "the replay matches what the viewer saw");
    longest_pause(&seen, began)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_losing_its_stream_leader_mid_run_pauses_the_run_and_loses_nothing() {
    let mut cluster = NatsCluster::start(3).await;
    let url = cluster.url();
    let config = BusConfig { replicas: 3, ..BusConfig::default() };
    let (worker, _data, _claude) = worker_on(&url, config.clone(), "w-leader", |_| {}).await;
    let (replica, _replica_data) = replica(&url, &["--stream-replicas", "3"]).await;
    let observer = Bus::connect(&url, config).await.unwrap();

    let leader = observer.stream_leader().await.unwrap().expect("the replicated stream has a leader");
    let pause = run_across(&replica, 500, 100, || async {
        let node = cluster.node_named(&leader).expect("the leader is a node of the cluster");
        cluster.kill(node).await;
    })
    .await;
    let new_leader = observer.stream_leader().await.unwrap().expect("a new leader");
    assert_ne!(new_leader, leader);
    println!("stream leader {leader} killed mid-run: the viewer's longest pause was {pause:?} (lines 10 ms apart)");
    replica.stop().await;
    worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_restarting_mid_run_within_the_lease_leaves_no_gap() {
    let mut nats = NatsServer::start().await;
    let (worker, _data, _claude) = worker_on(&nats.url(), BusConfig::default(), "w-restart", |_| {}).await;
    let (replica, _replica_data) = replica(&nats.url(), &[]).await;
    let pause = run_across(&replica, 400, 50, || nats.restart()).await;
    println!("NATS restarted mid-run: the viewer's longest pause was {pause:?} (lines 10 ms apart)");
    replica.stop().await;
    worker.shutdown().await;
}

/// Whether `frame` is the error frame that says the cluster's bus is unreachable.
fn is_bus_unreachable(frame: &Value) -> bool {
    frame["type"] == "error"
        && frame.get("seq").is_none()
        && frame["code"] == "bus_unreachable"
        && frame["message"].as_str().is_some_and(|m| m.contains("unreachable"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_gone_for_good_ends_the_run_and_every_viewer_and_request_is_told_so() {
    let mut nats = NatsServer::start().await;
    // as the opcode-worker binary sets it up: cut off for its lease, a worker gives up publishing too
    let lease = Duration::from_secs(2);
    let config = BusConfig { lease_ttl: lease, unreachable_after: lease, ..BusConfig::default() };
    let (worker, _data, _claude) = worker_on(&nats.url(), config, "w-orphaned", |_| {}).await;
    let (replica, _replica_data) = replica(&nats.url(), &[]).await;
    let project = tempfile::tempdir().unwrap();

    // a run that prints 20 lines, then hangs with a grandchild in its process group
    let pidfile = project.path().join("claude.pid");
    let id = uuid::Uuid::new_v4().to_string();
    let mut starter = replica.ws("/ws/claude").await;
    let prompt = format!("count @lines=20 @pidfile={} @grandchild @hang", pidfile.display());
    send(&mut starter, run(project.path(), &prompt, &id)).await;
    let claude_pids = opcode_testkit::wait_for_pids(&pidfile).await;
    let (before, closed) = read_until(&mut starter, PHASE, |e| line_of(e) == Some("line 19")).await;
    assert_eq!(closed, None, "{before:?}");
    let mut viewer = replica.ws(&format!("/ws/sessions/{id}")).await;
    let (replayed, closed) = read_until(&mut viewer, PHASE, |e| line_of(e) == Some("line 19")).await;
    assert_eq!(closed, None, "{replayed:?}");

    let stopped = Instant::now();
    nats.stop().await;

    // REST says so at once, with a 503; a start is refused with the same message
    let (status, body) = replica.get_json("/api/sessions/running").await;
    let rest_answered = stopped.elapsed();
    assert_eq!(status, 503, "{body}");
    assert!(body["error"].as_str().unwrap().contains("bus is unreachable"), "{body}");
    let mut another = replica.ws("/ws/claude").await;
    send(&mut another, run(project.path(), "hello", &uuid::Uuid::new_v4().to_string())).await;
    let refusal = next_json(&mut another).await.expect("a refusal");
    assert!(refusal["message"].as_str().unwrap().contains("bus is unreachable"), "{refusal}");
    assert!(refusal.get("seq").is_none(), "{refusal}");

    // both viewers are told, then their sockets close with 4503
    for (who, ws) in [("the run's socket", &mut starter), ("an attached viewer", &mut viewer)] {
        let (tail, code) = read_until(ws, PHASE, |_| false).await;
        assert_eq!(code, Some(opcode_web::ws::CLOSE_BUS_UNREACHABLE), "{who}: {tail:?}");
        let last = &tail.last().unwrap_or_else(|| panic!("{who} got no error frame")).1;
        assert!(is_bus_unreachable(last), "{who}: {last}");
        assert_eq!(lines(&tail.iter().map(|(_, e)| e.clone()).collect::<Vec<_>>()), 0, "{who}: nothing repeated");
        println!("{who} was told the bus is unreachable {:?} after NATS died", tail.last().unwrap().0 - stopped);
    }
    println!("GET /api/sessions/running answered 503 {rest_answered:?} after NATS died");

    // a viewer attaching now is turned away the same way, without waiting for a timeout
    let mut late = replica.ws(&format!("/ws/sessions/{id}")).await;
    let (tail, code) = read_until(&mut late, PHASE, |_| false).await;
    assert_eq!(code, Some(opcode_web::ws::CLOSE_BUS_UNREACHABLE), "{tail:?}");

    // the worker lost its lease and cancelled its claude: the whole process group is gone
    tokio::time::timeout(PHASE, worker.lease_lost()).await.expect("the worker noticed");
    opcode_testkit::assert_all_dead(&claude_pids).await;
    tokio::time::timeout(PHASE, worker.shutdown()).await.expect("the worker's shutdown is bounded");
    replica.stop().await;
}
