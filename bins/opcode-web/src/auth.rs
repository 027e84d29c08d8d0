//! Security by default: a credential on every `/api` and `/ws` route, the cross-origin rule for the
//! cookie, the `Origin` of WebSocket upgrades, the `Host` of every request (DNS rebinding), and CORS for
//! allowed origins only.
//!
//! Two credentials: the token as `Authorization: Bearer T` (the CLI, scripts), and a paired device's own
//! credential in the `opcode_device` cookie (`HttpOnly; SameSite=Strict`) that opening `/?token=T` or a
//! one-time pairing link sets ([`opcode_access`]). The token in a cookie (`opcode_token`, from before
//! devices) is no longer accepted: such a browser opens the token URL again. Comparisons are
//! constant-time. A cookie is sent whatever page asks, and SameSite does not stop pages on other ports of
//! the same host, hence [`same_origin`] for every cookie request. Wrong credentials are limited per client
//! address with back-off ([`crate::limiter`]): `429` with `Retry-After`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use opcode_access::{Actor, DeviceCheck};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::limiter::Verdict;
use crate::state::{AppState, Caller};

/// The cookie that carries a paired device's credential.
pub const COOKIE_NAME: &str = "opcode_device";
/// The cookie that carried the token before devices had credentials of their own (no longer accepted).
pub const LEGACY_COOKIE_NAME: &str = "opcode_token";
/// WebSocket close code when the credential of a socket stops working (device revoked, token rotated).
pub const CLOSE_UNAUTHORISED: u16 = 4401;

/// What a request presents to prove who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presented<'a> {
    /// `Authorization: Bearer <token>`.
    Bearer(&'a str),
    /// The device cookie.
    Device(&'a str),
    /// Only the token cookie of before devices.
    LegacyCookie,
}

/// The value of cookie `name`.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(name)?.strip_prefix('='))
}

/// What a request presents: the bearer token first, then the device cookie.
pub fn presented(headers: &HeaderMap) -> Option<Presented<'_>> {
    if let Some(bearer) =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some(Presented::Bearer(bearer.trim()));
    }
    if let Some(device) = cookie(headers, COOKIE_NAME) {
        return Some(Presented::Device(device));
    }
    cookie(headers, LEGACY_COOKIE_NAME).map(|_| Presented::LegacyCookie)
}

/// The `Set-Cookie` value that stores a device's credential in its browser; `Secure` (sent over HTTPS
/// only) when the server speaks TLS.
pub fn device_cookie(credential: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE_NAME}={credential}; HttpOnly; SameSite=Strict; Path=/; Max-Age=31536000{secure}")
}

/// The `Set-Cookie` value that removes the token cookie of before devices.
pub fn clear_legacy_cookie() -> String {
    format!("{LEGACY_COOKIE_NAME}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
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
    if state.access.token_matches(presented) {
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

/// Checks a device credential from client `ip`, with the same per-address back-off as the token.
fn admit_device(state: &AppState, ip: IpAddr, presented: &str) -> Result<Actor, Admission> {
    let now = Instant::now();
    if let Verdict::Blocked { retry_after_secs } = state.token_limiter.check(ip, now) {
        return Err(Admission::Blocked { retry_after_secs });
    }
    match state.access.check_device(presented) {
        DeviceCheck::Paired(actor) => {
            state.token_limiter.succeeded(ip);
            return Ok(actor);
        }
        // a revoked browser keeps asking for a while: not a guess
        DeviceCheck::Revoked => return Err(Admission::Wrong),
        DeviceCheck::Unknown => {}
    }
    match state.token_limiter.failed(ip, now) {
        Some(block) => {
            tracing::warn!(client = %ip, block_secs = block.as_secs(), "unknown device credential: client blocked")
        }
        None => tracing::warn!(client = %ip, "unknown or revoked device credential"),
    }
    Err(Admission::Wrong)
}

/// Notes that a device was seen (and writes it to the store now and then, off the async threads).
fn note_seen(state: &AppState, actor: &Actor, ip: IpAddr) {
    let Some(id) = actor.device_id() else { return };
    if state.access.seen(id, &ip.to_string(), Instant::now()) {
        let (access, id) = (state.access.clone(), id.to_owned());
        tokio::task::spawn_blocking(move || {
            if let Err(err) = access.write_seen(&id) {
                tracing::warn!(%err, "could not note when a device was last seen");
            }
        });
    }
}

/// Middleware on `/api` and `/ws`: 401 without a credential that works, 429 while the address is blocked
/// after too many wrong ones; 403 for a WebSocket upgrade from a foreign origin and for a cookie request
/// that breaks [`same_origin`]. Puts the [`Caller`] in the request's extensions.
pub async fn require_token(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let ip = client_ip(&request);
    let (actor, by_cookie) = match presented(request.headers()) {
        None => {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "not authorised: open the URL opcode-web printed at start-up (or a pairing link) in this browser, or send Authorization: Bearer <token>",
            )
        }
        Some(Presented::LegacyCookie) => {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "this browser's cookie is from before per-device credentials: open the URL opcode-web printed (…/?token=…) once more",
            )
        }
        Some(Presented::Bearer(token)) => match admit(&state, ip, token) {
            Admission::Accepted => (Actor::Token, false),
            Admission::Wrong => {
                return refuse(StatusCode::UNAUTHORIZED, "wrong token: send the token opcode-web printed or keeps in its data dir")
            }
            Admission::Blocked { retry_after_secs } => return too_many_attempts(retry_after_secs),
        },
        Some(Presented::Device(credential)) => match admit_device(&state, ip, credential) {
            Ok(actor) => (actor, true),
            Err(Admission::Blocked { retry_after_secs }) => return too_many_attempts(retry_after_secs),
            Err(_) => {
                return refuse(
                    StatusCode::UNAUTHORIZED,
                    "this device is no longer authorised (revoked, or unknown to this server): pair it again with a pairing link or the token URL",
                )
            }
        },
    };
    let is_upgrade = request.headers().contains_key(header::UPGRADE);
    if is_upgrade {
        if let Some(origin) = request.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
            if !origin_allowed(&state, request.headers(), origin) {
                tracing::warn!(origin, "websocket upgrade from a foreign origin refused");
                return refuse(StatusCode::FORBIDDEN, "this origin may not open WebSockets on this server");
            }
        }
    }
    if by_cookie {
        if let Err(why) = same_origin(&state, &request, is_upgrade) {
            tracing::warn!(path = request.uri().path(), method = %request.method(), why, "cross-origin request with the cookie refused");
            return refuse(StatusCode::FORBIDDEN, &format!("cross-origin request refused: {why}. Use this server's own page, or send Authorization: Bearer <token> from scripts"));
        }
    }
    note_seen(&state, &actor, ip);
    request.extensions_mut().insert(Caller { actor, addr: ip });
    next.run(request).await
}

