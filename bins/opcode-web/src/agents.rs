//! Agent routes (`/api/agents…`, `/api/agent-runs…`) over `opcode-agents`: list (the seed's client reads
//! `GET /api/agents`), create, read, edit, delete, import and export Opcode's agent files, run an agent
//! on a project, and the run history. Only HTTP here: every check and every run is `opcode-agents`'.
//!
//! Bodies are JSON objects of at most [`MAX_AGENT_BODY`] bytes (`413` beyond); malformed JSON, an unknown
//! field or a field that does not check is a `400`, an unknown id a `404`, and in each case nothing is
//! written. An import's body is the file's text as it is (any content type).

use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Extension;
use axum::{Json, Router};
use opcode_access::AuditAction;
use opcode_agents::definition::AgentDefinition;
use opcode_agents::file::{FileError, MAX_FILE_BYTES};
use opcode_agents::view::{agent_json, run_json};
use opcode_agents::{AgentError, RunAgent};
use opcode_sessions::StartError;
use serde_json::{json, Value};

use crate::api::{query, NoQuery};
use crate::error::{json_rejected, ok, ApiError};
use crate::state::{AppState, Caller};

/// Largest body on the agent routes (an agent file is at most `MAX_FILE_BYTES`).
pub const MAX_AGENT_BODY: usize = MAX_FILE_BYTES;

/// The agent routes (authenticated like the rest of `/api`).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/agents", get(list).post(create))
        .route("/api/agents/import", post(import))
        .route("/api/agents/{id}", get(read).put(update).delete(delete))
        .route("/api/agents/{id}/export", get(export))
        .route("/api/agents/{id}/run", post(run))
        .route("/api/agents/{id}/runs", get(agent_runs))
        .route("/api/agent-runs", get(all_runs))
        .route("/api/agent-runs/{run_id}", get(one_run))
        .layer(DefaultBodyLimit::max(MAX_AGENT_BODY))
}

impl From<AgentError> for ApiError {
    fn from(err: AgentError) -> Self {
        match err {
            AgentError::Invalid(_) | AgentError::NoTask | AgentError::Request(_) => {
                ApiError::BadRequest(err.to_string())
            }
            AgentError::File(FileError::TooLarge(_)) => ApiError::TooLarge(err.to_string()),
            AgentError::File(_) => ApiError::BadRequest(err.to_string()),
            AgentError::NotFound(_) | AgentError::RunNotFound(_) => ApiError::NotFound(err.to_string()),
            AgentError::Start(start) => match start {
                StartError::ProjectNotFound(_) => ApiError::BadRequest(start.to_string()),
                StartError::OutsideProjectRoots { .. } | StartError::BypassNotAllowed => {
                    ApiError::Forbidden(start.to_string())
                }
                StartError::ShuttingDown => ApiError::Unavailable(start.to_string()),
                other => ApiError::Conflict(other.to_string()),
            },
            AgentError::ShuttingDown => ApiError::Unavailable(err.to_string()),
            other => ApiError::Internal(format!("{other}: {:?}", std::error::Error::source(&other))),
        }
    }
}

fn body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(b)| b).map_err(|rejection| json_rejected(&rejection, MAX_AGENT_BODY))
}

fn id_of(text: &str, what: &str) -> Result<i64, ApiError> {
    text.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::BadRequest(format!("{what} id {text:?} is not one: ids are positive whole numbers")))
}

/// `GET /api/agents`: every agent, newest first (the seed's client reads this list).
async fn list(State(state): State<AppState>, q: Result<Query<NoQuery>, QueryRejection>) -> Result<Response, ApiError> {
    query(q, "no parameters")?;
    let agents = state.agents.list().await?;
    Ok(ok(agents.iter().map(agent_json).collect::<Vec<Value>>()).into_response())
}

async fn create(
    State(state): State<AppState>,
    definition: Result<Json<AgentDefinition>, JsonRejection>,
) -> Result<Response, ApiError> {
    let agent = state.agents.create(body(definition)?).await?;
    Ok((StatusCode::CREATED, ok(agent_json(&agent))).into_response())
}

async fn read(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let agent = state.agents.get(id_of(&id, "agent")?).await?;
    Ok(ok(agent_json(&agent)).into_response())
}

async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    definition: Result<Json<AgentDefinition>, JsonRejection>,
) -> Result<Response, ApiError> {
    let id = id_of(&id, "agent")?;
    let agent = state.agents.update(id, body(definition)?).await?;
    Ok(ok(agent_json(&agent)).into_response())
}

async fn delete(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    state.agents.delete(id_of(&id, "agent")?).await?;
    Ok(ok(json!({ "deleted": true })).into_response())
}

/// `POST /api/agents/import`: the body is an agent file's text (Opcode's `.opcode.json`).
async fn import(
    State(state): State<AppState>,
    text: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let bytes = text.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge(format!("an agent file is at most {MAX_FILE_BYTES} bytes")),
        _ => ApiError::BadRequest(rejection.body_text()),
    })?;
    let text =
        std::str::from_utf8(&bytes).map_err(|_| ApiError::BadRequest("the agent file is not UTF-8 text".to_owned()))?;
    let agent = state.agents.import(text).await?;
    Ok((StatusCode::CREATED, ok(agent_json(&agent))).into_response())
}

/// `GET /api/agents/{id}/export`: the agent's file, as a download.
async fn export(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let (name, text) = state.agents.export(id_of(&id, "agent")?).await?;
    let disposition = format!("attachment; filename=\"{name}\"");
    Ok(([(header::CONTENT_TYPE, "application/json".to_owned()), (header::CONTENT_DISPOSITION, disposition)], text)
        .into_response())
}

/// `POST /api/agents/{id}/run`: `{project_path, task?, live?, model?}` → the run (its `session_id` is the
/// session to attach to). Recorded in the audit trail as a run started by the caller.
async fn run(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    request: Result<Json<RunAgent>, JsonRejection>,
) -> Result<Response, ApiError> {
    let id = id_of(&id, "agent")?;
    let request = body(request)?;
    if !std::path::Path::new(&request.project_path).is_absolute() {
        return Err(ApiError::BadRequest(format!("project path {:?} is not an absolute path", request.project_path)));
    }
    let run = state.agents.run(id, request).await?;
    state.audit(&caller, AuditAction::RunStarted, &run.session_id).await;
    Ok((StatusCode::CREATED, ok(run_json(&run))).into_response())
}

async fn agent_runs(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let runs = state.agents.runs(Some(id_of(&id, "agent")?)).await?;
    Ok(ok(runs.iter().map(run_json).collect::<Vec<Value>>()).into_response())
}

async fn all_runs(
    State(state): State<AppState>,
    q: Result<Query<NoQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    query(q, "no parameters")?;
    let runs = state.agents.runs(None).await?;
    Ok(ok(runs.iter().map(run_json).collect::<Vec<Value>>()).into_response())
}

async fn one_run(State(state): State<AppState>, Path(run_id): Path<String>) -> Result<Response, ApiError> {
    let run = state.agents.run_record(id_of(&run_id, "agent run")?).await?;
    Ok(ok(run_json(&run)).into_response())
}
