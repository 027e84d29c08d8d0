//! Shared paired devices and pairing codes (`OPCODE_ACCESS`) against a real nats-server: a watch sees the
//! devices already paired and every change after; a rename never resurrects a revoked device; a code is
//! redeemed exactly once even when many replicas race for it; only hashes are stored.

mod common;

use std::time::Duration;

use common::{server_and_bus, test_config};
use futures::StreamExt;
use opcode_bus::{Bus, BusError, CodeState, DeviceChange, SharedDevice};

fn device(id: &str, name: &str) -> SharedDevice {
    SharedDevice {
        id: id.to_owned(),
        secret_hash: format!("{id}{id}"),
        name: name.to_owned(),
        user_agent: "Mozilla/5.0".to_owned(),
        paired_at: 1_700_000_000,
        paired_addr: "127.0.0.1".to_owned(),
    }
}

fn hex_id(n: u8) -> String {
    format!("{n:02x}").repeat(16)
}

async fn next_change(watch: &mut opcode_bus::DeviceWatch) -> DeviceChange {
    tokio::time::timeout(Duration::from_secs(10), watch.next())
        .await
        .expect("a change in time")
        .expect("the watch goes on")
        .expect("no bus error")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_starts_from_the_devices_paired_and_sees_every_change_after() {
    let (server, one) = server_and_bus().await;
    let two = Bus::connect(&server.url(), test_config()).await.unwrap();
    let (a, b, c) = (device(&hex_id(1), "phone"), device(&hex_id(2), "laptop"), device(&hex_id(3), "tablet"));
    one.share_device(&a).await.unwrap();
    one.share_device(&b).await.unwrap();
    one.revoke_device(&b.id).await.unwrap();

    // another connection (a replica started later) sees the paired one, not the revoked one
    let (now, mut watch) = two.watch_devices().await.unwrap();
    assert_eq!(now, vec![a.clone()]);
    assert!(two.device_revoked(&b.id).await.unwrap(), "a revocation stays on record");
    assert!(!two.device_revoked(&a.id).await.unwrap());
    assert!(!two.device_revoked(&c.id).await.unwrap(), "never shared is not revoked");

    one.share_device(&c).await.unwrap();
    assert_eq!(next_change(&mut watch).await, DeviceChange::Paired(c.clone()));
    let renamed = SharedDevice { name: "my phone".into(), ..a.clone() };
    assert!(one.update_device(&renamed).await.unwrap());
    assert_eq!(next_change(&mut watch).await, DeviceChange::Paired(renamed.clone()));
    one.revoke_device(&a.id).await.unwrap();
    assert_eq!(next_change(&mut watch).await, DeviceChange::Revoked(a.id.clone()));

    // a rename that comes after a revocation does not bring the device back
    assert!(!one.update_device(&SharedDevice { name: "again".into(), ..a.clone() }).await.unwrap());
    let (now, _) = one.watch_devices().await.unwrap();
    assert_eq!(now, vec![c.clone()]);
    // the same id twice is refused: ids are random
    assert!(one.share_device(&c).await.is_err());
    // ids that are not hex never reach the bucket
    for bad in ["", "../x", "ABCDEF", "a.b", "*", ">"] {
        let err = one.revoke_device(bad).await.unwrap_err();
        assert!(matches!(err, BusError::InvalidAccessKey(_)), "{bad:?}: {err}");
        assert!(matches!(one.redeem_pairing_code(bad).await, Err(BusError::InvalidAccessKey(_))), "{bad:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pairing_code_is_redeemed_once_across_replicas_and_only_in_time() {
    let (server, one) = server_and_bus().await;
    let mut replicas = vec![one.clone()];
    for _ in 0..4 {
        replicas.push(Bus::connect(&server.url(), test_config()).await.unwrap());
    }
    let code = "c".repeat(64);
    assert_eq!(one.check_pairing_code(&code).await.unwrap(), CodeState::Unknown);
    one.create_pairing_code(&code, Duration::from_secs(300)).await.unwrap();
    assert_eq!(replicas[3].check_pairing_code(&code).await.unwrap(), CodeState::Valid, "checking spends nothing");
    assert_eq!(replicas[2].check_pairing_code(&code).await.unwrap(), CodeState::Valid);

    // five replicas redeem it at once: exactly one wins, the others are told it was used
    let results = futures::future::join_all(replicas.iter().map(|bus| bus.redeem_pairing_code(&code))).await;
    let states: Vec<CodeState> = results.into_iter().map(Result::unwrap).collect();
    assert_eq!(states.iter().filter(|s| **s == CodeState::Valid).count(), 1, "{states:?}");
    assert!(states.iter().all(|s| matches!(s, CodeState::Valid | CodeState::Used)), "{states:?}");
    assert_eq!(one.redeem_pairing_code(&code).await.unwrap(), CodeState::Used);
    assert_eq!(one.check_pairing_code(&code).await.unwrap(), CodeState::Used);

    let late = "d".repeat(64);
    one.create_pairing_code(&late, Duration::ZERO).await.unwrap();
    assert_eq!(replicas[1].check_pairing_code(&late).await.unwrap(), CodeState::Expired);
    assert_eq!(replicas[1].redeem_pairing_code(&late).await.unwrap(), CodeState::Expired);
    assert_eq!(one.redeem_pairing_code(&"e".repeat(64)).await.unwrap(), CodeState::Unknown);
}
