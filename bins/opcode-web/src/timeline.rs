//! A session's timeline and what can be done from one of its turns: fork the session there (a new
//! session continues from that point, the old transcript untouched), and restore the project's files to
//! how they were at a prompt (the CLI's file checkpoints, `--rewind-files`), after a preview.
//! The reading is `opcode_sessions::claude_timeline` and `claude_rewind`'s; the runs are the registry's.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Extension, Path, Query, State};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use opcode_sessions::claude_rewind::{self, RewindError};
use opcode_sessions::claude_store::project_id_for;
use opcode_sessions::claude_timeline::Timeline;
use serde::Deserialize;
use serde_json::json;

use crate::api::{blocking, checked_project, json_body, params};
use crate::error::{ok, ApiError};
use crate::state::{AppState, Caller};
use opcode_access::AuditAction;

/// The timeline, fork and rewind routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/sessions/{session_id}/timeline", get(timeline))
        .route("/api/sessions/{session_id}/fork", post(fork))
        .route("/api/sessions/{session_id}/rewind", get(rewind_preview).post(rewind))
}

/// Which project the session belongs to.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectQuery {
    project_path: String,
}

/// A rewind preview's query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RewindQuery {
    project_path: String,
    message_id: String,
}

/// The body of a fork: the project, the message to keep up to, the first prompt of the copy.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForkBody {
    project_path: String,
    message_id: String,
    prompt: String,
    #[serde(default)]
    live: bool,
    model: Option<String>,
    permission_mode: Option<String>,
}

/// The body of a rewind.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RewindBody {
    project_path: String,
    message_id: String,
}

impl From<RewindError> for ApiError {
    fn from(err: RewindError) -> Self {
        match err {
            RewindError::NoCheckpoint => ApiError::Conflict(err.to_string()),
            other => ApiError::Internal(format!("{other}: {:?}", std::error::Error::source(&other))),
        }
    }
}

/// The project (checked as a run's) and the session's timeline in it.
async fn session_timeline(
    state: &AppState,
    session_id: String,
    project: String,
) -> Result<(std::path::PathBuf, Timeline), ApiError> {
    let project = checked_project(state, project).await?;
    let store = state.store.clone();
    let project_id = project_id_for(&project);
    let timeline = blocking(move || Ok(store.timeline(&project_id, &session_id)?)).await?;
    Ok((project, timeline))
}

fn no_message(message_id: &str) -> ApiError {
    ApiError::NotFound(format!(
        "message {message_id:?} is not in this session's transcript: pick one from its timeline"
    ))
}

/// `GET /api/sessions/{id}/timeline?project_path=DIR`.
async fn timeline(
    State(state): State<AppState>,
    Path(session_id): Path<String>,
    q: Result<Query<ProjectQuery>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let q = params(q, "project_path=<the session's project directory>")?;
    Ok(ok(session_timeline(&state, session_id, q.project_path).await?.1))
}

/// `POST /api/sessions/{id}/fork`: a new session, copied up to `message_id`, runs `prompt`.
async fn fork(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(session_id): Path<String>,
    body: Result<Json<ForkBody>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let body = json_body(body, r#"{"project_path", "message_id", "prompt", "live"?, "model"?, "permission_mode"?}"#)?;
    let (project, timeline) = session_timeline(&state, session_id.clone(), body.project_path).await?;
    let known = timeline.turns.iter().any(|t| {
        t.message_id == body.message_id
            || t.last_message_id == body.message_id
            || t.parent_message_id.as_deref() == Some(&body.message_id)
    });
    if !known {
        return Err(no_message(&body.message_id));
    }
    let new_id = uuid::Uuid::new_v4().to_string();
    let mut request = json!({
        "command_type": "execute", "project_path": project.display().to_string(), "prompt": body.prompt,
        "session_id": new_id, "live": body.live,
    });
    if let Some(model) = body.model {
        request["model"] = model.into();
    }
    if let Some(mode) = body.permission_mode {
        request["permission_mode"] = mode.into();
    }
    let request =
        opcode_proto::request::parse_request(&request.to_string()).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    // the new session's first turn gets its before/after snapshots, as a run started on a socket does
    let project_path = project.display().to_string();
    let turn = state.turns.begin_in(&new_id, &project_path).await;
    let started = match state.runs.start_fork(request, &session_id, &body.message_id).await {
        Ok(started) => started,
        Err(err) => {
            state.turns.abandon(&new_id, turn).await;
            return Err(crate::api::start_error(err));
        }
    };
    tracing::info!(from = %session_id, to = %started.session_id, "session forked");
    let target = format!("{session_id}@{}→{}", body.message_id, started.session_id);
    state.audit(&caller, AuditAction::SessionForked, &target).await;
    Ok(ok(json!({ "session_id": started.session_id, "forked_from": session_id, "at": body.message_id })))
}

/// `GET /api/sessions/{id}/rewind?project_path=DIR&message_id=M`: what a rewind to `M` would change.
async fn rewind_preview(
    State(state): State<AppState>,
    Path(session_id): Path<String>,
    q: Result<Query<RewindQuery>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let q = params(q, "project_path=<the session's project directory>&message_id=<a prompt's message id>")?;
    let (project, timeline) = session_timeline(&state, session_id.clone(), q.project_path).await?;
    if !timeline.turns.iter().any(|t| t.message_id == q.message_id) {
        return Err(no_message(&q.message_id));
    }
    let claude_dir = state.store.root().to_path_buf();
    let preview =
        blocking(move || Ok(claude_rewind::preview(&claude_dir, &project, &session_id, &q.message_id)?)).await?;
    Ok(ok(preview))
}

/// `POST /api/sessions/{id}/rewind`: restores the project's files to how they were at `message_id`
/// through `claude --resume ID --rewind-files M`.
async fn rewind(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(session_id): Path<String>,
    body: Result<Json<RewindBody>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let body = json_body(body, r#"{"project_path", "message_id"}"#)?;
    let (project, timeline) = session_timeline(&state, session_id.clone(), body.project_path).await?;
    let Some(turn) = timeline.turns.iter().find(|t| t.message_id == body.message_id) else {
        return Err(no_message(&body.message_id));
    };
    if !turn.checkpoint {
        return Err(ApiError::Conflict(RewindError::NoCheckpoint.to_string()));
    }
    let running = state
        .registry
        .list()
        .await
        .into_iter()
        .any(|r| r.session_id == session_id && r.status == opcode_sessions::RunStatus::Running);
    if running {
        return Err(ApiError::Conflict(
            "the session has a run in progress: end or cancel it before restoring files".into(),
        ));
    }
    let args = claude_rewind::rewind_args(&session_id, &body.message_id);
    let done = state
        .registry
        .claude_command(args, &project, claude_rewind::REWIND_TIMEOUT)
        .await
        .map_err(|e| ApiError::Internal(format!("claude --rewind-files could not be run: {e}")))?;
    if !done.success() {
        return Err(ApiError::Conflict(format!("claude could not restore the files: {}", done.output())));
    }
    tracing::info!(session_id, message_id = body.message_id, "files rewound");
    state.audit(&caller, AuditAction::FilesRewound, &format!("{session_id}@{}", body.message_id)).await;
    Ok(ok(json!({ "rewound": true, "output": done.output() })))
}
