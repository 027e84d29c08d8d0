//! REST routes: health, Opcode's read endpoints over Claude's files, and run control.
//!
//! The routes the seed's browser client calls (`src/lib/apiAdapter.ts` of winfunc/opcode) answer in the
//! shapes it reads; `docs/protocol.md` lists where and why they differ from the seed's web server. Routes
//! without parameters refuse unknown query parameters: the seed's client sends its *writes* (save
//! settings, create an agent, add an MCP server) as GETs with query parameters, and a read must not
//! pass for a write that succeeded.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Extension, Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use axum::Router;
use opcode_proto::control::PermissionDecision;
use opcode_sessions::{PromptOutcome, StartError};
use serde::Deserialize;
use serde_json::json;

use crate::error::{ok, ApiError};
use opcode_access::AuditAction;

use crate::state::{AppState, Caller};

/// Largest history page.
const MAX_PAGE: usize = 1000;
/// Largest body of `POST /api/sessions/{id}/settings`.
const MAX_SETTINGS_BODY: usize = 4096;

/// The authenticated `/api` routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/projects", get(projects))
        .route("/api/projects/{project_id}/sessions", get(project_sessions))
        .route("/api/sessions/running", get(running))
        .route("/api/sessions/{session_id}/history/{project_id}", get(history))
        .route("/api/sessions/{session_id}/output", get(output))
        .route("/api/sessions/{session_id}/cancel", get(cancel).post(cancel))
        .route(
            "/api/sessions/{session_id}/prompt",
            post(prompt)
                .layer(axum::extract::DefaultBodyLimit::max(opcode_proto::image::MAX_MESSAGE_WITH_IMAGES_BYTES)),
        )
        .route("/api/sessions/{session_id}/queue/{client_id}", axum::routing::put(edit_queued).delete(unqueue))
        .route("/api/sessions/{session_id}/permissions/{request_id}", post(permission))
        .route("/api/sessions/{session_id}/interrupt", post(interrupt))
        .route("/api/sessions/{session_id}/end", post(end))
        .route(
            "/api/sessions/{session_id}/settings",
            post(settings).layer(axum::extract::DefaultBodyLimit::max(MAX_SETTINGS_BODY)),
        )
        .route("/api/projects/commands", get(project_commands))
        .route("/api/sessions/new", get(new_session))
        .route("/api/settings/claude", get(claude_settings))
        .route("/api/settings/claude/version", get(claude_version))
        .route("/api/settings/claude/installations", get(claude_installations))
        .route("/api/settings/system-prompt", get(system_prompt))
        .route("/api/slash-commands", get(slash_commands))
        .merge(crate::rules::routes())
        .merge(crate::usage::routes())
        .merge(crate::agents::routes())
        .merge(crate::claude_md::routes())
        .merge(crate::mcp::routes())
        .merge(crate::timeline::routes())
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
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
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

/// The query of a history page: with neither parameter, the whole transcript (the seed's question).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    before: Option<u64>,
    limit: Option<usize>,
}

/// A query that must have no parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoQuery {}

/// The query of a seed read route, or a 400 saying what is wrong with it and what the route takes.
pub(crate) fn query<T>(q: Result<Query<T>, QueryRejection>, takes: &str) -> Result<T, ApiError> {
    params(q, &format!("{takes} (opcode-web reads Claude's files here and never writes them)"))
}

/// The query, or a 400 saying what is wrong with it and what the route takes.
pub(crate) fn params<T>(query: Result<Query<T>, QueryRejection>, takes: &str) -> Result<T, ApiError> {
    query
        .map(|Query(q)| q)
        .map_err(|rejection| ApiError::BadRequest(format!("{}; this route takes {takes}", rejection.body_text())))
}

/// The JSON body, or a 413 for one over the body limit, or a 400 saying what is wrong and what the
/// route takes.
pub(crate) fn json_body<T>(body: Result<Json<T>, JsonRejection>, takes: &str) -> Result<T, ApiError> {
    body.map(|Json(b)| b).map_err(|rejection| match crate::error::json_rejected(&rejection, crate::MAX_BODY_BYTES) {
        ApiError::BadRequest(m) => ApiError::BadRequest(format!("{m}; this route takes {takes}")),
        other => other,
    })
}

async fn history(
    State(state): State<AppState>,
    Path((session_id, project_id)): Path<(String, String)>,
    q: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q, "only before=OFFSET and limit=N")?;
    let store = state.store.clone();
    if q.before.is_none() && q.limit.is_none() {
        // the seed's shape: every line of the transcript
        return Ok(ok(blocking(move || Ok(store.history(&project_id, &session_id)?)).await?).into_response());
    }
    let limit = q.limit.unwrap_or(200).clamp(1, MAX_PAGE);
    let page = blocking(move || Ok(store.history_page(&project_id, &session_id, q.before, limit)?)).await?;
    Ok(ok(page).into_response())
}

