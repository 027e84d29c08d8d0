//! The session registry: which sessions exist, which have a live run, and the rules for starting one.
//!
//! Lifecycle of a session: created by its first run → running → finished → running again if resumed →
//! … → evicted `finished_ttl` after its last run ended (its log file is deleted and it is forgotten).
//! Its `seq` numbering continues across runs, so a viewer's `since` stays meaningful.
//!
//! Sessions outlive the server: each run is remembered in the store (`opcode-store`) when it starts and
//! when it ends, and its log stays in this server's folder (`instance.rs`). A new server adopts the
//! folders of servers that are gone; runs that were in progress when their server died are ended with
//! `error` + `completion(error)` ("the server restarted") so that no viewer waits forever.
//!
//! In memory a session is a [`Slot`]: loaded (its log is open for appends and reads) or only remembered
//! (its log is on disk; it is loaded on the first attach). Finished sessions beyond
//! `max_finished_in_memory` go back to being only remembered, oldest first.
//!
//! The registry lock is held only to look up and reserve; nothing awaits or does file I/O while holding it.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use opcode_proc::{ProcessControl, ProcessSupervisor, DEFAULT_GRACE};
use opcode_proto::control::PermissionDecision;
use opcode_proto::{CommandType, CompletionStatus, EventKind, PermissionMode, Seq, ValidRequest};
use opcode_store::{RunEnd, RunRecord, RunState, Store};
use serde::Serialize;
use tokio::time::Instant;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::claude_cli::{ClaudeInvocation, Conversation, PermissionPolicy};
use crate::claude_store::ClaudeStore;
use crate::error::{CancelError, ControlError, ImportError, LogError, OpenError, StartError};
use crate::instance::Instance;
use crate::live::{LiveConfig, LiveHandle, PromptOutcome, Restored};
use crate::log::{EventLog, LogConfig};
use crate::notable::{Announcer, NotableEvent, NotableKind, NOTABLE_CAPACITY};
use crate::subscription::Subscription;
use crate::writer::Writer;

/// Settings of a registry. Build with [`RegistryConfig::new`] and adjust the public fields.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// The claude binary to run.
    pub claude_bin: PathBuf,
    /// Where our state lives: `opcode.db` and the event logs (`logs/<instance>/`).
    pub data_dir: PathBuf,
    /// Concurrent runs allowed.
    pub max_running: usize,
    /// Runs that may start per minute (all sessions together); `None`: no cap.
    pub max_runs_per_minute: Option<u32>,
    /// How long a finished session stays attachable (across restarts too).
    pub finished_ttl: Duration,
    /// Finished sessions kept loaded in memory at most; older ones are read from disk when attached.
    pub max_finished_in_memory: usize,
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
    /// Where a run's events also go (a stream shared by several machines), and how a slow one holds the
    /// run back: `None` (the default) for a server on its own.
    pub sink: Option<Arc<dyn EventSink>>,
    /// Whether claude is killed when this process dies, even by `kill -9` (a cluster's worker: its runs are
    /// taken over elsewhere, so none may go on unwatched). Off for a server on its own.
    pub claude_dies_with_server: bool,
}

/// Something that takes every session's events after they are in its log (for example a forwarder to a
/// stream that other machines read) and may hold runs back while it is behind.
///
/// After appending claude's output to a session's log, the run awaits [`EventSink::appended`] before it
/// reads more of claude's output: while the returned future is pending, claude's stdout pipe fills and
/// claude itself waits, so a slow sink slows the run instead of buffering without bound.
pub trait EventSink: Send + Sync + std::fmt::Debug + 'static {
    /// The log of `session_id` now holds `len` events (seqs `0..len`). The future is done when the run may
    /// go on.
    fn appended(&self, session_id: &str, len: Seq) -> futures::future::BoxFuture<'static, ()>;
}

impl RegistryConfig {
    /// Defaults: 16 concurrent runs, no cap per minute, finished sessions kept 1 h (256 of them in
    /// memory), 3 s grace, the seed's permissions.
    pub fn new(claude_bin: PathBuf, data_dir: PathBuf) -> Self {
        RegistryConfig {
            claude_bin,
            data_dir,
            max_running: 16,
            max_runs_per_minute: None,
            finished_ttl: Duration::from_secs(3600),
            max_finished_in_memory: 256,
            cancel_grace: DEFAULT_GRACE,
            log: LogConfig::default(),
            project_roots: Vec::new(),
            permissions: PermissionPolicy::default(),
            claude_store: ClaudeStore::from_env(),
            child_env: Vec::new(),
            permission_timeout: Duration::from_secs(30 * 60),
            live_idle_timeout: Duration::from_secs(30 * 60),
            allow_bypass_permissions: false,
            sink: None,
            claude_dies_with_server: false,
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

/// Whether a session's latest run is in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// In progress.
    Running,
    /// Ended (see the summary's `outcome`).
    Finished,
}

/// How a run in progress is doing, read when the list is asked for.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct RunHealth {
    /// Whether claude's process is still alive.
    pub alive: bool,
    /// Live processes in its process group (claude and what it started).
    pub processes: u32,
    /// CPU seconds the group has used so far.
    pub cpu_seconds: f64,
    /// Resident memory of the group, in bytes.
    pub rss_bytes: u64,
    /// Seconds since claude last wrote a line (or since the run started).
    pub seconds_since_output: u64,
    /// Permission requests waiting for an answer (a live session waiting for you).
    pub waiting_for_you: usize,
}

/// What `/api/sessions/running` shows of a session.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct RunSummary {
    /// The session id.
    pub session_id: String,
    /// The project directory.
    pub project_path: String,
    /// The command of the latest run.
    pub command_type: CommandType,
    /// The model asked for.
    pub model: Option<String>,
    /// Whether the latest run is (was) a live session.
    pub live: bool,
    /// The permission mode asked for.
    pub permission_mode: Option<PermissionMode>,
    /// Unix seconds when the latest run started.
    pub started_at: u64,
    /// In progress or finished.
    pub status: RunStatus,
    /// How the latest run ended, once it has.
    pub outcome: Option<CompletionStatus>,
    /// Unix seconds when it ended.
    pub finished_at: Option<u64>,
    /// Its process ended without being asked to (claude died in a live session, or the server restarted).
    pub exited_unexpectedly: bool,
    /// Taking the session up again (`resume` with its id, live) is what the user most likely wants.
    pub resumable: bool,
    /// Events so far.
    pub events: Seq,
    /// For a run in progress: how its process is doing.
    pub health: Option<RunHealth>,
}

