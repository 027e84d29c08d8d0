//! The usage index: a rebuildable index of Claude's transcripts, never their copy.
//!
//! Three tables: `usage_files` (per transcript file: where it is, how far it was read, what its first
//! and last read bytes were, so a rewritten file is noticed), `usage_messages` (per assistant message
//! of a file: tokens by kind, cost, and whether it is *counted*: the CLI repeats a message — one line
//! per content block, and again in a resumed or forked session's file — so exactly one copy of each
//! `(message id, request id)` is counted), and `usage_daily` (the counted messages summed per day,
//! session, model and project: what a dashboard reads, so a year is a few thousand rows).
//!
//! Writes come in [`UsageBatch`]es, each applied in one transaction with the file's new read position,
//! so the index never claims bytes whose messages it lacks. Sessions whose messages changed are marked
//! dirty in the same transaction; [`Store::usage_finish`] recomputes their rollup rows. Reading
//! transcripts and deciding what a batch holds is the caller's (`opcode-usage`).

use rusqlite::{params, Transaction};

use crate::{Store, StoreError};

/// What the index knows of one transcript file.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageFile {
    /// The file's path.
    pub path: String,
    /// Claude's project folder name (`projects/<project id>/…`).
    pub project_id: String,
    /// The project directory (a line's `cwd`), once one was seen.
    pub project_path: Option<String>,
    /// The session the file belongs to (its name, or the `sessionId` of its lines).
    pub session_id: String,
    /// The file's size when last read.
    pub size: u64,
    /// Its modification time (ns since the epoch) when last read.
    pub mtime_ns: i64,
    /// Its inode when last read (a new inode: the file was replaced).
    pub inode: u64,
    /// Offset just after the last complete line read; what follows is read next time.
    pub indexed_bytes: u64,
    /// The file's first bytes (up to 256) when read.
    pub head: Vec<u8>,
    /// The bytes just before `indexed_bytes` (up to 64).
    pub tail: Vec<u8>,
    /// The CLI's own running total of the session's cost (`totalCostUSD`), last reported in this file.
    pub cli_cost: Option<f64>,
}

/// One assistant message of a transcript.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageMessage {
    /// The API's message id (`msg_…`), or the line's uuid when there is none.
    pub message_id: String,
    /// The request the message answered (`requestId`/`requestRef`), or empty.
    pub request_id: String,
    /// The session.
    pub session_id: String,
    /// The model that answered.
    pub model: String,
    /// Unix milliseconds.
    pub ts_ms: i64,
    /// The UTC day, `YYYY-MM-DD`.
    pub day: String,
    /// Input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Tokens written to the prompt cache.
    pub cache_creation_tokens: u64,
    /// Tokens read from the prompt cache.
    pub cache_read_tokens: u64,
    /// Cost in USD.
    pub cost: f64,
}

/// One step of indexing a file, applied atomically by [`Store::usage_apply`].
#[derive(Debug)]
pub struct UsageBatch<'a> {
    /// The file's state after this batch (keyed by path).
    pub file: &'a UsageFile,
    /// Forget what was indexed of the file before (it shrank or was replaced) before adding `messages`.
    pub reset: bool,
    /// Messages read in this step (a repeat within the file is ignored).
    pub messages: &'a [UsageMessage],
}

/// A row of the daily rollup: the counted messages of one day, session, model and project.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageDay {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    /// The session.
    pub session_id: String,
    /// The model.
    pub model: String,
    /// Claude's project folder name.
    pub project_id: String,
    /// Messages counted.
    pub messages: u64,
    /// Input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Cache creation tokens.
    pub cache_creation_tokens: u64,
    /// Cache read tokens.
    pub cache_read_tokens: u64,
    /// Cost in USD.
    pub cost: f64,
    /// Unix ms of the first message.
    pub first_ts: i64,
    /// Unix ms of the last message.
    pub last_ts: i64,
}

/// What the index knows of a session besides its messages.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageSessionInfo {
    /// The session.
    pub session_id: String,
    /// Its project folder name.
    pub project_id: String,
    /// The project directory, once a line named it.
    pub project_path: Option<String>,
    /// The CLI's own total cost of the session, if it reported one.
    pub cli_cost: Option<f64>,
}

