//! The Git pane's routes (`/api/git/*`) and a turn's changes (`/api/sessions/{id}/turns…`): a thin adapter
//! over `opcode-git`. The project is named by `project_path` and checked as every project route checks it
//! (`checked_project`: absolute, existing, inside `--project-root`); a user's file path is a checked
//! [`RepoPath`] before git sees it. Bad input is a 4xx with nothing written.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use opcode_git::{GitError, RepoPath};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::api::{blocking, checked_project};
use crate::error::{ok, ApiError};
use crate::state::{AppState, Caller};
use opcode_access::AuditAction;

/// Largest body of a git route (a commit message is the biggest thing sent).
pub const MAX_GIT_BODY: usize = 256 * 1024;

/// Most paths staged or unstaged at once.
const MAX_PATHS: usize = 10_000;

/// The git routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/git/status", get(status))
        .route("/api/git/diff", get(diff))
        .route("/api/git/stage", post(stage))
        .route("/api/git/unstage", post(unstage))
        .route("/api/git/commit", post(commit))
        .route("/api/git/discard", post(discard))
        .route("/api/git/branches", get(branches))
        .route("/api/git/switch", post(switch))
        .route("/api/git/init", post(init))
        .route("/api/sessions/{session_id}/turns", get(turns))
        .route("/api/sessions/{session_id}/turns/{turn}/diff", get(turn_diff))
        .layer(DefaultBodyLimit::max(MAX_GIT_BODY))
}

impl From<GitError> for ApiError {
    fn from(err: GitError) -> Self {
        match err {
            GitError::BadPath { .. } | GitError::EmptyMessage | GitError::UnknownBranch(_) => {
                ApiError::BadRequest(err.to_string())
            }
            GitError::NotARepository { .. }
            | GitError::AlreadyARepository { .. }
            | GitError::NothingStaged
            | GitError::NoIdentity { .. }
            | GitError::WouldOverwrite { .. }
            | GitError::NothingToDiscard(_)
            | GitError::Failed { .. } => ApiError::Conflict(err.to_string()),
            other => ApiError::Internal(format!("{other}: {:?}", std::error::Error::source(&other))),
        }
    }
}

/// `?project_path=DIR`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectQuery {
    project_path: String,
}

/// `?project_path=DIR&path=FILE&staged=BOOL`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiffQuery {
    project_path: String,
    path: String,
    #[serde(default)]
    staged: bool,
}

/// `{ "paths": [...] }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathsBody {
    paths: Vec<String>,
}

/// `{ "path": "..." }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathBody {
    path: String,
}

/// `{ "message": "..." }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitBody {
    message: String,
}

/// `{ "branch": "..." }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwitchBody {
    branch: String,
}

fn bad_query(rejection: QueryRejection, takes: &str) -> ApiError {
    ApiError::BadRequest(format!("{}; this route takes {takes}", rejection.body_text()))
}

fn bad_body(rejection: JsonRejection) -> ApiError {
    match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::TooLarge(format!("the body is over the {MAX_GIT_BODY}-byte limit of the git routes"))
        }
        _ => ApiError::BadRequest(format!(
            "send a JSON object (Content-Type: application/json): {}",
            rejection.body_text()
        )),
    }
}

async fn project(
    state: &AppState,
    q: Result<Query<ProjectQuery>, QueryRejection>,
) -> Result<std::path::PathBuf, ApiError> {
    let q = q.map_err(|r| bad_query(r, "project_path=<project directory>"))?;
    checked_project(state, q.0.project_path).await
}

fn repo_paths(paths: &[String]) -> Result<Vec<RepoPath>, ApiError> {
    if paths.is_empty() || paths.len() > MAX_PATHS {
        return Err(ApiError::BadRequest(format!("give between 1 and {MAX_PATHS} paths")));
    }
    Ok(paths.iter().map(|p| RepoPath::parse(p)).collect::<Result<_, _>>()?)
}

/// The status with `repository: true`, or `{ "repository": false }` for a folder that is not one.
#[derive(Debug, Serialize)]
struct StatusAnswer {
    repository: bool,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    status: Option<opcode_git::Status>,
}

async fn status(
    State(state): State<AppState>,
    q: Result<Query<ProjectQuery>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let dir = project(&state, q).await?;
    match state.git.status(&dir).await {
        Ok(status) => Ok(ok(StatusAnswer { repository: true, status: Some(status) })),
        Err(GitError::NotARepository { .. }) => Ok(ok(StatusAnswer { repository: false, status: None })),
        Err(err) => Err(err.into()),
    }
}

async fn diff(
    State(state): State<AppState>,
    q: Result<Query<DiffQuery>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let Query(q) = q.map_err(|r| bad_query(r, "project_path=<dir>, path=<file> and staged=true|false"))?;
    let path = RepoPath::parse(&q.path)?;
    let dir = checked_project(&state, q.project_path).await?;
    Ok(ok(state.git.diff_file(&dir, &path, q.staged).await?))
}

/// What a route over a list of paths does.
#[derive(Debug, Clone, Copy)]
enum PathsOp {
    Stage,
    Unstage,
}