/// What a run was started as (fixed for the run).
#[derive(Debug, Clone)]
struct RunMeta {
    project_path: String,
    command_type: CommandType,
    model: Option<String>,
    live: bool,
    permission_mode: Option<PermissionMode>,
    started_at: u64,
}

/// Where a session's latest run stands: one closed state under one lock.
#[derive(Debug)]
enum Lifecycle {
    /// Reserved, its process not spawned yet.
    Starting { cancel_requested: bool },
    /// Its process runs.
    Running { control: ProcessControl, live: Option<LiveHandle>, cancel_requested: bool },
    /// Its completion is in the log.
    Finished { outcome: CompletionStatus, finished_at: u64, unexpected_exit: bool },
}

#[derive(Debug)]
struct SessionState {
    meta: RunMeta,
    lifecycle: Lifecycle,
}

/// One loaded session: its log and the state of its latest run.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) id: String,
    pub(crate) log: Arc<EventLog>,
    state: Mutex<SessionState>,
    /// Unix milliseconds of claude's last stdout line (or of the run's start).
    last_output_ms: AtomicU64,
}

impl Session {
    fn state(&self) -> std::sync::MutexGuard<'_, SessionState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a cancel was asked for the run in progress (its end is then `cancelled`).
    pub(crate) fn cancel_requested(&self) -> bool {
        matches!(
            self.state().lifecycle,
            Lifecycle::Starting { cancel_requested: true } | Lifecycle::Running { cancel_requested: true, .. }
        )
    }

    /// Notes that claude wrote a line now.
    pub(crate) fn output_seen(&self) {
        self.last_output_ms.store(unix_ms(), Ordering::Relaxed);
    }

    fn is_running(&self) -> bool {
        !matches!(self.state().lifecycle, Lifecycle::Finished { .. })
    }

    fn live_handle(&self) -> Result<LiveHandle, ControlError> {
        match &self.state().lifecycle {
            Lifecycle::Running { live: Some(live), .. } => Ok(live.clone()),
            _ => Err(ControlError::NotLive(self.id.clone())),
        }
    }

    fn record(&self, instance: &str) -> RunRecord {
        let state = self.state();
        let meta = &state.meta;
        let (run_state, finished_at, unexpected_exit) = match state.lifecycle {
            Lifecycle::Finished { outcome, finished_at, unexpected_exit } => {
                (RunState::Ended(outcome), Some(finished_at), unexpected_exit)
            }
            _ => (RunState::Running, None, false),
        };
        RunRecord {
            session_id: self.id.clone(),
            instance: instance.to_owned(),
            project_path: meta.project_path.clone(),
            command_type: meta.command_type,
            model: meta.model.clone(),
            live: meta.live,
            permission_mode: meta.permission_mode,
            started_at: meta.started_at,
            finished_at,
            state: run_state,
            events: self.log.len(),
            unexpected_exit,
        }
    }

    /// The summary, with `pid` of a run in progress for the caller to read its health.
    fn summary(&self) -> (RunSummary, Option<(u32, usize)>) {
        let probe = match &self.state().lifecycle {
            Lifecycle::Running { control, live, .. } => {
                Some((control.pid(), live.as_ref().map_or(0, LiveHandle::pending_requests)))
            }
            Lifecycle::Starting { .. } | Lifecycle::Finished { .. } => None,
        };
        // the instance owning the log is not part of a summary
        (summary_of(&self.record("")), probe)
    }
}

/// What the running list shows of a run, from what is (or would be) remembered of it.
fn summary_of(record: &RunRecord) -> RunSummary {
    let outcome = match record.state {
        RunState::Ended(status) => Some(status),
        RunState::Running => None,
    };
    RunSummary {
        session_id: record.session_id.clone(),
        project_path: record.project_path.clone(),
        command_type: record.command_type,
        model: record.model.clone(),
        live: record.live,
        permission_mode: record.permission_mode,
        started_at: record.started_at,
        status: if outcome.is_some() { RunStatus::Finished } else { RunStatus::Running },
        outcome,
        finished_at: record.finished_at,
        exited_unexpectedly: record.unexpected_exit,
        resumable: record.unexpected_exit && record.live,
        events: record.events,
        health: None,
    }
}

/// A session in memory: loaded, or only remembered (finished, its log on disk).
#[derive(Debug)]
enum Slot {
    Loaded(Arc<Session>),
    OnDisk(RunRecord),
}

#[derive(Debug)]
struct Inner {
    instance: Instance,
    config: RegistryConfig,
    supervisor: Arc<dyn ProcessSupervisor>,
    store: Arc<Store>,
    writer: Writer,
    slots: Mutex<HashMap<String, Slot>>,
    running: AtomicUsize,
    closing: AtomicBool,
    tasks: TaskTracker,
    /// When the runs of the last minute started (for `max_runs_per_minute`).
    recent_starts: Mutex<VecDeque<Instant>>,
    /// Sessions evicted so far.
    evicted: tokio::sync::watch::Sender<u64>,
    /// Where notable events are announced.
    notable: tokio::sync::broadcast::Sender<NotableEvent>,
}

/// The registry of sessions. Cheap to clone; all clones share the same sessions.
#[derive(Debug, Clone)]
pub struct SessionRegistry {
    inner: Arc<Inner>,
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Runs blocking work on tokio's blocking pool; a panic there is a panic here.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()))
}

/// The message of the `error` event that ends a run cut short by a restart.
pub const RESTART_MESSAGE: &str =
    "the server restarted while this run was in progress; its process is gone. Resume the session to go on";