fn forget_file(tx: &Transaction<'_>, file_id: i64) -> Result<(), StoreError> {
    tx.execute(
        "INSERT OR IGNORE INTO usage_dirty (session_id)
         SELECT DISTINCT session_id FROM usage_messages WHERE file_id = ?1",
        [file_id],
    )?;
    let had_counted: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM usage_messages WHERE file_id = ?1 AND counted = 1)",
        [file_id],
        |r| r.get(0),
    )?;
    tx.execute("DELETE FROM usage_messages WHERE file_id = ?1", [file_id])?;
    if had_counted {
        // a copy of a message this file counted may live in another file: count that one now
        let mut promote = tx.prepare(
            "UPDATE usage_messages AS m SET counted = 1
             WHERE counted = 0
               AND NOT EXISTS (SELECT 1 FROM usage_messages o
                               WHERE o.message_id = m.message_id AND o.request_id = m.request_id AND o.counted = 1)
               AND file_id = (SELECT min(o.file_id) FROM usage_messages o
                              WHERE o.message_id = m.message_id AND o.request_id = m.request_id)
             RETURNING session_id",
        )?;
        let sessions: Vec<String> = promote.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
        let mut dirty = tx.prepare_cached("INSERT OR IGNORE INTO usage_dirty (session_id) VALUES (?1)")?;
        for session in sessions {
            dirty.execute([session])?;
        }
    }
    Ok(())
}

