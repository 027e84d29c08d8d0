//! Agents (Opcode's "CC Agents"): a name, an icon, a system prompt, a default task, a model, a permission
//! mode and tool lists, saved in `opcode-store`, and run on a project as sessions like any other.
//!
//! - [`definition`]: what a client may send to create or edit an agent, checked into an
//!   [`opcode_store::AgentDraft`] (nothing reaches the store unchecked);
//! - [`file`]: Opcode's agent files (`.opcode.json`, `{version: 1, exported_at, agent: {…}}`), read and
//!   written so agents travel between Opcode and opcode-web;
//! - [`view`]: the JSON clients read;
//! - [`Agents`]: the service the server's routes call. Store work runs on the blocking pool. A run is an
//!   `execute` through [`opcode_sessions::Runs::start_run`] (the registry, or a cluster's workers) with
//!   the agent's settings as the
//!   CLI's own flags (`--append-system-prompt`, `--model`, `--permission-mode`, `--allowedTools`,
//!   `--disallowedTools`); a watcher task follows the session's log to the run's `completion` and
//!   records its status, duration, tokens and cost. Runs belong to the registry (or a worker), not to a
//!   browser.
//!
//! **Invariant:** nothing here spawns a process or knows HTTP; every run goes through
//! [`opcode_sessions::Runs`], so it has the same limits, approvals, cancel and viewers as any session.
#![warn(missing_docs)]

pub mod definition;
pub mod file;
mod service;
pub mod view;

pub use service::{AgentError, Agents, RunAgent};
