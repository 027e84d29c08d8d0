//! Security by default, over real sockets: credentials on /api and /ws, devices (pairing, revoking, the
//! token's rotation), the cross-origin rule for the cookie, Origin and Host checks, security headers,
//! traversal, oversized requests, the wrong-credential back-off, the audit trail. Every refusal also
//! checks that nothing ran.

mod common;

use common::*;
use tokio_tungstenite::tungstenite::Error as WsError;

fn status_of(err: WsError) -> u16 {
    match err {
        WsError::Http(response) => response.status().as_u16(),
        other => panic!("expected an HTTP refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn api_needs_the_token_but_health_does_not() {
    let server = TestServer::start().await;
    let http = server.http();
    assert_eq!(http.get(server.url("/api/health")).send().await.unwrap().status(), 200);
    assert_eq!(http.get(server.url("/api/projects")).send().await.unwrap().status(), 401);
    let wrong = http.get(server.url("/api/projects")).bearer_auth("wrong").send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let right = http.get(server.url("/api/projects")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(right.status(), 200);
    let cancel = http.post(server.url("/api/sessions/x/cancel")).send().await.unwrap();
    assert_eq!(cancel.status(), 401);
    server.stop().await;
}

#[tokio::test]
async fn websocket_upgrades_need_the_token_and_a_trusted_origin() {
    let server = TestServer::start().await;
    assert_eq!(status_of(server.ws_with("/ws/claude", &[]).await.unwrap_err()), 401);
    let bad_token = [("authorization", "Bearer nope")];
    assert_eq!(status_of(server.ws_with("/ws/sessions/x", &bad_token).await.unwrap_err()), 401);
    let auth = format!("Bearer {TOKEN}");
    let foreign = [("authorization", auth.as_str()), ("origin", "http://localhost:3000")];
    assert_eq!(status_of(server.ws_with("/ws/claude", &foreign).await.unwrap_err()), 403);
    let own_origin = format!("http://{}", server.addr);
    let own = [("authorization", auth.as_str()), ("origin", own_origin.as_str())];
    assert!(server.ws_with("/ws/claude", &own).await.is_ok());
    let cookie = browser_cookie(&server).await;
    let with_cookie = [("cookie", cookie.as_str()), ("origin", own_origin.as_str())];
    assert!(server.ws_with("/ws/claude", &with_cookie).await.is_ok());
    // a cookie socket from an opaque origin (a sandboxed frame, a file://) or with no Origin at all
    let null_origin = [("cookie", cookie.as_str()), ("origin", "null")];
    assert_eq!(status_of(server.ws_with("/ws/claude", &null_origin).await.unwrap_err()), 403);
    let bearer_null = [("authorization", auth.as_str()), ("origin", "null")];
    assert_eq!(status_of(server.ws_with("/ws/claude", &bearer_null).await.unwrap_err()), 403);
    let no_origin = [("cookie", cookie.as_str())];
    assert_eq!(status_of(server.ws_with("/ws/claude", &no_origin).await.unwrap_err()), 403);
    let (_, runs) = server.get_json("/api/sessions/running").await;
    assert_eq!(runs["data"].as_array().unwrap().len(), 0, "nothing ran");
    server.stop().await;
}

#[tokio::test]
async fn the_token_url_sets_an_httponly_strict_cookie_and_drops_the_token_from_the_address() {
    let server = TestServer::start().await;
    let http = server.http();
    let response = http.get(server.url(&format!("/?token={TOKEN}"))).send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let cookies: Vec<String> =
        response.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    let cookie = cookies.iter().find(|c| c.starts_with("opcode_device=")).expect("a device cookie");
    assert!(!cookie.contains(TOKEN), "the cookie carries the device's own credential, not the token");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(
        cookies.iter().any(|c| c.starts_with("opcode_token=;") && c.contains("Max-Age=0")),
        "the old cookie is cleared"
    );
    let device = cookie.split(';').next().unwrap();
    let with_cookie = http.get(server.url("/api/projects")).header("cookie", device).send().await.unwrap();
    assert_eq!(with_cookie.status(), 200);
    // the token in a cookie (from before devices) is not a credential: the browser is told to re-open the URL
    let legacy =
        http.get(server.url("/api/projects")).header("cookie", format!("opcode_token={TOKEN}")).send().await.unwrap();
    assert_eq!(legacy.status(), 401);
    let body: serde_json::Value = legacy.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("open the URL opcode-web printed"), "{body}");
    let (_, devices) = server.get_json("/api/devices").await;
    let devices = devices["data"]["devices"].as_array().unwrap().clone();
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0]["name"], "Unknown browser", "named after its User-Agent (none here)");

    let wrong = http.get(server.url("/?token=wrong")).send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(wrong.text().await.unwrap().contains("Wrong token"));
    let page = http.get(server.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    server.stop().await;
}

#[tokio::test]
async fn unknown_host_names_are_refused_against_dns_rebinding() {
    let server = TestServer::start().await;
    let http = server.http();
    let rebound = http.get(server.url("/api/health")).header("host", "evil.example:8080").send().await.unwrap();
    assert_eq!(rebound.status(), 403);
    let localhost = http.get(server.url("/api/health")).header("host", "localhost:1").send().await.unwrap();
    assert_eq!(localhost.status(), 200);
    server.stop().await;
}

#[tokio::test]
async fn no_cors_headers_for_origins_not_configured() {
    let server = TestServer::start().await;
    let response =
        server.http().get(server.url("/api/health")).header("origin", "http://evil.example").send().await.unwrap();
    assert!(response.headers().get("access-control-allow-origin").is_none());
    server.stop().await;
}

#[tokio::test]
async fn wrong_tokens_are_limited_per_address_with_back_off() {
    let server = TestServer::start().await;
    let http = server.http();
    let projects = server.url("/api/projects");
    // no token at all is not a guess: a browser that has not logged in yet
    for _ in 0..10 {
        assert_eq!(http.get(&projects).send().await.unwrap().status(), 401);
    }
    for _ in 0..opcode_web::limiter::FREE_FAILURES + 1 {
        assert_eq!(http.get(&projects).bearer_auth("guess").send().await.unwrap().status(), 401);
    }
    // the address is now blocked (for 1 s); more wrong tokens make that long enough for a slow machine
    let local: std::net::IpAddr = "127.0.0.1".parse().unwrap();
    let limiter = &server.state.token_limiter;
    let now = std::time::Instant::now();
    assert!(matches!(limiter.check(local, now), opcode_web::limiter::Verdict::Blocked { .. }));
    for _ in 0..6 {
        limiter.failed(local, now);
    }
    // blocked: even the right token waits, so guessing cannot go on
    let blocked = http.get(&projects).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(blocked.status(), 429);
    let retry: u64 = blocked.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((60..=128).contains(&retry), "{retry}");
    let body: serde_json::Value = blocked.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("try again in"), "{body}");
    // the token URL and WebSocket upgrades are limited alike; the unauthenticated health check is not
    assert_eq!(http.get(server.url("/?token=guess")).send().await.unwrap().status(), 429);
    let auth = format!("Bearer {TOKEN}");
    assert_eq!(status_of(server.ws_with("/ws/claude", &[("authorization", auth.as_str())]).await.unwrap_err()), 429);
    assert_eq!(http.get(server.url("/api/health")).send().await.unwrap().status(), 200);
    server.stop().await;
}

