//! Security by default: the token on every `/api` and `/ws` route, the `Origin` of WebSocket upgrades,
//! the `Host` of every request (DNS rebinding), and CORS for allowed origins only.
//!
//! The token is accepted as `Authorization: Bearer T` or as the `opcode_token` cookie (`HttpOnly;
//! SameSite=Strict`) that `/?token=T` sets. Comparison is constant-time. SameSite does not protect
//! WebSockets (other localhost ports are same-site), hence the explicit `Origin` check. Wrong tokens
//! are limited per client address with back-off ([`crate::limiter`]): `429` with `Retry-After`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::limiter::Verdict;
use crate::state::AppState;

/// The cookie that carries the token for the browser UI.
pub const COOKIE_NAME: &str = "opcode_token";

/// Whether `presented` equals the server's token, in time independent of where they differ.
pub fn token_matches(state: &AppState, presented: &str) -> bool {
    bool::from(presented.as_bytes().ct_eq(state.token.as_bytes()))
}

/// The token a request presents, from `Authorization: Bearer` or the cookie.
fn presented_token(headers: &HeaderMap) -> Option<&str> {
    if let Some(bearer) =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some(bearer.trim());
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(COOKIE_NAME)?.strip_prefix('='))
}

/// The `Set-Cookie` value that stores the token in the browser; `Secure` (sent over HTTPS only) when the
/// server speaks TLS.
pub fn token_cookie(token: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE_NAME}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=31536000{secure}")
}

fn refuse(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "success": false, "data": null, "error": message });
    (status, axum::Json(body)).into_response()
}

/// The address of the client that sent `request` (unspecified when the server runs without connect info).
pub fn client_ip(request: &Request) -> IpAddr {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(addr)| addr.ip())
}

/// What checking a presented token said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The right token.
    Accepted,
    /// A wrong token (counted against the address).
    Wrong,
    /// The address is blocked for a while after too many wrong tokens.
    Blocked {
        /// Seconds until it may try again.
        retry_after_secs: u64,
    },
}

/// Checks `presented` from client `ip` against the server's token, with the per-address back-off.
/// Logs wrong tokens and blocks at `warn`, with the address, never the token.
pub fn admit(state: &AppState, ip: IpAddr, presented: &str) -> Admission {
    let now = Instant::now();
    if let Verdict::Blocked { retry_after_secs } = state.token_limiter.check(ip, now) {
        return Admission::Blocked { retry_after_secs };
    }
    if token_matches(state, presented) {
        state.token_limiter.succeeded(ip);
        return Admission::Accepted;
    }
    match state.token_limiter.failed(ip, now) {
        Some(block) => tracing::warn!(client = %ip, block_secs = block.as_secs(), "wrong token: client blocked"),
        None => tracing::warn!(client = %ip, "wrong token"),
    }
    Admission::Wrong
}

/// `429 Too Many Requests` with `Retry-After`.
pub fn too_many_attempts(retry_after_secs: u64) -> Response {
    let message = format!("too many wrong tokens from this address: try again in {retry_after_secs} s");
    let mut response = refuse(StatusCode::TOO_MANY_REQUESTS, &message);
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    response
}

/// Middleware on `/api` and `/ws`: 401 without the right token, 429 while the address is blocked after
/// too many wrong ones; 403 for a WebSocket upgrade from a foreign origin.
pub async fn require_token(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let unauthorised = || {
        refuse(
            StatusCode::UNAUTHORIZED,
            "missing or wrong token: open the URL opcode-web printed at start-up, or send Authorization: Bearer <token>",
        )
    };
    let Some(presented) = presented_token(request.headers()) else { return unauthorised() };
    match admit(&state, client_ip(&request), presented) {
        Admission::Accepted => {}
        Admission::Wrong => return unauthorised(),
        Admission::Blocked { retry_after_secs } => return too_many_attempts(retry_after_secs),
    }
    let is_upgrade = request.headers().contains_key(header::UPGRADE);
    if is_upgrade {
        if let Some(origin) = request.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
            if !origin_allowed(&state, request.headers(), origin) {
                tracing::warn!(origin, "websocket upgrade from a foreign origin refused");
                return refuse(StatusCode::FORBIDDEN, "this origin may not open WebSockets on this server");
            }
        }
    }
    next.run(request).await
}

/// The server's own origin (`http(s)://<Host>`) or a configured one.
fn origin_allowed(state: &AppState, headers: &HeaderMap, origin: &str) -> bool {
    let own = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|host| origin == format!("http://{host}") || origin == format!("https://{host}"));
    own || state.allowed_origins.iter().any(|o| o == origin)
}

/// The host part of a `Host` header value (`[::1]:8080` → `::1`, `example:80` → `example`).
pub fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    host.rsplit_once(':')
        .map_or(host, |(name, port)| if port.chars().all(|c| c.is_ascii_digit()) { name } else { host })
}

/// Middleware when the server speaks TLS: `Strict-Transport-Security` on every response, so a browser
/// that once came over HTTPS never again sends the cookie in the clear. Not for `localhost`: HSTS
/// holds for a host on every port, and would force HTTPS on every other local development server too
/// (browsers ignore it for IP addresses anyway).
pub async fn strict_transport_security(request: Request, next: Next) -> Response {
    let localhost = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| host_name(h).eq_ignore_ascii_case("localhost"));
    let mut response = next.run(request).await;
    if !localhost {
        response.headers_mut().insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
    response
}

/// Middleware on every route: IP literals and `localhost` pass; other host names only when configured
/// (`--allowed-host`), so a rebinding DNS name cannot reach the server from a browser.
pub async fn check_host(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).map(host_name);
    let allowed = match host {
        None => true, // HTTP/1.0 clients without Host: not a browser
        Some(name) => {
            name.parse::<std::net::IpAddr>().is_ok()
                || name.eq_ignore_ascii_case("localhost")
                || state.allowed_hosts.iter().any(|h| h.eq_ignore_ascii_case(name))
        }
    };
    if !allowed {
        return refuse(
            StatusCode::FORBIDDEN,
            "unknown Host: start opcode-web with --allowed-host NAME to use this name",
        );
    }
    next.run(request).await
}

/// CORS for the configured origins only (never `*`); no CORS headers at all when none is configured.
pub fn cors(state: &AppState) -> CorsLayer {
    let origins: Vec<HeaderValue> = state.allowed_origins.iter().filter_map(|o| o.parse().ok()).collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .allow_credentials(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_are_extracted() {
        assert_eq!(host_name("127.0.0.1:8080"), "127.0.0.1");
        assert_eq!(host_name("[::1]:80"), "::1");
        assert_eq!(host_name("localhost"), "localhost");
        assert_eq!(host_name("evil.example:8080"), "evil.example");
    }

    #[test]
    fn the_token_comes_from_bearer_or_cookie() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, "a=b; opcode_token=tok; c=d".parse().unwrap());
        assert_eq!(presented_token(&headers), Some("tok"));
        headers.insert(header::AUTHORIZATION, "Bearer other".parse().unwrap());
        assert_eq!(presented_token(&headers), Some("other"));
    }
}
