//! Terminal routes: create, list and close the terminals of a project (`/api/terminals`), and the socket
//! of one (`/ws/terminals/{id}`): binary frames carry the output (the screen first) and the keystrokes,
//! a text frame `{"type":"resize","rows":R,"cols":C}` sets the window size.
//!
//! A terminal is a shell on this machine for whoever holds the token; `--no-terminal` turns the routes
//! off (403 with a message saying so). Closing a socket never closes its terminal; `DELETE` and server
//! shutdown do, and kill its whole session.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use bytes::Bytes;
use opcode_proc::PtySize;
use opcode_terminals::{TerminalError, Terminals};
use serde::Deserialize;

use crate::api::checked_project;
use crate::error::{ok, ApiError};
use crate::state::{AppState, Caller};
use crate::ws::{chores, close, do_chore, Heartbeat};
use opcode_access::AuditAction;

/// Largest frame a terminal socket takes (keystrokes and pastes).
pub const MAX_INPUT_BYTES: usize = 64 * 1024;
/// Close code: the terminal ended (its shell exited or it was closed).
pub const CLOSE_ENDED: u16 = 4000;
/// Close code: this viewer fell too far behind and was dropped; attach again for the screen.
pub const CLOSE_TOO_SLOW: u16 = 4008;

/// The authenticated terminal routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/terminals", get(list).post(create))
        .route("/api/terminals/{id}", delete(close_terminal).get(one))
        .route("/ws/terminals/{id}", get(socket))
}

impl From<TerminalError> for ApiError {
    fn from(err: TerminalError) -> Self {
        match err {
            TerminalError::NotFound(_) => ApiError::NotFound(err.to_string()),
            TerminalError::TooMany(_) => ApiError::Conflict(err.to_string()),
            TerminalError::BadSize { .. } => ApiError::BadRequest(err.to_string()),
            TerminalError::Pty(_) => ApiError::Conflict(err.to_string()),
            other => ApiError::Internal(format!("{other}: {:?}", std::error::Error::source(&other))),
        }
    }
}

/// The terminals, or a 403 saying the server was started without them.
fn terminals(state: &AppState) -> Result<&Terminals, ApiError> {
    state
        .terminals
        .as_ref()
        .ok_or_else(|| ApiError::Forbidden("terminals are turned off on this server (--no-terminal)".to_owned()))
}

/// The body of `POST /api/terminals`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    project_path: String,
    rows: Option<u16>,
    cols: Option<u16>,
}

async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<CreateBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let terminals = terminals(&state)?;
    let Json(body) = body.map_err(|rejection| {
        ApiError::BadRequest(format!(
            "{}; this route takes {{\"project_path\": <project directory>, \"rows\"?: N, \"cols\"?: N}}",
            rejection.body_text()
        ))
    })?;
    let project = checked_project(&state, body.project_path).await?;
    let size = PtySize { rows: body.rows.unwrap_or(24), cols: body.cols.unwrap_or(80) };
    let target = project.display().to_string();
    let info = terminals.create(&project, size).await?;
    state.audit(&caller, AuditAction::TerminalOpened, &target).await;
    Ok((StatusCode::CREATED, ok(info)).into_response())
}

/// The query of `GET /api/terminals`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    project_path: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let terminals = terminals(&state)?;
    let q = q.map(|Query(q)| q).map_err(|rejection| {
        ApiError::BadRequest(format!(
            "{}; this route takes only project_path=<project directory>",
            rejection.body_text()
        ))
    })?;
    let project = match q.project_path {
        Some(path) => Some(checked_project(&state, path).await?),
        None => None,
    };
    Ok(ok(terminals.list(project.as_deref())))
}

async fn one(State(state): State<AppState>, Path(id): Path<String>) -> Result<impl IntoResponse, ApiError> {
    Ok(ok(terminals(&state)?.info(&id)?))
}

async fn close_terminal(State(state): State<AppState>, Path(id): Path<String>) -> Result<impl IntoResponse, ApiError> {
    terminals(&state)?.close(&id).await?;
    Ok(ok(serde_json::json!({ "closed": id })))
}

/// A control message of a terminal socket.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum TerminalControl {
    /// The window's size in cells.
    Resize { rows: u16, cols: u16 },
}

async fn socket(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<crate::state::Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let revoked = crate::ws::revocation(&state, &caller);
    // an unknown id is a 404 before the upgrade: the client sees a clear answer, not a closed socket
    let viewer = terminals(&state)?.attach(&id)?;
    let sockets = state.sockets.clone();
    let ws = ws.max_message_size(MAX_INPUT_BYTES).max_frame_size(MAX_INPUT_BYTES).write_buffer_size(64 * 1024);
    Ok(ws.on_upgrade(move |socket| sockets.track_future(terminal_socket(socket, state, id, viewer, revoked))))
}

fn error_frame(message: &str) -> Message {
    Message::Text(serde_json::json!({ "type": "error", "message": message }).to_string().into())
}

async fn terminal_socket(
    mut socket: WebSocket,
    state: AppState,
    id: String,
    mut viewer: opcode_terminals::Viewer,
    revoked: tokio_util::sync::CancellationToken,
) {
    let Some(terminals) = state.terminals.clone() else { return };
    if socket.send(Message::Binary(viewer.snapshot())).await.is_err() {
        return;
    }
    let mut heartbeat = Heartbeat::new(state.ping_every);
    loop {
        tokio::select! {
            output = viewer.next_output() => match output {
                Some(chunk) => {
                    if socket.send(Message::Binary(chunk)).await.is_err() {
                        return;
                    }
                }
                None => {
                    // ended, or dropped for being too slow: which one the list tells
                    let (code, reason) = match terminals.info(&id) {
                        Ok(_) => (CLOSE_TOO_SLOW, "too slow: attach again"),
                        Err(_) => (CLOSE_ENDED, "terminal ended"),
                    };
                    let _ = socket.send(close(code, reason)).await;
                    return;
                }
            },
            incoming = socket.recv() => {
                heartbeat.heard();
                let reply = match incoming {
                    Some(Ok(Message::Binary(keys))) => input(&terminals, &id, keys).await,
                    Some(Ok(Message::Text(text))) => control(&terminals, &id, &text).await,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                    Some(Ok(_)) => None,
                };
                if let Some(reply) = reply {
                    if socket.send(error_frame(&reply)).await.is_err() {
                        return;
                    }
                }
            }
            chore = chores(&mut heartbeat, &state.closing, &revoked) => {
                if !do_chore(&mut socket, chore).await {
                    return;
                }
            }
        }
    }
}

async fn input(terminals: &Terminals, id: &str, keys: Bytes) -> Option<String> {
    terminals.input(id, &keys).await.err().map(|err| err.to_string())
}

async fn control(terminals: &Terminals, id: &str, text: &str) -> Option<String> {
    match serde_json::from_str::<TerminalControl>(text) {
        Ok(TerminalControl::Resize { rows, cols }) => {
            terminals.resize(id, PtySize { rows, cols }).await.err().map(|err| err.to_string())
        }
        Err(err) => Some(format!(
            "invalid control message: {err}; send keystrokes as binary frames and {{\"type\":\"resize\",\"rows\":R,\"cols\":C}} as text"
        )),
    }
}