async fn paths_route(
    state: AppState,
    q: Result<Query<ProjectQuery>, QueryRejection>,
    body: Result<Json<PathsBody>, JsonRejection>,
    op: PathsOp,
) -> Result<impl IntoResponse, ApiError> {
    let dir = project(&state, q).await?;
    let paths = repo_paths(&body.map_err(bad_body)?.0.paths)?;
    match op {
        PathsOp::Stage => state.git.stage(&dir, &paths).await?,
        PathsOp::Unstage => state.git.unstage(&dir, &paths).await?,
    }
    let key = match op {
        PathsOp::Stage => "staged",
        PathsOp::Unstage => "unstaged",
    };
    Ok(ok(json!({ key: paths.len() })))
}

async fn stage(
    State(state): State<AppState>,
    q: Result<Query<ProjectQuery>, QueryRejection>,
    body: Result<Json<PathsBody>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    paths_route(state, q, body, PathsOp::Stage).await
}

async fn unstage(
    State(state): State<AppState>,
    q: Result<Query<ProjectQuery>, QueryRejection>,
    body: Result<Json<PathsBody>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    paths_route(state, q, body, PathsOp::Unstage).await
}

async fn commit(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    q: Result<Query<ProjectQuery>, QueryRejection>,
    body: Result<Json<CommitBody>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let dir = project(&state, q).await?;
    let message = body.map_err(bad_body)?.0.message;
    let committed = state.git.commit(&dir, &message).await?;
    let target = format!("{}: {}", dir.display(), committed.commit);
    state.audit(&caller, AuditAction::GitCommitted, &target).await;
    Ok(ok(committed))
}

async fn discard(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    q: Result<Query<ProjectQuery>, QueryRejection>,
    body: Result<Json<PathBody>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let dir = project(&state, q).await?;
    let path = RepoPath::parse(&body.map_err(bad_body)?.0.path)?;
    state.git.discard(&dir, &path).await?;
    state.audit(&caller, AuditAction::GitDiscarded, &format!("{}: {}", dir.display(), path.as_str())).await;
    Ok(ok(json!({ "discarded": path })))
}

async fn branches(
    State(state): State<AppState>,
    q: Result<Query<ProjectQuery>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let dir = project(&state, q).await?;
    Ok(ok(state.git.branches(&dir).await?))
}

async fn switch(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    q: Result<Query<ProjectQuery>, QueryRejection>,
    body: Result<Json<SwitchBody>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let dir = project(&state, q).await?;
    let branch = body.map_err(bad_body)?.0.branch;
    state.git.switch(&dir, &branch).await?;
    state.audit(&caller, AuditAction::GitSwitched, &format!("{}: {branch}", dir.display())).await;
    Ok(ok(json!({ "branch": branch })))
}

async fn init(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    q: Result<Query<ProjectQuery>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let dir = project(&state, q).await?;
    state.git.init(&dir).await?;
    state.audit(&caller, AuditAction::GitSwitched, &format!("{}: git init", dir.display())).await;
    Ok(ok(json!({ "initialized": true })))
}

/// One turn in the list: its number, times, and the files it changed (`None` while it runs).
#[derive(Debug, Serialize)]
struct TurnEntry {
    turn: u32,
    started_at: u64,
    finished_at: Option<u64>,
    files: Option<Vec<opcode_git::TreeChange>>,
}

fn check_session_id(session_id: &str) -> Result<(), ApiError> {
    uuid::Uuid::parse_str(session_id)
        .map(|_| ())
        .map_err(|_| ApiError::BadRequest(format!("session id {session_id:?} is not a UUID")))
}

async fn session_turns(state: &AppState, session_id: &str) -> Result<Vec<opcode_store::TurnSnapshot>, ApiError> {
    check_session_id(session_id)?;
    let store = state.registry.store();
    let id = session_id.to_owned();
    blocking(move || store.turns(&id).map_err(|e| ApiError::Internal(e.to_string()))).await
}

/// `GET /api/sessions/{id}/turns`: every recorded turn with the files it changed (empty list: a session
/// unknown here or whose project is not a repository).
async fn turns(State(state): State<AppState>, Path(session_id): Path<String>) -> Result<impl IntoResponse, ApiError> {
    let mut out = Vec::new();
    for turn in session_turns(&state, &session_id).await? {
        let files = match &turn.after_tree {
            Some(after) => {
                let dir = std::path::PathBuf::from(&turn.project_path);
                Some(state.git.diff_trees(&dir, &turn.before_tree, after).await?.files)
            }
            None => None,
        };
        out.push(TurnEntry { turn: turn.turn, started_at: turn.started_at, finished_at: turn.finished_at, files });
    }
    Ok(ok(out))
}

/// `GET /api/sessions/{id}/turns/{n}/diff`: the files and unified diff of one finished turn.
async fn turn_diff(
    State(state): State<AppState>,
    Path((session_id, turn)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let n: u32 = turn.parse().map_err(|_| ApiError::BadRequest(format!("turn {turn:?} is not a turn number")))?;
    let turns = session_turns(&state, &session_id).await?;
    let Some(turn) = turns.into_iter().find(|t| t.turn == n) else {
        return Err(ApiError::NotFound(format!("session {session_id} has no recorded turn {n}")));
    };
    let Some(after) = turn.after_tree else {
        return Err(ApiError::Conflict(format!("turn {n} has not finished yet")));
    };
    let dir = std::path::PathBuf::from(&turn.project_path);
    let diff = state.git.diff_trees(&dir, &turn.before_tree, &after).await?;
    Ok(ok(json!({ "turn": n, "files": diff.files, "diff": diff.diff, "truncated": diff.truncated })))
}
