//! Live sessions: one claude process across turns (`--input-format stream-json --permission-prompt-tool
//! stdio`), steered by **one owning task per session** (the actor). Viewers' commands (prompt, answer,
//! interrupt, end) and the run task's news (a control request from claude, the end of a turn, the exit)
//! reach it over one channel, in order; commands get one-shot replies. Nothing else touches its state:
//! the pending permission requests, whether a turn is active, the idle clock, claude's input.
//!
//! Guarantees:
//! - a command, once sent, is carried out whole even if its sender stops waiting (a dropped HTTP request):
//!   an answer is applied exactly once, and `permission_resolved` is logged exactly when it is applied;
//! - the first answer wins; a second finds nothing pending;
//! - nobody ever waits on claude's stdin: lines go to a writer task through a bounded queue with
//!   `try_send`; when claude stops reading and the queue is full, a command fails at once with
//!   [`ControlError::InputStalled`] and changes nothing, and the run task (output delivery) never waits;
//! - unanswered requests are denied after the permission timeout; a session with no turn and nothing
//!   pending for the idle timeout has its input closed; when the process ends, what is still pending is
//!   resolved as denied `by: end`, before the run's `completion`;
//! - a prompt sent while a turn runs is queued (`prompt_queued`) and goes out, in order, when the turn
//!   ends (`user_prompt` with its `client_id`); a prompt whose client id the session has seen is never
//!   delivered twice; prompts still queued when the process ends stay queued, in the log, and go out when
//!   the session is taken up again ([`Restored`]);
//! - the model and permission mode change between turns only: while a turn runs (or a permission request
//!   waits) a switch is refused with [`ControlError::TurnRunning`] and nothing is written; otherwise the
//!   `set_model` / `set_permission_mode` control requests go out together (or, when claude's input queue
//!   has no room for both, neither does) and `settings_changed` is logged once.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opcode_proc::StdinWriter;
use opcode_proto::control::{
    self, Behavior, ClaudeControlRequest, PermissionDecision, SettingsChange, ToolPermissionRequest,
};
use opcode_proto::ImageAttachment;
use opcode_proto::{AnsweredBy, EventKind};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::error::ControlError;
use crate::log::EventLog;
use crate::notable::{Announcer, NotableKind};

/// Lines waiting for claude's stdin; when full, commands fail instead of waiting.
const STDIN_QUEUE: usize = 64;

type Reply = oneshot::Sender<Result<(), ControlError>>;

/// What the actor is told.
#[derive(Debug)]
enum LiveMsg {
    Prompt {
        prompt: String,
        client_id: Option<String>,
        images: Vec<ImageAttachment>,
        reply: oneshot::Sender<Result<PromptOutcome, ControlError>>,
    },
    EditQueued {
        client_id: String,
        prompt: String,
        reply: Reply,
    },
    Unqueue {
        client_id: String,
        reply: Reply,
    },
    Answer {
        request_id: String,
        decision: PermissionDecision,
        reply: Reply,
    },
    Interrupt {
        reply: Reply,
    },
    End {
        reply: Reply,
    },
    Settings {
        change: SettingsChange,
        reply: Reply,
    },
    /// A stdout line that is claude's control request.
    ControlRequest(String),
    /// Claude's `result` line: the turn is over.
    TurnEnded,
    /// The process ended; reply once everything pending is resolved.
    Exited(oneshot::Sender<LiveOutcome>),
}

/// What became of a prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptOutcome {
    /// Written to claude: a new turn.
    Sent,
    /// A turn is running: it waits in the queue.
    Queued,
    /// Its client id was seen before: nothing was done (a resend after a reconnect).
    Duplicate,
}

/// A prompt waiting for the turn to end.
#[derive(Debug, Clone)]
pub(crate) struct Queued {
    client_id: String,
    prompt: String,
    images: Vec<ImageAttachment>,
}

