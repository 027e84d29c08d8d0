//! The `CLAUDE.md` pane's routes: list a project's memory files (and the user's), read one, save one with
//! a version check. The files, their confinement and the version check are
//! `opcode_sessions::claude_md`'s; this module only adapts them to HTTP.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Extension, Query, State};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use opcode_sessions::claude_md::{self, ClaudeMdError, MdTarget};
use serde::{Deserialize, Serialize};

use crate::api::{blocking, checked_project, json_body, params as query};
use crate::error::{ok, ApiError};
use crate::state::{AppState, Caller};
use opcode_access::AuditAction;

/// `GET /api/claude-md`, `GET` and `PUT /api/claude-md/file`.
pub fn routes() -> Router<AppState> {
    Router::new().route("/api/claude-md", get(list)).route("/api/claude-md/file", get(read).put(write))
}

/// The query of the list: which project.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    project_path: String,
}

/// The query naming one file: `scope=user`, or a project and a path relative to it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileQuery {
    #[serde(default)]
    scope: Scope,
    project_path: Option<String>,
    path: Option<String>,
}

/// `scope` of [`FileQuery`].
#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// A file of the project (the default).
    #[default]
    Project,
    /// The user's `CLAUDE.md` in the Claude folder.
    User,
}

/// The body of a save.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaveBody {
    content: String,
    version: String,
}

/// The list's answer.
#[derive(Debug, Serialize)]
struct Listing {
    project_path: String,
    files: Vec<claude_md::MdFile>,
}

impl From<ClaudeMdError> for ApiError {
    fn from(err: ClaudeMdError) -> Self {
        match err {
            ClaudeMdError::BadPath(_) | ClaudeMdError::NoFolder(_) | ClaudeMdError::NotText(_) => {
                ApiError::BadRequest(err.to_string())
            }
            ClaudeMdError::OutsideProject(_) => ApiError::Forbidden(err.to_string()),
            ClaudeMdError::Changed => ApiError::Conflict(err.to_string()),
            ClaudeMdError::TooLarge(_) => ApiError::TooLarge(err.to_string()),
            other => ApiError::Internal(format!("{other}: {:?}", std::error::Error::source(&other))),
        }
    }
}

const FILE_QUERY: &str = "scope=user, or project_path=<project directory>&path=<relative path to a CLAUDE.md>";

async fn target(state: &AppState, q: FileQuery) -> Result<(Option<std::path::PathBuf>, MdTarget), ApiError> {
    match (q.scope, q.project_path, q.path) {
        (Scope::User, None, None) => Ok((None, MdTarget::User)),
        (Scope::Project, Some(project), Some(path)) => {
            Ok((Some(checked_project(state, project).await?), MdTarget::Project(path)))
        }
        _ => Err(ApiError::BadRequest(format!("this route takes {FILE_QUERY}"))),
    }
}

async fn list(
    State(state): State<AppState>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let project = checked_project(&state, query(q, "project_path=<project directory>")?.project_path).await?;
    let claude_dir = state.store.root().to_path_buf();
    let files = blocking(move || {
        let files = claude_md::find(&project, &claude_dir);
        Ok(Listing { project_path: project.display().to_string(), files })
    })
    .await?;
    Ok(ok(files))
}

async fn read(
    State(state): State<AppState>,
    q: Result<Query<FileQuery>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let (project, target) = target(&state, query(q, FILE_QUERY)?).await?;
    let claude_dir = state.store.root().to_path_buf();
    Ok(ok(blocking(move || Ok(claude_md::read(project.as_deref(), &claude_dir, &target)?)).await?))
}

async fn write(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    q: Result<Query<FileQuery>, QueryRejection>,
    body: Result<Json<SaveBody>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let (project, target) = target(&state, query(q, FILE_QUERY)?).await?;
    let body = json_body(body, "{\"content\": text, \"version\": the version read}")?;
    let claude_dir = state.store.root().to_path_buf();
    let written =
        blocking(move || Ok(claude_md::write(project.as_deref(), &claude_dir, &target, &body.content, &body.version)?))
            .await?;
    tracing::info!(file = %written.file.absolute.display(), "CLAUDE.md saved");
    state.audit(&caller, AuditAction::ClaudeMdSaved, &written.file.absolute.display().to_string()).await;
    Ok(ok(written))
}
