//! The working-tree snapshots around each turn of a session: the git tree id taken when its prompt was sent
//! and the one taken when its result came. Only ids are stored; the trees themselves live in the project's
//! git object store (see `opcode-git`).

use rusqlite::{params, OptionalExtension, Row};

use crate::{Store, StoreError};

/// One turn's pair of snapshots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnSnapshot {
    /// The session.
    pub session_id: String,
    /// The turn's number within the session, from 1.
    pub turn: u32,
    /// The project directory the snapshots are of.
    pub project_path: String,
    /// The tree id of the working tree when the prompt was sent.
    pub before_tree: String,
    /// The tree id when the turn's result came; `None` while the turn runs (or if it never finished).
    pub after_tree: Option<String>,
    /// Unix milliseconds when the turn started.
    pub started_at: u64,
    /// Unix milliseconds when it finished.
    pub finished_at: Option<u64>,
}

fn read_row(row: &Row<'_>) -> rusqlite::Result<TurnSnapshot> {
    Ok(TurnSnapshot {
        session_id: row.get("session_id")?,
        turn: row.get::<_, i64>("turn")? as u32,
        project_path: row.get("project_path")?,
        before_tree: row.get("before_tree")?,
        after_tree: row.get("after_tree")?,
        started_at: row.get::<_, i64>("started_at")? as u64,
        finished_at: row.get::<_, Option<i64>>("finished_at")?.map(|t| t as u64),
    })
}

impl Store {
    /// Records the start of the session's next turn (numbered after its highest one) with the tree id of
    /// its `before` snapshot; returns the turn's number.
    pub fn begin_turn(
        &self,
        session_id: &str,
        project_path: &str,
        before_tree: &str,
        started_at: u64,
    ) -> Result<u32, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let turn: i64 = tx.query_row(
            "SELECT COALESCE(MAX(turn), 0) + 1 FROM turn_snapshots WHERE session_id = ?1",
            params![session_id],
            |row| row.get(0),
        )?;
        tx.execute(
            "INSERT INTO turn_snapshots (session_id, turn, project_path, before_tree, started_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![session_id, turn, project_path, before_tree, started_at as i64],
        )?;
        tx.commit()?;
        Ok(turn as u32)
    }

    /// Closes the session's oldest unfinished turn with its `after` snapshot; returns its number, or
    /// `None` when no turn of the session is open.
    pub fn finish_turn(&self, session_id: &str, after_tree: &str, finished_at: u64) -> Result<Option<u32>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let open: Option<i64> = tx
            .query_row(
                "SELECT MIN(turn) FROM turn_snapshots WHERE session_id = ?1 AND after_tree IS NULL",
                params![session_id],
                |row| row.get(0),
            )
            .optional()?
            .flatten();
        let Some(turn) = open else { return Ok(None) };
        tx.execute(
            "UPDATE turn_snapshots SET after_tree = ?3, finished_at = ?4 WHERE session_id = ?1 AND turn = ?2",
            params![session_id, turn, after_tree, finished_at as i64],
        )?;
        tx.commit()?;
        Ok(Some(turn as u32))
    }

    /// Deletes a turn whose prompt never went out (only an unfinished one); returns whether it existed.
    pub fn abandon_turn(&self, session_id: &str, turn: u32) -> Result<bool, StoreError> {
        let conn = self.conn();
        let n = conn.execute(
            "DELETE FROM turn_snapshots WHERE session_id = ?1 AND turn = ?2 AND after_tree IS NULL",
            params![session_id, turn as i64],
        )?;
        Ok(n > 0)
    }

    /// How many turns of the session are still open.
    pub fn open_turns(&self, session_id: &str) -> Result<u32, StoreError> {
        let conn = self.conn();
        let n: i64 = conn.query_row(
            "SELECT COUNT(*) FROM turn_snapshots WHERE session_id = ?1 AND after_tree IS NULL",
            params![session_id],
            |row| row.get(0),
        )?;
        Ok(n as u32)
    }

    /// Every turn of the session, in order.
    pub fn turns(&self, session_id: &str) -> Result<Vec<TurnSnapshot>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT * FROM turn_snapshots WHERE session_id = ?1 ORDER BY turn")?;
        let rows = stmt.query_map(params![session_id], read_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One turn of the session.
    pub fn turn(&self, session_id: &str, turn: u32) -> Result<Option<TurnSnapshot>, StoreError> {
        let conn = self.conn();
        Ok(conn
            .query_row(
                "SELECT * FROM turn_snapshots WHERE session_id = ?1 AND turn = ?2",
                params![session_id, turn as i64],
                read_row,
            )
            .optional()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turns_are_numbered_per_session_and_closed_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("opcode.db")).unwrap();
        assert_eq!(store.begin_turn("s1", "/p", "t0", 1).unwrap(), 1);
        assert_eq!(store.begin_turn("s1", "/p", "t1", 2).unwrap(), 2);
        assert_eq!(store.begin_turn("s2", "/q", "u0", 3).unwrap(), 1);
        assert_eq!(store.open_turns("s1").unwrap(), 2);
        assert_eq!(store.finish_turn("s1", "t1", 4).unwrap(), Some(1));
        assert_eq!(store.finish_turn("s1", "t2", 5).unwrap(), Some(2));
        assert_eq!(store.finish_turn("s1", "t3", 6).unwrap(), None);
        let turns = store.turns("s1").unwrap();
        assert_eq!(turns.len(), 2);
        assert_eq!(turns[1].before_tree, "t1");
        assert_eq!(turns[1].after_tree.as_deref(), Some("t2"));
        assert_eq!(turns[1].finished_at, Some(5));
        assert_eq!(store.turn("s2", 1).unwrap().unwrap().after_tree, None);
        assert_eq!(store.turn("s2", 2).unwrap(), None);
        assert!(store.abandon_turn("s2", 1).unwrap());
        assert!(!store.abandon_turn("s1", 1).unwrap(), "a finished turn stays");
        assert_eq!(store.begin_turn("s2", "/q", "u1", 7).unwrap(), 1);
    }
}
