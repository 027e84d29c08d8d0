//! Remembered runs: one row per session, written when a run starts and when it ends.

use opcode_proto::{CommandType, CompletionStatus, PermissionMode};
use rusqlite::{params, OptionalExtension, Row};

use crate::{Store, StoreError};

/// Where a remembered run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    /// Started and not known to have ended (after a crash, it ended with the server).
    Running,
    /// Ended, with this status.
    Ended(CompletionStatus),
}

impl RunState {
    /// Its name: `running`, `success`, `error` or `cancelled`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Ended(CompletionStatus::Success) => "success",
            RunState::Ended(CompletionStatus::Error) => "error",
            RunState::Ended(CompletionStatus::Cancelled) => "cancelled",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "running" => RunState::Running,
            "success" => RunState::Ended(CompletionStatus::Success),
            "error" => RunState::Ended(CompletionStatus::Error),
            "cancelled" => RunState::Ended(CompletionStatus::Cancelled),
            _ => return None,
        })
    }
}

/// What the server remembers of a session's latest run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRecord {
    /// The session id (claude's).
    pub session_id: String,
    /// The server instance whose log folder holds the session's event log.
    pub instance: String,
    /// The project directory.
    pub project_path: String,
    /// The command of the latest run.
    pub command_type: CommandType,
    /// The model asked for.
    pub model: Option<String>,
    /// Whether the latest run was a live session.
    pub live: bool,
    /// The permission mode asked for.
    pub permission_mode: Option<PermissionMode>,
    /// Unix seconds when the latest run started.
    pub started_at: u64,
    /// Unix seconds when it ended, if it did.
    pub finished_at: Option<u64>,
    /// Where it stands.
    pub state: RunState,
    /// Events in the session's log when it was last written.
    pub events: u64,
    /// The run's process ended without being asked to (a live session whose claude died, a run the
    /// server's restart cut short): it can be resumed.
    pub unexpected_exit: bool,
}

/// How a run ended, as [`Store::run_ended`] records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunEnd {
    /// The completion status.
    pub status: CompletionStatus,
    /// Unix seconds.
    pub finished_at: u64,
    /// Events in the log after the completion.
    pub events: u64,
    /// See [`RunRecord::unexpected_exit`].
    pub unexpected_exit: bool,
}

fn command_from(name: &str) -> Option<CommandType> {
    [CommandType::Execute, CommandType::Continue, CommandType::Resume].into_iter().find(|c| c.as_str() == name)
}

fn read_row(row: &Row<'_>) -> rusqlite::Result<Result<RunRecord, StoreError>> {
    let session_id: String = row.get("session_id")?;
    let bad = |what: &str| StoreError::BadRow(format!("{session_id} ({what})"));
    let command: String = row.get("command_type")?;
    let state: String = row.get("state")?;
    let mode: Option<String> = row.get("permission_mode")?;
    let record = (|| -> Result<RunRecord, StoreError> {
        Ok(RunRecord {
            instance: row.get("instance")?,
            project_path: row.get("project_path")?,
            command_type: command_from(&command).ok_or_else(|| bad("command_type"))?,
            model: row.get("model")?,
            live: row.get("live")?,
            permission_mode: match mode {
                None => None,
                Some(name) => Some(PermissionMode::from_name(&name).ok_or_else(|| bad("permission_mode"))?),
            },
            started_at: row.get::<_, i64>("started_at")? as u64,
            finished_at: row.get::<_, Option<i64>>("finished_at")?.map(|t| t as u64),
            state: RunState::from_name(&state).ok_or_else(|| bad("state"))?,
            events: row.get::<_, i64>("events")? as u64,
            unexpected_exit: row.get("unexpected_exit")?,
            session_id: session_id.clone(),
        })
    })();
    Ok(record)
}

