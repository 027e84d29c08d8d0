//! Web Push end to end: a real server with the fake claude, and push services of the test's own (axum on
//! 127.0.0.1) that check every push as a browser's push service and browser would: the VAPID JWT's
//! ES256 signature against the server's public key (and its `aud`, `sub`, validity), then the RFC 8291
//! `aes128gcm` decryption with the subscription's private key.
mod common;

use common::*;
use serde_json::{json, Value};

fn is_permission_request(e: &Value) -> bool {
    e["type"] == "permission_request"
}

#[tokio::test]
async fn a_permission_request_is_pushed_and_allow_through_its_answer_route_resolves_it() {
    let server = TestServer::start_with_push().await;
    let mut phone = server.endpoint().await;
    server.subscribe(&phone, "phone-1").await;

    let id = uuid::Uuid::new_v4().to_string();
    let mut ws = server.ws("/ws/claude").await;
    send(&mut ws, server.live_request("please @tool", &id)).await;
    let events = until(&mut ws, is_permission_request).await;
    let request = events.last().unwrap().clone();

    let pushed = phone.next_of("permission_request").await;
    assert_eq!(pushed.headers["urgency"], "high");
    let ttl: u64 = pushed.headers["ttl"].to_str().unwrap().parse().unwrap();
    assert!(ttl > 60, "a permission push lives until the request expires: {ttl}");
    let payload = &pushed.payload;
    assert_eq!(payload["v"], 1);
    assert_eq!(payload["session_id"], id.as_str());
    assert_eq!(payload["url"], format!("/?session={id}"));
    assert_eq!(payload["tag"], format!("perm:{}", request["request_id"].as_str().unwrap()));
    let permission = &payload["permission"];
    assert_eq!(permission["request_id"], request["request_id"]);
    assert_eq!(permission["tool_name"], "Bash");
    assert_eq!(permission["tool_name"], request["tool_name"]);
    assert_eq!(permission["expires_at"], request["expires_at"]);
    let command = request["input"]["command"].as_str().expect("the fake's Bash input has a command");
    assert_eq!(permission["summary"], command);
    let project = server.project.path().file_name().unwrap().to_str().unwrap();
    assert_eq!(payload["project"], project);
    assert_eq!(payload["title"], format!("{project}: allow Bash?"));
    // a tap opens the UI on that session
    let page = server.http().get(server.url(payload["url"].as_str().unwrap())).send().await.unwrap();
    assert_eq!(page.status(), 200);

    // the service worker's Allow: POST the answer route (with the cookie; here the bearer)
    let answer_url = permission["answer_url"].as_str().unwrap();
    let (status, body) = server.call(reqwest::Method::POST, answer_url, &json!({ "behavior": "allow" })).await;
    assert_eq!(status, 200, "{body}");
    let resolved = until(&mut ws, |e| e["type"] == "permission_resolved").await;
    let resolved = resolved.last().unwrap();
    assert_eq!((resolved["behavior"].as_str(), resolved["by"].as_str()), (Some("allow"), Some("viewer")));
    assert_eq!(resolved["request_id"], request["request_id"]);
    // first answer wins: the Deny of a second device is refused
    let (status, body) = server.call(reqwest::Method::POST, answer_url, &json!({ "behavior": "deny" })).await;
    assert_eq!(status, 409, "{body}");

    // the tool ran, the turn ended: a "finished" push
    until(&mut ws, is_result).await;
    let done = phone.next_of("finished").await;
    assert_eq!(done.payload["session_id"], id.as_str());
    assert_eq!(done.payload["tag"], format!("run:{id}"));
    assert_eq!(done.headers["urgency"], "normal");
    assert!(server.project.path().join("tool-ran.txt").exists());
    server.stop().await;
}

