//! The session registry: which sessions exist, which have a live run, and the rules for starting one.
//!
//! Lifecycle of a session: created by its first run → live (a run is in progress) → finished → live
//! again if resumed → … → evicted `finished_ttl` after its last run ended (its log file is deleted).
//! Its `seq` numbering continues across runs, so a viewer's `since` stays meaningful.
//!
//! The registry lock is held only to look up and reserve; nothing awaits while holding it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use opcode_proc::claude::{ClaudeInvocation, Conversation, PermissionPolicy};
use opcode_proc::{ProcessControl, ProcessSupervisor, DEFAULT_GRACE};
use opcode_proto::control::PermissionDecision;
use opcode_proto::{CommandType, CompletionStatus, EventKind, Seq, ValidRequest};
use serde::Serialize;
use tokio::time::Instant;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::claude_store::ClaudeStore;
use crate::error::{CancelError, ControlError, LogError, StartError};
use crate::log::{EventLog, LogConfig};
use crate::subscription::Subscription;

/// Settings of a registry. Build with [`RegistryConfig::new`] and adjust the public fields.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// The claude binary to run.
    pub claude_bin: PathBuf,
    /// Where event logs are written (`<data_dir>/logs`).
    pub data_dir: PathBuf,
    /// Concurrent runs allowed.
    pub max_running: usize,
    /// How long a finished session stays attachable.
    pub finished_ttl: Duration,
    /// SIGTERM → SIGKILL grace when cancelling.
    pub cancel_grace: Duration,
    /// Per-session in-memory tail.
    pub log: LogConfig,
    /// If not empty, `project_path` must lie inside one of these.
    pub project_roots: Vec<PathBuf>,
    /// Permission flags for one-shot runs.
    pub permissions: PermissionPolicy,
    /// Claude's own files (to resolve `continue`).
    pub claude_store: ClaudeStore,
    /// Extra environment for claude (e.g. `ANTHROPIC_BASE_URL`, `IS_SANDBOX`), on top of the server's.
    pub child_env: Vec<(std::ffi::OsString, std::ffi::OsString)>,
    /// How long a permission request of a live session waits before it is denied.
    pub permission_timeout: Duration,
    /// A live session with no turn for this long is ended.
    pub live_idle_timeout: Duration,
    /// Whether a request may ask for `bypassPermissions`.
    pub allow_bypass_permissions: bool,
}

impl RegistryConfig {
    /// Defaults: 16 concurrent runs, finished sessions kept 1 h, 3 s grace, the seed's permissions.
    pub fn new(claude_bin: PathBuf, data_dir: PathBuf) -> Self {
        RegistryConfig {
            claude_bin,
            data_dir,
            max_running: 16,
            finished_ttl: Duration::from_secs(3600),
            cancel_grace: DEFAULT_GRACE,
            log: LogConfig::default(),
            project_roots: Vec::new(),
            permissions: PermissionPolicy::default(),
            claude_store: ClaudeStore::from_env(),
            child_env: Vec::new(),
            permission_timeout: Duration::from_secs(30 * 60),
            live_idle_timeout: Duration::from_secs(30 * 60),
            allow_bypass_permissions: false,
        }
    }
}

/// A run that was started: where its events begin.
#[derive(Debug)]
pub struct StartedRun {
    /// The session id (claude's id), fixed for the whole run.
    pub session_id: String,
    /// The seq of the run's `start` event.
    pub first_seq: Seq,
}

/// What `/api/sessions/running` shows of a session.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    /// The session id.
    pub session_id: String,
    /// The project directory.
    pub project_path: String,
    /// The command of the latest run.
    pub command_type: CommandType,
    /// The model asked for.
    pub model: Option<String>,
    /// Unix seconds when the latest run started.
    pub started_at: u64,
    /// `running` or `finished`.
    pub status: &'static str,
    /// Events so far.
    pub events: Seq,
}