/// What a live session taken up again inherits from its log: the prompts still queued and every client id
/// seen, so that nothing queued is lost and nothing is delivered twice.
#[derive(Debug, Default, Clone)]
pub(crate) struct Restored {
    pub(crate) queue: Vec<Queued>,
    pub(crate) seen: HashSet<String>,
}

impl Restored {
    /// Reads them from a session's earlier events.
    pub(crate) fn from_events(events: impl IntoIterator<Item = EventKind>) -> Restored {
        let mut queue: Vec<Queued> = Vec::new();
        let mut seen = HashSet::new();
        for kind in events {
            match kind {
                EventKind::PromptQueued { client_id, prompt, images } => {
                    match queue.iter_mut().find(|q| q.client_id == client_id) {
                        Some(queued) => queued.prompt = prompt,
                        None => queue.push(Queued { client_id: client_id.clone(), prompt, images }),
                    }
                    seen.insert(client_id);
                }
                EventKind::PromptUnqueued { client_id } => queue.retain(|q| q.client_id != client_id),
                EventKind::UserPrompt { client_id: Some(client_id), .. } => {
                    queue.retain(|q| q.client_id != client_id);
                    seen.insert(client_id);
                }
                _ => {}
            }
        }
        Restored { queue, seen }
    }
}

/// How a live session's input ended, as the run task needs it for the summary.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LiveOutcome {
    /// True when the input was closed on purpose (`end`, or the idle timeout) before the process ended.
    pub(crate) input_closed: bool,
}

/// The handle of a live session's actor. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct LiveHandle {
    session_id: Arc<str>,
    tx: mpsc::UnboundedSender<LiveMsg>,
    pending: Arc<AtomicUsize>,
}

/// Settings of one live session.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LiveConfig {
    pub(crate) permission_timeout: Duration,
    pub(crate) idle_timeout: Duration,
}

fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Starts the actor of a freshly spawned live run: claude's stdin writer, `initialize`, the first prompt
/// (none when `prompt` is blank: the session is taken up, sends what was still queued, and waits).
pub(crate) fn start(
    log: Arc<EventLog>,
    stdin: Option<StdinWriter>,
    prompt: &str,
    images: Vec<ImageAttachment>,
    config: LiveConfig,
    restored: Restored,
    announcer: Announcer,
) -> LiveHandle {
    let (stdin_tx, mut stdin_rx) = mpsc::channel::<String>(STDIN_QUEUE);
    if let Some(mut writer) = stdin {
        tokio::spawn(async move {
            while let Some(line) = stdin_rx.recv().await {
                if let Err(err) = writer.write_line(&line).await {
                    tracing::debug!(%err, "claude's stdin closed");
                    break;
                }
            }
            // dropping the writer closes claude's stdin
        });
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let pending = Arc::new(AtomicUsize::new(0));
    let handle = LiveHandle { session_id: log.session_id().into(), tx, pending: pending.clone() };
    let mut actor = Actor {
        log,
        announcer,
        config,
        stdin: Some(stdin_tx),
        pending: HashMap::new(),
        pending_count: pending,
        turn_active: false,
        last_activity: Instant::now(),
        input_closed: false,
        queue: restored.queue.into_iter().collect(),
        seen: restored.seen,
    };
    let init = control::control_request(&format!("init-{}", uuid::Uuid::new_v4()), "initialize");
    let _ = actor.write(init);
    if !prompt.trim().is_empty() || !images.is_empty() {
        let _ = actor.send_turn(prompt, None, images);
    }
    actor.send_next_queued();
    tokio::spawn(actor.run(rx));
    handle
}

impl LiveHandle {
    fn not_live(&self) -> ControlError {
        ControlError::NotLive(self.session_id.to_string())
    }

    /// Sends a command and waits for its reply. Dropping the returned future after the first poll does
    /// not undo the command: the actor carries it out whole.
    async fn ask(&self, make: impl FnOnce(Reply) -> LiveMsg) -> Result<(), ControlError> {
        let (reply, answer) = oneshot::channel();
        self.tx.send(make(reply)).map_err(|_| self.not_live())?;
        answer.await.unwrap_or_else(|_| Err(self.not_live()))
    }

    /// Writes a prompt as a new turn (logged as `user_prompt`), or queues it while a turn runs.
    pub(crate) async fn prompt(
        &self,
        prompt: String,
        client_id: Option<String>,
        images: Vec<ImageAttachment>,
    ) -> Result<PromptOutcome, ControlError> {
        let (reply, answer) = oneshot::channel();
        self.tx.send(LiveMsg::Prompt { prompt, client_id, images, reply }).map_err(|_| self.not_live())?;
        answer.await.unwrap_or_else(|_| Err(self.not_live()))
    }

    /// Replaces the text of a queued prompt.
    pub(crate) async fn edit_queued(&self, client_id: String, prompt: String) -> Result<(), ControlError> {
        self.ask(|reply| LiveMsg::EditQueued { client_id, prompt, reply }).await
    }

    /// Removes a queued prompt.
    pub(crate) async fn unqueue(&self, client_id: String) -> Result<(), ControlError> {
        self.ask(|reply| LiveMsg::Unqueue { client_id, reply }).await
    }

    /// Answers a pending permission request (first answer wins; `permission_resolved` is logged).
    pub(crate) async fn answer(&self, request_id: String, decision: PermissionDecision) -> Result<(), ControlError> {
        self.ask(|reply| LiveMsg::Answer { request_id, decision, reply }).await
    }

    /// Asks claude to stop the current turn.
    pub(crate) async fn interrupt(&self) -> Result<(), ControlError> {
        self.ask(|reply| LiveMsg::Interrupt { reply }).await
    }

    /// Closes claude's input; claude then finishes and exits.
    pub(crate) async fn end(&self) -> Result<(), ControlError> {
        self.ask(|reply| LiveMsg::End { reply }).await
    }

    /// Switches the model and/or permission mode between turns (`set_model` / `set_permission_mode` control
    /// requests to claude; `settings_changed` is logged). Refused while a turn runs.
    pub(crate) async fn settings(&self, change: SettingsChange) -> Result<(), ControlError> {
        self.ask(|reply| LiveMsg::Settings { change, reply }).await
    }

    /// From the run task: a stdout line that is a control request. Never waits.
    pub(crate) fn control_request(&self, line: String) {
        let _ = self.tx.send(LiveMsg::ControlRequest(line));
    }

    /// From the run task: claude's `result` line. Never waits.
    pub(crate) fn turn_ended(&self) {
        let _ = self.tx.send(LiveMsg::TurnEnded);
    }

    /// From the run task: the process ended. Returns once what was pending is resolved in the log.
    pub(crate) async fn exited(&self) -> LiveOutcome {
        let (reply, outcome) = oneshot::channel();
        if self.tx.send(LiveMsg::Exited(reply)).is_err() {
            return LiveOutcome::default();
        }
        outcome.await.unwrap_or_default()
    }

    /// Permission requests waiting for an answer.
    pub(crate) fn pending_requests(&self) -> usize {
        self.pending.load(Ordering::Relaxed)
    }
}

struct Pending {
    input: String,
    /// What "always allow" keeps (raw JSON array of the CLI's permission updates).
    remember: String,
    deadline: Instant,
}

/// The owning task's state. Only [`Actor::run`] touches it.
struct Actor {
    log: Arc<EventLog>,
    /// Permission requests and answers are announced as they are logged.
    announcer: Announcer,
    config: LiveConfig,
    /// Feeds the stdin writer task; `None` once the input was closed.
    stdin: Option<mpsc::Sender<String>>,
    pending: HashMap<String, Pending>,
    /// Published copy of `pending.len()` for the health report.
    pending_count: Arc<AtomicUsize>,
    turn_active: bool,
    last_activity: Instant,
    input_closed: bool,
    /// Prompts waiting for the turn to end, oldest first.
    queue: VecDeque<Queued>,
    /// Client ids queued or sent in this session.
    seen: HashSet<String>,
}

impl Actor {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<LiveMsg>) {
        loop {
            let wake = self.next_deadline();
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some(LiveMsg::Exited(reply)) => {
                        self.resolve_all_at_end();
                        let _ = reply.send(LiveOutcome { input_closed: self.input_closed });
                        return;
                    }
                    Some(msg) => self.handle(msg),
                    None => return,
                },
                () = sleep_until(wake), if wake.is_some() => self.deadline_passed(),
            }
        }
    }

    fn handle(&mut self, msg: LiveMsg) {
        match msg {
            LiveMsg::Prompt { prompt, client_id, images, reply } => {
                let _ = reply.send(self.prompt(prompt, client_id, images));
            }
            LiveMsg::EditQueued { client_id, prompt, reply } => {
                let edited = match self.queue.iter_mut().find(|q| q.client_id == client_id) {
                    Some(queued) => {
                        queued.prompt.clone_from(&prompt);
                        let images = queued.images.clone();
                        self.log.append(EventKind::PromptQueued { client_id, prompt, images });
                        Ok(())
                    }
                    None => Err(ControlError::NotQueued(client_id)),
                };
                let _ = reply.send(edited);
            }
            LiveMsg::Unqueue { client_id, reply } => {
                let removed = match self.queue.iter().position(|q| q.client_id == client_id) {
                    Some(at) => {
                        self.queue.remove(at);
                        self.log.append(EventKind::PromptUnqueued { client_id });
                        Ok(())
                    }
                    None => Err(ControlError::NotQueued(client_id)),
                };
                let _ = reply.send(removed);
            }
            LiveMsg::Answer { request_id, decision, reply } => {
                let _ = reply.send(self.answer(&request_id, &decision, AnsweredBy::Viewer));
            }
            LiveMsg::Interrupt { reply } => {
                let line = control::control_request(&format!("interrupt-{}", uuid::Uuid::new_v4()), "interrupt");
                let _ = reply.send(self.write(line));
            }
            LiveMsg::End { reply } => {
                let _ = reply.send(self.close_input());
            }
            LiveMsg::Settings { change, reply } => {
                let _ = reply.send(self.settings(change));
            }
            LiveMsg::ControlRequest(line) => self.control_request(&line),
            LiveMsg::TurnEnded => {
                self.turn_active = false;
                self.last_activity = Instant::now();
                self.send_next_queued();
            }
            LiveMsg::Exited(_) => unreachable!("handled by run"),
        }
    }

    /// Queues a line for claude's stdin without waiting.
    fn write(&self, line: String) -> Result<(), ControlError> {
        let not_live = || ControlError::NotLive(self.log.session_id().to_owned());
        let stdin = self.stdin.as_ref().ok_or_else(not_live)?;
        stdin.try_send(line).map_err(|err| match err {
            mpsc::error::TrySendError::Full(_) => ControlError::InputStalled(self.log.session_id().to_owned()),
            mpsc::error::TrySendError::Closed(_) => not_live(),
        })
    }

    /// A viewer's prompt: sent now when claude is between turns, else queued; a seen client id is a no-op.
    fn prompt(
        &mut self,
        prompt: String,
        client_id: Option<String>,
        images: Vec<ImageAttachment>,
    ) -> Result<PromptOutcome, ControlError> {
        if self.stdin.is_none() {
            return Err(ControlError::NotLive(self.log.session_id().to_owned()));
        }
        if let Some(id) = &client_id {
            if self.seen.contains(id) {
                return Ok(PromptOutcome::Duplicate);
            }
        }
        if self.turn_active || !self.queue.is_empty() {
            let client_id = client_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            self.seen.insert(client_id.clone());
            self.queue.push_back(Queued {
                client_id: client_id.clone(),
                prompt: prompt.clone(),
                images: images.clone(),
            });
            self.log.append(EventKind::PromptQueued { client_id, prompt, images });
            return Ok(PromptOutcome::Queued);
        }
        self.send_turn(&prompt, client_id, images)?;
        Ok(PromptOutcome::Sent)
    }

    /// Writes a prompt to claude as a new turn and logs it.
    fn send_turn(
        &mut self,
        prompt: &str,
        client_id: Option<String>,
        images: Vec<ImageAttachment>,
    ) -> Result<(), ControlError> {
        self.write(control::user_turn(prompt, &images))?;
        self.turn_active = true;
        if let Some(id) = &client_id {
            self.seen.insert(id.clone());
        }
        self.log.append(EventKind::UserPrompt { prompt: prompt.to_owned(), client_id, images });
        Ok(())
    }

    /// Between turns: the oldest queued prompt goes out.
    fn send_next_queued(&mut self) {
        if self.turn_active || self.stdin.is_none() {
            return;
        }
        let Some(next) = self.queue.pop_front() else { return };
        if let Err(err) = self.send_turn(&next.prompt, Some(next.client_id.clone()), next.images.clone()) {
            tracing::warn!(%err, "a queued prompt could not go out; it stays queued");
            self.queue.push_front(next);
        }
    }

    fn answer(&mut self, request_id: &str, decision: &PermissionDecision, by: AnsweredBy) -> Result<(), ControlError> {
        let pending = self.pending.get(request_id).ok_or_else(|| ControlError::NotPending(request_id.to_owned()))?;
        let input = decision.updated_input.as_ref().map_or_else(|| pending.input.clone(), |v| v.to_string());
        let remembered = decision.remember && decision.behavior == Behavior::Allow;
        let remember = remembered.then_some(pending.remember.as_str());
        let line =
            control::permission_response(request_id, decision.behavior, &input, decision.message.as_deref(), remember);
        self.write(line)?;
        self.pending.remove(request_id);
        self.publish_pending();
        self.log.append(EventKind::PermissionResolved {
            request_id: request_id.to_owned(),
            behavior: decision.behavior,
            by,
            message: decision.message.clone(),
            remembered,
        });
        self.announcer.announce(NotableKind::PermissionResolved { request_id: request_id.to_owned() });
        Ok(())
    }

    /// Between turns only: tells claude the new model and/or mode, then logs `settings_changed`.
    fn settings(&mut self, change: SettingsChange) -> Result<(), ControlError> {
        if self.stdin.is_none() {
            return Err(ControlError::NotLive(self.log.session_id().to_owned()));
        }
        if self.turn_active || !self.pending.is_empty() {
            return Err(ControlError::TurnRunning(self.log.session_id().to_owned()));
        }
        let mut lines = Vec::new();
        if let Some(model) = &change.model {
            lines.push(control::set_model_request(&format!("set-model-{}", uuid::Uuid::new_v4()), model));
        }
        if let Some(mode) = change.permission_mode {
            lines.push(control::set_permission_mode_request(&format!("set-mode-{}", uuid::Uuid::new_v4()), mode));
        }
        let stdin = self.stdin.as_ref().ok_or_else(|| ControlError::NotLive(self.log.session_id().to_owned()))?;
        if stdin.capacity() < lines.len() {
            // all or nothing: claude must not get half a change
            return Err(ControlError::InputStalled(self.log.session_id().to_owned()));
        }
        for line in lines {
            self.write(line)?;
        }
        self.last_activity = Instant::now();
        self.log.append(EventKind::SettingsChanged { model: change.model, permission_mode: change.permission_mode });
        Ok(())
    }

    fn close_input(&mut self) -> Result<(), ControlError> {
        self.stdin.take().ok_or_else(|| ControlError::NotLive(self.log.session_id().to_owned()))?;
        self.input_closed = true;
        Ok(())
    }

    fn control_request(&mut self, line: &str) {
        match control::parse_claude_control_request(line) {
            Some(ClaudeControlRequest::ToolPermission(request)) => self.permission_requested(request),
            Some(ClaudeControlRequest::Unsupported { request_id, subtype }) => {
                tracing::debug!(subtype, "unsupported control request from claude");
                let reply = control::control_error(&request_id, &format!("opcode-web does not handle {subtype}"));
                if let Err(err) = self.write(reply) {
                    tracing::warn!(%err, subtype, "could not decline claude's control request");
                }
            }
            None => {}
        }
    }

    fn permission_requested(&mut self, request: ToolPermissionRequest) {
        let timeout = self.config.permission_timeout;
        let deadline = Instant::now() + timeout;
        let remember = request.remember_rules();
        self.pending.insert(
            request.request_id.clone(),
            Pending { input: request.input.clone(), remember: remember.clone(), deadline },
        );
        self.publish_pending();
        let expires_at = unix_ms() + timeout.as_millis() as u64;
        let notable = NotableKind::PermissionRequested {
            request_id: request.request_id.clone(),
            tool_name: request.tool_name.clone(),
            input: request.input.clone(),
            description: request.description.clone(),
            expires_at,
        };
        self.log.append(EventKind::PermissionRequest {
            request_id: request.request_id,
            tool_name: request.tool_name,
            input: request.input,
            tool_use_id: request.tool_use_id,
            description: request.description,
            timeout_ms: timeout.as_millis() as u64,
            expires_at,
            remember,
        });
        self.announcer.announce(notable);
    }

    fn publish_pending(&self) {
        self.pending_count.store(self.pending.len(), Ordering::Relaxed);
    }

    /// The next moment something is due: a request's timeout, or the idle end.
    fn next_deadline(&self) -> Option<Instant> {
        let request = self.pending.values().map(|p| p.deadline).min();
        let idle = (self.stdin.is_some() && !self.turn_active && self.pending.is_empty() && self.queue.is_empty())
            .then(|| self.last_activity + self.config.idle_timeout);
        request.into_iter().chain(idle).min()
    }

    fn deadline_passed(&mut self) {
        let now = Instant::now();
        let expired: Vec<String> =
            self.pending.iter().filter(|(_, p)| p.deadline <= now).map(|(id, _)| id.clone()).collect();
        for request_id in expired {
            let deny = PermissionDecision {
                behavior: Behavior::Deny,
                updated_input: None,
                message: Some(format!("no answer within {} s: denied", self.config.permission_timeout.as_secs())),
                remember: false,
            };
            if self.answer(&request_id, &deny, AnsweredBy::Timeout).is_err() {
                // claude is not reading: resolve it here, it can no longer be answered in time
                self.pending.remove(&request_id);
                self.publish_pending();
                self.log_denied(request_id, AnsweredBy::Timeout, "no answer in time, and claude is not reading");
            }
        }
        if self.stdin.is_some()
            && !self.turn_active
            && self.pending.is_empty()
            && self.queue.is_empty()
            && self.last_activity + self.config.idle_timeout <= now
        {
            tracing::info!(session_id = %self.log.session_id(), "live session idle: ending it");
            let _ = self.close_input();
        }
    }

    fn log_denied(&self, request_id: String, by: AnsweredBy, message: &str) {
        self.announcer.announce(NotableKind::PermissionResolved { request_id: request_id.clone() });
        self.log.append(EventKind::PermissionResolved {
            request_id,
            behavior: Behavior::Deny,
            by,
            message: Some(message.to_owned()),
            remembered: false,
        });
    }

    fn resolve_all_at_end(&mut self) {
        let mut left: Vec<String> = self.pending.drain().map(|(id, _)| id).collect();
        left.sort();
        for request_id in left {
            self.log_denied(request_id, AnsweredBy::End, "the session ended before an answer");
        }
        self.publish_pending();
        self.stdin = None;
    }
}

async fn sleep_until(wake: Option<Instant>) {
    match wake {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