impl Store {
    /// Every transcript file the index knows.
    pub fn usage_files(&self) -> Result<Vec<UsageFile>, StoreError> {
        let conn = self.conn();
        let mut statement = conn.prepare(
            "SELECT path, project_id, project_path, session_id, size, mtime_ns, inode, indexed_bytes, head, tail,
                    cli_cost
             FROM usage_files",
        )?;
        let rows = statement.query_map([], |r| {
            Ok(UsageFile {
                path: r.get(0)?,
                project_id: r.get(1)?,
                project_path: r.get(2)?,
                session_id: r.get(3)?,
                size: r.get::<_, i64>(4)? as u64,
                mtime_ns: r.get(5)?,
                inode: r.get::<_, i64>(6)? as u64,
                indexed_bytes: r.get::<_, i64>(7)? as u64,
                head: r.get(8)?,
                tail: r.get(9)?,
                cli_cost: r.get(10)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Applies `batches` in one transaction: each file's new state, its messages (a message already
    /// counted in another file is kept but not counted), and marks the sessions touched dirty. Call
    /// [`Store::usage_finish`] after the last batch of a refresh.
    pub fn usage_apply(&self, batches: &[UsageBatch<'_>]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        for batch in batches {
            let file = batch.file;
            let existing: Option<i64> = tx
                .query_row("SELECT id FROM usage_files WHERE path = ?1", [&file.path], |r| r.get(0))
                .map(Some)
                .or_else(|e| if e == rusqlite::Error::QueryReturnedNoRows { Ok(None) } else { Err(e) })?;
            if let (Some(id), true) = (existing, batch.reset) {
                forget_file(&tx, id)?;
            }
            let file_id: i64 = tx.query_row(
                "INSERT INTO usage_files (path, project_id, project_path, session_id, size, mtime_ns, inode,
                    indexed_bytes, head, tail, cli_cost)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT(path) DO UPDATE SET project_id = excluded.project_id,
                    project_path = excluded.project_path, session_id = excluded.session_id, size = excluded.size,
                    mtime_ns = excluded.mtime_ns, inode = excluded.inode, indexed_bytes = excluded.indexed_bytes,
                    head = excluded.head, tail = excluded.tail, cli_cost = excluded.cli_cost
                 RETURNING id",
                params![
                    file.path,
                    file.project_id,
                    file.project_path,
                    file.session_id,
                    file.size as i64,
                    file.mtime_ns,
                    file.inode as i64,
                    file.indexed_bytes as i64,
                    file.head,
                    file.tail,
                    file.cli_cost,
                ],
                |r| r.get(0),
            )?;
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO usage_messages (file_id, message_id, request_id, session_id, model, ts, day,
                    input_tokens, output_tokens, cache_creation_tokens, cache_read_tokens, cost, counted)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,
                    NOT EXISTS (SELECT 1 FROM usage_messages WHERE message_id = ?2 AND request_id = ?3))",
            )?;
            let mut dirty = tx.prepare_cached("INSERT OR IGNORE INTO usage_dirty (session_id) VALUES (?1)")?;
            let mut last_session = None;
            for m in batch.messages {
                insert.execute(params![
                    file_id,
                    m.message_id,
                    m.request_id,
                    m.session_id,
                    m.model,
                    m.ts_ms,
                    m.day,
                    m.input_tokens as i64,
                    m.output_tokens as i64,
                    m.cache_creation_tokens as i64,
                    m.cache_read_tokens as i64,
                    m.cost,
                ])?;
                if last_session != Some(&m.session_id) {
                    dirty.execute([&m.session_id])?;
                    last_session = Some(&m.session_id);
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Forgets files that are gone (their messages too; copies elsewhere become the counted ones).
    pub fn usage_forget(&self, paths: &[String]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        for path in paths {
            let id: Option<i64> = tx
                .query_row("SELECT id FROM usage_files WHERE path = ?1", [path], |r| r.get(0))
                .map(Some)
                .or_else(|e| if e == rusqlite::Error::QueryReturnedNoRows { Ok(None) } else { Err(e) })?;
            if let Some(id) = id {
                forget_file(&tx, id)?;
                tx.execute("DELETE FROM usage_files WHERE id = ?1", [id])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Recomputes the daily rollup of every dirty session, in one transaction. Returns how many sessions.
    pub fn usage_finish(&self) -> Result<usize, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let dirty: usize = tx.query_row("SELECT count(*) FROM usage_dirty", [], |r| r.get::<_, i64>(0))? as usize;
        if dirty > 0 {
            tx.execute("DELETE FROM usage_daily WHERE session_id IN (SELECT session_id FROM usage_dirty)", [])?;
            tx.execute(
                "INSERT INTO usage_daily (day, session_id, model, project_id, messages, input_tokens, output_tokens,
                    cache_creation_tokens, cache_read_tokens, cost, first_ts, last_ts)
                 SELECT m.day, m.session_id, m.model, f.project_id, count(*), sum(m.input_tokens),
                    sum(m.output_tokens), sum(m.cache_creation_tokens), sum(m.cache_read_tokens), sum(m.cost),
                    min(m.ts), max(m.ts)
                 FROM usage_messages m JOIN usage_files f ON f.id = m.file_id
                 WHERE m.counted = 1 AND m.session_id IN (SELECT session_id FROM usage_dirty)
                 GROUP BY m.day, m.session_id, m.model, f.project_id",
                [],
            )?;
            tx.execute("DELETE FROM usage_dirty", [])?;
        }
        tx.commit()?;
        Ok(dirty)
    }

    /// The rollup rows of the days from `from` to `to` (inclusive, `YYYY-MM-DD`; `None`: unbounded).
    pub fn usage_days(&self, from: Option<&str>, to: Option<&str>) -> Result<Vec<UsageDay>, StoreError> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached(
            "SELECT day, session_id, model, project_id, messages, input_tokens, output_tokens,
                    cache_creation_tokens, cache_read_tokens, cost, first_ts, last_ts
             FROM usage_daily
             WHERE (?1 IS NULL OR day >= ?1) AND (?2 IS NULL OR day <= ?2)
             ORDER BY day",
        )?;
        let rows = statement.query_map(params![from, to], |r| {
            Ok(UsageDay {
                day: r.get(0)?,
                session_id: r.get(1)?,
                model: r.get(2)?,
                project_id: r.get(3)?,
                messages: r.get::<_, i64>(4)? as u64,
                input_tokens: r.get::<_, i64>(5)? as u64,
                output_tokens: r.get::<_, i64>(6)? as u64,
                cache_creation_tokens: r.get::<_, i64>(7)? as u64,
                cache_read_tokens: r.get::<_, i64>(8)? as u64,
                cost: r.get(9)?,
                first_ts: r.get(10)?,
                last_ts: r.get(11)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Per session: its project, project directory and the CLI's own total cost (where reported).
    pub fn usage_sessions(&self) -> Result<Vec<UsageSessionInfo>, StoreError> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached(
            "SELECT session_id, min(project_id), max(project_path), max(cli_cost) FROM usage_files GROUP BY session_id",
        )?;
        let rows = statement.query_map([], |r| {
            Ok(UsageSessionInfo {
                session_id: r.get(0)?,
                project_id: r.get(1)?,
                project_path: r.get(2)?,
                cli_cost: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, session: &str, indexed: u64) -> UsageFile {
        UsageFile {
            path: path.into(),
            project_id: "-p".into(),
            project_path: Some("/p".into()),
            session_id: session.into(),
            size: indexed,
            mtime_ns: 1,
            inode: 1,
            indexed_bytes: indexed,
            head: b"{".to_vec(),
            tail: b"}\n".to_vec(),
            cli_cost: None,
        }
    }

    fn message(id: &str, session: &str, day: &str, output: u64) -> UsageMessage {
        UsageMessage {
            message_id: id.into(),
            request_id: "req".into(),
            session_id: session.into(),
            model: "m".into(),
            ts_ms: 1,
            day: day.into(),
            input_tokens: 1,
            output_tokens: output,
            cache_creation_tokens: 0,
            cache_read_tokens: 0,
            cost: output as f64,
        }
    }

    fn outputs(store: &Store) -> Vec<(String, String, u64)> {
        store.usage_days(None, None).unwrap().into_iter().map(|d| (d.day, d.session_id, d.output_tokens)).collect()
    }

    #[test]
    fn a_message_in_two_files_counts_once_and_moves_to_the_other_when_its_file_is_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let (a, b) = (file("/a", "s1", 10), file("/b", "s2", 10));
        let shared = message("m1", "s1", "2026-01-01", 5);
        let copy = UsageMessage { session_id: "s2".into(), ..shared.clone() };
        store
            .usage_apply(&[
                UsageBatch { file: &a, reset: false, messages: &[shared.clone(), shared.clone()] },
                UsageBatch { file: &b, reset: false, messages: &[copy, message("m2", "s2", "2026-01-02", 7)] },
            ])
            .unwrap();
        assert_eq!(store.usage_finish().unwrap(), 2);
        assert_eq!(outputs(&store), [("2026-01-01".into(), "s1".into(), 5), ("2026-01-02".into(), "s2".into(), 7)]);
        assert_eq!(store.usage_finish().unwrap(), 0, "nothing dirty any more");

        store.usage_forget(&["/a".into()]).unwrap();
        store.usage_finish().unwrap();
        assert_eq!(outputs(&store), [("2026-01-01".into(), "s2".into(), 5), ("2026-01-02".into(), "s2".into(), 7)]);
        assert_eq!(store.usage_files().unwrap().len(), 1);
        assert_eq!(store.usage_days(Some("2026-01-02"), Some("2026-01-02")).unwrap().len(), 1);
    }

    #[test]
    fn a_reset_replaces_what_a_file_held() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let a = file("/a", "s1", 10);
        store.usage_apply(&[UsageBatch { file: &a, reset: false, messages: &[message("m1", "s1", "d", 5)] }]).unwrap();
        let a2 = UsageFile { cli_cost: Some(0.5), ..file("/a", "s1", 4) };
        store.usage_apply(&[UsageBatch { file: &a2, reset: true, messages: &[message("m9", "s1", "d", 2)] }]).unwrap();
        store.usage_finish().unwrap();
        assert_eq!(outputs(&store), [("d".into(), "s1".into(), 2)]);
        assert_eq!(store.usage_files().unwrap(), [a2]);
        assert_eq!(store.usage_sessions().unwrap()[0].cli_cost, Some(0.5));
    }
}