impl Store {
    /// Records that a run of `record.session_id` started (replacing what was remembered of earlier runs).
    pub fn run_started(&self, record: &RunRecord) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT OR REPLACE INTO runs (session_id, instance, project_path, command_type, model, live,
                permission_mode, started_at, finished_at, state, events, unexpected_exit)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                record.session_id,
                record.instance,
                record.project_path,
                record.command_type.as_str(),
                record.model,
                record.live,
                record.permission_mode.map(PermissionMode::as_str),
                record.started_at as i64,
                record.finished_at.map(|t| t as i64),
                record.state.as_str(),
                record.events as i64,
                record.unexpected_exit,
            ],
        )?;
        Ok(())
    }

    /// Records how the latest run of `session_id` ended. Returns false if the session is not remembered.
    pub fn run_ended(&self, session_id: &str, end: &RunEnd) -> Result<bool, StoreError> {
        let changed = self.conn().execute(
            "UPDATE runs SET state = ?2, finished_at = ?3, events = ?4, unexpected_exit = ?5 WHERE session_id = ?1",
            params![
                session_id,
                RunState::Ended(end.status).as_str(),
                end.finished_at as i64,
                end.events as i64,
                end.unexpected_exit
            ],
        )?;
        Ok(changed == 1)
    }

    /// The remembered run of `session_id`, if any.
    pub fn run(&self, session_id: &str) -> Result<Option<RunRecord>, StoreError> {
        let conn = self.conn();
        let found = conn.query_row("SELECT * FROM runs WHERE session_id = ?1", [session_id], read_row).optional()?;
        found.transpose()
    }

    /// Every run whose log belongs to `instance`, oldest start first.
    pub fn runs_of(&self, instance: &str) -> Result<Vec<RunRecord>, StoreError> {
        let conn = self.conn();
        let mut statement = conn.prepare("SELECT * FROM runs WHERE instance = ?1 ORDER BY started_at, session_id")?;
        let rows = statement.query_map([instance], read_row)?;
        let mut runs = Vec::new();
        for row in rows {
            runs.push(row??);
        }
        Ok(runs)
    }

    /// Hands every run of instance `from` (a server that is gone) to instance `to`. Returns how many.
    pub fn adopt(&self, from: &str, to: &str) -> Result<usize, StoreError> {
        Ok(self.conn().execute("UPDATE runs SET instance = ?2 WHERE instance = ?1", params![from, to])?)
    }

    /// Forgets the runs of these sessions (their logs are gone). Returns how many were remembered.
    pub fn forget(&self, session_ids: &[String]) -> Result<usize, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut forgotten = 0;
        {
            let mut statement = tx.prepare("DELETE FROM runs WHERE session_id = ?1")?;
            for id in session_ids {
                forgotten += statement.execute([id])?;
            }
        }
        tx.commit()?;
        Ok(forgotten)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, instance: &str, started_at: u64) -> RunRecord {
        RunRecord {
            session_id: id.into(),
            instance: instance.into(),
            project_path: "/p".into(),
            command_type: CommandType::Resume,
            model: Some("opus".into()),
            live: true,
            permission_mode: Some(PermissionMode::AcceptEdits),
            started_at,
            finished_at: None,
            state: RunState::Running,
            events: 1,
            unexpected_exit: false,
        }
    }

    #[test]
    fn runs_are_remembered_across_opens_and_end_once_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data/opcode.db");
        {
            let store = Store::open(&path).unwrap();
            store.run_started(&record("a", "i1", 10)).unwrap();
            store.run_started(&record("b", "i1", 5)).unwrap();
            store.run_started(&record("c", "i2", 7)).unwrap();
            let end = RunEnd { status: CompletionStatus::Cancelled, finished_at: 20, events: 9, unexpected_exit: true };
            assert!(store.run_ended("a", &end).unwrap());
            assert!(!store.run_ended("nope", &end).unwrap());
        }
        let store = Store::open(&path).unwrap();
        let runs = store.runs_of("i1").unwrap();
        assert_eq!(runs.iter().map(|r| r.session_id.as_str()).collect::<Vec<_>>(), ["b", "a"]);
        let a = store.run("a").unwrap().unwrap();
        assert_eq!(a.state, RunState::Ended(CompletionStatus::Cancelled));
        assert_eq!((a.finished_at, a.events, a.unexpected_exit), (Some(20), 9, true));
        assert_eq!(a.permission_mode, Some(PermissionMode::AcceptEdits));
        assert_eq!(store.run("b").unwrap().unwrap(), record("b", "i1", 5));

        assert_eq!(store.adopt("i2", "i1").unwrap(), 1);
        assert_eq!(store.runs_of("i1").unwrap().len(), 3);
        assert_eq!(store.forget(&["a".into(), "zz".into()]).unwrap(), 1);
        assert_eq!(store.run("a").unwrap(), None);
    }

    #[test]
    fn a_row_this_version_cannot_read_is_an_error_not_a_guess() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        store.run_started(&record("a", "i", 1)).unwrap();
        store.conn().execute("UPDATE runs SET state = 'exploded'", []).unwrap();
        assert!(matches!(store.run("a"), Err(StoreError::BadRow(_))));
    }
}
