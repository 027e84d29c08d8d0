//! The embedded browser UI (built from `frontend/` by `build.rs`), and the `/?token=` entry.
//!
//! `/?token=T` with the right token pairs the browser (a device credential of its own in its cookie, see
//! [`crate::devices`]) and redirects to `/`, so the address bar no longer shows the token; a browser
//! that is already paired keeps its credential. With a wrong token it answers a 401 page that says what to
//! do. Unknown paths without a file extension get `index.html` (client-side routes).

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use include_dir::{include_dir, Dir};
use serde::Deserialize;

use axum::extract::Request;

use crate::auth::{admit, client_ip, presented, too_many_attempts, Admission, Presented};
use crate::state::AppState;

static UI: Dir<'static> = include_dir!("$OUT_DIR/ui");

/// `/` and every static asset.
pub fn routes() -> Router<AppState> {
    Router::new().route("/", get(index)).route("/{*path}", get(asset))
}

/// The query of `/`.
#[derive(Debug, Deserialize)]
pub struct EntryQuery {
    token: Option<String>,
}

const WRONG_TOKEN_BODY: &str = r#"<h1>Wrong token</h1><p>The link you opened carries a token this server does not accept.</p>
<p>Open the exact URL that <code>opcode-web</code> printed when it started (it ends in <code>/?token=…</code>).
If the token was rotated, the new one is in <code>&lt;data dir&gt;/token</code>; or ask a paired device for a
pairing link (Devices → Pair a device).</p>"#;

async fn index(State(state): State<AppState>, request: Request) -> Response {
    let Ok(Query(query)) = Query::<EntryQuery>::try_from_uri(request.uri()) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let Some(token) = query.token else {
        return file("index.html").unwrap_or_else(|| StatusCode::NOT_FOUND.into_response());
    };
    let ip = client_ip(&request);
    match admit(&state, ip, &token) {
        Admission::Accepted => {
            let already = match presented(request.headers()) {
                Some(Presented::Device(credential)) => state.access.device_for(credential).is_some(),
                _ => false,
            };
            if already {
                return Redirect::to("/").into_response();
            }
            let user_agent =
                request.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
            crate::devices::pair_browser(&state, ip, user_agent, "token URL").await
        }
        Admission::Wrong => {
            (StatusCode::UNAUTHORIZED, Html(crate::page::html("wrong token", WRONG_TOKEN_BODY))).into_response()
        }
        Admission::Blocked { retry_after_secs } => too_many_attempts(retry_after_secs),
    }
}

async fn asset(Path(path): Path<String>) -> Response {
    if let Some(response) = file(&path) {
        return response;
    }
    let looks_like_file = path.rsplit('/').next().is_some_and(|last| last.contains('.'));
    if looks_like_file || path.starts_with("api/") || path.starts_with("ws/") {
        return StatusCode::NOT_FOUND.into_response();
    }
    file("index.html").unwrap_or_else(|| StatusCode::NOT_FOUND.into_response())
}

fn file(path: &str) -> Option<Response> {
    let file = UI.get_file(path)?;
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let cache = if path.starts_with("assets/") { "public, max-age=31536000, immutable" } else { "no-cache" };
    Some(
        (
            [(header::CONTENT_TYPE, mime.as_ref().to_owned()), (header::CACHE_CONTROL, cache.to_owned())],
            file.contents(),
        )
            .into_response(),
    )
}
