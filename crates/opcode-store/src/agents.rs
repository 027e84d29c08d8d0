//! Agents (Opcode's "CC Agents": a named system prompt with a model, a permission mode and tool lists)
//! and the runs of agents.
//!
//! An agent run is a session like any other (its events are in the session's log, its process is the
//! registry's); the row here only ties that session to the agent and keeps what the run history shows:
//! where it ran, how it ended, how long it took, its tokens and its cost (from claude's `result` line).
//! Deleting an agent keeps its runs (their `agent_id` becomes `NULL`; the name and icon were copied).
//! Tool lists are stored one tool per line: a tool never holds a control character (checked by
//! `opcode_proto::request::is_tool_rule` before anything is saved).

use opcode_proto::PermissionMode;
use rusqlite::{params, OptionalExtension, Row};

use crate::{RunState, Store, StoreError};

/// What an agent is made of, as created or edited (no id, no timestamps). Validated by the caller.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AgentDraft {
    /// Its name (not empty).
    pub name: String,
    /// An icon name (`bot`, `shield`, `code`, …, as Opcode names them).
    pub icon: String,
    /// Appended to claude's system prompt on every run.
    pub system_prompt: String,
    /// The task a run starts with unless another is given.
    pub default_task: Option<String>,
    /// The model alias or name (`sonnet`, `opus`, …).
    pub model: String,
    /// The permission mode of its runs (`None`: the server's default for one-shot runs, `default` live).
    pub permission_mode: Option<PermissionMode>,
    /// Tools (or rules) its runs may use without asking.
    pub allowed_tools: Vec<String>,
    /// Tools (or rules) its runs must not use.
    pub disallowed_tools: Vec<String>,
    /// Opcode's `hooks` (a JSON text), kept so an imported agent exports as it came.
    pub hooks: Option<String>,
}

/// A saved agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRecord {
    /// Its id (a positive integer, never reused while the database lives).
    pub id: i64,
    /// What it is made of.
    pub draft: AgentDraft,
    /// Unix seconds of its creation.
    pub created_at: u64,
    /// Unix seconds of its latest edit.
    pub updated_at: u64,
}

/// One run of an agent.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentRunRecord {
    /// The run's id.
    pub id: i64,
    /// The agent's id (`None` once the agent was deleted).
    pub agent_id: Option<i64>,
    /// The agent's name when the run started.
    pub agent_name: String,
    /// The agent's icon when the run started.
    pub agent_icon: String,
    /// The session the run is (claude's session id).
    pub session_id: String,
    /// The project directory.
    pub project_path: String,
    /// The task it was given.
    pub task: String,
    /// The model asked for.
    pub model: String,
    /// A live session (several turns, tools approved by viewers) or a one-shot run.
    pub live: bool,
    /// Where it stands.
    pub status: RunState,
    /// Unix seconds when it started.
    pub started_at: u64,
    /// Unix seconds when it ended.
    pub ended_at: Option<u64>,
    /// What the run's `result` lines said, summed over its turns (`None` until one came).
    pub usage: Option<RunUsage>,
}

/// What claude's `result` line(s) of a run reported.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RunUsage {
    /// `duration_ms`: claude's own time for the turns.
    pub duration_ms: u64,
    /// Input tokens (not from the cache).
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Tokens written to the prompt cache.
    pub cache_creation_tokens: u64,
    /// Tokens read from the prompt cache.
    pub cache_read_tokens: u64,
    /// `total_cost_usd`.
    pub cost_usd: f64,
}

fn tools_text(tools: &[String]) -> String {
    tools.join("\n")
}