/// Everything found on disk at start-up (blocking).
struct Recovered {
    instance: Instance,
    store: Arc<Store>,
    slots: HashMap<String, Slot>,
}

fn recover(config: &RegistryConfig, writer: &Writer) -> Result<Recovered, OpenError> {
    let logs_root = config.data_dir.join("logs");
    let instance = Instance::create(&logs_root)?;
    let store = Arc::new(Store::open(&config.data_dir.join("opcode.db"))?);
    for orphan in instance.orphans(&logs_root) {
        let records = store.runs_of(&orphan.id)?;
        let missing: Vec<String> = records
            .iter()
            .filter(|r| !instance.take_log(&orphan, &r.session_id))
            .map(|r| r.session_id.clone())
            .collect();
        store.forget(&missing)?;
        let adopted = store.adopt(&orphan.id, &instance.id)?;
        tracing::info!(from = %orphan.id, adopted, "adopted the runs of a server that is gone");
        orphan.remove();
    }
    let now = unix_now();
    let ttl = config.finished_ttl.as_secs();
    let mut expired = Vec::new();
    let mut slots = HashMap::new();
    for mut record in store.runs_of(&instance.id)? {
        if record.finished_at.is_some_and(|at| at + ttl <= now) {
            let _ = std::fs::remove_file(instance.log_path(&record.session_id));
            expired.push(record.session_id);
            continue;
        }
        if record.state == RunState::Running {
            // its server died with it: end it in its log, so no viewer waits forever
            let path = instance.log_path(&record.session_id);
            match EventLog::open_existing(&record.session_id, path, config.log, writer.clone()) {
                Ok(log) => {
                    let log = Arc::new(log);
                    log.append_batch(vec![
                        EventKind::Error { message: RESTART_MESSAGE.to_owned() },
                        EventKind::Completion {
                            status: CompletionStatus::Error,
                            exit_code: None,
                            signal: None,
                            error: Some(RESTART_MESSAGE.to_owned()),
                        },
                    ]);
                    log.set_live(false);
                    let end = RunEnd {
                        status: CompletionStatus::Error,
                        finished_at: now,
                        events: log.len(),
                        unexpected_exit: true,
                    };
                    store.run_ended(&record.session_id, &end)?;
                    record.state = RunState::Ended(CompletionStatus::Error);
                    record.finished_at = Some(now);
                    record.events = end.events;
                    record.unexpected_exit = true;
                    tracing::info!(session_id = %record.session_id, "ended a run the restart cut short");
                }
                Err(err) => {
                    tracing::warn!(session_id = %record.session_id, %err, "the log of an interrupted run is unreadable: forgetting it");
                    expired.push(record.session_id);
                    continue;
                }
            }
        }
        slots.insert(record.session_id.clone(), Slot::OnDisk(record));
    }
    store.forget(&expired)?;
    Ok(Recovered { instance, store, slots })
}

