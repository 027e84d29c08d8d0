//! The MCP pane's routes: list the servers of every scope, add one, remove one, test one, import a
//! Claude Desktop configuration. Reading, checking and testing are `opcode_sessions::claude_mcp`'s;
//! changes are the CLI's own `claude mcp …` commands (`SessionRegistry::claude_command`).

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Extension, Path, Query, State};
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use opcode_sessions::claude_mcp::{self, McpError, McpScope};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::{blocking, checked_project, json_body, params};
use crate::error::{ok, ApiError};
use crate::state::{AppState, Caller};
use opcode_access::AuditAction;

/// `/api/mcp/servers` (GET, POST), `/api/mcp/servers/{name}` (DELETE), `/api/mcp/servers/{name}/test`
/// (POST), `/api/mcp/import` (POST).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/mcp/servers", get(list).post(add))
        .route("/api/mcp/servers/{name}", delete(remove))
        .route("/api/mcp/servers/{name}/test", post(test))
        .route("/api/mcp/import", post(import))
}

/// The query of the list: the seed's client sends none (the user's servers); with a project, its local
/// and project servers too.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    project_path: Option<String>,
}

/// Which server of which scope (remove, test).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerQuery {
    scope: McpScope,
    project_path: Option<String>,
}

/// The body of an add: a name, a scope, and the server's configuration as the CLI's files hold it
/// (`{"type":"stdio","command":…,"args":[…],"env":{…}}` or `{"type":"http","url":…,"headers":{…}}`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddBody {
    name: String,
    scope: McpScope,
    project_path: Option<String>,
    config: Value,
}

/// The body of an import: a Claude Desktop configuration (`{"mcpServers": {…}}`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportBody {
    scope: McpScope,
    project_path: Option<String>,
    config: Value,
}

impl From<McpError> for ApiError {
    fn from(err: McpError) -> Self {
        match err {
            McpError::BadName(_) | McpError::BadConfig(_) => ApiError::BadRequest(err.to_string()),
            McpError::NotFound { .. } => ApiError::NotFound(err.to_string()),
            McpError::Refused(_) | McpError::Unreadable(_) => ApiError::Conflict(err.to_string()),
            other => ApiError::Internal(format!("{other}: {:?}", std::error::Error::source(&other))),
        }
    }
}

const ADD_BODY: &str =
    r#"{"name", "scope": "user"|"project"|"local", "project_path" (for project and local), "config": {…}}"#;

/// The project of a scope that needs one (checked as a run's), or none for the user's scope; and the
/// folder the CLI runs in.
async fn scope_dir(
    state: &AppState,
    scope: McpScope,
    project: Option<String>,
) -> Result<(Option<std::path::PathBuf>, std::path::PathBuf), ApiError> {
    match (scope.needs_project(), project) {
        (_, Some(project)) => {
            let dir = checked_project(state, project).await?;
            Ok((Some(dir.clone()), dir))
        }
        (false, None) => Ok((None, std::env::temp_dir())),
        (true, None) => {
            Err(ApiError::BadRequest(format!("the {} scope belongs to a project: give project_path", scope.as_str())))
        }
    }
}

fn config_file(state: &AppState) -> std::path::PathBuf {
    claude_mcp::config_file(&state.registry.config().child_env)
}

async fn servers(
    state: &AppState,
    project: Option<std::path::PathBuf>,
) -> Result<Vec<claude_mcp::McpServer>, ApiError> {
    let file = config_file(state);
    blocking(move || Ok(claude_mcp::list(&file, project.as_deref())?)).await
}

/// `GET /api/mcp/servers[?project_path=DIR]`: the seed's `MCPServer[]`.
async fn list(
    State(state): State<AppState>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let q = params(
        q,
        "only project_path=<project directory> (a GET never writes: opcode-web changes servers with POST and DELETE)",
    )?;
    let project = match q.project_path {
        Some(path) => Some(checked_project(&state, path).await?),
        None => None,
    };
    Ok(ok(servers(&state, project).await?))
}

/// Runs `claude mcp ARGS` in `dir`; the CLI's words when it refuses.
async fn claude_mcp_command(
    state: &AppState,
    args: Vec<std::ffi::OsString>,
    dir: &std::path::Path,
) -> Result<String, ApiError> {
    let done = state.registry.claude_command(args, dir, claude_mcp::COMMAND_TIMEOUT).await.map_err(|e| match e {
        opcode_proc::CompletionError::TimedOut { .. } => {
            ApiError::Conflict(format!("claude mcp did not finish within {:?}", claude_mcp::COMMAND_TIMEOUT))
        }
        other => ApiError::Internal(format!("claude mcp could not be run: {other}")),
    })?;
    if !done.success() {
        return Err(McpError::Refused(done.output()).into());
    }
    Ok(done.output())
}

