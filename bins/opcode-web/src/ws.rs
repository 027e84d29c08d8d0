//! WebSocket routes: `/ws/claude` (the seed's socket: send requests, receive their runs' events) and
//! `/ws/sessions/{id}?since=SEQ` (attach to a run: replay, then live, then close). Both also take the
//! control messages of live sessions (`prompt`, `permission_response`, `interrupt`, `end`).
//!
//! Both also take a page's visibility report (`{"type":"visibility","device":…,"visible":…}`): Web Push
//! leaves out a device while one of its sockets last said visible (`opcode_push::Presence`); closing the
//! socket counts as hidden.
//!
//! A socket is only a viewer: closing it never stops a run. Every loop also pings every 20 s (dead phones
//! are noticed after 60 s of silence), closes with 1001 when the server shuts down, and with 4401 at once
//! when the device that opened it is revoked. On a cluster's replica whose bus (NATS) is unreachable, a
//! socket following a run gets a `bus_unreachable` error frame and closes with 4503 (an attach opened
//! meanwhile closes with 4503 at once): the client re-attaches with `since=` later. What a socket starts,
//! answers or ends goes into the audit trail under its caller.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Extension, Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use futures::stream::SelectAll;
use futures::{SinkExt, StreamExt};
use opcode_proto::control::{ControlMessage, VisibilityReport};
use opcode_proto::event::request_error_json;
use opcode_proto::request::parse_request;
use opcode_push::Watcher;
use serde::Deserialize;
use tokio::time::Instant;

use opcode_access::AuditAction;
use tokio_util::sync::CancellationToken;

use crate::auth::CLOSE_UNAUTHORISED;
use crate::state::{AppState, Caller};

/// Largest message a client may send: a prompt (at most 128 KiB) with its images (at most 4 of 5 MiB,
/// in base64). Only a message that large holds that much memory.
pub const MAX_MESSAGE_BYTES: usize = opcode_proto::image::MAX_MESSAGE_WITH_IMAGES_BYTES;
/// How many ping intervals of silence mean a dead peer.
const SILENT_INTERVALS: u32 = 3;
/// Close code for an unknown session.
pub const CLOSE_UNKNOWN_SESSION: u16 = 4404;
/// Close code for a socket whose runs cannot be followed now: a cluster's replica lost its bus (NATS). The
/// session may well go on: a client re-attaches with `since=` later.
pub const CLOSE_BUS_UNREACHABLE: u16 = 4503;
/// The reason sent with [`CLOSE_BUS_UNREACHABLE`].
const BUS_UNREACHABLE_REASON: &str = "the cluster's bus (NATS) is unreachable: try again later";

/// The authenticated `/ws` routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/ws/claude", get(claude)).route("/ws/sessions/{session_id}", get(attach))
}

async fn claude(ws: WebSocketUpgrade, State(state): State<AppState>, Extension(caller): Extension<Caller>) -> Response {
    let sockets = state.sockets.clone();
    let revoked = revocation(&state, &caller);
    let socket = Socket { state, caller, revoked };
    sized(ws).on_upgrade(move |ws| sockets.track_future(claude_socket(ws, socket)))
}

/// What every socket loop carries: the state, who opened it, and what is cancelled when that caller's
/// credential stops working.
struct Socket {
    state: AppState,
    caller: Caller,
    revoked: CancellationToken,
}

/// Cancelled when the caller's device is revoked (never for the token).
pub(crate) fn revocation(state: &AppState, caller: &Caller) -> CancellationToken {
    match caller.actor.device_id() {
        Some(id) => state.access.revocation(id),
        None => CancellationToken::new(),
    }
}

/// Message limit and buffer sizes: clients send little; ten thousand idle sockets must not hold 256 KiB
/// each. The read buffer is held (and zero-filled, so resident) for the socket's life: one page; a larger
/// frame (a prompt with images) grows it while it is read.
fn sized(ws: WebSocketUpgrade) -> WebSocketUpgrade {
    ws.max_message_size(MAX_MESSAGE_BYTES).read_buffer_size(4 * 1024).write_buffer_size(32 * 1024)
}

/// The query of an attach.
#[derive(Debug, Deserialize)]
pub struct AttachQuery {
    since: Option<u64>,
}

async fn attach(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(session_id): Path<String>,
    Query(query): Query<AttachQuery>,
) -> Response {
    let sockets = state.sockets.clone();
    let revoked = revocation(&state, &caller);
    let socket = Socket { state, caller, revoked };
    sized(ws).on_upgrade(move |ws| sockets.track_future(attach_socket(ws, socket, session_id, query.since)))
}

type Batches = opcode_sessions::EventBatches;