fn tools_of(text: String) -> Vec<String> {
    text.lines().filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

fn read_agent(row: &Row<'_>) -> rusqlite::Result<Result<AgentRecord, StoreError>> {
    let id: i64 = row.get("id")?;
    let mode: Option<String> = row.get("permission_mode")?;
    let permission_mode = match mode.as_deref().map(|m| PermissionMode::from_name(m).ok_or(m)) {
        None => None,
        Some(Ok(mode)) => Some(mode),
        Some(Err(_)) => return Ok(Err(StoreError::BadRow(format!("agent {id} (permission_mode)")))),
    };
    Ok(Ok(AgentRecord {
        id,
        draft: AgentDraft {
            name: row.get("name")?,
            icon: row.get("icon")?,
            system_prompt: row.get("system_prompt")?,
            default_task: row.get("default_task")?,
            model: row.get("model")?,
            permission_mode,
            allowed_tools: tools_of(row.get("allowed_tools")?),
            disallowed_tools: tools_of(row.get("disallowed_tools")?),
            hooks: row.get("hooks")?,
        },
        created_at: row.get::<_, i64>("created_at")? as u64,
        updated_at: row.get::<_, i64>("updated_at")? as u64,
    }))
}

fn read_run(row: &Row<'_>) -> rusqlite::Result<Result<AgentRunRecord, StoreError>> {
    let id: i64 = row.get("id")?;
    let status: String = row.get("status")?;
    let Some(status) = RunState::from_name(&status) else {
        return Ok(Err(StoreError::BadRow(format!("agent run {id} (status)"))));
    };
    let cost: Option<f64> = row.get("cost_usd")?;
    let usage = match cost {
        None => None,
        Some(cost_usd) => Some(RunUsage {
            duration_ms: row.get::<_, i64>("duration_ms")? as u64,
            input_tokens: row.get::<_, i64>("input_tokens")? as u64,
            output_tokens: row.get::<_, i64>("output_tokens")? as u64,
            cache_creation_tokens: row.get::<_, i64>("cache_creation_tokens")? as u64,
            cache_read_tokens: row.get::<_, i64>("cache_read_tokens")? as u64,
            cost_usd,
        }),
    };
    Ok(Ok(AgentRunRecord {
        id,
        agent_id: row.get("agent_id")?,
        agent_name: row.get("agent_name")?,
        agent_icon: row.get("agent_icon")?,
        session_id: row.get("session_id")?,
        project_path: row.get("project_path")?,
        task: row.get("task")?,
        model: row.get("model")?,
        live: row.get("live")?,
        status,
        started_at: row.get::<_, i64>("started_at")? as u64,
        ended_at: row.get::<_, Option<i64>>("ended_at")?.map(|t| t as u64),
        usage,
    }))
}

fn collect<T>(rows: impl Iterator<Item = rusqlite::Result<Result<T, StoreError>>>) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::new();
    for row in rows {
        out.push(row??);
    }
    Ok(out)
}