/// A live session waiting for the answer to `echo hi > tool-ran.txt`: (session id, request id).
async fn pending_tool(server: &TestServer) -> (String, String, Ws) {
    let mut ws = server.ws("/ws/claude").await;
    let id = uuid::Uuid::new_v4().to_string();
    send(&mut ws, server.live_request("please @tool", &id)).await;
    let request = until(&mut ws, |e| e["type"] == "permission_request").await.pop().unwrap();
    (id, request["request_id"].as_str().unwrap().to_owned(), ws)
}

/// The session's status in `/api/sessions/running`.
async fn run_status(server: &TestServer, id: &str) -> String {
    let (_, runs) = server.get_json("/api/sessions/running").await;
    let run = runs["data"].as_array().unwrap().iter().find(|r| r["session_id"] == id).cloned().unwrap();
    run["status"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn cookie_requests_from_other_origins_of_the_same_host_are_refused_and_nothing_runs() {
    let server = TestServer::start().await;
    let http = server.http();
    let cookie = browser_cookie(&server).await;
    let (id, request_id, _ws) = pending_tool(&server).await;
    let other = format!("http://127.0.0.1:{}", server.addr.port().wrapping_add(1).max(1));
    let allow = serde_json::json!({"behavior": "allow"}).to_string();
    let answer = server.url(&format!("/api/sessions/{id}/permissions/{request_id}"));
    let cases: Vec<(reqwest::RequestBuilder, &str)> = vec![
        // a page on another port of 127.0.0.1: same-site, so SameSite=Strict lets the cookie through
        (
            http.post(&answer).header("origin", &other).header("content-type", "text/plain").body(allow.clone()),
            "origin",
        ),
        (http.post(&answer).header("origin", "null").body(allow.clone()), "null origin"),
        (http.post(&answer).header("sec-fetch-site", "same-site").body(allow.clone()), "same-site"),
        (http.post(&answer).header("sec-fetch-site", "cross-site").body(allow.clone()), "cross-site"),
        (http.post(&answer).body(allow.clone()), "no origin at all"),
        (http.post(server.url(&format!("/api/sessions/{id}/end"))).header("origin", &other), "end"),
        (
            http.get(server.url(&format!("/api/sessions/{id}/cancel"))).header("sec-fetch-site", "same-site"),
            "GET cancel",
        ),
        (http.get(server.url(&format!("/api/sessions/{id}/cancel"))), "GET cancel, no headers"),
        (http.get(server.url("/api/sessions/new")).header("origin", &other), "GET new"),
        (http.get(server.url("/api/projects")).header("sec-fetch-site", "cross-site"), "a read, cross-site"),
        (http.get(server.url("/api/projects")).header("origin", &other), "a read, other origin"),
    ];
    for (request, what) in cases {
        let response = request.header("cookie", &cookie).send().await.unwrap();
        assert_eq!(response.status(), 403, "{what}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().contains("cross-origin request refused"), "{what}: {body}");
    }
    // nothing ran: the tool still waits for its answer, the session still runs
    assert!(!server.project.path().join("tool-ran.txt").exists(), "the tool did not run");
    assert_eq!(run_status(&server, &id).await, "running");

    // a read from the server's own page, and a script with the bearer token from anywhere, pass
    let own = format!("http://{}", server.addr);
    let read = http.get(server.url("/api/projects")).header("cookie", &cookie).header("sec-fetch-site", "same-origin");
    assert_eq!(read.send().await.unwrap().status(), 200);
    let plain_read = http.get(server.url("/api/projects")).header("cookie", &cookie);
    assert_eq!(plain_read.send().await.unwrap().status(), 200, "a read without either header (curl) passes");
    let from_own =
        http.post(&answer).header("cookie", &cookie).header("origin", &own).header("content-type", "application/json");
    assert_eq!(from_own.body(allow).send().await.unwrap().status(), 200);
    let bearer = http.post(server.url(&format!("/api/sessions/{id}/end"))).bearer_auth(TOKEN).header("origin", &other);
    assert_eq!(bearer.send().await.unwrap().status(), 200, "the bearer token is not subject to the origin rule");
    server.stop().await;
}

#[tokio::test]
async fn an_allowed_origin_may_use_the_cookie() {
    let front = "http://127.0.0.1:9";
    let server = TestServer::start_configured(|state| state.allowed_origins = vec![front.to_owned()].into()).await;
    let cookie = browser_cookie(&server).await;
    let response = server
        .http()
        .get(server.url("/api/sessions/new"))
        .header("cookie", &cookie)
        .header("origin", front)
        .header("sec-fetch-site", "same-site")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    server.stop().await;
}

#[tokio::test]
async fn ui_and_api_answers_carry_the_security_headers() {
    let server = TestServer::start().await;
    let http = server.http();
    for path in ["/", "/api/health", "/api/projects", "/pair?code=x", "/some/client/route"] {
        let response = http.get(server.url(path)).bearer_auth(TOKEN).send().await.unwrap();
        let h = response.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("script-src 'self';"), "{path}: no inline or foreign script: {csp}");
        // inline styles only (the editor and terminal write their own); never inline or foreign script
        let without_styles = csp.replace("style-src 'self' 'unsafe-inline'", "");
        assert!(
            !without_styles.contains("unsafe-inline") && !csp.contains("unsafe-eval") && !csp.contains("http"),
            "{csp}"
        );
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        let cache = h.get("cache-control").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        if path.starts_with("/api/") || path.starts_with("/pair") {
            assert_eq!(cache, "no-store", "{path}");
        } else {
            assert_ne!(cache, "no-store", "{path}: the static shell stays cacheable for the service worker");
        }
    }
    // refusals carry them too
    let refused = http.get(server.url("/api/projects")).header("host", "evil.example").send().await.unwrap();
    assert_eq!(refused.status(), 403);
    assert_eq!(refused.headers()["x-frame-options"], "DENY");
    server.stop().await;
}

#[tokio::test]
async fn a_rebinding_host_name_reaches_nothing_even_with_the_cookie() {
    let server = TestServer::start().await;
    let cookie = browser_cookie(&server).await;
    let (id, _request_id, _ws) = pending_tool(&server).await;
    let http = server.http();
    let rebound = http
        .post(server.url(&format!("/api/sessions/{id}/cancel")))
        .header("host", format!("evil.example:{}", server.addr.port()))
        .header("origin", format!("http://evil.example:{}", server.addr.port()))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 403);
    assert_eq!(run_status(&server, &id).await, "running", "nothing was cancelled");
    server.stop().await;
}

#[tokio::test]
async fn traversal_in_every_path_parameter_is_refused_and_reads_or_writes_nothing() {
    let server = TestServer::start().await;
    let http = server.http();
    // a transcript outside the Claude folder that a traversal would reach
    std::fs::write(server.claude_dir.path().join("secret.jsonl"), "{\"leak\":\"canary-7f3a\"}\n").unwrap();
    let evil = ["..%2F..%2Fetc%2Fpasswd", "..", "%2e%2e", "..%2Fsecret", "a%00b", "%2F"];
    for bad in evil {
        let cases: Vec<(reqwest::Method, String, Option<&str>)> = vec![
            (reqwest::Method::GET, format!("/api/projects/{bad}/sessions"), None),
            (reqwest::Method::GET, format!("/api/sessions/{bad}/history/{bad}?limit=5"), None),
            (reqwest::Method::GET, format!("/api/sessions/{bad}/history/-tmp"), None),
            (reqwest::Method::GET, format!("/api/sessions/{bad}/output"), None),
            (reqwest::Method::POST, format!("/api/sessions/{bad}/cancel"), None),
            (reqwest::Method::POST, format!("/api/sessions/{bad}/prompt"), Some(r#"{"prompt":"hi"}"#)),
            (reqwest::Method::PUT, format!("/api/sessions/{bad}/queue/{bad}"), Some(r#"{"prompt":"hi"}"#)),
            (reqwest::Method::DELETE, format!("/api/sessions/{bad}/queue/{bad}"), None),
            (reqwest::Method::POST, format!("/api/sessions/{bad}/permissions/{bad}"), Some(r#"{"behavior":"allow"}"#)),
            (reqwest::Method::POST, format!("/api/sessions/{bad}/interrupt"), None),
            (reqwest::Method::POST, format!("/api/sessions/{bad}/end"), None),
            (reqwest::Method::PATCH, format!("/api/devices/{bad}"), Some(r#"{"name":"x"}"#)),
            (reqwest::Method::DELETE, format!("/api/devices/{bad}"), None),
        ];
        for (method, path, body) in cases {
            let mut request = http.request(method.clone(), server.url(&path)).bearer_auth(TOKEN);
            if let Some(body) = body {
                request = request.header("content-type", "application/json").body(body);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            assert!((400..=405).contains(&status), "{method} {path}: {status}");
            let text = response.text().await.unwrap();
            assert!(!text.contains("canary-7f3a") && !text.contains("root:"), "{method} {path}: {text}");
        }
        if bad.contains("..") || bad.contains("%2e") {
            continue; // a client resolves dot segments before sending: covered above as plain routes
        }
        let mut attach = server.ws(&format!("/ws/sessions/{bad}")).await;
        let (_, code) = until_close(&mut attach).await;
        assert_eq!(code, Some(4404), "attach to {bad}");
    }
    let (_, runs) = server.get_json("/api/sessions/running").await;
    assert!(runs["data"].as_array().unwrap().is_empty(), "nothing ran");
    assert!(devices(&server).await.is_empty(), "nothing was paired");
    server.stop().await;
}

#[tokio::test]
async fn oversized_headers_and_bodies_are_refused_and_nothing_runs() {
    let server = TestServer::start().await;
    let http = server.http();
    let (id, request_id, _ws) = pending_tool(&server).await;
    // headers: over our limit (a browser sends a few KiB), and far over it
    for size in [64 * 1024, 2 * 1024 * 1024] {
        let huge = "x".repeat(size);
        let response = http
            .post(server.url(&format!("/api/sessions/{id}/permissions/{request_id}")))
            .bearer_auth(TOKEN)
            .header("x-padding", huge)
            .json(&serde_json::json!({"behavior": "allow"}))
            .send()
            .await;
        match response {
            Ok(response) => assert_eq!(response.status(), 431, "{size} bytes of headers"),
            Err(err) => assert!(size > 1024 * 1024, "{size}: {err}"), // the connection itself is refused
        }
    }
    // bodies over the limits (a prompt may carry images: its limit is the one of a message with images)
    let big_prompt =
        serde_json::json!({ "prompt": "y".repeat(opcode_proto::image::MAX_MESSAGE_WITH_IMAGES_BYTES + 1) });
    let response = http
        .post(server.url(&format!("/api/sessions/{id}/prompt")))
        .bearer_auth(TOKEN)
        .json(&big_prompt)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let big_name = serde_json::json!({ "name": "z".repeat(opcode_web::devices::MAX_DEVICES_BODY) });
    let response = http
        .patch(server.url(&format!("/api/devices/{}", "0".repeat(32))))
        .bearer_auth(TOKEN)
        .json(&big_name)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert!(!server.project.path().join("tool-ran.txt").exists(), "the tool did not run");
    assert_eq!(run_status(&server, &id).await, "running");
    let (_, events) = server.get_json(&format!("/api/sessions/{id}/output")).await;
    let prompts = events["data"].as_array().unwrap().iter().filter(|e| e["type"] == "user_prompt").count();
    assert_eq!(prompts, 1, "no second prompt reached the session");
    server.stop().await;
}

#[tokio::test]
async fn a_revoked_device_is_refused_at_once_and_its_open_socket_closes() {
    let server = TestServer::start().await;
    let (phone, laptop) = (browser_cookie(&server).await, browser_cookie(&server).await);
    assert_ne!(phone, laptop, "each browser gets a credential of its own");
    let own = format!("http://{}", server.addr);
    let mut socket =
        server.ws_with("/ws/claude", &[("cookie", phone.as_str()), ("origin", own.as_str())]).await.unwrap();
    let listed = devices(&server).await;
    assert_eq!(listed.len(), 2);
    // the phone asks who it is: the list marks it as current
    let mine = server
        .http()
        .get(server.url("/api/devices"))
        .header("cookie", &phone)
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let phone_id = mine["data"]["current"].as_str().unwrap().to_owned();
    let revoke =
        server.http().delete(server.url(&format!("/api/devices/{phone_id}"))).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(revoke.status(), 200);
    let (_, code) = until_close(&mut socket).await;
    assert_eq!(code, Some(opcode_web::auth::CLOSE_UNAUTHORISED), "its open socket is closed at once");
    // its cookie no longer works, anywhere; the other device is untouched
    let refused = server.http().get(server.url("/api/projects")).header("cookie", &phone).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("no longer authorised"), "{body}");
    let again = server.ws_with("/ws/claude", &[("cookie", phone.as_str()), ("origin", own.as_str())]).await;
    assert_eq!(status_of(again.unwrap_err()), 401);
    let start = server
        .http()
        .post(server.url("/api/sessions/x/end"))
        .header("cookie", &phone)
        .header("origin", &own)
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 401);
    let laptop_ok = server.http().get(server.url("/api/projects")).header("cookie", &laptop).send().await.unwrap();
    assert_eq!(laptop_ok.status(), 200);
    let (_, runs) = server.get_json("/api/sessions/running").await;
    assert!(runs["data"].as_array().unwrap().is_empty(), "nothing ran");
    assert_eq!(devices(&server).await.len(), 1);
    let trail = audit(&server).await;
    assert_eq!(trail[0]["action"], "device_revoked");
    assert_eq!(trail[0]["actor_kind"], "token");
    assert_eq!(trail[0]["target"], phone_id.as_str());
    // revoking again: 404; a malformed id: 400
    let twice =
        server.http().delete(server.url(&format!("/api/devices/{phone_id}"))).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(twice.status(), 404);
    server.stop().await;
}

#[tokio::test]
async fn a_rotated_token_is_refused_and_devices_stay_paired() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    let server = TestServer::start_configured(|state| state.token_file = Some(file.clone())).await;
    let cookie = browser_cookie(&server).await;
    let own = format!("http://{}", server.addr);
    let rotate = server.http().post(server.url("/api/token/rotate")).header("cookie", &cookie).header("origin", &own);
    let response = rotate.send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    let fresh = body["data"]["token"].as_str().unwrap().to_owned();
    assert_ne!(fresh, TOKEN);
    assert!(body["data"]["url"].as_str().unwrap().ends_with(&format!("/?token={fresh}")));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), fresh, "kept for the next start");
    let http = server.http();
    let old = http.get(server.url("/api/projects")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(old.status(), 401);
    assert_eq!(http.get(server.url(&format!("/?token={TOKEN}"))).send().await.unwrap().status(), 401);
    let refused_ws = server.ws_with("/ws/claude", &[("authorization", &format!("Bearer {TOKEN}"))]).await;
    assert_eq!(status_of(refused_ws.unwrap_err()), 401, "no run can start with the old token");
    assert_eq!(http.get(server.url("/api/projects")).bearer_auth(&fresh).send().await.unwrap().status(), 200);
    assert_eq!(http.get(server.url("/api/projects")).header("cookie", &cookie).send().await.unwrap().status(), 200);
    let trail = http
        .get(server.url("/api/audit"))
        .bearer_auth(&fresh)
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(trail["data"][0]["action"], "token_rotated");
    assert_eq!(trail["data"][0]["actor_kind"], "device");
    server.stop().await;

    // a token given with --token cannot be rotated from the UI (it would come back at the next start)
    let pinned = TestServer::start().await;
    let response = pinned.http().post(pinned.url("/api/token/rotate")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(response.status(), 409);
    assert_eq!(pinned.http().get(pinned.url("/api/projects")).bearer_auth(TOKEN).send().await.unwrap().status(), 200);
    pinned.stop().await;
}

#[tokio::test]
async fn a_pairing_link_pairs_one_browser_once() {
    let server = TestServer::start().await;
    let http = server.http();
    let own = format!("http://{}", server.addr);
    let link = http.post(server.url("/api/pairing-links")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(link.status(), 200);
    let link: serde_json::Value = link.json().await.unwrap();
    let url = link["data"]["url"].as_str().unwrap().to_owned();
    assert!(link["data"]["qr_svg"].as_str().unwrap().starts_with("<?xml"));
    let code = url.split("code=").nth(1).unwrap().to_owned();
    // opening the link (a scanner, a link preview) spends nothing: the page asks
    let page = http.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(device_cookie_of(&page).is_none());
    assert!(page.text().await.unwrap().contains("Pair this browser"));
    // from another origin: refused, nothing paired, the link still good
    let foreign = http
        .post(server.url("/pair"))
        .header("origin", format!("http://127.0.0.1:{}", server.addr.port().wrapping_add(1)))
        .form(&[("code", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
    assert!(devices(&server).await.is_empty());
    let android = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36";
    let paired = http
        .post(server.url("/pair"))
        .header("origin", &own)
        .header("user-agent", android)
        .form(&[("code", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(paired.status(), 303);
    let cookie = device_cookie_of(&paired).expect("the device's cookie");
    assert_eq!(http.get(server.url("/api/projects")).header("cookie", &cookie).send().await.unwrap().status(), 200);
    let listed = devices(&server).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["name"], "Chrome on Android");
    // used: a clear page, no second device
    let again =
        http.post(server.url("/pair")).header("origin", &own).form(&[("code", code.as_str())]).send().await.unwrap();
    assert_eq!(again.status(), 410);
    assert!(device_cookie_of(&again).is_none());
    assert!(again.text().await.unwrap().contains("already used"));
    assert_eq!(http.get(&url).send().await.unwrap().status(), 410);
    let unknown = http.get(server.url(&format!("/pair?code={}", "a".repeat(64)))).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(devices(&server).await.len(), 1, "nothing more was paired");
    // rename it; a bad name is a 400
    let id = listed[0]["id"].as_str().unwrap();
    let rename = http
        .patch(server.url(&format!("/api/devices/{id}")))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({"name": " my phone "}));
    assert_eq!(rename.send().await.unwrap().status(), 200);
    assert_eq!(devices(&server).await[0]["name"], "my phone");
    let bad =
        http.patch(server.url(&format!("/api/devices/{id}"))).bearer_auth(TOKEN).json(&serde_json::json!({"name": ""}));
    assert_eq!(bad.send().await.unwrap().status(), 400);
    let malformed = http
        .patch(server.url(&format!("/api/devices/{id}")))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body("{");
    assert_eq!(malformed.send().await.unwrap().status(), 400);
    assert_eq!(devices(&server).await[0]["name"], "my phone");
    server.stop().await;
}

#[tokio::test]
async fn an_expired_pairing_link_pairs_nobody() {
    let server = TestServer::start_configured(|state| state.pairing_ttl = std::time::Duration::ZERO).await;
    let http = server.http();
    let link: serde_json::Value =
        http.post(server.url("/api/pairing-links")).bearer_auth(TOKEN).send().await.unwrap().json().await.unwrap();
    let url = link["data"]["url"].as_str().unwrap().to_owned();
    let code = url.split("code=").nth(1).unwrap().to_owned();
    let page = http.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 410);
    assert!(page.text().await.unwrap().contains("expired"));
    let own = format!("http://{}", server.addr);
    let post =
        http.post(server.url("/pair")).header("origin", &own).form(&[("code", code.as_str())]).send().await.unwrap();
    assert_eq!(post.status(), 410);
    assert!(device_cookie_of(&post).is_none());
    assert!(devices(&server).await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn wrong_device_credentials_count_toward_the_back_off() {
    let server = TestServer::start().await;
    let http = server.http();
    for i in 0..=opcode_web::limiter::FREE_FAILURES {
        let guess = format!("opcode_device={:064x}", i + 1);
        assert_eq!(http.get(server.url("/api/projects")).header("cookie", guess).send().await.unwrap().status(), 401);
    }
    let local: std::net::IpAddr = "127.0.0.1".parse().unwrap();
    assert!(matches!(
        server.state.token_limiter.check(local, std::time::Instant::now()),
        opcode_web::limiter::Verdict::Blocked { .. }
    ));
    server.stop().await;
}

#[tokio::test]
async fn the_audit_trail_says_who_started_answered_and_cancelled_but_never_what_was_typed() {
    let server = TestServer::start().await;
    let cookie = browser_cookie(&server).await;
    let own = format!("http://{}", server.addr);
    // a device starts a live session over its socket; the token answers the approval; the device ends it
    let mut ws = server.ws_with("/ws/claude", &[("cookie", cookie.as_str()), ("origin", own.as_str())]).await.unwrap();
    let id = uuid::Uuid::new_v4().to_string();
    send(&mut ws, server.live_request("please @tool and the secret word is swordfish", &id)).await;
    let request = until(&mut ws, |e| e["type"] == "permission_request").await.pop().unwrap();
    let answer = server
        .http()
        .post(server.url(&format!("/api/sessions/{id}/permissions/{}", request["request_id"].as_str().unwrap())))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({"behavior": "allow"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    until(&mut ws, is_result).await;
    send(&mut ws, serde_json::json!({"type": "end", "session_id": id}).to_string()).await;
    until(&mut ws, |e| e["type"] == "completion").await;
    let trail = audit(&server).await;
    let actions: Vec<(&str, &str)> =
        trail.iter().map(|e| (e["action"].as_str().unwrap(), e["actor_kind"].as_str().unwrap())).collect();
    assert_eq!(
        actions[..4],
        [
            ("session_ended", "device"),
            ("approval_answered", "token"),
            ("run_started", "device"),
            ("device_paired", "device")
        ]
    );
    for entry in &trail[..3] {
        assert_eq!(entry["target"], id.as_str());
        assert_eq!(entry["addr"], "127.0.0.1");
        assert!(entry["at"].as_u64().unwrap() > 0);
    }
    assert_eq!(trail[0]["actor"], "Unknown browser");
    let text = serde_json::to_string(&trail).unwrap();
    assert!(!text.contains("swordfish"), "never the prompt's content");
    server.stop().await;
}
