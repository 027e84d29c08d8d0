//! The agents service: agents in the store (on the blocking pool), runs through the session registry,
//! and one watcher task per run that follows its log to the `completion` and records the outcome.
//!
//! A watcher reads the session's log through a [`opcode_sessions::Subscription`] like any viewer (so it
//! never slows the run and misses nothing: it starts at the run's first seq). From each claude `result`
//! line it keeps the figures (claude reports the totals of its process: `duration_ms`, `usage`,
//! `total_cost_usd`); the `completion` gives the status. A watcher that dies with its server is
//! replaced at the next start ([`Agents::resume_watchers`]): it replays the log from the start, where
//! the restarted registry has already ended the run.

use std::sync::Arc;

use futures::StreamExt;
use opcode_proto::{ClaudeRequest, CompletionStatus, RequestError, RunOptions, Seq};
use opcode_sessions::{Runs, SessionRegistry, StartError};
use opcode_store::{AgentDraft, AgentRecord, AgentRunRecord, RunState, RunUsage, Store, StoreError};
use serde::Deserialize;
use serde_json::Value;

use crate::definition::{AgentDefinition, InvalidAgent};
use crate::file::{self, FileError};

/// Why an agent operation failed. Messages say what to change.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// The agent's fields do not check.
    #[error(transparent)]
    Invalid(#[from] InvalidAgent),
    /// An imported file is not an agent file.
    #[error(transparent)]
    File(#[from] FileError),
    /// No agent has this id.
    #[error("no agent {0}: it may have been deleted")]
    NotFound(i64),
    /// No agent run has this id.
    #[error("no agent run {0}")]
    RunNotFound(i64),
    /// A run was asked without a task and the agent has no default task.
    #[error("no task: give one, or set the agent's default task")]
    NoTask,
    /// The run's request does not check (too long a task, a model override that is not one).
    #[error(transparent)]
    Request(#[from] RequestError),
    /// The registry refused to start the run (no such project, outside the roots, limits).
    #[error(transparent)]
    Start(#[from] StartError),
    /// The store failed.
    #[error("the agents database failed: {0}")]
    Store(#[from] StoreError),
    /// A blocking task could not finish (the runtime is shutting down).
    #[error("the server is shutting down")]
    ShuttingDown,
}

/// A run of an agent, as a client asks for it. Unknown fields are refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunAgent {
    /// The project directory (absolute, existing, within the server's project roots).
    pub project_path: String,
    /// The task; the agent's default task when absent or empty.
    #[serde(default)]
    pub task: Option<String>,
    /// A live session (tools approved by viewers, follow-up prompts) instead of a one-shot run.
    #[serde(default)]
    pub live: bool,
    /// Another model for this run only.
    #[serde(default)]
    pub model: Option<String>,
}

/// Agents and their runs; cheap to clone.
#[derive(Debug, Clone)]
pub struct Agents {
    registry: SessionRegistry,
    /// Where runs start and are followed: the registry, or a cluster's workers.
    runs: Arc<dyn Runs>,
    store: Arc<Store>,
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, AgentError> {
    Ok(tokio::task::spawn_blocking(f).await.map_err(|_| AgentError::ShuttingDown)??)
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `unix` seconds as RFC 3339 (`2026-01-02T03:04:05Z`).
pub(crate) fn rfc3339(unix: u64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix as i64)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

impl Agents {
    /// The service over the registry's store (`<data_dir>/opcode.db`), starting and following runs through
    /// `runs` (the registry itself on a server on its own).
    pub fn new(registry: SessionRegistry, runs: Arc<dyn Runs>) -> Self {
        let store = registry.store();
        Agents { registry, runs, store }
    }

    /// Every agent, newest first.
    pub async fn list(&self) -> Result<Vec<AgentRecord>, AgentError> {
        let store = self.store.clone();
        blocking(move || store.agents()).await
    }

    /// Agent `id`.
    pub async fn get(&self, id: i64) -> Result<AgentRecord, AgentError> {
        let store = self.store.clone();
        blocking(move || store.agent(id)).await?.ok_or(AgentError::NotFound(id))
    }

    /// Checks `definition` and saves it as a new agent.
    pub async fn create(&self, definition: AgentDefinition) -> Result<AgentRecord, AgentError> {
        let draft = definition.validate()?;
        let store = self.store.clone();
        let agent = blocking(move || store.create_agent(&draft, unix_now())).await?;
        tracing::info!(agent = agent.id, name = %agent.draft.name, "agent created");
        Ok(agent)
    }

    /// Checks `definition` and replaces agent `id` with it.
    pub async fn update(&self, id: i64, definition: AgentDefinition) -> Result<AgentRecord, AgentError> {
        let draft = definition.validate()?;
        let store = self.store.clone();
        blocking(move || store.update_agent(id, &draft, unix_now())).await?.ok_or(AgentError::NotFound(id))
    }

    /// Deletes agent `id` (its runs stay in the history).
    pub async fn delete(&self, id: i64) -> Result<(), AgentError> {
        let store = self.store.clone();
        if blocking(move || store.delete_agent(id)).await? {
            tracing::info!(agent = id, "agent deleted");
            Ok(())
        } else {
            Err(AgentError::NotFound(id))
        }
    }

    /// Reads an agent file (Opcode's format) and saves its agent; a name already taken gets
    /// ` (Imported)` appended, as Opcode does.
    pub async fn import(&self, text: &str) -> Result<AgentRecord, AgentError> {
        let draft = file::read_agent_file(text)?;
        let store = self.store.clone();
        let agent = blocking(move || {
            let name =
                if store.agent_name_taken(&draft.name)? { format!("{} (Imported)", draft.name) } else { draft.name };
            store.create_agent(&AgentDraft { name, ..draft }, unix_now())
        })
        .await?;
        tracing::info!(agent = agent.id, name = %agent.draft.name, "agent imported");
        Ok(agent)
    }

    /// Agent `id` as an Opcode agent file: its file name and its text.
    pub async fn export(&self, id: i64) -> Result<(String, String), AgentError> {
        let agent = self.get(id).await?;
        Ok((file::file_name(&agent.draft.name), file::write_agent_file(&agent, &rfc3339(unix_now()))))
    }

    /// Starts agent `id` on a project: an `execute` with the agent's system prompt appended, its model (or
    /// the run's), permission mode and tool lists, as any session (limits, approvals, cancel, viewers).
    /// Returns the run, recorded as running; a watcher records how it ends.
    pub async fn run(&self, id: i64, run: RunAgent) -> Result<AgentRunRecord, AgentError> {
        let agent = self.get(id).await?;
        let task = run.task.filter(|t| !t.trim().is_empty()).or_else(|| agent.draft.default_task.clone());
        let task = task.ok_or(AgentError::NoTask)?;
        let model = run.model.filter(|m| !m.trim().is_empty()).unwrap_or_else(|| agent.draft.model.clone());
        let project_path = self.registry.check_project_path(&run.project_path).await?.display().to_string();
        let request = ClaudeRequest {
            command_type: "execute".into(),
            project_path: project_path.clone(),
            prompt: task.clone(),
            model: Some(model.clone()),
            session_id: None,
            include_partial_messages: true,
            live: run.live,
            permission_mode: agent.draft.permission_mode.map(|m| m.as_str().to_owned()),
            images: Vec::new(),
            run_options: Some(RunOptions {
                append_system_prompt: Some(agent.draft.system_prompt.clone()),
                allowed_tools: agent.draft.allowed_tools.clone(),
                disallowed_tools: agent.draft.disallowed_tools.clone(),
            }),
        }
        .validate()?;
        let started = self.runs.start_run(request).await?;
        let store = self.store.clone();
        let session_id = started.session_id.clone();
        let record = blocking(move || {
            store.agent_run_started(&agent, &session_id, &project_path, &task, &model, run.live, unix_now())
        })
        .await?;
        tracing::info!(agent = id, run = record.id, session_id = %record.session_id, "agent run started");
        self.watch(record.id, record.session_id.clone(), started.first_seq);
        Ok(record)
    }

    /// The runs of agent `id` (every agent's with `None`), newest first.
    pub async fn runs(&self, id: Option<i64>) -> Result<Vec<AgentRunRecord>, AgentError> {
        if let Some(id) = id {
            self.get(id).await?;
        }
        let store = self.store.clone();
        blocking(move || store.agent_runs(id)).await
    }

    /// Agent run `run_id`.
    pub async fn run_record(&self, run_id: i64) -> Result<AgentRunRecord, AgentError> {
        let store = self.store.clone();
        blocking(move || store.agent_run(run_id)).await?.ok_or(AgentError::RunNotFound(run_id))
    }

    /// Starts a watcher for every run still marked running (their watchers went with an earlier server).
    /// Call once at start-up, after the registry opened.
    pub async fn resume_watchers(&self) -> Result<usize, AgentError> {
        let store = self.store.clone();
        let runs = blocking(move || store.running_agent_runs()).await?;
        for run in &runs {
            self.watch(run.id, run.session_id.clone(), 0);
        }
        Ok(runs.len())
    }

    fn watch(&self, run_id: i64, session_id: String, from: Seq) {
        let agents = self.clone();
        tokio::spawn(async move {
            let outcome = agents.follow(run_id, &session_id, from).await;
            let status = match outcome {
                Ok(Some(status)) => status,
                Ok(None) => CompletionStatus::Error,
                Err(err) => {
                    tracing::warn!(run_id, session_id, %err, "could not follow the agent run");
                    CompletionStatus::Error
                }
            };
            let store = agents.store.clone();
            let ended = blocking(move || store.agent_run_ended(run_id, RunState::Ended(status), unix_now())).await;
            if let Err(err) = ended {
                tracing::warn!(run_id, %err, "could not record how the agent run ended");
            }
        });
    }

    /// Reads the session's events from `from` to the run's completion, recording the figures of each
    /// `result` line. Returns the completion's status (`None`: the log ended without one).
    async fn follow(&self, run_id: i64, session_id: &str, from: Seq) -> Result<Option<CompletionStatus>, AgentError> {
        let Some(mut batches) = self.runs.events(session_id, from, true).await else {
            tracing::warn!(run_id, session_id, "the agent run's session is gone");
            return Ok(None);
        };
        while let Some(batch) = batches.next().await {
            for frame in batch {
                let Ok(event) = serde_json::from_slice::<Value>(&frame) else { continue };
                match event["type"].as_str() {
                    Some("output") if event["content"]["type"] == "result" => {
                        let usage = usage_of(&event["content"]);
                        let store = self.store.clone();
                        blocking(move || store.agent_run_usage(run_id, &usage)).await?;
                    }
                    Some("completion") => {
                        return Ok(match event["status"].as_str() {
                            Some("success") => Some(CompletionStatus::Success),
                            Some("cancelled") => Some(CompletionStatus::Cancelled),
                            _ => Some(CompletionStatus::Error),
                        });
                    }
                    _ => {}
                }
            }
        }
        Ok(None)
    }
}

/// The figures of claude's `result` line (absent ones are 0).
fn usage_of(result: &Value) -> RunUsage {
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    let usage = &result["usage"];
    RunUsage {
        duration_ms: n(&result["duration_ms"]),
        input_tokens: n(&usage["input_tokens"]),
        output_tokens: n(&usage["output_tokens"]),
        cache_creation_tokens: n(&usage["cache_creation_input_tokens"]),
        cache_read_tokens: n(&usage["cache_read_input_tokens"]),
        cost_usd: result["total_cost_usd"].as_f64().unwrap_or(0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_lines_figures_are_read() {
        let result = serde_json::json!({"type":"result","duration_ms":1234,"total_cost_usd":0.015,
            "usage":{"input_tokens":10,"output_tokens":20,"cache_creation_input_tokens":3,"cache_read_input_tokens":4}});
        assert_eq!(
            usage_of(&result),
            RunUsage {
                duration_ms: 1234,
                input_tokens: 10,
                output_tokens: 20,
                cache_creation_tokens: 3,
                cache_read_tokens: 4,
                cost_usd: 0.015
            }
        );
        assert_eq!(usage_of(&serde_json::json!({"type":"result"})), RunUsage::default());
    }

    #[test]
    fn times_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
