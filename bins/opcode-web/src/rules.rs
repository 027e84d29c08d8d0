//! Remembered permission decisions of a project (`.claude/settings.local.json`, Claude's own file): list,
//! edit and remove them. The rules themselves are kept by `opcode_sessions::claude_permissions`.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use opcode_sessions::claude_permissions::{self, PermissionRules, RulesError};
use serde::Deserialize;

use crate::api::{blocking, checked_project};
use crate::error::{ok, ApiError};
use crate::state::AppState;

/// `GET` and `PUT /api/permission-rules?project_path=DIR`.
pub fn routes() -> Router<AppState> {
    Router::new().route("/api/permission-rules", get(read).put(write))
}

/// The query: which project.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesQuery {
    project_path: String,
}

/// The body of a write: the new lists and the version they edit.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesBody {
    #[serde(default)]
    allow: Vec<String>,
    #[serde(default)]
    deny: Vec<String>,
    #[serde(default)]
    ask: Vec<String>,
    version: String,
}

impl From<RulesError> for ApiError {
    fn from(err: RulesError) -> Self {
        match err {
            RulesError::OutsideProject(_) => ApiError::Forbidden(err.to_string()),
            RulesError::Changed | RulesError::Unreadable(_) => ApiError::Conflict(err.to_string()),
            RulesError::BadRule(_) => ApiError::BadRequest(err.to_string()),
            other => ApiError::Internal(format!("{other}: {:?}", std::error::Error::source(&other))),
        }
    }
}

fn project_query(q: Result<Query<RulesQuery>, QueryRejection>) -> Result<String, ApiError> {
    q.map(|Query(q)| q.project_path).map_err(|rejection| {
        ApiError::BadRequest(format!("{}; this route takes project_path=<project directory>", rejection.body_text()))
    })
}

async fn read(
    State(state): State<AppState>,
    q: Result<Query<RulesQuery>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let project = checked_project(&state, project_query(q)?).await?;
    Ok(ok(blocking(move || Ok(claude_permissions::read_rules(&project)?)).await?))
}

async fn write(
    State(state): State<AppState>,
    q: Result<Query<RulesQuery>, QueryRejection>,
    Json(body): Json<RulesBody>,
) -> Result<impl IntoResponse, ApiError> {
    let project = checked_project(&state, project_query(q)?).await?;
    let rules = PermissionRules { allow: body.allow, deny: body.deny, ask: body.ask };
    let written = blocking(move || Ok(claude_permissions::write_rules(&project, &rules, &body.version)?)).await?;
    tracing::info!(file = %written.file.display(), "permission rules written");
    Ok(ok(written))
}
