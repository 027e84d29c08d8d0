//! A 3-node NATS cluster with the stream replicated 3 times: the stream leader dies mid-publishing,
//! publishing pauses and goes on, and readers see every event once.

mod common;

use std::time::Duration;

use common::{assert_seqs, events, read_all, session, test_config};
use futures::StreamExt;
use opcode_bus::{Bus, BusConfig};
use opcode_testkit::nats::NatsCluster;
use tokio::sync::watch;

const EVENTS: u64 = 6_000;
const BATCH: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_stream_leader_mid_publishing_loses_nothing() {
    let mut cluster = NatsCluster::start(3).await;
    let config = BusConfig { replicas: 3, ..test_config() };
    let bus = Bus::connect(&cluster.url(), config.clone()).await.expect("connect to the cluster");
    let session = session();

    // a live reader from the start, on a connection of its own
    let reader_bus = Bus::connect(&cluster.url(), config.clone()).await.unwrap();
    let mut live = Box::pin(reader_bus.read(&session, None));
    let reading = tokio::spawn(async move {
        let mut seen = Vec::new();
        while (seen.len() as u64) < EVENTS {
            match tokio::time::timeout(Duration::from_secs(60), live.next()).await {
                Ok(Some(Ok(event))) => seen.push(event),
                other => panic!("live reader stopped after {} events: {other:?}", seen.len()),
            }
        }
        seen
    });

    // a publisher reporting its progress
    let (progress_tx, mut progress) = watch::channel(0u64);
    let writer_bus = bus.clone();
    let writer_session = session.clone();
    let publishing = tokio::spawn(async move {
        let mut writer = writer_bus.writer(&writer_session).await.unwrap();
        for batch in events(0, EVENTS, "w").chunks(BATCH) {
            writer.publish(batch).await.expect("publishing goes on after the leader dies");
            let _ = progress_tx.send(writer.next_seq());
        }
    });

    progress.wait_for(|published| *published >= EVENTS / 3).await.unwrap();
    let leader = bus.stream_leader().await.unwrap().expect("the replicated stream has a leader");
    let node = cluster.node_named(&leader).expect("the leader is a node of the cluster");
    cluster.kill(node).await;
    let at_kill = *progress.borrow();
    assert!(at_kill < EVENTS, "the leader died mid-publishing");

    tokio::time::timeout(Duration::from_secs(120), publishing).await.expect("publishing finished").unwrap();
    let new_leader = bus.stream_leader().await.unwrap().expect("a new leader");
    assert_ne!(new_leader, leader);

    let seen =
        tokio::time::timeout(Duration::from_secs(120), reading).await.expect("the live reader caught up").unwrap();
    assert_seqs(&seen, 0, EVENTS);
    assert_eq!(seen, events(0, EVENTS, "w"));
    let replay = read_all(&bus, &session, None).await;
    assert_seqs(&replay, 0, EVENTS);

    // the node comes back and catches up; a writer elsewhere continues the numbering
    cluster.restart(node).await;
    let mut writer = bus.writer(&session).await.unwrap();
    assert_eq!(writer.next_seq(), EVENTS);
    writer.publish(&events(EVENTS, EVENTS + 10, "w")).await.unwrap();
    assert_seqs(&read_all(&bus, &session, Some(EVENTS - 1)).await, EVENTS, EVENTS + 10);
}