/// One session: its log and the state of its latest run.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) id: String,
    pub(crate) log: Arc<EventLog>,
    state: Mutex<RunState>,
    cancel_requested: AtomicBool,
    registry: std::sync::Weak<Inner>,
    /// The steering of a live run (stdin, pending permissions); `None` for one-shot runs.
    pub(crate) live: Mutex<Option<crate::live::LiveState>>,
}

#[derive(Debug)]
struct RunState {
    live: bool,
    control: Option<ProcessControl>,
    summary: RunSummary,
    finished_at: Option<Instant>,
}

impl Session {
    pub(crate) fn cancel_requested(&self) -> bool {
        self.cancel_requested.load(Ordering::SeqCst)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, RunState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How long permission requests wait (from the registry's configuration).
    pub(crate) fn permission_timeout(&self) -> Duration {
        self.registry.upgrade().map_or(Duration::from_secs(1800), |r| r.config.permission_timeout)
    }

    /// Called by the run task once the run's last event is in the log.
    pub(crate) fn finish_run(&self) {
        {
            let mut state = self.state();
            state.live = false;
            state.control = None;
            state.finished_at = Some(Instant::now());
        }
        self.log.set_live(false);
        if let Some(inner) = self.registry.upgrade() {
            inner.running.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

#[derive(Debug)]
struct Inner {
    /// This registry's own folder of event logs.
    logs_dir: PathBuf,
    config: RegistryConfig,
    supervisor: Arc<dyn ProcessSupervisor>,
    sessions: Mutex<HashMap<String, Arc<Session>>>,
    running: std::sync::atomic::AtomicUsize,
    closing: AtomicBool,
    tasks: TaskTracker,
}

/// The registry of sessions. Cheap to clone; all clones share the same sessions.
#[derive(Debug, Clone)]
pub struct SessionRegistry {
    inner: Arc<Inner>,
}

/// Removes the log folders (`<pid>-<random>`) of processes that no longer run; leaves everything else.
fn remove_stale_logs(logs_root: &Path) {
    let Ok(entries) = std::fs::read_dir(logs_root) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.split('-').next()).and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl SessionRegistry {
    /// A registry spawning through `supervisor`. Must be called inside a tokio runtime (it starts the
    /// eviction task). Its event logs go to a folder of its own, `<data_dir>/logs/<pid>-<random>`, so
    /// several servers can share a data dir; folders left by servers that are no longer running are removed.
    pub fn new(config: RegistryConfig, supervisor: Arc<dyn ProcessSupervisor>) -> Self {
        let logs_root = config.data_dir.join("logs");
        remove_stale_logs(&logs_root);
        let logs_dir =
            logs_root.join(format!("{}-{}", std::process::id(), &uuid::Uuid::new_v4().simple().to_string()[..8]));
        let inner = Arc::new(Inner {
            logs_dir,
            config,
            supervisor,
            sessions: Mutex::new(HashMap::new()),
            running: std::sync::atomic::AtomicUsize::new(0),
            closing: AtomicBool::new(false),
            tasks: TaskTracker::new(),
        });
        let weak = Arc::downgrade(&inner);
        let period = (inner.config.finished_ttl / 4).clamp(Duration::from_millis(50), Duration::from_secs(60));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                SessionRegistry { inner }.evict_finished();
            }
        });
        SessionRegistry { inner }
    }

    /// The configuration in force.
    pub fn config(&self) -> &RegistryConfig {
        &self.inner.config
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Session>>> {
        self.inner.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn session(&self, id: &str) -> Option<Arc<Session>> {
        self.sessions().get(id).cloned()
    }

    /// `claude --version` of the configured binary, spawned through the supervisor with a run's
    /// environment (see [`crate::claude_info::claude_version`]); never fails.
    pub async fn claude_version(&self) -> crate::claude_info::ClaudeVersion {
        let config = &self.inner.config;
        crate::claude_info::claude_version(
            self.inner.supervisor.as_ref(),
            &config.claude_bin,
            &config.child_env,
            crate::claude_info::VERSION_TIMEOUT,
        )
        .await
    }

    /// Checks that `path` is an existing directory within the allowed project roots (as a run's
    /// `project_path` must be) and returns it canonical. Blocks (file metadata).
    pub fn check_project_path(&self, path: &str) -> Result<PathBuf, StartError> {
        self.check_project(path)
    }

    /// Checks `path` and returns it canonical.
    fn check_project(&self, path: &str) -> Result<PathBuf, StartError> {
        let given = PathBuf::from(path);
        let canonical = std::fs::canonicalize(&given).map_err(|_| StartError::ProjectNotFound(given.clone()))?;
        if !canonical.is_dir() {
            return Err(StartError::ProjectNotFound(given));
        }
        let roots = &self.inner.config.project_roots;
        if !roots.is_empty() && !roots.iter().any(|root| canonical.starts_with(root)) {
            let roots = roots.iter().map(|r| r.display().to_string()).collect::<Vec<_>>().join(", ");
            return Err(StartError::OutsideProjectRoots { path: canonical, roots });
        }
        Ok(canonical)
    }

    /// Starts a run for `request`. The session id is fixed before anything is spawned: the client's for
    /// `execute` (or a new UUID), the resumed one for `resume`, and for `continue` the latest session of
    /// the project in Claude's files (the run then resumes it), so it is known from the `start` event on.
    ///
    /// On `Err`, nothing was spawned and no event was logged. On `Ok`, the run's events begin at
    /// `first_seq`; a run whose process fails to spawn still gets `error` + `completion(error)` events.
    pub async fn start_run(&self, request: ValidRequest) -> Result<StartedRun, StartError> {
        if self.inner.closing.load(Ordering::SeqCst) {
            return Err(StartError::ShuttingDown);
        }
        let project = self.check_project(&request.project_path)?;
        let permissions = match (&request.permission_mode, request.live) {
            (Some(mode), _) if mode == "bypassPermissions" && !self.inner.config.allow_bypass_permissions => {
                return Err(StartError::BypassNotAllowed);
            }
            (Some(mode), _) => PermissionPolicy::Mode(mode.clone()),
            (None, true) => PermissionPolicy::Mode("default".to_owned()),
            (None, false) => self.inner.config.permissions.clone(),
        };
        let (session_id, conversation) = match (request.command, request.session_id) {
            (CommandType::Execute, id) => {
                let id = id.unwrap_or_else(uuid::Uuid::new_v4).to_string();
                (id.clone(), Conversation::New { session_id: id })
            }
            (CommandType::Resume, Some(id)) | (CommandType::Continue, Some(id)) => {
                (id.to_string(), Conversation::Resume { session_id: id.to_string() })
            }
            (CommandType::Resume, None) => unreachable!("validated: resume has a session id"),
            (CommandType::Continue, None) => {
                let id = self
                    .inner
                    .config
                    .claude_store
                    .latest_session_for(&project)
                    .ok_or_else(|| StartError::NothingToContinue(project.clone()))?;
                (id.clone(), Conversation::Resume { session_id: id })
            }
        };
        let session = self.reserve(&session_id, &request, &project)?;
        let span = tracing::info_span!("run", session_id = %session_id);
        let first_seq = session.log.append(EventKind::Start {
            message: format!("{} in {}", request.command.as_str(), project.display()),
            command_type: request.command,
            project_path: project.display().to_string(),
            model: request.model.clone(),
            live: request.live,
            permission_mode: request.permission_mode.clone(),
        });
        let invocation = ClaudeInvocation {
            conversation,
            prompt: request.prompt.clone(),
            live: request.live,
            model: request.model,
            include_partial_messages: request.include_partial_messages,
            permissions,
        };
        let mut spec =
            invocation.spec(&self.inner.config.claude_bin, &project).event_buffer(crate::run::CHILD_EVENT_BUFFER);
        spec.env.extend(self.inner.config.child_env.iter().cloned());
        match self.inner.supervisor.spawn(spec).instrument(span.clone()).await {
            Ok(mut child) => {
                let control = child.control();
                session.state().control = Some(control.clone());
                if request.live {
                    let stdin = child.take_stdin();
                    crate::live::begin(&session, stdin, &request.prompt, self.inner.config.live_idle_timeout).await;
                }
                if session.cancel_requested() {
                    control.cancel(self.inner.config.cancel_grace);
                }
                tracing::info!(parent: &span, command = request.command.as_str(), "run started");
                // unconstrained by tokio's budget: `drive` takes up to BATCH ready events per turn and then yields
                let drive = tokio::task::unconstrained(crate::run::drive(session, child, request.live));
                self.inner.tasks.spawn(drive.instrument(span));
            }
            Err(err) => {
                tracing::warn!(parent: &span, %err, "spawn failed");
                session.log.append(EventKind::Error { message: err.to_string() });
                session.log.append(EventKind::Completion {
                    status: CompletionStatus::Error,
                    exit_code: None,
                    signal: None,
                    error: Some(err.to_string()),
                });
                session.finish_run();
            }
        }
        Ok(StartedRun { session_id, first_seq })
    }

    /// Checks the limits and marks the session live, creating it if new.
    fn reserve(&self, session_id: &str, request: &ValidRequest, project: &Path) -> Result<Arc<Session>, StartError> {
        let mut sessions = self.sessions();
        let existing = sessions.get(session_id).cloned();
        if existing.as_ref().is_some_and(|s| s.state().live) {
            return Err(StartError::AlreadyRunning(session_id.to_owned()));
        }
        let limit = self.inner.config.max_running;
        if self.inner.running.load(Ordering::SeqCst) >= limit {
            return Err(StartError::TooManyRuns { limit });
        }
        let summary = RunSummary {
            session_id: session_id.to_owned(),
            project_path: project.display().to_string(),
            command_type: request.command,
            model: request.model.clone(),
            started_at: unix_now(),
            status: "running",
            events: 0,
        };
        let session = match existing {
            Some(session) => {
                let mut state = session.state();
                state.summary = summary;
                state.finished_at = None;
                state.live = true;
                drop(state);
                session
            }
            None => {
                let path = self.inner.logs_dir.join(format!("{session_id}.jsonl"));
                let log = EventLog::create(session_id, path, self.inner.config.log)
                    .map_err(|source: LogError| StartError::Log { session_id: session_id.to_owned(), source })?;
                let session = Arc::new(Session {
                    id: session_id.to_owned(),
                    live: Mutex::new(None),
                    log: Arc::new(log),
                    state: Mutex::new(RunState { live: true, control: None, summary, finished_at: None }),
                    cancel_requested: AtomicBool::new(false),
                    registry: Arc::downgrade(&self.inner),
                });
                sessions.insert(session_id.to_owned(), session.clone());
                session
            }
        };
        session.cancel_requested.store(false, Ordering::SeqCst);
        session.log.set_live(true);
        self.inner.running.fetch_add(1, Ordering::SeqCst);
        Ok(session)
    }

    /// Cancels the live run of `session_id`: SIGTERM to its process group, SIGKILL after the grace.
    /// The run then ends with `cancelled` + `completion(cancelled)`.
    pub fn cancel(&self, session_id: &str) -> Result<(), CancelError> {
        let session = self.session(session_id).ok_or_else(|| CancelError::NotFound(session_id.to_owned()))?;
        let state = session.state();
        if !state.live {
            return Err(CancelError::NotRunning(session_id.to_owned()));
        }
        session.cancel_requested.store(true, Ordering::SeqCst);
        if let Some(control) = &state.control {
            control.cancel(self.inner.config.cancel_grace);
        }
        tracing::info!(session_id, "cancel requested");
        Ok(())
    }

    fn live_session(&self, session_id: &str) -> Result<Arc<Session>, ControlError> {
        self.session(session_id).ok_or_else(|| ControlError::NotFound(session_id.to_owned()))
    }

    /// Writes a follow-up prompt to the live session's process (logged as `user_prompt`).
    pub async fn send_prompt(&self, session_id: &str, prompt: &str) -> Result<(), ControlError> {
        if prompt.trim().is_empty() {
            return Err(ControlError::EmptyPrompt);
        }
        self.live_session(session_id)?.prompt(prompt).await
    }

    /// Answers a pending permission request; the first answer wins (`permission_resolved` is logged).
    pub async fn answer_permission(
        &self,
        session_id: &str,
        request_id: &str,
        decision: PermissionDecision,
    ) -> Result<(), ControlError> {
        self.live_session(session_id)?.answer(request_id, &decision, crate::live::AnsweredBy::Viewer).await
    }

    /// Interrupts the live session's current turn; the session stays usable.
    pub async fn interrupt(&self, session_id: &str) -> Result<(), ControlError> {
        self.live_session(session_id)?.interrupt().await
    }

    /// Closes the live session's input: claude finishes and the run completes.
    pub fn end_live(&self, session_id: &str) -> Result<(), ControlError> {
        self.live_session(session_id)?.end_input()
    }

    /// A cursor over the session's events from seq `from` (0 = everything); `None` for an unknown session.
    pub fn subscribe(&self, session_id: &str, from: Seq) -> Option<Subscription> {
        self.session(session_id).map(|s| Subscription::new(s.log.clone(), from))
    }

    /// Every event of the session so far (blocking read of the disk part; call from a blocking context).
    pub fn events_so_far(&self, session_id: &str) -> Option<Result<Vec<Bytes>, LogError>> {
        self.session(session_id).map(|s| s.log.read_all())
    }

    /// Every known session, newest run first.
    pub fn list(&self) -> Vec<RunSummary> {
        let mut list: Vec<_> = self
            .sessions()
            .values()
            .map(|s| {
                let state = s.state();
                RunSummary {
                    status: if state.live { "running" } else { "finished" },
                    events: s.log.len(),
                    ..state.summary.clone()
                }
            })
            .collect();
        list.sort_by_key(|s| std::cmp::Reverse(s.started_at));
        list
    }

    /// Number of runs in progress.
    pub fn running(&self) -> usize {
        self.inner.running.load(Ordering::SeqCst)
    }

    /// Removes sessions whose last run ended more than `finished_ttl` ago, and their log files.
    fn evict_finished(&self) {
        let ttl = self.inner.config.finished_ttl;
        let mut evicted = Vec::new();
        self.sessions().retain(|_, session| {
            let state = session.state();
            let expired = !state.live && state.finished_at.is_some_and(|t| t.elapsed() >= ttl);
            if expired {
                evicted.push(session.log.path().to_path_buf());
            }
            !expired
        });
        for path in evicted {
            tracing::debug!(path = %path.display(), "evicting finished session");
            let _ = std::fs::remove_file(path);
        }
    }

    /// Refuses new runs, cancels every live run (SIGTERM, SIGKILL after the grace) and waits until every
    /// process is reaped and every run has logged its completion.
    pub async fn shutdown(&self) {
        self.inner.closing.store(true, Ordering::SeqCst);
        let live: Vec<String> =
            self.sessions().iter().filter(|(_, s)| s.state().live).map(|(id, _)| id.clone()).collect();
        for id in &live {
            let _ = self.cancel(id);
        }
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
        // the logs belong to this registry's runs, which are all over
        let _ = std::fs::remove_dir_all(&self.inner.logs_dir);
        tracing::info!(cancelled = live.len(), "all runs ended");
    }
}
