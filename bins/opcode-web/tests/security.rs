//! Security by default: token on /api and /ws, the cookie flow, Origin and Host checks.

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
    let cookie = format!("opcode_token={TOKEN}");
    let with_cookie = [("cookie", cookie.as_str()), ("origin", own_origin.as_str())];
    assert!(server.ws_with("/ws/claude", &with_cookie).await.is_ok());
    server.stop().await;
}

#[tokio::test]
async fn the_token_url_sets_an_httponly_strict_cookie_and_drops_the_token_from_the_address() {
    let server = TestServer::start().await;
    let http = server.http();
    let response = http.get(server.url(&format!("/?token={TOKEN}"))).send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/");
    let cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with(&format!("opcode_token={TOKEN}")));
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let with_cookie =
        http.get(server.url("/api/projects")).header("cookie", format!("opcode_token={TOKEN}")).send().await.unwrap();
    assert_eq!(with_cookie.status(), 200);

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