fn text(bytes: Bytes) -> Message {
    // event frames are built from Rust strings: always UTF-8
    Message::Text(Utf8Bytes::try_from(bytes).unwrap_or_default())
}

/// Sends a batch; false when the socket is done: it failed, or the batch ended with a
/// [`opcode_proto::event::bus_unreachable_json`] frame and the socket was closed with
/// [`CLOSE_BUS_UNREACHABLE`] after it.
async fn send_batch(socket: &mut WebSocket, batch: Vec<Bytes>) -> bool {
    let unreachable = batch.last().is_some_and(|frame| opcode_proto::event::is_bus_unreachable(frame));
    for event in batch {
        if socket.feed(text(event)).await.is_err() {
            return false;
        }
    }
    if unreachable {
        let _ = socket.send(close(CLOSE_BUS_UNREACHABLE, BUS_UNREACHABLE_REASON)).await;
        return false;
    }
    socket.flush().await.is_ok()
}

pub(crate) fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame { code, reason: Utf8Bytes::from_static(reason) }))
}

/// Liveness of the peer: any frame counts; silence past the limit means a dead phone.
pub(crate) struct Heartbeat {
    last_heard: Instant,
    ticker: tokio::time::Interval,
    silence_limit: Duration,
}

impl Heartbeat {
    pub(crate) fn new(every: Duration) -> Self {
        let mut ticker = tokio::time::interval_at(Instant::now() + every, every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Heartbeat { last_heard: Instant::now(), ticker, silence_limit: every * SILENT_INTERVALS }
    }

    pub(crate) fn heard(&mut self) {
        self.last_heard = Instant::now();
    }

    /// Waits for the next tick; returns false when the peer has been silent too long.
    async fn tick(&mut self) -> bool {
        self.ticker.tick().await;
        self.last_heard.elapsed() < self.silence_limit
    }
}

/// What a socket loop has to do besides its traffic.
pub(crate) enum Chore {
    /// Ping the peer (it has been heard from recently).
    Ping,
    /// The peer has been silent too long: a dead phone.
    Dead,
    /// The server is shutting down.
    ShuttingDown,
    /// The credential that opened the socket no longer works (the device was revoked).
    Revoked,
}

/// Waits for the next chore of a socket loop (cancel-safe: use it as a `select!` branch).
pub(crate) async fn chores(
    heartbeat: &mut Heartbeat,
    closing: &CancellationToken,
    revoked: &CancellationToken,
) -> Chore {
    tokio::select! {
        alive = heartbeat.tick() => if alive { Chore::Ping } else { Chore::Dead },
        () = closing.cancelled() => Chore::ShuttingDown,
        () = revoked.cancelled() => Chore::Revoked,
    }
}

/// Does a chore; false when the socket loop must end.
pub(crate) async fn do_chore(socket: &mut WebSocket, chore: Chore) -> bool {
    match chore {
        Chore::Ping => socket.send(Message::Ping(Bytes::new())).await.is_ok(),
        Chore::Dead => false,
        Chore::ShuttingDown => {
            let _ = socket.send(close(1001, "server shutting down")).await;
            false
        }
        Chore::Revoked => {
            let _ = socket.send(close(CLOSE_UNAUTHORISED, "this device is no longer authorised")).await;
            false
        }
    }
}

async fn claude_socket(mut socket: WebSocket, ctx: Socket) {
    let state = &ctx.state;
    let mut runs: SelectAll<Batches> = SelectAll::new();
    let mut heartbeat = Heartbeat::new(state.ping_every);
    let mut watcher = watcher(state);
    loop {
        tokio::select! {
            incoming = socket.recv() => {
                heartbeat.heard();
                match incoming {
                    Some(Ok(Message::Text(request))) => {
                        let reply = if is_visibility(&request) {
                            visibility(&mut watcher, &request)
                        } else {
                            // boxed: its future is large and the socket's task holds it only while it runs
                            Box::pin(start(&ctx, &request, &mut runs)).await
                        };
                        if let Some(reply) = reply {
                            if socket.send(Message::Text(reply.into())).await.is_err() {
                                return;
                            }
                        }
                    }
                    Some(Ok(Message::Binary(_))) => {
                        let reply = request_error_json("send requests as text frames of JSON", None);
                        if socket.send(Message::Text(reply.into())).await.is_err() {
                            return;
                        }
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                    Some(Ok(_)) => {}
                }
            }
            Some(batch) = runs.next(), if !runs.is_empty() => {
                if !send_batch(&mut socket, batch).await {
                    return;
                }
            }
            chore = chores(&mut heartbeat, &state.closing, &ctx.revoked) => {
                if matches!(chore, Chore::ShuttingDown) {
                    deliver_the_rest(&mut socket, &mut runs).await;
                }
                if !do_chore(&mut socket, chore).await {
                    return;
                }
            }
        }
    }
}

/// Carries out a control message (`prompt`, `permission_response`, `interrupt`, `end`, `settings`); returns the
/// request-error frame to send if it failed.
async fn control(ctx: &Socket, text: &str) -> Option<String> {
    let state = &ctx.state;
    let message: ControlMessage = match serde_json::from_str(text) {
        Ok(message) => message,
        Err(err) => return Some(request_error_json(&format!("invalid control message: {err}"), None)),
    };
    let session_id = message.session_id().to_owned();
    let audited = match &message {
        ControlMessage::PermissionResponse { .. } => Some(AuditAction::ApprovalAnswered),
        ControlMessage::Interrupt { .. } => Some(AuditAction::SessionInterrupted),
        ControlMessage::End { .. } => Some(AuditAction::SessionEnded),
        _ => None,
    };
    let result = match message {
        ControlMessage::Prompt { prompt, client_id, images, .. } => {
            crate::turns::send_prompt(state, &session_id, &prompt, client_id.as_deref(), images).await.map(|_| ())
        }
        ControlMessage::EditQueued { client_id, prompt, .. } => {
            state.runs.edit_queued(&session_id, &client_id, &prompt).await
        }
        ControlMessage::Unqueue { client_id, .. } => state.runs.unqueue(&session_id, &client_id).await,
        ControlMessage::PermissionResponse { request_id, decision, .. } => {
            state.runs.answer_permission(&session_id, &request_id, decision).await
        }
        ControlMessage::Interrupt { .. } => state.runs.interrupt(&session_id).await,
        ControlMessage::End { .. } => state.runs.end_live(&session_id).await,
        ControlMessage::Settings { change, .. } => state.runs.change_settings(&session_id, change).await,
    };
    if let (Ok(()), Some(action)) = (&result, audited) {
        state.audit(&ctx.caller, action, &session_id).await;
    }
    result.err().map(|err| request_error_json(&err.to_string(), Some(&session_id)))
}

/// This socket's visibility reporter (a no-op holder when Web Push is off).
fn watcher(state: &AppState) -> Option<Watcher> {
    state.push.as_ref().map(|push| push.presence().watcher())
}

/// True for a visibility report (`"type":"visibility"`).
fn is_visibility(text: &str) -> bool {
    opcode_proto::read_envelope(text).and_then(|e| e.kind).as_deref() == Some("visibility")
}

/// Applies a page's visibility report to this socket's watcher; returns the request-error frame to send
/// if it is malformed.
fn visibility(watcher: &mut Option<Watcher>, text: &str) -> Option<String> {
    let report: VisibilityReport = match serde_json::from_str(text) {
        Ok(report) => report,
        Err(err) => return Some(request_error_json(&format!("invalid visibility report: {err}"), None)),
    };
    if let Err(err) = opcode_push::subscription::check_device_id(&report.device) {
        return Some(request_error_json(&format!("invalid visibility report: {err}"), None));
    }
    if let Some(watcher) = watcher {
        watcher.report(&report.device, report.visible);
    }
    None
}

/// True for a JSON object with a `type`: a control message rather than a run request.
fn is_control(text: &str) -> bool {
    opcode_proto::read_envelope(text).is_some_and(|e| e.kind.is_some())
}

/// Starts the run a client asked for (or carries out a control message); returns the request-error
/// frame to send if it was refused.
async fn start(ctx: &Socket, text: &str, runs: &mut SelectAll<Batches>) -> Option<String> {
    let state = &ctx.state;
    if is_control(text) {
        return control(ctx, text).await;
    }
    let request = match parse_request(text) {
        Ok(request) => request,
        Err(err) => {
            let session_id = serde_json::from_str::<serde_json::Value>(text)
                .ok()
                .and_then(|v| v.get("session_id")?.as_str().map(str::to_owned));
            return Some(request_error_json(&err.to_string(), session_id.as_deref()));
        }
    };
    let mut request = request;
    if request.command == opcode_proto::CommandType::Execute && request.session_id.is_none() {
        // the id is fixed here rather than in the registry, so the turn's snapshot is recorded under it
        request.session_id = Some(uuid::Uuid::new_v4());
    }
    if request.command == opcode_proto::CommandType::Continue && request.session_id.is_none() {
        // the latest session is found here too, so the turn's snapshot is recorded under its id, and so a
        // replica continues the latest session its transcripts show (each worker has its own "latest")
        match latest_session(state, &request.project_path).await {
            Latest::Found(id) => request.session_id = Some(id),
            Latest::None(project) => {
                let err = opcode_sessions::StartError::NothingToContinue(project);
                return Some(request_error_json(&err.to_string(), None));
            }
            Latest::Unknown => {} // the project is refused below, with the reason
        }
    }
    let asked_id = request.session_id.map(|id| id.to_string());
    let turn = match &asked_id {
        Some(id) => state.turns.begin_in(id, &request.project_path).await,
        None => None,
    };
    match state.runs.start_run(request).await {
        Ok(run) => {
            state.audit(&ctx.caller, AuditAction::RunStarted, &run.session_id).await;
            // this socket follows the run it started, to its completion (a next run gets its own)
            if let Some(events) = state.runs.events(&run.session_id, run.first_seq, true).await {
                runs.push(events);
            }
            None
        }
        Err(err) => {
            if let Some(id) = &asked_id {
                state.turns.abandon(id, turn).await;
            }
            Some(request_error_json(&err.to_string(), asked_id.as_deref()))
        }
    }
}

/// What [`latest_session`] found.
enum Latest {
    /// The project's latest session.
    Found(uuid::Uuid),
    /// The project (canonical) has no session.
    None(std::path::PathBuf),
    /// The project is not one this server may run in: the start is refused with the reason.
    Unknown,
}

/// The latest session of the project at `project_path`, by its transcripts on this machine.
async fn latest_session(state: &AppState, project_path: &str) -> Latest {
    let Ok(project) = state.registry.check_project_path(project_path).await else { return Latest::Unknown };
    let (store, dir) = (state.store.clone(), project.clone());
    let latest = tokio::task::spawn_blocking(move || store.latest_session_for(&dir)).await.ok().flatten();
    match latest.and_then(|id| uuid::Uuid::parse_str(&id).ok()) {
        Some(id) => Latest::Found(id),
        None => Latest::None(project),
    }
}

async fn attach_socket(mut socket: WebSocket, ctx: Socket, session_id: String, since: Option<u64>) {
    let state = &ctx.state;
    let from = since.map_or(0, |s| s.saturating_add(1));
    if let Some(why) = state.runs.unavailable().await {
        tracing::warn!(%why, session_id, "an attach refused: the runs cannot be reached");
        let _ = socket.send(close(CLOSE_BUS_UNREACHABLE, BUS_UNREACHABLE_REASON)).await;
        return;
    }
    let Some(mut events) = state.runs.events(&session_id, from, false).await else {
        let _ = socket.send(close(CLOSE_UNKNOWN_SESSION, "unknown session")).await;
        return;
    };
    let mut heartbeat = Heartbeat::new(state.ping_every);
    let mut watcher = watcher(state);
    loop {
        tokio::select! {
            batch = events.next() => match batch {
                Some(batch) => {
                    if !send_batch(&mut socket, batch).await {
                        return;
                    }
                }
                None => {
                    let _ = socket.send(close(1000, "run finished")).await;
                    return;
                }
            },
            incoming = socket.recv() => {
                heartbeat.heard();
                match incoming {
                    Some(Ok(Message::Text(text))) => {
                        let reply = if is_visibility(&text) {
                            visibility(&mut watcher, &text)
                        } else if is_control(&text) {
                            // boxed: its future is large and the socket's task holds it only while it runs
                            Box::pin(control(&ctx, &text)).await
                        } else {
                            Some(request_error_json("this socket takes control messages only (prompt, permission_response, interrupt, end, settings, visibility)", Some(&session_id)))
                        };
                        if let Some(reply) = reply {
                            if socket.send(Message::Text(reply.into())).await.is_err() {
                                return;
                            }
                        }
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                    Some(Ok(_)) => {}
                }
            }
            chore = chores(&mut heartbeat, &state.closing, &ctx.revoked) => {
                if matches!(chore, Chore::ShuttingDown) {
                    deliver_the_rest(&mut socket, &mut events).await;
                }
                if !do_chore(&mut socket, chore).await {
                    return;
                }
            }
        }
    }
}

/// How long a socket of a server that shuts down keeps delivering what its runs still have (their
/// `cancelled` and `completion`: the server cancelled them) before it closes with 1001.
const LAST_EVENTS_GRACE: Duration = Duration::from_secs(2);

/// At shutdown: sends what `events` still yield (the runs were cancelled, so they end soon), within
/// [`LAST_EVENTS_GRACE`], so a viewer learns how its run ended before the socket closes.
async fn deliver_the_rest(socket: &mut WebSocket, events: &mut (impl futures::Stream<Item = Vec<Bytes>> + Unpin)) {
    let _ = tokio::time::timeout(LAST_EVENTS_GRACE, async {
        while let Some(batch) = events.next().await {
            if !send_batch(socket, batch).await {
                return;
            }
        }
    })
    .await;
}
