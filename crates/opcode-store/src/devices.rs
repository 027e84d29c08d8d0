//! Paired devices: one row per browser that holds a credential of its own.
//!
//! The credential itself is never stored: only its SHA-256 (`secret_hash`), which the server looks a
//! presented credential up by. A revoked device's row is deleted, so its credential no longer matches.

use rusqlite::{params, OptionalExtension, Row};

use crate::{Store, StoreError};

/// One paired device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRecord {
    /// The device's id (random, public: it names the device in lists and the audit trail).
    pub id: String,
    /// SHA-256 of its credential, hex.
    pub secret_hash: String,
    /// Its name (from its browser and platform at pairing; the user may rename it).
    pub name: String,
    /// The `User-Agent` it paired with.
    pub user_agent: String,
    /// Unix seconds of the pairing.
    pub paired_at: u64,
    /// The address it paired from.
    pub paired_addr: String,
    /// Unix seconds it was last seen (updated at most every so often).
    pub last_seen_at: u64,
    /// The address it was last seen from.
    pub last_seen_addr: String,
}

fn read_row(row: &Row<'_>) -> rusqlite::Result<DeviceRecord> {
    Ok(DeviceRecord {
        id: row.get("id")?,
        secret_hash: row.get("secret_hash")?,
        name: row.get("name")?,
        user_agent: row.get("user_agent")?,
        paired_at: row.get::<_, i64>("paired_at")? as u64,
        paired_addr: row.get("paired_addr")?,
        last_seen_at: row.get::<_, i64>("last_seen_at")? as u64,
        last_seen_addr: row.get("last_seen_addr")?,
    })
}

impl Store {
    /// Saves a newly paired device.
    pub fn insert_device(&self, device: &DeviceRecord) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO devices (id, secret_hash, name, user_agent, paired_at, paired_addr, last_seen_at, last_seen_addr)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                device.id,
                device.secret_hash,
                device.name,
                device.user_agent,
                device.paired_at as i64,
                device.paired_addr,
                device.last_seen_at as i64,
                device.last_seen_addr
            ],
        )?;
        Ok(())
    }

    /// Every paired device, most recently seen first.
    pub fn devices(&self) -> Result<Vec<DeviceRecord>, StoreError> {
        let conn = self.conn();
        let mut statement = conn.prepare("SELECT * FROM devices ORDER BY last_seen_at DESC, id")?;
        let rows = statement.query_map([], read_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The device `id`, if it is paired.
    pub fn device(&self, id: &str) -> Result<Option<DeviceRecord>, StoreError> {
        Ok(self.conn().query_row("SELECT * FROM devices WHERE id = ?1", [id], read_row).optional()?)
    }

    /// Renames device `id`. Returns whether it exists.
    pub fn rename_device(&self, id: &str, name: &str) -> Result<bool, StoreError> {
        Ok(self.conn().execute("UPDATE devices SET name = ?2 WHERE id = ?1", [id, name])? == 1)
    }

    /// Notes when and from where device `id` was last seen.
    pub fn device_seen(&self, id: &str, at: u64, addr: &str) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE devices SET last_seen_at = ?2, last_seen_addr = ?3 WHERE id = ?1",
            params![id, at as i64, addr],
        )?;
        Ok(())
    }

    /// Deletes device `id` (revoked: its credential no longer matches). Returns whether it existed.
    pub fn delete_device(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.conn().execute("DELETE FROM devices WHERE id = ?1", [id])? == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_are_kept_renamed_seen_and_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("opcode.db");
        let phone = DeviceRecord {
            id: "d1".into(),
            secret_hash: "h1".into(),
            name: "Chrome on Android".into(),
            user_agent: "ua".into(),
            paired_at: 10,
            paired_addr: "192.168.1.5".into(),
            last_seen_at: 10,
            last_seen_addr: "192.168.1.5".into(),
        };
        {
            let store = Store::open(&path).unwrap();
            store.insert_device(&phone).unwrap();
            let twin = DeviceRecord { id: "d2".into(), ..phone.clone() };
            assert!(store.insert_device(&twin).is_err(), "one device per credential");
        }
        let store = Store::open(&path).unwrap();
        assert!(store.rename_device("d1", "my phone").unwrap());
        assert!(!store.rename_device("nope", "x").unwrap());
        store.device_seen("d1", 20, "10.0.0.2").unwrap();
        let seen = store.device("d1").unwrap().unwrap();
        assert_eq!((seen.name.as_str(), seen.last_seen_at, seen.last_seen_addr.as_str()), ("my phone", 20, "10.0.0.2"));
        assert_eq!(store.devices().unwrap().len(), 1);
        assert!(store.delete_device("d1").unwrap());
        assert!(!store.delete_device("d1").unwrap());
        assert!(store.devices().unwrap().is_empty());
    }
}
