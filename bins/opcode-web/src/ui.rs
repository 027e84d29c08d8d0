//! The embedded browser UI (built from `frontend/` by `build.rs`), and the `/?token=` entry.
//!
//! `/?token=T` with the right token sets the cookie and redirects to `/`, so the address bar no longer
//! shows it; with a wrong token it answers a 401 page that says what to do. Unknown paths without a file
//! extension get `index.html` (client-side routes).

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use include_dir::{include_dir, Dir};
use serde::Deserialize;

use axum::extract::Request;

use crate::auth::{admit, client_ip, token_cookie, too_many_attempts, Admission};
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

const WRONG_TOKEN_PAGE: &str = r#"<!doctype html><html lang="en"><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>opcode-web: wrong token</title>
<body style="font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;line-height:1.5">
<h1>Wrong token</h1><p>The link you opened carries a token this server does not accept.</p>
<p>Open the exact URL that <code>opcode-web</code> printed when it started (it ends in <code>/?token=…</code>).
If the server was restarted without <code>--token</code>, it printed a new one.</p></body></html>"#;

async fn index(State(state): State<AppState>, request: Request) -> Response {
    let Ok(Query(query)) = Query::<EntryQuery>::try_from_uri(request.uri()) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let Some(token) = query.token else {
        return file("index.html").unwrap_or_else(|| StatusCode::NOT_FOUND.into_response());
    };
    match admit(&state, client_ip(&request), &token) {
        Admission::Accepted => {
            ([(header::SET_COOKIE, token_cookie(&token, state.secure))], Redirect::to("/")).into_response()
        }
        Admission::Wrong => (StatusCode::UNAUTHORIZED, Html(WRONG_TOKEN_PAGE)).into_response(),
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
