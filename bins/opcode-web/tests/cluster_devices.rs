//! Paired devices and pairing links on a cluster (`--nats-url`), over real sockets on a real nats-server:
//! a link made on one replica pairs a browser through another, whose cookie then works on every replica
//! (REST and WebSocket); the link pairs once whichever replica it is used on; a rename shows everywhere; a
//! revocation through one replica refuses the device on the others at once and closes its sockets there;
//! a replica started later knows the devices already paired, and a replica joining shares its own devices
//! and forgets those revoked while it was away; bad input is refused as on one server.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use opcode_bus::{Bus, BusConfig};
use opcode_cluster::{ClusterClient, ClusterRuns};
use opcode_testkit::nats::NatsServer;
use serde_json::{json, Value};

/// A replica of the cluster on `nats` that shares its devices through the bus, as `--nats-url` does.
async fn replica(nats: &NatsServer) -> TestServer {
    let bus = Bus::connect(&nats.url(), BusConfig::default()).await.unwrap();
    let runs = Arc::new(ClusterRuns::open(ClusterClient::new(bus.clone())).await.unwrap());
    TestServer::start_replica_sharing(runs, bus).await
}

fn origin(server: &TestServer) -> String {
    format!("http://{}", server.addr)
}

/// A fresh pairing link's code, made on `server` with the token.
async fn link_code(server: &TestServer) -> String {
    let response = server.http().post(server.url("/api/pairing-links")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let url = body["data"]["url"].as_str().unwrap();
    assert!(url.starts_with(&server.url("/pair?code=")), "{url}");
    url.split("code=").nth(1).unwrap().to_owned()
}

/// `POST /pair` with `code` on `server`, from its own page.
async fn redeem(server: &TestServer, code: &str) -> reqwest::Response {
    let android = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36";
    server
        .http()
        .post(server.url("/pair"))
        .header("origin", origin(server))
        .header("user-agent", android)
        .form(&[("code", code)])
        .send()
        .await
        .unwrap()
}

/// The status of `GET /api/projects` with `cookie` on `server`.
async fn with_cookie(server: &TestServer, cookie: &str) -> u16 {
    let response = server.http().get(server.url("/api/projects")).header("cookie", cookie).send().await.unwrap();
    response.status().as_u16()
}

/// Polls `check` until it holds, failing after [`LIMIT`] with `what`.
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + LIMIT;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_paired_through_one_replica_works_on_all_until_revoked_through_another() {
    let nats = NatsServer::start().await;
    let (one, two) = (replica(&nats).await, replica(&nats).await);

    // a link made on replica 1 is opened and used on replica 2 (a load balancer, no sticky sessions)
    let code = link_code(&one).await;
    let page = two.http().get(two.url(&format!("/pair?code={code}"))).send().await.unwrap();
    assert_eq!(page.status(), 200, "the link's page works on any replica");
    assert!(device_cookie_of(&page).is_none(), "opening the page spends nothing");
    let paired = redeem(&two, &code).await;
    assert_eq!(paired.status(), 303);
    let phone = device_cookie_of(&paired).expect("the device's cookie");
    assert_eq!(with_cookie(&two, &phone).await, 200);
    eventually("the cookie works on replica 1", async || with_cookie(&one, &phone).await == 200).await;
    let mut socket =
        one.ws_with("/ws/claude", &[("cookie", phone.as_str()), ("origin", origin(&one).as_str())]).await.unwrap();
    assert!(two.ws_with("/ws/claude", &[("cookie", phone.as_str()), ("origin", origin(&two).as_str())]).await.is_ok());

    // used: refused on either replica, nothing more paired
    for replica in [&one, &two] {
        let again = redeem(replica, &code).await;
        assert_eq!(again.status(), 410);
        assert!(device_cookie_of(&again).is_none());
        assert!(again.text().await.unwrap().contains("already used"));
        let page = replica.http().get(replica.url(&format!("/pair?code={code}"))).send().await.unwrap();
        assert_eq!(page.status(), 410);
    }
    let listed = devices(&one).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(devices(&two).await.len(), 1);
    let id = listed[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(listed[0]["name"], "Chrome on Android");

    // renamed on replica 1: replica 2 shows the new name
    let rename =
        one.http().patch(one.url(&format!("/api/devices/{id}"))).bearer_auth(TOKEN).json(&json!({"name": "my phone"}));
    assert_eq!(rename.send().await.unwrap().status(), 200);
    eventually("the new name on replica 2", async || devices(&two).await[0]["name"] == "my phone").await;
    // the device itself sees its new name on either replica
    let mine: Value =
        one.http().get(one.url("/api/devices")).header("cookie", &phone).send().await.unwrap().json().await.unwrap();
    assert_eq!(mine["data"]["current"], id.as_str());

    // a replica started now knows the device at once (before it serves its first request)
    let three = replica(&nats).await;
    assert_eq!(with_cookie(&three, &phone).await, 200);
    assert_eq!(devices(&three).await[0]["name"], "my phone");

    // revoked on replica 2: refused on replicas 1 and 3, and its open socket on replica 1 closes
    let revoke = two.http().delete(two.url(&format!("/api/devices/{id}"))).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(revoke.status(), 200);
    assert_eq!(with_cookie(&two, &phone).await, 401);
    let (_, close) = until_close(&mut socket).await;
    assert_eq!(close, Some(opcode_web::auth::CLOSE_UNAUTHORISED), "its socket on replica 1 closes");
    for replica in [&one, &three] {
        eventually("the cookie is refused", async || with_cookie(replica, &phone).await == 401).await;
        let refused = replica.http().get(replica.url("/api/projects")).header("cookie", &phone).send().await.unwrap();
        let body: Value = refused.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().contains("no longer authorised"), "{body}");
        let ws =
            replica.ws_with("/ws/claude", &[("cookie", phone.as_str()), ("origin", origin(replica).as_str())]).await;
        assert!(ws.is_err(), "no new socket");
        assert!(devices(replica).await.is_empty());
    }
    // revoking it again through another replica: 404, as on one server
    let twice = one.http().delete(one.url(&format!("/api/devices/{id}"))).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(twice.status(), 404);
    // the audit trail stays per replica: the revocation is in replica 2's
    assert_eq!(audit(&two).await[0]["action"], "device_revoked");
    assert!(audit(&one).await.iter().all(|e| e["action"] != "device_revoked"));

    one.stop().await;
    two.stop().await;
    three.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_used_on_two_replicas_at_once_pairs_one_browser_and_bad_input_is_refused() {
    let nats = NatsServer::start().await;
    let (one, two) = (replica(&nats).await, replica(&nats).await);
    let code = link_code(&two).await;
    let (a, b) = tokio::join!(redeem(&one, &code), redeem(&two, &code));
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [303, 410], "one browser paired, the other told the link was used");
    assert_eq!(device_cookie_of(&a).is_some() as u8 + device_cookie_of(&b).is_some() as u8, 1);
    eventually("one device on both replicas", async || devices(&one).await.len() == 1).await;
    assert_eq!(devices(&two).await.len(), 1);

    // bad input is refused as on one server, and nothing is paired or written
    let unknown = "0123456789abcdef".repeat(2);
    for replica in [&one, &two] {
        let http = replica.http();
        for code in ["nope", "../../etc/passwd", &"A".repeat(64), &"a".repeat(64)] {
            let page = http.get(replica.url(&format!("/pair?code={}", enc(code)))).send().await.unwrap();
            assert_eq!(page.status(), 404, "{code}");
            let post = redeem(replica, code).await;
            assert_eq!(post.status(), 404, "{code}");
            assert!(device_cookie_of(&post).is_none());
        }
        let gone =
            http.delete(replica.url(&format!("/api/devices/{unknown}"))).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(gone.status(), 404);
        let rename =
            http.patch(replica.url(&format!("/api/devices/{unknown}"))).bearer_auth(TOKEN).json(&json!({"name": "x"}));
        assert_eq!(rename.send().await.unwrap().status(), 404);
        let malformed = http.delete(replica.url("/api/devices/not-an-id")).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(malformed.status(), 400);
        let id = devices(replica).await[0]["id"].as_str().unwrap().to_owned();
        let bad_name =
            http.patch(replica.url(&format!("/api/devices/{id}"))).bearer_auth(TOKEN).json(&json!({"name": ""}));
        assert_eq!(bad_name.send().await.unwrap().status(), 400);
        // the token is the cluster's (--token): a replica refuses to rotate it, and says why
        let rotate = http.post(replica.url("/api/token/rotate")).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(rotate.status(), 409);
        let body: Value = rotate.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().contains("replica"), "{body}");
        assert_eq!(http.get(replica.url("/api/projects")).bearer_auth(TOKEN).send().await.unwrap().status(), 200);
    }
    assert_eq!(devices(&one).await.len(), 1, "nothing more was paired");
    assert_ne!(devices(&one).await[0]["name"], "", "the name was not changed");
    one.stop().await;
    two.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_joining_shares_its_own_devices_and_forgets_those_revoked_while_it_was_away() {
    let nats = NatsServer::start().await;
    let bus = Bus::connect(&nats.url(), BusConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(opcode_store::Store::open(&dir.path().join("opcode.db")).unwrap());
    let access = opcode_access::Access::open(store, TOKEN).unwrap();
    // paired on this machine before it joined (kept), and one the cluster revoked while it was away
    let (kept, kept_credential) = access.pair("Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0", "10.0.0.1").unwrap();
    let (gone, gone_credential) = access.pair("Mozilla/5.0 (iPhone) Safari/605.1", "10.0.0.2").unwrap();
    let shared = |r: &opcode_store::DeviceRecord| opcode_bus::SharedDevice {
        id: r.id.clone(),
        secret_hash: r.secret_hash.clone(),
        name: r.name.clone(),
        user_agent: r.user_agent.clone(),
        paired_at: r.paired_at,
        paired_addr: r.paired_addr.clone(),
    };
    bus.share_device(&shared(&gone)).await.unwrap();
    bus.revoke_device(&gone.id).await.unwrap();

    let _cluster = opcode_web::cluster_access::ClusterAccess::start(bus.clone(), access.clone()).await.unwrap();
    assert!(access.device_for(&kept_credential).is_some(), "its own device stays paired");
    assert_eq!(access.check_device(&gone_credential), opcode_access::DeviceCheck::Revoked);
    let (now, _) = bus.watch_devices().await.unwrap();
    assert_eq!(now, vec![shared(&kept)], "its own device is shared with the cluster; the bus holds no credential");
    assert!(!serde_json::to_string(&now).unwrap_or_default().contains(&kept_credential));
}
