//! Security headers on every response: a strict Content-Security-Policy (scripts, styles, connections
//! and workers from this origin only; no inline script, no third-party origin; nothing may frame the UI),
//! `X-Frame-Options: DENY` for browsers without `frame-ancestors`, `X-Content-Type-Options: nosniff`,
//! `Referrer-Policy: no-referrer`, and `Cache-Control: no-store` on what is not the static shell (API
//! answers, sockets, the token and pairing entries): the shell keeps the cacheability the service worker
//! relies on.

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The Content-Security-Policy of every response. Scripts: this origin's files only, never inline.
/// Styles: this origin's stylesheets and inline styles, because the editor and the terminal (CodeMirror,
/// xterm.js) write their own `<style>` elements and `style` attributes at run time (CSS cannot run
/// script; a per-page nonce handed to CodeMirror's `cspNonce` would narrow this). `img-src data:` is for
/// the QR codes the UI shows.
pub fn content_security_policy() -> String {
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
     font-src 'self'; connect-src 'self'; manifest-src 'self'; worker-src 'self'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'"
        .to_owned()
}

static CSP: std::sync::LazyLock<HeaderValue> = std::sync::LazyLock::new(|| {
    HeaderValue::from_str(&content_security_policy()).unwrap_or(HeaderValue::from_static("default-src 'none'"))
});

/// Whether answers to `path` must never be stored: everything but the static shell.
fn never_store(request: &Request) -> bool {
    let path = request.uri().path();
    path.starts_with("/api/")
        || path.starts_with("/ws/")
        || path == "/pair"
        || (path == "/" && request.uri().query().is_some_and(|q| q.contains("token=")))
}

/// The most header bytes (names and values) a request may carry: a browser sends a few KiB.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// Middleware on every route: `431 Request Header Fields Too Large` (JSON) for a request whose headers
/// are over [`MAX_HEADER_BYTES`], before anything else looks at it.
pub async fn limit_header_size(request: Request, next: Next) -> Response {
    let size: usize = request.headers().iter().map(|(name, value)| name.as_str().len() + value.len() + 4).sum();
    if size > MAX_HEADER_BYTES {
        let body = serde_json::json!({ "success": false, "data": null,
            "error": format!("the request's headers are over {MAX_HEADER_BYTES} bytes: clear this site's cookies or send less") });
        return (axum::http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, axum::Json(body)).into_response();
    }
    next.run(request).await
}

/// Middleware on every route: adds the security headers (a handler's own `Cache-Control` is kept on the
/// static shell).
pub async fn security_headers(request: Request, next: Next) -> Response {
    let no_store = never_store(&request);
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, CSP.clone());
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if no_store {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
