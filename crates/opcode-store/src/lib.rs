//! opcode-web's own state in one SQLite database (`<data_dir>/opcode.db`), with versioned migrations.
//!
//! What is Claude's (transcripts, settings, CLAUDE.md) stays in Claude's files; what is ours lives here.
//! Today that is the runs the server remembers across restarts ([`RunRecord`]): which session ran where,
//! which server instance owns its event log, how it ended; and the Web Push subscriptions of devices
//! ([`PushSubscriptionRecord`]); the working-tree snapshots taken around each turn of a session
//! ([`TurnSnapshot`]: git tree ids, so "what did this turn change" is one `git diff`); the paired devices,
//! by the hash of their credentials ([`DeviceRecord`]); the audit trail of who did what ([`AuditRecord`]);
//! the usage index of Claude's transcripts ([`UsageFile`], [`UsageMessage`], [`UsageDay`]), which is
//! rebuildable from those transcripts at any time; and agents and the runs of agents ([`AgentRecord`],
//! [`AgentRunRecord`]).
//!
//! The API is synchronous (SQLite is a blocking library): callers on an async runtime call it from
//! `spawn_blocking` or a thread of their own. One [`Store`] holds one connection behind a mutex; several
//! processes may open the same file (WAL mode, a busy timeout), e.g. servers sharing a data dir.
#![warn(missing_docs)]

mod agents;
mod audit;
mod devices;
mod migrations;
mod push;
mod runs;
mod turns;
mod usage;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::Connection;

pub use agents::{AgentDraft, AgentRecord, AgentRunRecord, RunUsage};
pub use audit::AuditRecord;
pub use devices::DeviceRecord;
pub use push::PushSubscriptionRecord;
pub use runs::{RunEnd, RunRecord, RunState};
pub use turns::TurnSnapshot;
pub use usage::{UsageBatch, UsageDay, UsageFile, UsageMessage, UsageSessionInfo};

/// Why the store failed. Messages say what to check.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database file could not be opened or created.
    #[error("cannot open the database {path} (check that the data dir is writable): {source}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// The schema could not be brought up to date (a newer opcode-web may have written it).
    #[error("cannot migrate the database {path} to this version's schema: {source}")]
    Migrate {
        /// The database file.
        path: PathBuf,
        /// What the migration said.
        #[source]
        source: rusqlite_migration::Error,
    },
    /// A query failed.
    #[error("database query failed: {0}")]
    Query(#[from] rusqlite::Error),
    /// A row holds a value this version cannot read.
    #[error("database row {0} holds a value this version cannot read")]
    BadRow(String),
}

/// The database. Cheap to share behind an `Arc`; every method takes the connection's lock for one
/// statement or transaction.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and migrates it to the current schema.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let open_err = |source| StoreError::Open { path: path.to_path_buf(), source };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| open_err(rusqlite::Error::ToSqlConversionFailure(e.into())))?;
        }
        let mut conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(open_err)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(open_err)?;
        migrations::migrations()
            .to_latest(&mut conn)
            .map_err(|source| StoreError::Migrate { path: path.to_path_buf(), source })?;
        Ok(Store { path: path.to_path_buf(), conn: Mutex::new(conn) })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}