impl Store {
    /// Saves a new agent (created and updated `now`) and returns it.
    pub fn create_agent(&self, draft: &AgentDraft, now: u64) -> Result<AgentRecord, StoreError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO agents (name, icon, system_prompt, default_task, model, permission_mode, allowed_tools,
                disallowed_tools, hooks, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
            params![
                draft.name,
                draft.icon,
                draft.system_prompt,
                draft.default_task,
                draft.model,
                draft.permission_mode.map(PermissionMode::as_str),
                tools_text(&draft.allowed_tools),
                tools_text(&draft.disallowed_tools),
                draft.hooks,
                now as i64
            ],
        )?;
        let id = conn.last_insert_rowid();
        Ok(AgentRecord { id, draft: draft.clone(), created_at: now, updated_at: now })
    }

    /// Replaces what agent `id` is made of. Returns the saved agent, or `None` when there is no such agent.
    pub fn update_agent(&self, id: i64, draft: &AgentDraft, now: u64) -> Result<Option<AgentRecord>, StoreError> {
        let changed = self.conn().execute(
            "UPDATE agents SET name = ?2, icon = ?3, system_prompt = ?4, default_task = ?5, model = ?6,
                permission_mode = ?7, allowed_tools = ?8, disallowed_tools = ?9, hooks = ?10, updated_at = ?11
             WHERE id = ?1",
            params![
                id,
                draft.name,
                draft.icon,
                draft.system_prompt,
                draft.default_task,
                draft.model,
                draft.permission_mode.map(PermissionMode::as_str),
                tools_text(&draft.allowed_tools),
                tools_text(&draft.disallowed_tools),
                draft.hooks,
                now as i64
            ],
        )?;
        if changed == 0 {
            return Ok(None);
        }
        self.agent(id)
    }

    /// Deletes agent `id` (its runs stay, without it). Returns whether there was one.
    pub fn delete_agent(&self, id: i64) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute("UPDATE agent_runs SET agent_id = NULL WHERE agent_id = ?1", [id])?;
        let deleted = tx.execute("DELETE FROM agents WHERE id = ?1", [id])? == 1;
        tx.commit()?;
        Ok(deleted)
    }

    /// Agent `id`, if it exists.
    pub fn agent(&self, id: i64) -> Result<Option<AgentRecord>, StoreError> {
        let conn = self.conn();
        conn.query_row("SELECT * FROM agents WHERE id = ?1", [id], read_agent).optional()?.transpose()
    }

    /// Every agent, newest first.
    pub fn agents(&self) -> Result<Vec<AgentRecord>, StoreError> {
        let conn = self.conn();
        let mut statement = conn.prepare("SELECT * FROM agents ORDER BY created_at DESC, id DESC")?;
        let rows = statement.query_map([], read_agent)?;
        collect(rows)
    }

    /// Whether an agent is named `name`.
    pub fn agent_name_taken(&self, name: &str) -> Result<bool, StoreError> {
        let conn = self.conn();
        Ok(conn.query_row("SELECT EXISTS(SELECT 1 FROM agents WHERE name = ?1)", [name], |row| row.get(0))?)
    }

    /// Records that a run of `agent` started as session `session_id` (status running). Returns the run.
    #[allow(clippy::too_many_arguments)]
    pub fn agent_run_started(
        &self,
        agent: &AgentRecord,
        session_id: &str,
        project_path: &str,
        task: &str,
        model: &str,
        live: bool,
        started_at: u64,
    ) -> Result<AgentRunRecord, StoreError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO agent_runs (agent_id, agent_name, agent_icon, session_id, project_path, task, model, live,
                status, started_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                agent.id,
                agent.draft.name,
                agent.draft.icon,
                session_id,
                project_path,
                task,
                model,
                live,
                RunState::Running.as_str(),
                started_at as i64
            ],
        )?;
        let id = conn.last_insert_rowid();
        Ok(AgentRunRecord {
            id,
            agent_id: Some(agent.id),
            agent_name: agent.draft.name.clone(),
            agent_icon: agent.draft.icon.clone(),
            session_id: session_id.to_owned(),
            project_path: project_path.to_owned(),
            task: task.to_owned(),
            model: model.to_owned(),
            live,
            status: RunState::Running,
            started_at,
            ended_at: None,
            usage: None,
        })
    }

    /// Records what the run's `result` lines reported so far (replacing the earlier figures).
    pub fn agent_run_usage(&self, run_id: i64, usage: &RunUsage) -> Result<bool, StoreError> {
        let changed = self.conn().execute(
            "UPDATE agent_runs SET duration_ms = ?2, input_tokens = ?3, output_tokens = ?4,
                cache_creation_tokens = ?5, cache_read_tokens = ?6, cost_usd = ?7 WHERE id = ?1",
            params![
                run_id,
                usage.duration_ms as i64,
                usage.input_tokens as i64,
                usage.output_tokens as i64,
                usage.cache_creation_tokens as i64,
                usage.cache_read_tokens as i64,
                usage.cost_usd
            ],
        )?;
        Ok(changed == 1)
    }

    /// Records how run `run_id` ended. Returns false if there is no such run.
    pub fn agent_run_ended(&self, run_id: i64, status: RunState, ended_at: u64) -> Result<bool, StoreError> {
        let changed = self.conn().execute(
            "UPDATE agent_runs SET status = ?2, ended_at = ?3 WHERE id = ?1",
            params![run_id, status.as_str(), ended_at as i64],
        )?;
        Ok(changed == 1)
    }

    /// Run `run_id`, if it exists.
    pub fn agent_run(&self, run_id: i64) -> Result<Option<AgentRunRecord>, StoreError> {
        let conn = self.conn();
        conn.query_row("SELECT * FROM agent_runs WHERE id = ?1", [run_id], read_run).optional()?.transpose()
    }

    /// The runs of agent `agent_id` (every agent's with `None`), newest first.
    pub fn agent_runs(&self, agent_id: Option<i64>) -> Result<Vec<AgentRunRecord>, StoreError> {
        let conn = self.conn();
        let mut statement = conn
            .prepare("SELECT * FROM agent_runs WHERE ?1 IS NULL OR agent_id = ?1 ORDER BY started_at DESC, id DESC")?;
        let rows = statement.query_map([agent_id], read_run)?;
        collect(rows)
    }

    /// The runs still marked running (their watcher may have gone with a server), oldest first.
    pub fn running_agent_runs(&self) -> Result<Vec<AgentRunRecord>, StoreError> {
        let conn = self.conn();
        let mut statement = conn.prepare("SELECT * FROM agent_runs WHERE status = 'running' ORDER BY id")?;
        let rows = statement.query_map([], read_run)?;
        collect(rows)
    }
}