/// A number for the seed's `run_id` (its client uses it as a list key): the top 48 bits of the session's
/// UUID, so it is stable and a safe JavaScript integer.
fn run_id(session_id: &str, index: usize) -> u64 {
    uuid::Uuid::parse_str(session_id).map_or(index as u64, |id| (id.as_u128() >> 80) as u64)
}

/// Our fields, plus the seed's `ProcessInfo` names its client reads: `run_id`, and `process_type`
/// (`{"ClaudeSession": {"session_id"}}` while a run is in progress, `{}` once it finished, so the seed's
/// client reattaches to running sessions only).
async fn running(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    if let Some(why) = state.runs.unavailable().await {
        return Err(ApiError::Unavailable(why));
    }
    let list = state.runs.list().await;
    let mut out = Vec::with_capacity(list.len());
    for (index, summary) in list.into_iter().enumerate() {
        let running = summary.status == opcode_sessions::RunStatus::Running;
        let id = summary.session_id.clone();
        let mut value = serde_json::to_value(summary).map_err(|e| ApiError::Internal(e.to_string()))?;
        value["run_id"] = run_id(&id, index).into();
        value["process_type"] = if running { json!({ "ClaudeSession": { "session_id": id } }) } else { json!({}) };
        out.push(value);
    }
    Ok(ok(out))
}

/// Checks a project path given by a client as a run's `project_path` is checked.
pub(crate) async fn checked_project(state: &AppState, path: String) -> Result<std::path::PathBuf, ApiError> {
    if !std::path::Path::new(&path).is_absolute() {
        return Err(ApiError::BadRequest(format!("project path {path:?} is not an absolute path")));
    }
    state.registry.check_project_path(&path).await.map_err(start_error)
}

/// A refused run start as a status: outside the roots 403, busy or limited 409, else 400.
pub(crate) fn start_error(err: StartError) -> ApiError {
    match err {
        StartError::OutsideProjectRoots { .. } => ApiError::Forbidden(err.to_string()),
        StartError::AlreadyRunning(_)
        | StartError::TooManyRuns { .. }
        | StartError::RateLimited { .. }
        | StartError::ShuttingDown => ApiError::Conflict(err.to_string()),
        StartError::Log { .. } => ApiError::Internal(err.to_string()),
        StartError::Refused { refusal, message } => ApiError::refused(refusal, message),
        other => ApiError::BadRequest(other.to_string()),
    }
}

/// The query of `/api/sessions/new`: the seed's client may pass the project directory.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSessionQuery {
    path: Option<String>,
}

/// `GET /api/sessions/new`: a fresh session id (a UUID), to use as `session_id` of an `execute`.
async fn new_session(
    State(state): State<AppState>,
    q: Result<Query<NewSessionQuery>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    if let Some(path) = query(q, "only path=<project directory>")?.path {
        checked_project(&state, path).await?;
    }
    Ok(ok(uuid::Uuid::new_v4().to_string()))
}

/// `GET /api/settings/claude`: Claude's `settings.json` as `{ "data": settings }` (the seed's shape).
async fn claude_settings(
    State(state): State<AppState>,
    q: Result<Query<NoQuery>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    query(q, "no parameters")?;
    let store = state.store.clone();
    let settings = blocking(move || Ok(store.settings()?)).await?;
    Ok(ok(json!({ "data": settings })))
}

/// `GET /api/settings/claude/version`: `claude --version` of the configured binary.
async fn claude_version(
    State(state): State<AppState>,
    q: Result<Query<NoQuery>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    query(q, "no parameters")?;
    Ok(ok(state.registry.claude_version().await))
}

/// `GET /api/settings/claude/installations`: the claude binaries found, the configured one first.
async fn claude_installations(
    State(state): State<AppState>,
    q: Result<Query<NoQuery>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    query(q, "no parameters")?;
    let binary = state.registry.config().claude_bin.clone();
    Ok(ok(blocking(move || Ok(opcode_sessions::claude_info::installations(&binary))).await?))
}

/// `GET /api/settings/system-prompt`: the user's `CLAUDE.md` (empty when there is none).
async fn system_prompt(
    State(state): State<AppState>,
    q: Result<Query<NoQuery>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    query(q, "no parameters")?;
    let store = state.store.clone();
    Ok(ok(blocking(move || Ok(store.system_prompt()?)).await?))
}

/// The query of `/api/slash-commands`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlashCommandsQuery {
    #[serde(rename = "projectPath")]
    project_path: Option<String>,
}

/// `GET /api/slash-commands?projectPath=DIR`: built-in, project and user commands.
async fn slash_commands(
    State(state): State<AppState>,
    q: Result<Query<SlashCommandsQuery>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let q = query(q, "only projectPath=<project directory>")?;
    let project = match q.project_path {
        Some(path) => Some(checked_project(&state, path).await?),
        None => None,
    };
    let store = state.store.clone();
    Ok(ok(blocking(move || Ok(store.slash_commands(project.as_deref())?)).await?))
}

/// The query of `/api/projects/commands`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectCommandsQuery {
    path: Option<String>,
}

