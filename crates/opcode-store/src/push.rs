//! Web Push subscriptions, one row per device.
//!
//! A device is named by an id its browser made up (devices get credentials of their own later); the row
//! holds what the browser's `PushSubscription` gave: the push service's endpoint and the keys the payload
//! is encrypted to. The store checks nothing about them (the push crate validates before it saves): it
//! only keeps one subscription per device and one device per endpoint, so a browser that re-subscribes
//! under a new device id does not get every notification twice.

use rusqlite::{params, OptionalExtension, Row};

use crate::{Store, StoreError};

/// One device's push subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushSubscriptionRecord {
    /// The device's id (client-generated).
    pub device_id: String,
    /// The push service URL the browser gave.
    pub endpoint: String,
    /// The browser's P-256 public key, base64url as the browser gave it.
    pub p256dh: String,
    /// The browser's 16-byte auth secret, base64url as the browser gave it.
    pub auth: String,
    /// Unix seconds of the first subscription of this device.
    pub created_at: u64,
    /// Unix seconds of the latest update.
    pub updated_at: u64,
}

fn read_row(row: &Row<'_>) -> rusqlite::Result<PushSubscriptionRecord> {
    Ok(PushSubscriptionRecord {
        device_id: row.get("device_id")?,
        endpoint: row.get("endpoint")?,
        p256dh: row.get("p256dh")?,
        auth: row.get("auth")?,
        created_at: row.get::<_, i64>("created_at")? as u64,
        updated_at: row.get::<_, i64>("updated_at")? as u64,
    })
}

impl Store {
    /// Saves the subscription of `record.device_id`, replacing the device's earlier one and taking the
    /// endpoint away from any other device that had it. `created_at` of an existing device is kept.
    pub fn save_push_subscription(&self, record: &PushSubscriptionRecord) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(
            "DELETE FROM push_subscriptions WHERE endpoint = ?1 AND device_id != ?2",
            params![record.endpoint, record.device_id],
        )?;
        tx.execute(
            "INSERT INTO push_subscriptions (device_id, endpoint, p256dh, auth, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(device_id) DO UPDATE SET
                endpoint = excluded.endpoint, p256dh = excluded.p256dh, auth = excluded.auth,
                updated_at = excluded.updated_at",
            params![
                record.device_id,
                record.endpoint,
                record.p256dh,
                record.auth,
                record.created_at as i64,
                record.updated_at as i64
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The subscription of `device_id`, if it has one.
    pub fn push_subscription(&self, device_id: &str) -> Result<Option<PushSubscriptionRecord>, StoreError> {
        let conn = self.conn();
        Ok(conn.query_row("SELECT * FROM push_subscriptions WHERE device_id = ?1", [device_id], read_row).optional()?)
    }

    /// Every subscription, by device id.
    pub fn push_subscriptions(&self) -> Result<Vec<PushSubscriptionRecord>, StoreError> {
        let conn = self.conn();
        let mut statement = conn.prepare("SELECT * FROM push_subscriptions ORDER BY device_id")?;
        let rows = statement.query_map([], read_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Deletes the subscription of `device_id`. Returns whether there was one.
    pub fn delete_push_subscription(&self, device_id: &str) -> Result<bool, StoreError> {
        Ok(self.conn().execute("DELETE FROM push_subscriptions WHERE device_id = ?1", [device_id])? == 1)
    }

    /// Deletes the subscription with this endpoint, but only if it is still this one (a push service said
    /// it is gone; the device may have re-subscribed meanwhile with a new endpoint). Returns whether one
    /// was deleted.
    pub fn delete_push_endpoint(&self, device_id: &str, endpoint: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn()
            .execute("DELETE FROM push_subscriptions WHERE device_id = ?1 AND endpoint = ?2", [device_id, endpoint])?
            == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(device: &str, endpoint: &str, at: u64) -> PushSubscriptionRecord {
        PushSubscriptionRecord {
            device_id: device.into(),
            endpoint: endpoint.into(),
            p256dh: "key".into(),
            auth: "auth".into(),
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn one_subscription_per_device_and_one_device_per_endpoint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("opcode.db");
        {
            let store = Store::open(&path).unwrap();
            store.save_push_subscription(&sub("phone", "https://push/1", 10)).unwrap();
            store.save_push_subscription(&sub("phone", "https://push/2", 20)).unwrap();
            store.save_push_subscription(&sub("laptop", "https://push/3", 30)).unwrap();
        }
        let store = Store::open(&path).unwrap();
        let phone = store.push_subscription("phone").unwrap().unwrap();
        assert_eq!((phone.endpoint.as_str(), phone.created_at, phone.updated_at), ("https://push/2", 10, 20));
        // the same browser under a new id takes its endpoint along
        store.save_push_subscription(&sub("phone-2", "https://push/2", 40)).unwrap();
        let devices: Vec<String> = store.push_subscriptions().unwrap().into_iter().map(|s| s.device_id).collect();
        assert_eq!(devices, ["laptop", "phone-2"]);
        // a stale 410 for an endpoint the device no longer uses deletes nothing
        assert!(!store.delete_push_endpoint("laptop", "https://push/old").unwrap());
        assert!(store.delete_push_endpoint("laptop", "https://push/3").unwrap());
        assert!(store.delete_push_subscription("phone-2").unwrap());
        assert!(!store.delete_push_subscription("phone-2").unwrap());
        assert!(store.push_subscriptions().unwrap().is_empty());
    }
}
