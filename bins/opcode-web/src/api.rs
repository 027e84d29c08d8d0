//! REST routes: health, Opcode's read endpoints over Claude's files, and run control.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use axum::Router;
use opcode_proto::control::PermissionDecision;
use serde::Deserialize;

use crate::error::{ok, ApiError};
use crate::state::AppState;

/// Largest history page.
const MAX_PAGE: usize = 1000;

/// The authenticated `/api` routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/projects", get(projects))
        .route("/api/projects/{project_id}/sessions", get(project_sessions))
        .route("/api/sessions/running", get(running))
        .route("/api/sessions/{session_id}/history/{project_id}", get(history))
        .route("/api/sessions/{session_id}/output", get(output))
        .route("/api/sessions/{session_id}/cancel", get(cancel).post(cancel))
        .route("/api/sessions/{session_id}/prompt", post(prompt))
        .route("/api/sessions/{session_id}/permissions/{request_id}", post(permission))
        .route("/api/sessions/{session_id}/interrupt", post(interrupt))
        .route("/api/sessions/{session_id}/end", post(end))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            std::time::Duration::from_secs(30),
        ))
}

/// `GET /api/health`: no auth; says the server is up.
pub async fn health() -> impl IntoResponse {
    ok(serde_json::json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

/// Runs blocking file reads off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, ApiError> + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ApiError::Internal(format!("blocking task failed: {e}")))?
}

async fn projects(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let store = state.store.clone();
    Ok(ok(blocking(move || Ok(store.projects()?)).await?))
}

async fn project_sessions(
    State(state): State<AppState>,
    Path(project_id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let store = state.store.clone();
    Ok(ok(blocking(move || Ok(store.sessions(&project_id)?)).await?))
}

/// The query of a history page.
#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    before: Option<u64>,
    limit: Option<usize>,
}

async fn history(
    State(state): State<AppState>,
    Path((session_id, project_id)): Path<(String, String)>,
    Query(query): Query<HistoryQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let store = state.store.clone();
    let limit = query.limit.unwrap_or(200).clamp(1, MAX_PAGE);
    Ok(ok(blocking(move || Ok(store.history_page(&project_id, &session_id, query.before, limit)?)).await?))
}

async fn running(State(state): State<AppState>) -> impl IntoResponse {
    ok(state.registry.list().await)
}

/// Every event of the session so far, spliced raw into the envelope.
async fn output(State(state): State<AppState>, Path(session_id): Path<String>) -> Result<Response, ApiError> {
    let events = match state.registry.events_so_far(&session_id).await {
        None => return Err(ApiError::NotFound(format!("no session {session_id} is known to this server"))),
        Some(Err(err)) => return Err(ApiError::Internal(err.to_string())),
        Some(Ok(events)) => events,
    };
    let mut body = Vec::with_capacity(events.iter().map(|e| e.len() + 1).sum::<usize>() + 48);
    body.extend_from_slice(b"{\"success\":true,\"data\":[");
    for (i, event) in events.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(event);
    }
    body.extend_from_slice(b"],\"error\":null}");
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

async fn cancel(State(state): State<AppState>, Path(session_id): Path<String>) -> Result<impl IntoResponse, ApiError> {
    state.registry.cancel(&session_id)?;
    Ok(ok(serde_json::json!({ "cancelled": true })))
}

/// The body of a follow-up prompt.
#[derive(Debug, Deserialize)]
pub struct PromptBody {
    prompt: String,
}

async fn prompt(
    State(state): State<AppState>,
    Path(session_id): Path<String>,
    Json(body): Json<PromptBody>,
) -> Result<impl IntoResponse, ApiError> {
    state.registry.send_prompt(&session_id, &body.prompt).await?;
    Ok(ok(serde_json::json!({ "sent": true })))
}

async fn permission(
    State(state): State<AppState>,
    Path((session_id, request_id)): Path<(String, String)>,
    Json(decision): Json<PermissionDecision>,
) -> Result<impl IntoResponse, ApiError> {
    state.registry.answer_permission(&session_id, &request_id, decision).await?;
    Ok(ok(serde_json::json!({ "answered": true })))
}

async fn interrupt(
    State(state): State<AppState>,
    Path(session_id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    state.registry.interrupt(&session_id).await?;
    Ok(ok(serde_json::json!({ "interrupted": true })))
}

async fn end(State(state): State<AppState>, Path(session_id): Path<String>) -> Result<impl IntoResponse, ApiError> {
    state.registry.end_live(&session_id).await?;
    Ok(ok(serde_json::json!({ "ended": true })))
}