#[tokio::test]
async fn a_visible_page_of_a_device_suppresses_its_pushes_and_only_its_own() {
    let server = TestServer::start_with_push().await;
    let mut phone = server.endpoint().await;
    let mut laptop = server.endpoint().await;
    server.subscribe(&phone, "phone").await;
    server.subscribe(&laptop, "laptop").await;

    let id = uuid::Uuid::new_v4().to_string();
    let mut ws = server.ws("/ws/claude").await;
    // the phone's page is visible on this socket (reported before the run starts on it)
    send(&mut ws, json!({ "type": "visibility", "device": "phone", "visible": true }).to_string()).await;
    send(&mut ws, server.live_request("please @tool", &id)).await;
    let request = until(&mut ws, is_permission_request).await.last().unwrap().clone();

    let pushed = laptop.next_of("permission_request").await;
    assert_eq!(pushed.payload["permission"]["request_id"], request["request_id"]);
    // the phone was left out when the event was handled, before any delivery was started
    let stats = server.push_stats(|s| s.suppressed >= 1).await;
    assert_eq!(stats.suppressed, 1, "{stats:?}");
    assert!(phone.nothing_received(), "a visible device got a push");

    // the page goes to the background: the end of the turn reaches the phone too
    send(&mut ws, json!({ "type": "visibility", "device": "phone", "visible": false }).to_string()).await;
    let answer = json!({ "type": "permission_response", "session_id": id, "request_id": request["request_id"], "behavior": "deny", "message": "no" });
    send(&mut ws, answer.to_string()).await;
    until(&mut ws, is_result).await;
    let done = phone.next().await;
    assert_eq!(done.payload["kind"], "finished");
    assert_eq!(done.payload["session_id"], id.as_str());
    laptop.next_of("finished").await;
    server.stop().await;
}

#[tokio::test]
async fn a_socket_that_closes_takes_its_visibility_along() {
    let server = TestServer::start_with_push().await;
    let mut phone = server.endpoint().await;
    server.subscribe(&phone, "phone").await;
    let id = uuid::Uuid::new_v4().to_string();

    let mut page = server.ws("/ws/claude").await;
    send(&mut page, json!({ "type": "visibility", "device": "phone", "visible": true }).to_string()).await;
    // a malformed report gets an error frame and changes nothing
    send(&mut page, json!({ "type": "visibility", "device": "no spaces", "visible": true }).to_string()).await;
    let error = next_json(&mut page).await.unwrap();
    assert_eq!(error["type"], "error");
    assert!(error["message"].as_str().unwrap().contains("device_id"), "{error}");
    drop(page);

    // the page is gone; a run started from elsewhere afterwards reaches the phone. The close is only
    // seen by the server when it reads the socket, so wait until the phone is no longer watching.
    let presence = server.push().presence().clone();
    let mut changes = presence.changes();
    tokio::time::timeout(LIMIT, changes.wait_for(|_| !presence.watching_at("phone", tokio::time::Instant::now())))
        .await
        .expect("the closed socket stops counting")
        .unwrap();
    let mut ws = server.ws("/ws/claude").await;
    send(&mut ws, server.live_request("please @tool", &id)).await;
    until(&mut ws, is_permission_request).await;
    let pushed = phone.next_of("permission_request").await;
    assert_eq!(pushed.payload["session_id"], id.as_str());
    server.stop().await;
}