/// Whether a request changes state: any method but `GET`/`HEAD`/`OPTIONS`, and the seed-compatible GETs
/// that act (`/api/sessions/{id}/cancel`, `/api/sessions/new`).
pub fn changes_state(method: &Method, path: &str) -> bool {
    if !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return true;
    }
    let cancel = path
        .strip_prefix("/api/sessions/")
        .and_then(|rest| rest.strip_suffix("/cancel"))
        .is_some_and(|id| !id.is_empty() && !id.contains('/'));
    cancel || path == "/api/sessions/new"
}

/// The cross-origin rule for requests authenticated by the cookie (a browser sends it whatever page
/// asked): they must come from the server's own origin (or an `--allowed-origin`).
///
/// - `Sec-Fetch-Site` other than `same-origin`/`none` is refused on every route (unless the `Origin` is
///   an allowed one);
/// - an `Origin` must be the server's own or an allowed one;
/// - without either header, a request that changes state ([`changes_state`]) or opens a WebSocket is
///   refused (every browser sends one of them there); a read passes.
///
/// Returns why a request is refused.
pub fn same_origin(state: &AppState, request: &Request, is_upgrade: bool) -> Result<(), &'static str> {
    let headers = request.headers();
    let origin = headers.get(header::ORIGIN).map(|v| v.to_str().unwrap_or("?"));
    let listed = origin.is_some_and(|o| state.allowed_origins.iter().any(|a| a == o));
    if let Some(site) = headers.get("sec-fetch-site") {
        let site = site.to_str().unwrap_or("?");
        if !matches!(site, "same-origin" | "none") && !listed {
            return Err("the page that sent it is not this server's (Sec-Fetch-Site)");
        }
    }
    match origin {
        Some(origin) if !origin_accepted(state, headers, origin) => Err("its Origin is not this server's"),
        Some(_) => Ok(()),
        None if headers.contains_key("sec-fetch-site") => Ok(()),
        None if is_upgrade || changes_state(request.method(), request.uri().path()) => {
            Err("it carries neither Origin nor Sec-Fetch-Site")
        }
        None => Ok(()),
    }
}

/// Whether a request's `Origin` is acceptable: the server's own or an allowed one, or `null` from a form
/// posted by our own page (under `Referrer-Policy: no-referrer` a browser sends `Origin: null`; its
/// `Sec-Fetch-Site: same-origin` then says where it came from, and a sandboxed frame says cross-site).
pub fn origin_accepted(state: &AppState, headers: &HeaderMap, origin: &str) -> bool {
    let own_form = origin == "null" && headers.get("sec-fetch-site").is_some_and(|v| v.as_bytes() == b"same-origin");
    own_form || origin_allowed(state, headers, origin)
}

/// The server's own origin (`http(s)://<Host>`) or a configured one.
pub fn origin_allowed(state: &AppState, headers: &HeaderMap, origin: &str) -> bool {
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
    fn the_credential_comes_from_bearer_or_the_device_cookie() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, "a=b; opcode_token=tok; c=d".parse().unwrap());
        assert_eq!(presented(&headers), Some(Presented::LegacyCookie));
        headers.insert(header::COOKIE, "opcode_token=tok; opcode_device=dev".parse().unwrap());
        assert_eq!(presented(&headers), Some(Presented::Device("dev")));
        headers.insert(header::AUTHORIZATION, "Bearer other".parse().unwrap());
        assert_eq!(presented(&headers), Some(Presented::Bearer("other")));
    }

    #[test]
    fn state_changing_requests_include_the_seed_gets() {
        assert!(changes_state(&Method::POST, "/api/projects"));
        assert!(changes_state(&Method::GET, "/api/sessions/abc/cancel"));
        assert!(changes_state(&Method::GET, "/api/sessions/new"));
        assert!(!changes_state(&Method::GET, "/api/sessions/running"));
    }
}
