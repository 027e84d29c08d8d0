//! Usage analytics from Claude's transcripts (`<claude dir>/projects/<project>/**/*.jsonl`).
//!
//! [`UsageIndex`] keeps an incremental index of the transcripts in `opcode-store` (the tables of
//! `opcode_store::UsageFile` and friends; rebuildable, never a copy): [`UsageIndex::refresh`] reads only
//! what was appended since the last refresh (see `index.rs`), so a dashboard never re-reads gigabytes.
//! Reports ([`UsageReport`]) are built from the store's daily rollup, for a [`Period`].
//!
//! Costs are the list prices of [`pricing`] applied to each message's tokens (or the line's own
//! `costUSD`, where an older CLI wrote one); the CLI's own running total of a session (`totalCostUSD`
//! of its `cost-state` lines) is reported beside them. Days are UTC days.
//!
//! Everything here blocks (files and SQLite): async callers use `spawn_blocking`.
#![warn(missing_docs)]

mod index;
mod period;
pub mod pricing;
mod report;
mod transcript;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use opcode_store::{Store, StoreError};

pub use index::RefreshStats;
pub use period::{day_string, Period, PeriodError};
pub use report::{
    seed_stats, DayUsage, ModelUsage, ProjectUsage, SessionUsage, Sums, Totals, UsageReport, MAX_SESSIONS,
};

/// Why usage could not be indexed or reported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    /// The store failed.
    #[error("the usage index in the database failed: {0}")]
    Store(#[from] StoreError),
    /// A transcript could not be read (it is skipped for this refresh).
    #[error("cannot read the transcript {path} (check its permissions): {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The CSV could not be written.
    #[error("cannot write the CSV export: {0}")]
    Csv(#[from] csv::Error),
}

/// The usage index of one Claude folder in one store. Cheap to clone; refreshes are serialised.
#[derive(Debug, Clone)]
pub struct UsageIndex {
    store: Arc<Store>,
    projects: PathBuf,
    refreshing: Arc<Mutex<()>>,
}

impl UsageIndex {
    /// The index of the transcripts under `claude_dir/projects`, kept in `store`.
    pub fn new(store: Arc<Store>, claude_dir: &Path) -> Self {
        UsageIndex { store, projects: claude_dir.join("projects"), refreshing: Arc::default() }
    }

    /// Brings the index up to date: reads what was appended to each transcript since the last refresh,
    /// re-reads files that shrank or were replaced, forgets files that are gone. One refresh at a time:
    /// a caller arriving during another's waits for it, then refreshes (cheaply) itself.
    #[tracing::instrument(level = "debug", skip(self), fields(projects = %self.projects.display()))]
    pub fn refresh(&self) -> Result<RefreshStats, UsageError> {
        let _one = self.refreshing.lock().unwrap_or_else(|e| e.into_inner());
        let stats = index::refresh(&self.store, &self.projects)?;
        tracing::debug!(?stats, "usage index refreshed");
        Ok(stats)
    }

    /// The report of `period` from the index as it is (call [`UsageIndex::refresh`] first for fresh figures).
    pub fn report(&self, period: Period) -> Result<UsageReport, UsageError> {
        let (from, to) = (period.from.map(day_string), period.to.map(day_string));
        let days = self.store.usage_days(from.as_deref(), to.as_deref())?;
        let sessions = self.store.usage_sessions()?;
        Ok(report::report(period, &days, &sessions))
    }

    /// The CSV export of `period`: one row per day, project, session and model.
    pub fn csv(&self, period: Period) -> Result<Vec<u8>, UsageError> {
        let (from, to) = (period.from.map(day_string), period.to.map(day_string));
        let days = self.store.usage_days(from.as_deref(), to.as_deref())?;
        Ok(report::csv(&days, &self.store.usage_sessions()?)?)
    }
}

/// Today's UTC date.
pub fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}
