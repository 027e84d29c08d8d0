//! The audit trail: who (a device, or the token) did what (an action name) to what (a session id, a
//! device id), when and from which address. Append-only; never a prompt's or a file's content (the caller
//! passes names and ids only).

use rusqlite::{params, Row};

use crate::{Store, StoreError};

/// One entry of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Its number (increasing); 0 for an entry not yet saved.
    pub id: i64,
    /// Unix seconds.
    pub at: u64,
    /// `token` or `device`.
    pub actor_kind: String,
    /// The device's id (`None` for the token).
    pub actor_id: Option<String>,
    /// The device's name at the time (or `token`).
    pub actor_name: String,
    /// What was done (a closed set of names, see `opcode_access::AuditAction`).
    pub action: String,
    /// What it was done to (a session id, a device id, or empty).
    pub target: String,
    /// The client address.
    pub addr: String,
}

fn read_row(row: &Row<'_>) -> rusqlite::Result<AuditRecord> {
    Ok(AuditRecord {
        id: row.get("id")?,
        at: row.get::<_, i64>("at")? as u64,
        actor_kind: row.get("actor_kind")?,
        actor_id: row.get("actor_id")?,
        actor_name: row.get("actor_name")?,
        action: row.get("action")?,
        target: row.get("target")?,
        addr: row.get("addr")?,
    })
}

impl Store {
    /// Appends `entry` (its `id` is ignored); returns the id it got.
    pub fn append_audit(&self, entry: &AuditRecord) -> Result<i64, StoreError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO audit (at, actor_kind, actor_id, actor_name, action, target, addr)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                entry.at as i64,
                entry.actor_kind,
                entry.actor_id,
                entry.actor_name,
                entry.action,
                entry.target,
                entry.addr
            ],
        )?;
        Ok(conn.last_insert_rowid())
    }

    /// The most recent `limit` entries, newest first, before entry `before` (all when `None`).
    pub fn audit(&self, limit: usize, before: Option<i64>) -> Result<Vec<AuditRecord>, StoreError> {
        let conn = self.conn();
        let mut statement = conn.prepare("SELECT * FROM audit WHERE id < ?1 ORDER BY id DESC LIMIT ?2")?;
        let rows = statement.query_map(params![before.unwrap_or(i64::MAX), limit as i64], read_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_come_back_newest_first_and_page() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("opcode.db")).unwrap();
        for (i, action) in ["run_started", "approval_answered", "session_cancelled"].iter().enumerate() {
            let entry = AuditRecord {
                id: 0,
                at: 100 + i as u64,
                actor_kind: "device".into(),
                actor_id: Some("d1".into()),
                actor_name: "phone".into(),
                action: (*action).into(),
                target: "s1".into(),
                addr: "10.0.0.1".into(),
            };
            store.append_audit(&entry).unwrap();
        }
        let all = store.audit(10, None).unwrap();
        let actions: Vec<&str> = all.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["session_cancelled", "approval_answered", "run_started"]);
        let older = store.audit(10, Some(all[0].id)).unwrap();
        assert_eq!(older.len(), 2);
        assert_eq!(store.audit(1, None).unwrap().len(), 1);
    }
}