#[tokio::test]
async fn gone_subscriptions_are_removed_by_the_test_route_and_by_the_notifier() {
    let server = TestServer::start_with_push().await;
    let mut phone = server.endpoint().await;
    server.subscribe(&phone, "phone").await;

    let (status, body) = server.call(reqwest::Method::POST, "/api/push/test", &json!({ "device_id": "phone" })).await;
    assert_eq!(status, 200, "{body}");
    let test = phone.next().await;
    assert_eq!((test.payload["kind"].as_str(), test.payload["url"].as_str()), (Some("test"), Some("/")));

    phone.answer_with(410);
    let (status, body) = server.call(reqwest::Method::POST, "/api/push/test", &json!({ "device_id": "phone" })).await;
    assert_eq!(status, 410, "{body}");
    assert!(body["error"].as_str().unwrap().contains("subscribe again"), "{body}");
    phone.next().await;
    assert!(server.stored_devices().await.is_empty());
    let (status, _) = server.call(reqwest::Method::POST, "/api/push/test", &json!({ "device_id": "phone" })).await;
    assert_eq!(status, 404);

    // the notifier: a one-shot run finishes, the push service says 404
    server.subscribe(&phone, "phone").await;
    phone.answer_with(404);
    let mut ws = server.ws("/ws/claude").await;
    send(&mut ws, server.request("execute", "hello", None)).await;
    until_completion(&mut ws).await;
    let done = phone.next().await;
    assert_eq!(done.payload["kind"], "finished");
    server.push_stats(|s| s.removed >= 2).await;
    assert!(server.stored_devices().await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn a_failed_run_is_pushed_with_its_reason() {
    let server = TestServer::start_with_push().await;
    let mut phone = server.endpoint().await;
    server.subscribe(&phone, "phone").await;
    let mut ws = server.ws("/ws/claude").await;
    send(&mut ws, server.request("execute", "break @exit=3", None)).await;
    let events = until_completion(&mut ws).await;
    let pushed = phone.next_of("failed").await;
    assert_eq!(pushed.payload["session_id"], events[0]["session_id"]);
    assert_eq!(pushed.payload["body"], "claude ended with exit code 3");
    server.stop().await;
}

#[tokio::test]
async fn bad_input_gets_a_clear_4xx_and_writes_nothing() {
    let server = TestServer::start_with_push().await;
    let phone = server.endpoint().await;
    let good = phone.subscribe_body("phone");

    let mut bad_key = good.clone();
    bad_key["subscription"]["keys"]["p256dh"] = "AAAA".into();
    let mut bad_auth = good.clone();
    bad_auth["subscription"]["keys"]["auth"] = "!!".into();
    let mut bad_endpoint = good.clone();
    bad_endpoint["subscription"]["endpoint"] = "ftp://push.example/x".into();
    let mut bad_device = good.clone();
    bad_device["device_id"] = "../etc".into();
    let mut extra = good.clone();
    extra["admin"] = true.into();
    let mut no_keys = good.clone();
    no_keys["subscription"].as_object_mut().unwrap().remove("keys");
    let cases = [
        (bad_key, "p256dh"),
        (bad_auth, "auth"),
        (bad_endpoint, "endpoint"),
        (bad_device, "device_id"),
        (extra, "admin"),
        (no_keys, "keys"),
        (json!([1, 2]), "JSON object"),
    ];
    for (body, says) in cases {
        let (status, answer) = server.call(reqwest::Method::POST, "/api/push/subscriptions", &body).await;
        assert_eq!(status, 400, "{body} → {answer}");
        assert_eq!(answer["success"], false);
        assert!(answer["error"].as_str().unwrap().contains(says), "{body} → {answer}");
    }
    // not JSON at all, and an oversized body
    let raw = |body: String| {
        server
            .http()
            .post(server.url("/api/push/subscriptions"))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let response = raw("{not json".to_owned()).await.unwrap();
    assert_eq!(response.status(), 400);
    let mut huge = good.clone();
    huge["subscription"]["endpoint"] = format!("https://push.example/{}", "x".repeat(10_000)).into();
    let response = raw(huge.to_string()).await.unwrap();
    assert_eq!(response.status(), 413);
    let answer: Value = response.json().await.unwrap();
    assert!(answer["error"].as_str().unwrap().contains("limit"), "{answer}");
    // without the token
    let response = server.http().post(server.url("/api/push/subscriptions")).json(&good).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert!(server.stored_devices().await.is_empty(), "a refused subscription was written");

    // deleting or testing what is not there
    let (status, body) =
        server.call(reqwest::Method::DELETE, "/api/push/subscriptions", &json!({ "device_id": "phone" })).await;
    assert_eq!((status, &body["data"]["deleted"]), (200, &json!(false)));
    let (status, body) = server.call(reqwest::Method::POST, "/api/push/test", &json!({ "device_id": "phone" })).await;
    assert_eq!(status, 404, "{body}");
    assert!(body["error"].as_str().unwrap().contains("no push subscription"), "{body}");

    // the answer route with an unknown session, and an unknown request of a live session
    let (status, body) =
        server.call(reqwest::Method::POST, "/api/sessions/nope/permissions/r1", &json!({ "behavior": "allow" })).await;
    assert_eq!(status, 404, "{body}");
    let id = uuid::Uuid::new_v4().to_string();
    let mut ws = server.ws("/ws/claude").await;
    send(&mut ws, server.live_request("hello", &id)).await;
    until(&mut ws, is_result).await;
    let (status, body) = server
        .call(reqwest::Method::POST, &format!("/api/sessions/{id}/permissions/nope"), &json!({ "behavior": "allow" }))
        .await;
    assert_eq!(status, 409, "{body}");

    // and the subscription that is right is saved, then turned off
    server.subscribe(&phone, "phone").await;
    assert_eq!(server.stored_devices().await, ["phone"]);
    let (status, body) =
        server.call(reqwest::Method::DELETE, "/api/push/subscriptions", &json!({ "device_id": "phone" })).await;
    assert_eq!((status, &body["data"]["deleted"]), (200, &json!(true)));
    assert!(server.stored_devices().await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn without_push_the_routes_say_it_is_off() {
    let server = TestServer::start().await;
    let (status, body) = server.get_json("/api/push/vapid-public-key").await;
    assert_eq!(status, 503, "{body}");
    assert!(body["error"].as_str().unwrap().contains("Web Push is off"));
    server.stop().await;
}