#[cfg(test)]
mod tests {
    use opcode_proto::CompletionStatus;

    use super::*;

    fn draft(name: &str) -> AgentDraft {
        AgentDraft {
            name: name.into(),
            icon: "shield".into(),
            system_prompt: "You review code.".into(),
            default_task: Some("Review the diff.".into()),
            model: "opus".into(),
            permission_mode: Some(PermissionMode::Plan),
            allowed_tools: vec!["Read".into(), "Bash(git diff:*)".into()],
            disallowed_tools: vec!["WebFetch".into()],
            hooks: None,
        }
    }

    #[test]
    fn agents_are_saved_edited_listed_and_deleted_and_their_runs_outlive_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("opcode.db");
        let (a, run) = {
            let store = Store::open(&path).unwrap();
            let a = store.create_agent(&draft("Reviewer"), 10).unwrap();
            let b = store.create_agent(&AgentDraft { allowed_tools: vec![], ..draft("Tester") }, 20).unwrap();
            assert_eq!(store.agents().unwrap().iter().map(|a| a.id).collect::<Vec<_>>(), [b.id, a.id]);
            assert!(store.agent_name_taken("Reviewer").unwrap() && !store.agent_name_taken("Other").unwrap());
            let run = store.agent_run_started(&a, "s-1", "/p", "Review the diff.", "opus", false, 30).unwrap();
            (a, run)
        };
        let store = Store::open(&path).unwrap();
        assert_eq!(store.agent(a.id).unwrap().unwrap(), a);
        let edited = AgentDraft { name: "Reviewer 2".into(), permission_mode: None, ..draft("x") };
        let saved = store.update_agent(a.id, &edited, 40).unwrap().unwrap();
        assert_eq!((saved.draft.name.as_str(), saved.created_at, saved.updated_at), ("Reviewer 2", 10, 40));
        assert_eq!(store.update_agent(999, &edited, 40).unwrap(), None);

        assert_eq!(store.running_agent_runs().unwrap(), std::slice::from_ref(&run));
        let usage =
            RunUsage { duration_ms: 1500, input_tokens: 7, output_tokens: 9, cost_usd: 0.25, ..RunUsage::default() };
        assert!(store.agent_run_usage(run.id, &usage).unwrap());
        assert!(store.agent_run_ended(run.id, RunState::Ended(CompletionStatus::Success), 32).unwrap());
        assert!(store.running_agent_runs().unwrap().is_empty());

        assert!(store.delete_agent(a.id).unwrap());
        assert!(!store.delete_agent(a.id).unwrap());
        let kept = store.agent_run(run.id).unwrap().unwrap();
        assert_eq!((kept.agent_id, kept.agent_name.as_str()), (None, "Reviewer"));
        assert_eq!((kept.usage, kept.ended_at), (Some(usage), Some(32)));
        assert_eq!(store.agent_runs(None).unwrap().len(), 1);
        assert!(store.agent_runs(Some(a.id)).unwrap().is_empty());
    }
}
