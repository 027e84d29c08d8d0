//! Worker leases and run ownership against a real nats-server.

mod common;

use std::time::Duration;

use common::{server_and_bus, session, test_config};
use futures::StreamExt;
use opcode_bus::BusError;
use tokio::time::Instant;

/// Polls `check` every 50 ms until it is true, failing after `within`; returns how long it took.
async fn eventually(within: Duration, mut check: impl AsyncFnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < within, "not within {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_is_claimed_once_and_can_be_claimed_again_after_release() {
    let (_server, bus) = server_and_bus().await;
    let (one, two) = (session(), session());
    let claim = bus.claim_run(&one, "worker-a").await.unwrap();
    assert_eq!((claim.session(), claim.worker()), (one.as_str(), "worker-a"));
    let err = bus.claim_run(&one, "worker-b").await.unwrap_err();
    assert!(matches!(&err, BusError::AlreadyRunning { owner, .. } if owner == "worker-a"), "{err}");
    assert!(err.to_string().contains("already running on worker worker-a"), "{err}");
    let other = bus.claim_run(&two, "worker-b").await.unwrap();
    let mut expected = vec![(one.clone(), "worker-a".to_owned()), (two.clone(), "worker-b".to_owned())];
    expected.sort();
    assert_eq!(bus.running().await.unwrap(), expected);

    claim.release().await.unwrap();
    assert_eq!(bus.running().await.unwrap(), vec![(two.clone(), "worker-b".to_owned())]);
    let again = bus.claim_run(&one, "worker-b").await.unwrap();
    assert_eq!(again.worker(), "worker-b");
    again.release().await.unwrap();
    other.release().await.unwrap();
    assert!(bus.running().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_lease_lives_and_an_unrenewed_one_lapses_within_its_ttl() {
    let (_server, bus) = server_and_bus().await;
    let ttl = test_config().lease_ttl;
    let lease = bus.acquire_worker_lease("worker-a").await.unwrap();
    assert_eq!(lease.worker(), "worker-a");
    assert!(bus.worker_alive("worker-a").await.unwrap());
    assert!(!bus.worker_alive("worker-b").await.unwrap());
    assert!(matches!(bus.acquire_worker_lease("worker-a").await, Err(BusError::LeaseHeld { .. })));

    // renewed: alive for well past its TTL, never lost
    let until = Instant::now() + ttl * 2;
    while Instant::now() < until {
        assert!(bus.worker_alive("worker-a").await.unwrap(), "a renewed lease lapsed");
        assert!(!lease.is_lost());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // dropped (a dead worker stops renewing): gone within the TTL plus the server's expiry check
    drop(lease);
    eventually(ttl + Duration::from_secs(3), async || !bus.worker_alive("worker-a").await.unwrap()).await;
    // and the id can be taken again; a released lease is gone at once
    let lease = bus.acquire_worker_lease("worker-a").await.unwrap();
    lease.release().await.unwrap();
    assert!(!bus.worker_alive("worker-a").await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_that_cannot_be_renewed_is_lost_within_its_ttl() {
    let (mut server, bus) = server_and_bus().await;
    let ttl = test_config().lease_ttl;
    let lease = bus.acquire_worker_lease("worker-a").await.unwrap();
    let mut signal = lease.lost_signal();
    server.stop().await;
    let started = Instant::now();
    tokio::time::timeout(ttl + Duration::from_secs(1), lease.lost()).await.expect("lost() fired");
    assert!(lease.is_lost());
    assert!(*signal.borrow_and_update());
    assert!(started.elapsed() <= ttl + Duration::from_secs(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_of_a_dead_worker_is_taken_over_once_its_lease_lapses() {
    let (_server, bus) = server_and_bus().await;
    let session = session();
    let ttl = test_config().lease_ttl;
    let lease = bus.acquire_worker_lease("worker-a").await.unwrap();
    let stale = bus.claim_run(&session, "worker-a").await.unwrap();
    // the owner is alive: no takeover
    let err = bus.reclaim_run(&session, "worker-b").await.unwrap_err();
    assert!(matches!(&err, BusError::AlreadyRunning { owner, .. } if owner == "worker-a"), "{err}");

    drop(lease); // worker-a dies
    eventually(ttl + Duration::from_secs(3), async || !bus.worker_alive("worker-a").await.unwrap()).await;
    let _b = bus.acquire_worker_lease("worker-b").await.unwrap();
    let claim = bus.reclaim_run(&session, "worker-b").await.unwrap();
    assert_eq!(claim.worker(), "worker-b");
    assert_eq!(bus.running().await.unwrap(), vec![(session.clone(), "worker-b".to_owned())]);
    // worker-b is alive: a third cannot take it, and the dead owner's late release changes nothing
    assert!(matches!(bus.reclaim_run(&session, "worker-c").await, Err(BusError::AlreadyRunning { .. })));
    assert!(stale.release().await.is_err(), "a claim taken over cannot be released by its old owner");
    assert_eq!(bus.running().await.unwrap(), vec![(session.clone(), "worker-b".to_owned())]);
    // nobody owns it: reclaim is a plain claim
    claim.release().await.unwrap();
    assert_eq!(bus.reclaim_run(&session, "worker-c").await.unwrap().worker(), "worker-c");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_hears_of_a_lapsed_or_released_lease_and_not_of_renewals() {
    let (_server, bus) = server_and_bus().await;
    let ttl = test_config().lease_ttl;
    let mut lapsed = Box::pin(bus.watch_lapsed_workers().await.unwrap());
    let alive = bus.acquire_worker_lease("worker-alive").await.unwrap();
    let dying = bus.acquire_worker_lease("worker-dying").await.unwrap();
    let started = Instant::now();
    drop(dying);
    let next = tokio::time::timeout(ttl + Duration::from_secs(3), lapsed.next()).await.expect("a lapse was reported");
    assert_eq!(next.unwrap().unwrap(), "worker-dying", "only the lease that was not renewed lapsed");
    assert!(started.elapsed() >= ttl / 2, "reported after {:?}, before the lease could lapse", started.elapsed());
    assert!(!alive.is_lost());
    alive.release().await.unwrap();
    let next = tokio::time::timeout(Duration::from_secs(5), lapsed.next()).await.expect("a release was reported");
    assert_eq!(next.unwrap().unwrap(), "worker-alive");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workers_set_the_lease_ttl_and_a_replica_leaves_it_as_it_is() {
    let (server, worker_bus) = server_and_bus().await;
    let two = test_config().lease_ttl;
    assert_eq!(worker_bus.lease_ttl_in_force().await.unwrap(), two);
    // a replica with another lease TTL (its default) started later: the workers' TTL stays
    let replica = opcode_bus::BusConfig { role: opcode_bus::BusRole::Replica, ..opcode_bus::BusConfig::default() };
    assert_ne!(replica.lease_ttl, two);
    let replica_bus = opcode_bus::Bus::connect(&server.url(), replica).await.unwrap();
    assert_eq!(replica_bus.lease_ttl_in_force().await.unwrap(), two);
    assert_eq!(worker_bus.lease_ttl_in_force().await.unwrap(), two);
    // a worker with another TTL sets it
    let three = Duration::from_secs(3);
    let worker = opcode_bus::BusConfig { lease_ttl: three, ..test_config() };
    let other_worker = opcode_bus::Bus::connect(&server.url(), worker).await.unwrap();
    assert_eq!(other_worker.lease_ttl_in_force().await.unwrap(), three);
}