/// `GET /api/projects/commands?path=DIR`: the slash commands claude knows in the project, grouped by
/// source (`builtin`, `user`, `project`), each with its description and argument hint.
async fn project_commands(
    State(state): State<AppState>,
    q: Result<Query<ProjectCommandsQuery>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let path = query(q, "only path=<project directory>")?
        .path
        .ok_or_else(|| ApiError::BadRequest("path is missing: send path=<absolute project directory>".to_owned()))?;
    let project = checked_project(&state, path).await?;
    let store = state.store.clone();
    Ok(ok(blocking(move || Ok(opcode_sessions::commands::project_commands(&store, &project)?)).await?))
}

/// The body of `POST /api/sessions/{id}/settings`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsBody {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    permission_mode: Option<opcode_proto::PermissionMode>,
}

/// `POST /api/sessions/{id}/settings`: switches a live session's model and/or permission mode between
/// turns (409 while a turn runs).
async fn settings(
    State(state): State<AppState>,
    Path(session_id): Path<String>,
    body: Result<Json<SettingsBody>, axum::extract::rejection::JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let Json(body) = body.map_err(|r| crate::error::json_rejected(&r, MAX_SETTINGS_BODY))?;
    let change = opcode_proto::control::SettingsChange { model: body.model, permission_mode: body.permission_mode };
    state.runs.change_settings(&session_id, change.clone()).await?;
    Ok(ok(json!({ "model": change.model, "permission_mode": change.permission_mode })))
}

/// Every event of the session so far, spliced raw into the envelope.
async fn output(State(state): State<AppState>, Path(session_id): Path<String>) -> Result<Response, ApiError> {
    if let Some(why) = state.runs.unavailable().await {
        return Err(ApiError::Unavailable(why));
    }
    let events = match state.runs.events_so_far(&session_id).await {
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

async fn cancel(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(session_id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    state.runs.cancel_run(&session_id).await?;
    state.audit(&caller, AuditAction::SessionCancelled, &session_id).await;
    Ok(ok(serde_json::json!({ "cancelled": true })))
}

/// The body of a follow-up prompt.
#[derive(Debug, Deserialize)]
pub struct PromptBody {
    prompt: String,
    #[serde(default)]
    client_id: Option<String>,
    /// Images for claude to see with it (checked before anything is sent or queued).
    #[serde(default)]
    images: Vec<opcode_proto::ImageAttachment>,
}

/// The body of `PUT /api/sessions/{id}/queue/{client_id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueuedBody {
    prompt: String,
}

/// `outcome` names what became of a prompt: `sent`, `queued` (a turn is running) or `duplicate`.
fn outcome_name(outcome: PromptOutcome) -> &'static str {
    match outcome {
        PromptOutcome::Sent => "sent",
        PromptOutcome::Queued => "queued",
        PromptOutcome::Duplicate => "duplicate",
    }
}

async fn prompt(
    State(state): State<AppState>,
    Path(session_id): Path<String>,
    body: Result<Json<PromptBody>, axum::extract::rejection::JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let Json(body) =
        body.map_err(|r| crate::error::json_rejected(&r, opcode_proto::image::MAX_MESSAGE_WITH_IMAGES_BYTES))?;
    let outcome =
        crate::turns::send_prompt(&state, &session_id, &body.prompt, body.client_id.as_deref(), body.images).await?;
    let name = outcome_name(outcome);
    Ok(ok(serde_json::json!({ "sent": outcome == PromptOutcome::Sent, "outcome": name })))
}

async fn edit_queued(
    State(state): State<AppState>,
    Path((session_id, client_id)): Path<(String, String)>,
    Json(body): Json<QueuedBody>,
) -> Result<impl IntoResponse, ApiError> {
    state.runs.edit_queued(&session_id, &client_id, &body.prompt).await?;
    Ok(ok(serde_json::json!({ "edited": true })))
}

async fn unqueue(
    State(state): State<AppState>,
    Path((session_id, client_id)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    state.runs.unqueue(&session_id, &client_id).await?;
    Ok(ok(serde_json::json!({ "removed": true })))
}

async fn permission(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((session_id, request_id)): Path<(String, String)>,
    Json(decision): Json<PermissionDecision>,
) -> Result<impl IntoResponse, ApiError> {
    state.runs.answer_permission(&session_id, &request_id, decision).await?;
    state.audit(&caller, AuditAction::ApprovalAnswered, &session_id).await;
    Ok(ok(serde_json::json!({ "answered": true })))
}

async fn interrupt(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(session_id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    state.runs.interrupt(&session_id).await?;
    state.audit(&caller, AuditAction::SessionInterrupted, &session_id).await;
    Ok(ok(serde_json::json!({ "interrupted": true })))
}

async fn end(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(session_id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    state.runs.end_live(&session_id).await?;
    state.audit(&caller, AuditAction::SessionEnded, &session_id).await;
    Ok(ok(serde_json::json!({ "ended": true })))
}