async fn add_one(
    state: &AppState,
    caller: &Caller,
    scope: McpScope,
    dir: &std::path::Path,
    name: &str,
    config: &Value,
) -> Result<String, ApiError> {
    claude_mcp::check_name(name)?;
    claude_mcp::check_config(config)?;
    let said = claude_mcp_command(state, claude_mcp::add_args(scope, name, config), dir).await?;
    tracing::info!(name, scope = scope.as_str(), "MCP server added");
    state.audit(caller, AuditAction::McpServerAdded, &format!("{}:{name}", scope.as_str())).await;
    Ok(said)
}

/// `POST /api/mcp/servers`: `claude mcp add-json`.
async fn add(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<AddBody>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let body = json_body(body, ADD_BODY)?;
    let (project, dir) = scope_dir(&state, body.scope, body.project_path).await?;
    let said = add_one(&state, &caller, body.scope, &dir, &body.name, &body.config).await?;
    let listed = servers(&state, project).await?;
    let server = listed.into_iter().find(|s| s.name == body.name && s.scope == body.scope);
    Ok(ok(json!({ "added": body.name, "output": said, "server": server })))
}

/// `DELETE /api/mcp/servers/{name}?scope=S[&project_path=DIR]`: `claude mcp remove`.
async fn remove(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    q: Result<Query<ServerQuery>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let q = params(q, "scope=user|project|local and project_path=<project directory> for project and local")?;
    claude_mcp::check_name(&name)?;
    let (project, dir) = scope_dir(&state, q.scope, q.project_path).await?;
    let known = servers(&state, project).await?.into_iter().any(|s| s.name == name && s.scope == q.scope);
    if !known {
        return Err(McpError::NotFound { name, scope: q.scope.as_str() }.into());
    }
    let said = claude_mcp_command(&state, claude_mcp::remove_args(q.scope, &name), &dir).await?;
    tracing::info!(name, scope = q.scope.as_str(), "MCP server removed");
    state.audit(&caller, AuditAction::McpServerRemoved, &format!("{}:{name}", q.scope.as_str())).await;
    Ok(ok(json!({ "removed": name, "output": said })))
}

/// `POST /api/mcp/servers/{name}/test?scope=S[&project_path=DIR]`: starts a stdio server and asks for
/// its tools; asks the CLI (`claude mcp get`) about a remote one.
async fn test(
    State(state): State<AppState>,
    Path(name): Path<String>,
    q: Result<Query<ServerQuery>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let q = params(q, "scope=user|project|local and project_path=<project directory> for project and local")?;
    claude_mcp::check_name(&name)?;
    let (project, dir) = scope_dir(&state, q.scope, q.project_path).await?;
    let server = servers(&state, project)
        .await?
        .into_iter()
        .find(|s| s.name == name && s.scope == q.scope)
        .ok_or_else(|| McpError::NotFound { name: name.clone(), scope: q.scope.as_str() })?;
    let result = if server.transport == "stdio" {
        let env = state.registry.config().child_env.clone();
        claude_mcp::test_stdio(
            state.registry.supervisor().as_ref(),
            &server.config,
            &dir,
            &env,
            claude_mcp::TEST_TIMEOUT,
        )
        .await
    } else {
        let message =
            match state.registry.claude_command(claude_mcp::get_args(&name), &dir, claude_mcp::TEST_TIMEOUT).await {
                Ok(done) => done.output(),
                Err(err @ opcode_proc::CompletionError::TimedOut { .. }) => err.to_string(),
                Err(err) => return Err(ApiError::Internal(format!("claude mcp get could not be run: {err}"))),
            };
        claude_mcp::McpTest { ok: message.contains("✓ Connected"), server: None, tools: Vec::new(), message }
    };
    Ok(ok(result))
}

/// `POST /api/mcp/import`: each server of a Claude Desktop configuration, through `claude mcp add-json`.
async fn import(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<ImportBody>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let body = json_body(body, r#"{"scope", "project_path" (for project and local), "config": {"mcpServers": {…}}}"#)?;
    let (_, dir) = scope_dir(&state, body.scope, body.project_path).await?;
    let (mut imported, mut failed) = (Vec::new(), Vec::new());
    for (name, checked) in claude_mcp::desktop_servers(&body.config)? {
        let outcome = match checked {
            Ok(config) => add_one(&state, &caller, body.scope, &dir, &name, &config).await.map(|_| ()),
            Err(err) => Err(err.into()),
        };
        match outcome {
            Ok(()) => imported.push(name),
            Err(err) => failed.push(json!({ "name": name, "error": err.message() })),
        }
    }
    Ok(ok(json!({ "imported": imported, "failed": failed })))
}
