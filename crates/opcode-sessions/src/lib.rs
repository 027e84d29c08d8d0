//! Sessions: maps session ids to supervised claude runs, numbers their events, keeps them, and fans them
//! out to any number of viewers with replay.
//!
//! - [`SessionRegistry`] starts runs ([`SessionRegistry::start_run`]), cancels them, enforces the limits
//!   (one live run per session id, a cap on concurrent runs), evicts finished sessions, and shuts down.
//! - [`EventLog`] is one session's numbered log: a bounded tail in memory, everything on disk.
//! - [`Subscription`] is a viewer's cursor into a log: it reads by `seq`, so it can never see a gap or a
//!   duplicate, and a slow viewer falls back to the disk instead of blocking anyone or losing anything.
//! - live sessions (`live.rs`): one claude process across turns, driven through its stdin; tool
//!   permission requests become events any viewer can answer.
//! - [`claude_store`] reads Claude's own files (`~/.claude/projects`): projects, sessions, history pages;
//!   [`claude_config`] its settings, `CLAUDE.md` and custom slash commands; [`commands`] the slash
//!   commands of a project for a composer's menu (built-in, user, project); [`claude_md`] finds, reads
//!   and writes (confined, with a version check) the `CLAUDE.md` memory files of a project and the user;
//! - [`notable`]: a broadcast of the few moments worth telling a person who is away (a permission
//!   request, the end of a turn or run), for a notifier to listen to;
//! - [`claude_mcp`]: MCP servers of every scope, read from the CLI's files and changed through
//!   `claude mcp …`; tested with a JSON-RPC handshake;
//! - [`claude_timeline`]: a session's turns (prompts, tools, files changed, checkpoints) from its transcript;
//! - [`claude_rewind`]: what restoring a session's file checkpoint would change (diffs), and the CLI's
//!   `--rewind-files` that does it;
//! - [`claude_info`] asks the claude binary about itself (`--version`, through the supervisor) and lists
//!   the installations found on the machine.
//!
//! **Architecture invariant:** this crate knows nothing of HTTP, WebSockets or auth tokens; nothing but
//! the registry's run task assigns a `seq`.
#![warn(missing_docs)]

pub mod claude_cli;
pub mod claude_config;
pub mod claude_info;
pub mod claude_mcp;
pub mod claude_md;
pub mod claude_permissions;
pub mod claude_rewind;
pub mod claude_store;
pub mod claude_timeline;
pub mod commands;
mod error;
mod instance;
mod live;
mod log;
pub mod notable;
mod registry;
mod run;
mod runs;
mod subscription;
mod writer;

pub use error::{
    CancelError, ControlError, DiscoveryError, EventsError, ImportError, LogError, OpenError, StartError, StoreError,
};
pub use live::PromptOutcome;
pub use log::{EventLog, LogConfig};
pub use registry::{
    EventSink, RegistryConfig, RunHealth, RunStatus, RunSummary, SessionRegistry, StartedRun, RESTART_MESSAGE,
};
pub use runs::{subscription_batches, EventBatches, Runs};
pub use subscription::Subscription;
