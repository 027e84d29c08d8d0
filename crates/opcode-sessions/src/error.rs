//! Errors of the sessions layer, one enum per operation; messages say what the user can do.

use std::path::PathBuf;

/// Why a run was not started. When this is returned, no process was spawned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// `project_path` does not exist or is not a directory.
    #[error("project_path {0} is not an existing directory")]
    ProjectNotFound(PathBuf),
    /// `project_path` is outside every configured project root.
    #[error("project_path {path} is outside the allowed project roots ({roots})")]
    OutsideProjectRoots {
        /// The path asked for.
        path: PathBuf,
        /// The roots, comma separated.
        roots: String,
    },
    /// The session already has a live run; two processes must never write one transcript.
    #[error("session {0} already has a run in progress: wait for it to finish or cancel it first")]
    AlreadyRunning(String),
    /// The cap on concurrent runs is reached.
    #[error(
        "{limit} runs are already in progress (the server's --max-sessions): wait for one to finish or cancel one"
    )]
    TooManyRuns {
        /// The cap.
        limit: usize,
    },
    /// `continue` found no earlier session in that project.
    #[error("there is no earlier session to continue in {0}: start one with execute")]
    NothingToContinue(PathBuf),
    /// `bypassPermissions` was asked for but the server does not allow it.
    #[error("permission_mode bypassPermissions is disabled on this server (start it with --allow-bypass-permissions)")]
    BypassNotAllowed,
    /// The server is shutting down.
    #[error("the server is shutting down and starts no new runs")]
    ShuttingDown,
    /// More runs were started in the last minute than the server allows.
    #[error("{limit} runs were started in the last minute (the server's --max-runs-per-minute): try again in {retry_after_secs} s")]
    RateLimited {
        /// The cap per minute.
        limit: u32,
        /// Seconds until a run may start.
        retry_after_secs: u64,
    },
    /// The session's event log could not be created.
    #[error("could not create the event log of session {session_id}")]
    Log {
        /// The session.
        session_id: String,
        /// What failed.
        #[source]
        source: LogError,
    },
    /// Another machine refused it (a cluster's worker), for the reason `refusal`.
    #[error("{message}")]
    Refused {
        /// Why, as a kind the server turns into a status.
        refusal: opcode_proto::cluster::Refusal,
        /// The refusal's message, for the user.
        message: String,
    },
}

/// Why events numbered elsewhere were not imported into a session's log. Nothing was appended.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The session has a run in progress here: its own events are being numbered.
    #[error("session {0} has a run in progress here; its events cannot be imported now")]
    Running(String),
    /// The events do not continue the log where it stands.
    #[error("the events of session {session_id} start at seq {got}, but its log here continues at {expected}")]
    Gap {
        /// The session.
        session_id: String,
        /// The seq the log expects next.
        expected: u64,
        /// The first seq offered.
        got: u64,
    },
}

/// Why a cancel did nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CancelError {
    /// No session with that id is known.
    #[error("no session {0} is known to this server")]
    NotFound(String),
    /// The session is known but its run already finished.
    #[error("session {0} has no run in progress (it already finished)")]
    NotRunning(String),
    /// Another machine refused it (a cluster's worker), for the reason `refusal`.
    #[error("{message}")]
    Refused {
        /// Why, as a kind the server turns into a status.
        refusal: opcode_proto::cluster::Refusal,
        /// The refusal's message, for the user.
        message: String,
    },
}

/// A failure of the on-disk event log.
#[derive(Debug, thiserror::Error)]
#[error("event log {path}: {action} failed")]
pub struct LogError {
    /// The log file.
    pub path: PathBuf,
    /// What was being done (create, append, read).
    pub action: &'static str,
    /// The OS error.
    #[source]
    pub source: std::io::Error,
}

/// Why a session's events so far could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EventsError {
    /// This machine's event log of the session.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The cluster's event stream (a replica's read through the bus).
    #[error("reading the events of session {session_id} from the cluster failed: {message}")]
    Cluster {
        /// The session.
        session_id: String,
        /// What failed.
        message: String,
    },
}

/// Why Claude's files could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A project id that is not a Claude project folder name (only letters, digits, `-`, `_`).
    #[error("{0:?} is not a valid project id")]
    BadProjectId(String),
    /// A session id that is not a UUID.
    #[error("{0:?} is not a valid session id (a UUID)")]
    BadSessionId(String),
    /// The project or session does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// A history cursor that is not at a line boundary.
    #[error("before={0} is not a line boundary of the transcript: use the next_before of a previous page")]
    BadCursor(u64),
    /// A file of Claude's that is not in the format Claude writes (or is too large to be one).
    #[error("{path} is unreadable: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Reading failed.
    #[error("reading {path} failed")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Why a control message to a live session did nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ControlError {
    /// No session with that id is known.
    #[error("no session {0} is known to this server")]
    NotFound(String),
    /// The session has no live run in progress.
    #[error("session {0} is not a live session in progress (start one with \"live\": true)")]
    NotLive(String),
    /// The permission request was already answered, timed out, or never existed.
    #[error("permission request {0} is not pending (already answered or expired)")]
    NotPending(String),
    /// The follow-up prompt is empty.
    #[error("prompt is empty: send the text for claude in \"prompt\"")]
    EmptyPrompt,
    /// No queued prompt has that client id (it went out already, or was removed).
    #[error("no queued prompt has client id {0:?} (it was sent already, or removed)")]
    NotQueued(String),
    /// A client id that is empty, too long or has control characters.
    #[error("client_id {0:?} is not valid: use 1 to 128 printable characters")]
    BadClientId(String),
    /// Claude has stopped reading its input and its queue is full; nothing was sent.
    #[error("session {0}: claude is not reading its input (it may be stuck); nothing was sent: try again later or cancel the run")]
    InputStalled(String),
    /// A turn is running (or waits for a permission answer): settings change between turns only.
    #[error("session {0}: between turns only: the model and permission mode change when no turn is running (wait for the result, or interrupt)")]
    TurnRunning(String),
    /// A settings change that is empty or names an invalid model; nothing was sent.
    #[error("{0}")]
    BadSettings(String),
    /// An image sent with the prompt does not check; nothing was sent or queued.
    #[error(transparent)]
    BadImage(#[from] opcode_proto::ImageError),
    /// Another machine refused it (a cluster's worker), for the reason `refusal`.
    #[error("{message}")]
    Refused {
        /// Why, as a kind the server turns into a status.
        refusal: opcode_proto::cluster::Refusal,
        /// The refusal's message, for the user.
        message: String,
    },
}

/// Why the registry could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The data dir or this server's log folder could not be set up.
    #[error("cannot set up {path} (check that the data dir is writable)")]
    DataDir {
        /// The folder or file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The database of remembered runs could not be opened.
    #[error(transparent)]
    Store(#[from] opcode_store::StoreError),
}

/// Why the claude binary could not be found.
#[derive(Debug, thiserror::Error)]
#[error("claude binary not found; tried: {}. Install Claude Code (npm install -g @anthropic-ai/claude-code) or pass --claude-bin / OPCODE_CLAUDE_BIN", .tried.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
pub struct DiscoveryError {
    /// Every path that was looked at, in order.
    pub tried: Vec<PathBuf>,
}