impl SessionRegistry {
    /// Opens the registry on `config.data_dir`: takes a log folder of its own (locked, so servers can
    /// share a data dir), adopts the folders of servers that are gone, and remembers every run of the
    /// last `finished_ttl` (runs cut short by a restart are ended in their logs). Starts the eviction
    /// task, so it must be called inside a tokio runtime. The blocking work runs off the async threads.
    pub async fn open(config: RegistryConfig, supervisor: Arc<dyn ProcessSupervisor>) -> Result<Self, OpenError> {
        let writer = Writer::start();
        let (config, recovered) = {
            let writer = writer.clone();
            blocking(move || {
                let recovered = recover(&config, &writer);
                (config, recovered)
            })
            .await
        };
        let Recovered { instance, store, slots } = recovered?;
        let inner = Arc::new(Inner {
            instance,
            config,
            supervisor,
            store,
            writer,
            slots: Mutex::new(slots),
            running: AtomicUsize::new(0),
            closing: AtomicBool::new(false),
            tasks: TaskTracker::new(),
            recent_starts: Mutex::new(VecDeque::new()),
            evicted: tokio::sync::watch::channel(0).0,
            notable: tokio::sync::broadcast::channel(NOTABLE_CAPACITY).0,
        });
        let weak = Arc::downgrade(&inner);
        let period = (inner.config.finished_ttl / 4).clamp(Duration::from_millis(50), Duration::from_secs(60));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                SessionRegistry { inner }.evict_finished().await;
            }
        });
        Ok(SessionRegistry { inner })
    }

    /// The configuration in force.
    pub fn config(&self) -> &RegistryConfig {
        &self.inner.config
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        self.inner.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The loaded session `id`, loading it from disk if it is only remembered; `None` if unknown.
    async fn session(&self, id: &str) -> Option<Arc<Session>> {
        let record = match self.slots().get(id)? {
            Slot::Loaded(session) => return Some(session.clone()),
            Slot::OnDisk(record) => record.clone(),
        };
        let path = self.inner.instance.log_path(id);
        let (config, writer, sid) = (self.inner.config.log, self.inner.writer.clone(), id.to_owned());
        let log = match blocking(move || EventLog::open_existing(&sid, path, config, writer)).await {
            Ok(log) => Arc::new(log),
            Err(err) => {
                tracing::warn!(session_id = id, %err, "a remembered session's log is unreadable");
                return None;
            }
        };
        let loaded = Arc::new(Session {
            id: id.to_owned(),
            log,
            state: Mutex::new(SessionState {
                meta: RunMeta {
                    project_path: record.project_path.clone(),
                    command_type: record.command_type,
                    model: record.model.clone(),
                    live: record.live,
                    permission_mode: record.permission_mode,
                    started_at: record.started_at,
                },
                lifecycle: Lifecycle::Finished {
                    outcome: match record.state {
                        RunState::Ended(status) => status,
                        RunState::Running => CompletionStatus::Error,
                    },
                    finished_at: record.finished_at.unwrap_or_else(unix_now),
                    unexpected_exit: record.unexpected_exit,
                },
            }),
            last_output_ms: AtomicU64::new(0),
        });
        let mut slots = self.slots();
        let session = match slots.get(id) {
            // loaded meanwhile by someone else: use theirs
            Some(Slot::Loaded(theirs)) => theirs.clone(),
            Some(Slot::OnDisk(_)) => {
                slots.insert(id.to_owned(), Slot::Loaded(loaded.clone()));
                loaded
            }
            None => return None,
        };
        self.unload_beyond_cap(&mut slots);
        Some(session)
    }

    /// Keeps at most `max_finished_in_memory` finished sessions loaded; the oldest go back to disk.
    fn unload_beyond_cap(&self, slots: &mut HashMap<String, Slot>) {
        let mut finished: Vec<(u64, String)> = slots
            .iter()
            .filter_map(|(id, slot)| match slot {
                Slot::Loaded(s) => match s.state().lifecycle {
                    Lifecycle::Finished { finished_at, .. } => Some((finished_at, id.clone())),
                    _ => None,
                },
                Slot::OnDisk(_) => None,
            })
            .collect();
        let cap = self.inner.config.max_finished_in_memory;
        if finished.len() <= cap {
            return;
        }
        finished.sort();
        for (_, id) in &finished[..finished.len() - cap] {
            if let Some(Slot::Loaded(session)) = slots.get(id) {
                let record = session.record(&self.inner.instance.id);
                slots.insert(id.clone(), Slot::OnDisk(record));
            }
        }
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

    /// Runs the configured claude with `args` in `cwd`, with a run's environment, through the supervisor,
    /// to its end or `timeout` (then its process group is killed and the answer is
    /// [`opcode_proc::CompletionError::TimedOut`]); keeps at most 64 KiB of each stream.
    pub async fn claude_command(
        &self,
        args: Vec<std::ffi::OsString>,
        cwd: &Path,
        timeout: Duration,
    ) -> Result<opcode_proc::Completed, opcode_proc::CompletionError> {
        let config = &self.inner.config;
        let spec = crate::claude_cli::command_spec(&config.claude_bin, args, &config.child_env).cwd(cwd);
        let limits = opcode_proc::CompletionLimits { max_stdout: 64 * 1024, max_stderr: 64 * 1024, timeout };
        opcode_proc::run_to_completion(self.inner.supervisor.as_ref(), spec, limits).await
    }

    /// Checks that `path` is an existing directory within the allowed project roots (as a run's
    /// `project_path` must be) and returns it canonical.
    pub async fn check_project_path(&self, path: &str) -> Result<PathBuf, StartError> {
        self.check_project(path).await
    }

    /// Checks `path` (blocking: off the async threads) and returns it canonical.
    async fn check_project(&self, path: &str) -> Result<PathBuf, StartError> {
        let given = PathBuf::from(path);
        let canonical = {
            let given = given.clone();
            blocking(move || std::fs::canonicalize(&given).ok().filter(|c| c.is_dir())).await
        }
        .ok_or_else(|| StartError::ProjectNotFound(given.clone()))?;
        let roots = &self.inner.config.project_roots;
        if !roots.is_empty() && !roots.iter().any(|root| canonical.starts_with(root)) {
            let roots = roots.iter().map(|r| r.display().to_string()).collect::<Vec<_>>().join(", ");
            return Err(StartError::OutsideProjectRoots { path: canonical, roots });
        }
        Ok(canonical)
    }

    /// Counts a start against `max_runs_per_minute`.
    fn take_start_token(&self) -> Result<(), StartError> {
        let Some(limit) = self.inner.config.max_runs_per_minute else { return Ok(()) };
        let mut starts = self.inner.recent_starts.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let minute = Duration::from_secs(60);
        while starts.front().is_some_and(|t| now.duration_since(*t) >= minute) {
            starts.pop_front();
        }
        if starts.len() >= limit as usize {
            let oldest = *starts.front().expect("at the limit, so not empty");
            let retry_after_secs = (minute - now.duration_since(oldest)).as_secs().max(1);
            tracing::warn!(limit, retry_after_secs, "run start refused: too many runs this minute");
            return Err(StartError::RateLimited { limit, retry_after_secs });
        }
        starts.push_back(now);
        Ok(())
    }

    /// Starts a run for `request`. The session id is fixed before anything is spawned: the client's for
    /// `execute` (or a new UUID), the resumed one for `resume`, and for `continue` the latest session of
    /// the project in Claude's files (the run then resumes it), so it is known from the `start` event on.
    ///
    /// On `Err`, nothing was spawned and no event was logged. On `Ok`, the run's events begin at
    /// `first_seq`; a run whose process fails to spawn still gets `error` + `completion(error)` events.
    pub async fn start_run(&self, request: ValidRequest) -> Result<StartedRun, StartError> {
        self.start(request, None).await
    }

    /// Starts a run of a new session copied from session `from` up to its message `at` (the `uuid` of a
    /// transcript line): the copy gets `request`'s session id (or a new one) and prompt, and continues
    /// from there; `from`'s transcript is left as it is. `request` is an `execute` in the same project.
    /// Errors and events as [`SessionRegistry::start_run`].
    pub async fn start_fork(&self, request: ValidRequest, from: &str, at: &str) -> Result<StartedRun, StartError> {
        self.start(request, Some((from.to_owned(), at.to_owned()))).await
    }

    async fn start(&self, request: ValidRequest, fork: Option<(String, String)>) -> Result<StartedRun, StartError> {
        if self.inner.closing.load(Ordering::SeqCst) {
            return Err(StartError::ShuttingDown);
        }
        let project = self.check_project(&request.project_path).await?;
        let permissions = match (request.permission_mode, request.live) {
            (Some(PermissionMode::BypassPermissions), _) if !self.inner.config.allow_bypass_permissions => {
                return Err(StartError::BypassNotAllowed);
            }
            (Some(mode), _) => PermissionPolicy::Mode(mode),
            (None, true) => PermissionPolicy::Mode(PermissionMode::Default),
            (None, false) => self.inner.config.permissions.clone(),
        };
        let (session_id, conversation) = match (request.command, request.session_id) {
            (CommandType::Execute, id) if fork.is_some() => {
                let id = id.unwrap_or_else(uuid::Uuid::new_v4).to_string();
                let (from, at) = fork.expect("matched Some");
                (id.clone(), Conversation::Fork { from, at, session_id: id })
            }
            (CommandType::Execute, id) => {
                let id = id.unwrap_or_else(uuid::Uuid::new_v4).to_string();
                (id.clone(), Conversation::New { session_id: id })
            }
            (CommandType::Resume, Some(id)) | (CommandType::Continue, Some(id)) => {
                (id.to_string(), Conversation::Resume { session_id: id.to_string() })
            }
            (CommandType::Resume, None) => unreachable!("validated: resume has a session id"),
            (CommandType::Continue, None) => {
                let store = self.inner.config.claude_store.clone();
                let dir = project.clone();
                let id = blocking(move || store.latest_session_for(&dir))
                    .await
                    .ok_or_else(|| StartError::NothingToContinue(project.clone()))?;
                (id.clone(), Conversation::Resume { session_id: id })
            }
        };
        // an earlier session with this id continues its log (and its seqs)
        let earlier = self.session(&session_id).await;
        self.take_start_token()?;
        let meta = RunMeta {
            project_path: project.display().to_string(),
            command_type: request.command,
            model: request.model.clone(),
            live: request.live,
            permission_mode: request.permission_mode,
            started_at: unix_now(),
        };
        // a live session taken up again inherits its queue and the client ids it has seen
        let restored = match (&earlier, request.live) {
            (Some(earlier), true) => {
                let log = earlier.log.clone();
                blocking(move || {
                    log.read_all().map(|frames| {
                        Restored::from_events(frames.iter().filter_map(|f| {
                            let text = std::str::from_utf8(f).ok()?;
                            opcode_proto::SessionEvent::from_json(text).ok().map(|e| e.kind)
                        }))
                    })
                })
                .await
                .unwrap_or_else(|err| {
                    tracing::warn!(session_id, %err, "could not read what the session had queued");
                    Restored::default()
                })
            }
            _ => Restored::default(),
        };
        let session = self.reserve(&session_id, earlier, meta)?;
        let record = session.record(&self.inner.instance.id);
        let store = self.inner.store.clone();
        if let Err(err) = blocking(move || store.run_started(&record)).await {
            tracing::warn!(session_id, %err, "could not remember the run; it will not survive a restart");
        }
        let span = tracing::info_span!("run", session_id = %session_id);
        let first_seq = session.log.append(EventKind::Start {
            message: format!("{} in {}", request.command.as_str(), project.display()),
            command_type: request.command,
            project_path: project.display().to_string(),
            model: request.model.clone(),
            live: request.live,
            permission_mode: request.permission_mode,
        });
        if !request.live && !request.images.is_empty() {
            // a one-shot run with images takes its prompt on stdin: the transcript shows what it was sent
            session.log.append(EventKind::UserPrompt {
                prompt: request.prompt.clone(),
                client_id: None,
                images: request.images.clone(),
            });
        }
        let invocation = ClaudeInvocation {
            conversation,
            images: if request.live { Vec::new() } else { request.images.clone() },
            prompt: request.prompt.clone(),
            live: request.live,
            model: request.model,
            include_partial_messages: request.include_partial_messages,
            permissions,
            options: request.options,
        };
        let mut spec =
            invocation.spec(&self.inner.config.claude_bin, &project).event_buffer(crate::run::CHILD_EVENT_BUFFER);
        spec.env.extend(self.inner.config.child_env.iter().cloned());
        spec.die_with_parent = self.inner.config.claude_dies_with_server;
        match self.inner.supervisor.spawn(spec).instrument(span.clone()).await {
            Ok(mut child) => {
                let control = child.control();
                // only a one-shot run with images gives up its stdin here (a live run's actor owns it)
                let one_shot_stdin = invocation.stdin_message().and_then(|m| Some((m, child.take_stdin()?)));
                if let Some((message, mut stdin)) = one_shot_stdin {
                    // one line, then stdin closes (the writer is dropped): claude answers it and exits
                    self.inner.tasks.spawn(async move {
                        if let Err(err) = stdin.write_line(&message).await {
                            tracing::warn!(%err, "could not give claude its prompt on stdin");
                        }
                    });
                }
                let live = request.live.then(|| {
                    let config = LiveConfig {
                        permission_timeout: self.inner.config.permission_timeout,
                        idle_timeout: self.inner.config.live_idle_timeout,
                    };
                    let announcer = self.announcer(&session);
                    crate::live::start(
                        session.log.clone(),
                        child.take_stdin(),
                        &request.prompt,
                        request.images.clone(),
                        config,
                        restored,
                        announcer,
                    )
                });
                let cancel_requested = {
                    let mut state = session.state();
                    let cancel_requested = matches!(state.lifecycle, Lifecycle::Starting { cancel_requested: true });
                    state.lifecycle =
                        Lifecycle::Running { control: control.clone(), live: live.clone(), cancel_requested };
                    cancel_requested
                };
                if cancel_requested {
                    control.cancel(self.inner.config.cancel_grace);
                }
                tracing::info!(parent: &span, command = request.command.as_str(), "run started");
                // unconstrained by tokio's budget: `drive` takes up to BATCH ready events per turn and then yields
                let drive = tokio::task::unconstrained(crate::run::drive(self.clone(), session, child, live));
                self.inner.tasks.spawn(drive.instrument(span));
            }
            Err(err) => {
                tracing::warn!(parent: &span, %err, "spawn failed");
                let last = vec![
                    EventKind::Error { message: err.to_string() },
                    EventKind::Completion {
                        status: CompletionStatus::Error,
                        exit_code: None,
                        signal: None,
                        error: Some(err.to_string()),
                    },
                ];
                self.finish_run(&session, CompletionStatus::Error, false, Some(err.to_string()), last).await;
            }
        }
        Ok(StartedRun { session_id, first_seq })
    }

    /// Checks the limits and marks the session starting, creating it if new.
    fn reserve(
        &self,
        session_id: &str,
        earlier: Option<Arc<Session>>,
        meta: RunMeta,
    ) -> Result<Arc<Session>, StartError> {
        let mut slots = self.slots();
        let existing = match slots.get(session_id) {
            Some(Slot::Loaded(session)) => Some(session.clone()),
            // only remembered again since we loaded it: ours is as good
            Some(Slot::OnDisk(_)) => earlier,
            None => None,
        };
        if existing.as_ref().is_some_and(|s| s.is_running()) {
            return Err(StartError::AlreadyRunning(session_id.to_owned()));
        }
        let limit = self.inner.config.max_running;
        if self.inner.running.load(Ordering::SeqCst) >= limit {
            return Err(StartError::TooManyRuns { limit });
        }
        let session = match existing {
            Some(session) => {
                *session.state() = SessionState { meta, lifecycle: Lifecycle::Starting { cancel_requested: false } };
                session
            }
            None => {
                let path = self.inner.instance.log_path(session_id);
                let log = EventLog::create(session_id, path, self.inner.config.log, self.inner.writer.clone());
                Arc::new(Session {
                    id: session_id.to_owned(),
                    log,
                    state: Mutex::new(SessionState {
                        meta,
                        lifecycle: Lifecycle::Starting { cancel_requested: false },
                    }),
                    last_output_ms: AtomicU64::new(0),
                })
            }
        };
        slots.insert(session_id.to_owned(), Slot::Loaded(session.clone()));
        session.output_seen();
        session.log.set_live(true);
        self.inner.running.fetch_add(1, Ordering::SeqCst);
        Ok(session)
    }

    /// Called by the run task once the run's last event is in the log: announces it, marks it finished,
    /// remembers how it ended, and lets go of what a finished run does not need (the file, the tail,
    /// loaded state beyond the cap). `error` is the completion's.
    pub(crate) async fn finish_run(
        &self,
        session: &Arc<Session>,
        outcome: CompletionStatus,
        unexpected_exit: bool,
        error: Option<String>,
        last_events: Vec<EventKind>,
    ) {
        let live = session.state().meta.live;
        self.announcer(session).announce(NotableKind::RunFinished { status: outcome, live, error });
        let finished_at = unix_now();
        {
            // one step under the state's lock: the run is finished when its `completion` is logged (a viewer
            // that reads it can start the next run at once), and a next run's `start` cannot come before it
            let mut state = session.state();
            state.lifecycle = Lifecycle::Finished { outcome, finished_at, unexpected_exit };
            session.log.append_batch(last_events);
        }
        self.inner.running.fetch_sub(1, Ordering::SeqCst);
        let end = RunEnd { status: outcome, finished_at, events: session.log.len(), unexpected_exit };
        let (store, id) = (self.inner.store.clone(), session.id.clone());
        if let Err(err) = blocking(move || store.run_ended(&id, &end)).await {
            tracing::warn!(%err, "could not remember how the run ended");
        }
        self.unload_beyond_cap(&mut self.slots());
        // last: viewers see the end of the log only once the run is finished everywhere
        session.log.set_live(false);
    }

    /// Appends events numbered elsewhere to session `session_id`'s log here: the same session's events as
    /// another machine logged them, read back from a stream they share. The session is created (finished,
    /// with no run here) if it is unknown, so that a run started next continues their numbering and viewers
    /// here replay them. `first` must be the log's next seq, otherwise [`ImportError::Gap`]; a session with
    /// a run in progress here refuses ([`ImportError::Running`]). Nothing is appended on error. Returns the
    /// log's next seq after the import, once the events are readable by viewers.
    pub async fn import_events(&self, session_id: &str, first: Seq, lines: Vec<Bytes>) -> Result<Seq, ImportError> {
        let session = match self.session(session_id).await {
            Some(session) => session,
            None => {
                let mut slots = self.slots();
                match slots.get(session_id) {
                    Some(Slot::Loaded(session)) => session.clone(),
                    // remembered meanwhile by a run that began and ended: it is no longer new
                    Some(Slot::OnDisk(_)) => return Err(ImportError::Running(session_id.to_owned())),
                    None => {
                        let path = self.inner.instance.log_path(session_id);
                        let log = EventLog::create(session_id, path, self.inner.config.log, self.inner.writer.clone());
                        let now = unix_now();
                        let session = Arc::new(Session {
                            id: session_id.to_owned(),
                            log,
                            state: Mutex::new(SessionState {
                                meta: RunMeta {
                                    project_path: String::new(),
                                    command_type: CommandType::Execute,
                                    model: None,
                                    live: false,
                                    permission_mode: None,
                                    started_at: now,
                                },
                                lifecycle: Lifecycle::Finished {
                                    outcome: CompletionStatus::Success,
                                    finished_at: now,
                                    unexpected_exit: false,
                                },
                            }),
                            last_output_ms: AtomicU64::new(0),
                        });
                        slots.insert(session_id.to_owned(), Slot::Loaded(session.clone()));
                        session
                    }
                }
            }
        };
        // under the state's lock, so no run can begin between the check and the append
        let count = lines.len() as Seq;
        {
            let state = session.state();
            if !matches!(state.lifecycle, Lifecycle::Finished { .. }) {
                return Err(ImportError::Running(session_id.to_owned()));
            }
            session.log.append_numbered(first, lines).map_err(|expected| ImportError::Gap {
                session_id: session_id.to_owned(),
                expected,
                got: first,
            })?;
            // no run is live: the file is closed again once the events are in it
            session.log.set_live(false);
        }
        // returns once viewers can read them (they are in the file)
        let next = first + count;
        let mut status = session.log.watch();
        let _ = status.wait_for(|s| s.next_seq >= next).await;
        Ok(next)
    }

    /// Cancels the run in progress of `session_id`: SIGTERM to its process group, SIGKILL after the
    /// grace. The run then ends with `cancelled` + `completion(cancelled)`.
    pub fn cancel(&self, session_id: &str) -> Result<(), CancelError> {
        let session = match self.slots().get(session_id) {
            Some(Slot::Loaded(session)) => session.clone(),
            Some(Slot::OnDisk(_)) => return Err(CancelError::NotRunning(session_id.to_owned())),
            None => return Err(CancelError::NotFound(session_id.to_owned())),
        };
        let mut state = session.state();
        match &mut state.lifecycle {
            Lifecycle::Finished { .. } => return Err(CancelError::NotRunning(session_id.to_owned())),
            Lifecycle::Starting { cancel_requested } => *cancel_requested = true,
            Lifecycle::Running { control, cancel_requested, .. } => {
                *cancel_requested = true;
                control.cancel(self.inner.config.cancel_grace);
            }
        }
        tracing::info!(session_id, "cancel requested");
        Ok(())
    }

    async fn live_handle(&self, session_id: &str) -> Result<LiveHandle, ControlError> {
        match self.slots().get(session_id) {
            Some(Slot::Loaded(session)) => session.live_handle(),
            Some(Slot::OnDisk(_)) => Err(ControlError::NotLive(session_id.to_owned())),
            None => Err(ControlError::NotFound(session_id.to_owned())),
        }
    }

    /// A follow-up prompt for the live session: written to its process at once (logged as `user_prompt`)
    /// when no turn is running, else queued until the turn ends (`prompt_queued`). A `client_id` the
    /// session has seen makes it a no-op ([`PromptOutcome::Duplicate`]), so a resend is never delivered twice.
    pub async fn send_prompt(
        &self,
        session_id: &str,
        prompt: &str,
        client_id: Option<&str>,
    ) -> Result<PromptOutcome, ControlError> {
        self.send_prompt_with_images(session_id, prompt, client_id, Vec::new()).await
    }

    /// [`SessionRegistry::send_prompt`] with images for claude to see (checked first: a bad one is a
    /// [`ControlError::BadImage`] and nothing is sent or queued); with images the prompt may be empty.
    pub async fn send_prompt_with_images(
        &self,
        session_id: &str,
        prompt: &str,
        client_id: Option<&str>,
        images: Vec<opcode_proto::ImageAttachment>,
    ) -> Result<PromptOutcome, ControlError> {
        if prompt.trim().is_empty() && images.is_empty() {
            return Err(ControlError::EmptyPrompt);
        }
        opcode_proto::image::check_images(&images)?;
        if let Some(id) = client_id.filter(|id| !opcode_proto::control::valid_client_id(id)) {
            return Err(ControlError::BadClientId(id.to_owned()));
        }
        self.live_handle(session_id).await?.prompt(prompt.to_owned(), client_id.map(str::to_owned), images).await
    }

    /// Replaces the text of a prompt still queued in the live session.
    pub async fn edit_queued(&self, session_id: &str, client_id: &str, prompt: &str) -> Result<(), ControlError> {
        if prompt.trim().is_empty() {
            return Err(ControlError::EmptyPrompt);
        }
        self.live_handle(session_id).await?.edit_queued(client_id.to_owned(), prompt.to_owned()).await
    }

    /// Removes a prompt still queued in the live session (`prompt_unqueued`).
    pub async fn unqueue(&self, session_id: &str, client_id: &str) -> Result<(), ControlError> {
        self.live_handle(session_id).await?.unqueue(client_id.to_owned()).await
    }

    /// Answers a pending permission request; the first answer wins (`permission_resolved` is logged).
    /// Once this future has been polled, the answer is carried out even if it is then dropped.
    pub async fn answer_permission(
        &self,
        session_id: &str,
        request_id: &str,
        decision: PermissionDecision,
    ) -> Result<(), ControlError> {
        self.live_handle(session_id).await?.answer(request_id.to_owned(), decision).await
    }

    /// Interrupts the live session's current turn; the session stays usable.
    pub async fn interrupt(&self, session_id: &str) -> Result<(), ControlError> {
        self.live_handle(session_id).await?.interrupt().await
    }

    /// Switches the live session's model and/or permission mode between turns: claude gets `set_model` /
    /// `set_permission_mode` control requests and `settings_changed` is logged. An empty change or a bad
    /// model name is [`ControlError::BadSettings`], and so is `bypassPermissions` unless the server allows
    /// it (as for a start); while a turn runs, [`ControlError::TurnRunning`];
    /// nothing is sent in either case.
    pub async fn change_settings(
        &self,
        session_id: &str,
        change: opcode_proto::control::SettingsChange,
    ) -> Result<(), ControlError> {
        change.check().map_err(ControlError::BadSettings)?;
        if change.permission_mode == Some(PermissionMode::BypassPermissions)
            && !self.inner.config.allow_bypass_permissions
        {
            return Err(ControlError::BadSettings(StartError::BypassNotAllowed.to_string()));
        }
        let (model, mode) = (change.model.clone(), change.permission_mode);
        self.live_handle(session_id).await?.settings(change).await?;
        // the run's summary (`/api/sessions/running`) says what it runs with now
        if let Some(Slot::Loaded(session)) = self.slots().get(session_id) {
            let mut state = session.state();
            if model.is_some() {
                state.meta.model = model;
            }
            if mode.is_some() {
                state.meta.permission_mode = mode;
            }
        }
        Ok(())
    }

    /// Closes the live session's input: claude finishes and the run completes.
    pub async fn end_live(&self, session_id: &str) -> Result<(), ControlError> {
        self.live_handle(session_id).await?.end().await
    }

    /// A cursor over the session's events from seq `from` (0 = everything); `None` for an unknown
    /// session. A session only remembered on disk is loaded first.
    pub async fn subscribe(&self, session_id: &str, from: Seq) -> Option<Subscription> {
        self.session(session_id).await.map(|s| Subscription::new(s.log.clone(), from))
    }

    /// The number of events in the session's log (its next seq); `None` for an unknown session.
    pub async fn log_len(&self, session_id: &str) -> Option<Seq> {
        Some(self.session(session_id).await?.log.len())
    }

    /// Every event of the session so far; `None` for an unknown session.
    pub async fn events_so_far(&self, session_id: &str) -> Option<Result<Vec<Bytes>, LogError>> {
        let log = self.session(session_id).await?.log.clone();
        Some(blocking(move || log.read_all()).await)
    }

    /// Every known session, newest run first, with the health of runs in progress.
    pub async fn list(&self) -> Vec<RunSummary> {
        let mut probes = Vec::new();
        let mut list: Vec<RunSummary> = Vec::new();
        for slot in self.slots().values() {
            match slot {
                Slot::Loaded(session) => {
                    let (summary, probe) = session.summary();
                    if let Some((pid, waiting)) = probe {
                        probes.push((list.len(), pid, waiting, session.last_output_ms.load(Ordering::Relaxed)));
                    }
                    list.push(summary);
                }
                Slot::OnDisk(record) => list.push(summary_of(record)),
            }
        }
        if !probes.is_empty() {
            let usages = blocking(move || {
                probes
                    .into_iter()
                    .map(|(i, pid, w, out)| (i, opcode_proc::group_usage(pid), w, out))
                    .collect::<Vec<_>>()
            })
            .await;
            let now = unix_ms();
            for (i, usage, waiting_for_you, last_output) in usages {
                list[i].health = Some(RunHealth {
                    alive: usage.processes > 0,
                    processes: usage.processes,
                    cpu_seconds: usage.cpu_seconds,
                    rss_bytes: usage.rss_bytes,
                    seconds_since_output: now.saturating_sub(last_output) / 1000,
                    waiting_for_you,
                });
            }
        }
        list.sort_by(|a, b| b.started_at.cmp(&a.started_at).then_with(|| a.session_id.cmp(&b.session_id)));
        list
    }

    /// Number of runs in progress.
    pub fn running(&self) -> usize {
        self.inner.running.load(Ordering::SeqCst)
    }

    /// Sessions loaded in memory (the rest are only remembered, their logs on disk).
    pub fn loaded(&self) -> usize {
        self.slots().values().filter(|s| matches!(s, Slot::Loaded(_))).count()
    }

    /// Forgets sessions whose last run ended more than `finished_ttl` ago and deletes their logs.
    async fn evict_finished(&self) {
        let ttl = self.inner.config.finished_ttl.as_secs();
        let now = unix_now();
        let mut evicted = Vec::new();
        self.slots().retain(|id, slot| {
            let finished_at = match slot {
                Slot::Loaded(session) => match session.state().lifecycle {
                    Lifecycle::Finished { finished_at, .. } => Some(finished_at),
                    _ => None,
                },
                Slot::OnDisk(record) => record.finished_at,
            };
            let expired = finished_at.is_some_and(|at| at + ttl <= now);
            if expired {
                evicted.push(id.clone());
            }
            !expired
        });
        if evicted.is_empty() {
            return;
        }
        let count = evicted.len() as u64;
        let paths: Vec<PathBuf> = evicted.iter().map(|id| self.inner.instance.log_path(id)).collect();
        let store = self.inner.store.clone();
        blocking(move || {
            for path in &paths {
                tracing::debug!(path = %path.display(), "evicting finished session");
                let _ = std::fs::remove_file(path);
            }
            if let Err(err) = store.forget(&evicted) {
                tracing::warn!(%err, "could not forget evicted sessions");
            }
        })
        .await;
        self.inner.evicted.send_modify(|total| *total += count);
    }

    /// The announcer of `session`'s notable events.
    pub(crate) fn announcer(&self, session: &Session) -> Announcer {
        let project_path = session.state().meta.project_path.clone();
        Announcer::new(self.inner.notable.clone(), &session.id, &project_path)
    }

    /// Listens to the notable events of every session from now on (see [`crate::notable`]): permission
    /// requests and their answers, the ends of live turns, the ends of runs. Receiving is up to the
    /// listener; a listener more than [`NOTABLE_CAPACITY`] events behind loses the oldest. Nothing about
    /// a run waits for listeners.
    pub fn notable_events(&self) -> tokio::sync::broadcast::Receiver<NotableEvent> {
        self.inner.notable.subscribe()
    }

    /// The supervisor every child of this registry is spawned through, for features that run children of
    /// their own (git, an MCP server's test) under the same rules.
    pub fn supervisor(&self) -> Arc<dyn ProcessSupervisor> {
        self.inner.supervisor.clone()
    }

    /// Our own database, shared with features that keep state of their own in it (push subscriptions).
    /// Synchronous: call it from `spawn_blocking`.
    pub fn store(&self) -> Arc<Store> {
        self.inner.store.clone()
    }

    /// The number of sessions evicted so far (their logs deleted); changes after each eviction.
    pub fn evictions(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.evicted.subscribe()
    }

    /// Refuses new runs, cancels every run in progress (SIGTERM, SIGKILL after the grace) and waits
    /// until every process is reaped, every run has logged its completion and every log is on disk.
    /// The logs stay: a server started on the same data dir afterwards adopts and serves them.
    pub async fn shutdown(&self) {
        self.inner.closing.store(true, Ordering::SeqCst);
        let live: Vec<String> = self
            .slots()
            .iter()
            .filter(|(_, slot)| matches!(slot, Slot::Loaded(s) if s.is_running()))
            .map(|(id, _)| id.clone())
            .collect();
        for id in &live {
            let _ = self.cancel(id);
        }
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
        self.inner.writer.barrier().await;
        self.inner.instance.release();
        tracing::info!(cancelled = live.len(), "all runs ended");
    }

    /// Waits until every event appended so far is in its log file (for tests and benchmarks).
    pub async fn flushed(&self) {
        self.inner.writer.barrier().await;
    }

    /// This server's folder of event logs.
    pub fn logs_dir(&self) -> &Path {
        &self.inner.instance.dir
    }
}
