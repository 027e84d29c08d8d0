//! A replica's viewers of one session share one bus reader (the session's tail), on a real nats-server:
//! twenty viewers of a session hold one consumer on NATS, not twenty; each viewer, whenever it joins and
//! from whatever seq, gets every event from there in order and once, those written before it joined and
//! after; a viewer that falls far behind the tail catches up from the stream; the tail's consumer goes
//! when the last viewer does.

use std::time::Duration;

use futures::StreamExt;
use opcode_bus::{Bus, BusConfig, NumberedEvent, SessionWriter};
use opcode_cluster::{ClusterClient, ClusterRuns};
use opcode_sessions::{EventBatches, Runs};
use opcode_testkit::nats::NatsServer;

const LIMIT: Duration = Duration::from_secs(30);

/// How long a finished catch-up's consumer may stay on NATS: the client's ordered consumers are removed by
/// the server 30 s after their last pull.
const CONSUMERS_GO: Duration = Duration::from_secs(60);

async fn bus(server: &NatsServer) -> Bus {
    Bus::connect(&server.url(), BusConfig::default()).await.unwrap()
}

/// Publishes events `from..to` of the writer's session, each line `{"n":<seq>}`.
async fn publish(writer: &mut SessionWriter, from: u64, to: u64) {
    for start in (from..to).step_by(100) {
        let batch: Vec<NumberedEvent> =
            (start..to.min(start + 100)).map(|n| NumberedEvent::new(n, format!("{{\"n\":{n}}}"))).collect();
        writer.publish(&batch).await.unwrap();
    }
}

/// Reads `count` events from `events` and returns their `n`.
async fn take(events: &mut EventBatches, count: usize) -> Vec<u64> {
    let mut seen = Vec::new();
    let read = tokio::time::timeout(LIMIT, async {
        while seen.len() < count {
            let batch = events.next().await.expect("the events ended early");
            for line in batch {
                let value: serde_json::Value = serde_json::from_slice(&line).unwrap();
                seen.push(value["n"].as_u64().unwrap());
            }
        }
    })
    .await;
    assert!(read.is_ok(), "only {} of {count} events came: {seen:?}", seen.len());
    seen
}

/// Polls the server until it has at most `max` consumers; panics with the count after [`CONSUMERS_GO`].
async fn until_consumers_at_most(server: &NatsServer, max: u64) {
    let deadline = tokio::time::Instant::now() + CONSUMERS_GO;
    loop {
        let consumers = server.consumers().await;
        if consumers <= max {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{consumers} consumers on NATS, expected at most {max}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn viewers_of_a_session_share_one_bus_reader_and_each_gets_every_event_from_where_it_joined() {
    let server = NatsServer::start().await;
    let session = uuid::Uuid::new_v4().to_string();
    let mut writer = bus(&server).await.writer(&session).await.unwrap();
    publish(&mut writer, 0, 10).await;
    let runs = ClusterRuns::open(ClusterClient::new(bus(&server).await)).await.unwrap();
    let baseline = server.consumers().await;

    let mut viewers = Vec::new();
    for _ in 0..20 {
        let mut events = runs.events(&session, 0, false).await.expect("a known session");
        assert_eq!(take(&mut events, 10).await, (0..10).collect::<Vec<_>>(), "the events written before");
        viewers.push(events);
    }
    publish(&mut writer, 10, 20).await;
    for events in &mut viewers {
        assert_eq!(take(events, 10).await, (10..20).collect::<Vec<_>>(), "the events written after");
    }
    let mut late = runs.events(&session, 15, false).await.unwrap();
    assert_eq!(take(&mut late, 5).await, (15..20).collect::<Vec<_>>(), "a late viewer from seq 15");
    publish(&mut writer, 20, 25).await;
    for events in viewers.iter_mut().chain([&mut late]) {
        assert_eq!(take(events, 5).await, (20..25).collect::<Vec<_>>());
    }
    // the viewers' catch-ups are over and their consumers gone: one (the tail) is left for all 21
    until_consumers_at_most(&server, baseline + 1).await;

    drop(viewers);
    drop(late);
    until_consumers_at_most(&server, baseline).await;
}

#[tokio::test]
async fn a_viewer_far_behind_the_tail_catches_up_from_the_stream_without_a_gap() {
    let server = NatsServer::start().await;
    let session = uuid::Uuid::new_v4().to_string();
    let mut writer = bus(&server).await.writer(&session).await.unwrap();
    publish(&mut writer, 0, 1).await;
    let runs = ClusterRuns::open(ClusterClient::new(bus(&server).await)).await.unwrap();

    let mut slow = runs.events(&session, 0, false).await.unwrap();
    let mut fast = runs.events(&session, 0, false).await.unwrap();
    assert_eq!(take(&mut slow, 1).await, vec![0]);
    // far more than the tail keeps while the slow viewer reads nothing; the fast one keeps up
    let (_, fast_seen) = tokio::join!(publish(&mut writer, 1, 5000), take(&mut fast, 5000));
    assert_eq!(fast_seen, (0..5000).collect::<Vec<_>>());
    assert_eq!(take(&mut slow, 4999).await, (1..5000).collect::<Vec<_>>(), "no gap, no repeat");
    publish(&mut writer, 5000, 5010).await;
    assert_eq!(take(&mut slow, 10).await, (5000..5010).collect::<Vec<_>>(), "and it follows the tail again");
}
