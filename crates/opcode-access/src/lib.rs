//! Who may drive opcode-web, and the record of what they did.
//!
//! - The **token** (one per server) is for pairing, the CLI and scripts (`Authorization: Bearer`). It can
//!   be rotated; rotating it unpairs nobody.
//! - A **device** is a browser that opened the token URL or a pairing link: it gets a credential of its
//!   own (random, 256 bits), stored only as its SHA-256 in `opcode-store`, named after its browser and
//!   platform, renameable, revocable. Revoking one cancels its [`Access::revocation`] token, which every
//!   socket it has open listens to, and its credential stops matching at once.
//! - **Pairing links** ([`pairing`]) are one-time and short-lived.
//! - The **audit trail** ([`audit`]) records who started, answered, ended or cancelled what, from where.
//!
//! The in-memory view of the devices answers every request without touching the database; the methods
//! that write (pairing, renaming, revoking, audit entries, last-seen) are blocking: call them from
//! `spawn_blocking`.
#![warn(missing_docs)]

pub mod audit;
pub mod name;
pub mod pairing;
pub mod secret;
pub mod token_file;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use opcode_store::{AuditRecord, DeviceRecord, Store, StoreError};
use tokio_util::sync::CancellationToken;

pub use audit::{Actor, AuditAction};
pub use pairing::{PairingError, PairingLinks, PAIRING_TTL};

/// Last-seen times are written to the store at most this often per device.
pub const SEEN_WRITE_EVERY: Duration = Duration::from_secs(30);

/// Why an access operation failed. Messages say what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AccessError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No device has this id (revoked already, or never paired).
    #[error("no paired device {0}: reload the devices list")]
    NoDevice(String),
    /// A name a device may not have.
    #[error("a device name is 1 to 64 characters, without control characters")]
    BadName,
    /// The token file could not be read or written.
    #[error("cannot {action} the token file {path} (check the data dir's permissions): {source}")]
    TokenFile {
        /// read or write
        action: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
}

/// What a presented device credential is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceCheck {
    /// A paired device's.
    Paired(Actor),
    /// A device's that was revoked since the server started.
    Revoked,
    /// Not one this server knows.
    Unknown,
}

/// A device as the server knows it in memory.
#[derive(Debug, Clone)]
struct Known {
    id: String,
    name: String,
    /// Unix seconds and address of the last request; when it was last written to the store.
    seen: Option<(u64, String)>,
    written: Option<Instant>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<Store>,
    token: RwLock<Arc<str>>,
    /// By credential hash.
    devices: RwLock<HashMap<String, Known>>,
    /// Cancelled when the device is revoked.
    revocations: Mutex<HashMap<String, CancellationToken>>,
    /// Credential hashes of devices revoked since the start: their browsers keep asking for a while, and
    /// that is not guessing.
    revoked: Mutex<std::collections::HashSet<String>>,
    pairing: PairingLinks,
}

/// The token, the paired devices, pairing links and the audit trail. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Access {
    inner: Arc<Inner>,
}

/// Unix seconds now.
pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl Access {
    /// Loads the paired devices from `store`; `token` is the server's token. Blocking.
    pub fn open(store: Arc<Store>, token: &str) -> Result<Access, AccessError> {
        let devices = store
            .devices()?
            .into_iter()
            .map(|d| (d.secret_hash, Known { id: d.id, name: d.name, seen: None, written: None }))
            .collect();
        Ok(Access {
            inner: Arc::new(Inner {
                store,
                token: RwLock::new(token.into()),
                devices: RwLock::new(devices),
                revocations: Mutex::default(),
                revoked: Mutex::default(),
                pairing: PairingLinks::default(),
            }),
        })
    }

    fn devices_read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Known>> {
        self.inner.devices.read().unwrap_or_else(|e| e.into_inner())
    }

    fn devices_write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Known>> {
        self.inner.devices.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The current token.
    pub fn token(&self) -> Arc<str> {
        self.inner.token.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Whether `presented` is the current token (constant time).
    pub fn token_matches(&self, presented: &str) -> bool {
        secret::equal(presented, &self.token())
    }

    /// Replaces the token with a fresh one and returns it; the old one stops working at once. Paired
    /// devices are not affected.
    pub fn rotate_token(&self) -> String {
        let fresh = secret::new_secret();
        *self.inner.token.write().unwrap_or_else(|e| e.into_inner()) = fresh.as_str().into();
        fresh
    }

    /// The device whose credential is `presented`, if one is paired.
    pub fn device_for(&self, presented: &str) -> Option<Actor> {
        match self.check_device(presented) {
            DeviceCheck::Paired(actor) => Some(actor),
            DeviceCheck::Revoked | DeviceCheck::Unknown => None,
        }
    }

    /// What `presented` is: a paired device's credential, a device's revoked since this start (not a
    /// guess), or unknown.
    pub fn check_device(&self, presented: &str) -> DeviceCheck {
        if !secret::is_hex(presented, 64) {
            return DeviceCheck::Unknown;
        }
        let hash = secret::hash(presented);
        if let Some(known) = self.devices_read().get(&hash) {
            return DeviceCheck::Paired(Actor::Device { id: known.id.clone(), name: known.name.clone() });
        }
        if self.inner.revoked.lock().unwrap_or_else(|e| e.into_inner()).contains(&hash) {
            return DeviceCheck::Revoked;
        }
        DeviceCheck::Unknown
    }

    /// Notes that device `id` made a request from `addr`; returns whether the store should hear of it
    /// now ([`SEEN_WRITE_EVERY`]): then call [`Access::write_seen`].
    pub fn seen(&self, id: &str, addr: &str, now: Instant) -> bool {
        let mut devices = self.devices_write();
        let Some(known) = devices.values_mut().find(|k| k.id == id) else { return false };
        known.seen = Some((unix_now(), addr.to_owned()));
        let due = known.written.is_none_or(|w| now.duration_since(w) >= SEEN_WRITE_EVERY);
        if due {
            known.written = Some(now);
        }
        due
    }

    /// Writes device `id`'s last-seen time and address to the store. Blocking.
    pub fn write_seen(&self, id: &str) -> Result<(), AccessError> {
        let seen = self.devices_read().values().find(|k| k.id == id).and_then(|k| k.seen.clone());
        if let Some((at, addr)) = seen {
            self.inner.store.device_seen(id, at, &addr)?;
        }
        Ok(())
    }

    /// Pairs a new device that presented `user_agent` from `addr`: returns its record and its credential
    /// (shown once, to be set as its cookie; only its hash is kept). Blocking.
    pub fn pair(&self, user_agent: &str, addr: &str) -> Result<(DeviceRecord, String), AccessError> {
        let credential = secret::new_secret();
        let now = unix_now();
        let record = DeviceRecord {
            id: secret::random_hex(16),
            secret_hash: secret::hash(&credential),
            name: name::device_name(user_agent),
            user_agent: user_agent.chars().take(512).collect(),
            paired_at: now,
            paired_addr: addr.to_owned(),
            last_seen_at: now,
            last_seen_addr: addr.to_owned(),
        };
        self.inner.store.insert_device(&record)?;
        let known =
            Known { id: record.id.clone(), name: record.name.clone(), seen: None, written: Some(Instant::now()) };
        self.devices_write().insert(record.secret_hash.clone(), known);
        tracing::info!(device = %record.id, name = %record.name, client = addr, "device paired");
        Ok((record, credential))
    }

    /// Every paired device (with the latest last-seen, even if not yet written), most recent first.
    /// Blocking.
    pub fn devices(&self) -> Result<Vec<DeviceRecord>, AccessError> {
        let mut records = self.inner.store.devices()?;
        let devices = self.devices_read();
        for record in &mut records {
            if let Some((at, addr)) = devices.get(&record.secret_hash).and_then(|k| k.seen.clone()) {
                if at >= record.last_seen_at {
                    record.last_seen_at = at;
                    record.last_seen_addr = addr;
                }
            }
        }
        records.sort_by(|a, b| b.last_seen_at.cmp(&a.last_seen_at).then_with(|| a.id.cmp(&b.id)));
        Ok(records)
    }

    /// Renames device `id`; returns the name it now has. Blocking.
    pub fn rename(&self, id: &str, name: &str) -> Result<String, AccessError> {
        let name = name::checked_name(name).ok_or(AccessError::BadName)?;
        if !self.inner.store.rename_device(id, &name)? {
            return Err(AccessError::NoDevice(id.to_owned()));
        }
        if let Some(known) = self.devices_write().values_mut().find(|k| k.id == id) {
            known.name = name.clone();
        }
        Ok(name)
    }

    /// Revokes device `id`: its credential stops matching and every socket it has open is told to close,
    /// at once. Blocking.
    pub fn revoke(&self, id: &str) -> Result<(), AccessError> {
        // memory first: from here on no request of it passes, even before the row is gone
        let removed: Vec<String> = {
            let mut devices = self.devices_write();
            let hashes: Vec<String> = devices.iter().filter(|(_, k)| k.id == id).map(|(h, _)| h.clone()).collect();
            for hash in &hashes {
                devices.remove(hash);
            }
            hashes
        };
        let was_known = !removed.is_empty();
        self.inner.revoked.lock().unwrap_or_else(|e| e.into_inner()).extend(removed);
        if let Some(token) = self.inner.revocations.lock().unwrap_or_else(|e| e.into_inner()).remove(id) {
            token.cancel();
        }
        if !self.inner.store.delete_device(id)? && !was_known {
            return Err(AccessError::NoDevice(id.to_owned()));
        }
        tracing::info!(device = id, "device revoked");
        Ok(())
    }

    /// Whether device `id` is paired here now.
    pub fn is_paired(&self, id: &str) -> bool {
        self.devices_read().values().any(|k| k.id == id)
    }

    /// Device `id`'s record as stored, if it is paired. Blocking.
    pub fn device(&self, id: &str) -> Result<Option<DeviceRecord>, AccessError> {
        Ok(self.inner.store.device(id)?)
    }

    /// Takes in `record`, a device paired through another server sharing these devices (a replica of the
    /// same cluster), or its new name: from now on its credential is accepted here too. A device revoked
    /// here since the start is never taken back in. Returns whether anything changed. Blocking.
    pub fn adopt(&self, record: &DeviceRecord) -> Result<bool, AccessError> {
        if self.inner.revoked.lock().unwrap_or_else(|e| e.into_inner()).contains(&record.secret_hash) {
            return Ok(false);
        }
        let known = self.devices_read().get(&record.secret_hash).map(|k| (k.id.clone(), k.name.clone()));
        match known {
            Some((id, name)) if id == record.id && name == record.name => return Ok(false),
            Some((id, _)) if id != record.id => return Ok(false),
            _ => {}
        }
        if !self.inner.store.rename_device(&record.id, &record.name)? {
            self.inner.store.insert_device(record)?;
        }
        let mut devices = self.devices_write();
        let known = devices.entry(record.secret_hash.clone()).or_insert_with(|| Known {
            id: record.id.clone(),
            name: record.name.clone(),
            seen: None,
            written: None,
        });
        known.name = record.name.clone();
        tracing::info!(device = %record.id, name = %record.name, "device taken in from the cluster");
        Ok(true)
    }

    /// Cancelled when device `id` is revoked (at once if it is not paired): a socket of that device
    /// selects on it and closes.
    pub fn revocation(&self, id: &str) -> CancellationToken {
        let paired = self.devices_read().values().any(|k| k.id == id);
        let mut revocations = self.inner.revocations.lock().unwrap_or_else(|e| e.into_inner());
        let token = revocations.entry(id.to_owned()).or_default().child_token();
        if !paired {
            if let Some(parent) = revocations.remove(id) {
                parent.cancel();
            }
        }
        token
    }

    /// A new one-time pairing link code, valid for `ttl` (usually [`PAIRING_TTL`]).
    pub fn create_pairing_code(&self, ttl: Duration) -> String {
        self.inner.pairing.create(Instant::now(), ttl)
    }

    /// Whether pairing code `code` could be used now (without using it up).
    pub fn check_pairing_code(&self, code: &str) -> Result<(), PairingError> {
        self.inner.pairing.check(code, Instant::now())
    }

    /// Uses pairing code `code` up (once, within its time).
    pub fn redeem_pairing_code(&self, code: &str) -> Result<(), PairingError> {
        self.inner.pairing.redeem(code, Instant::now())
    }

    /// Appends an audit entry: `actor` did `action` to `target` from `addr`, now. Blocking.
    pub fn record(&self, actor: &Actor, action: AuditAction, target: &str, addr: &str) -> Result<(), AccessError> {
        let entry = AuditRecord {
            id: 0,
            at: unix_now(),
            actor_kind: actor.kind().to_owned(),
            actor_id: actor.device_id().map(str::to_owned),
            actor_name: actor.name().to_owned(),
            action: action.name().to_owned(),
            target: target.to_owned(),
            addr: addr.to_owned(),
        };
        self.inner.store.append_audit(&entry)?;
        Ok(())
    }

    /// The `limit` most recent audit entries before entry `before`, newest first. Blocking.
    pub fn recent(&self, limit: usize, before: Option<i64>) -> Result<Vec<AuditRecord>, AccessError> {
        Ok(self.inner.store.audit(limit, before)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access() -> (tempfile::TempDir, Access) {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("opcode.db")).unwrap());
        (dir, Access::open(store, "tok").unwrap())
    }

    #[test]
    fn a_paired_device_is_known_by_its_credential_until_revoked() {
        let (_dir, access) = access();
        let (device, credential) = access.pair("Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0", "127.0.0.1").unwrap();
        assert!(access.device_for(&credential).is_some_and(|a| a.device_id() == Some(device.id.as_str())));
        assert!(access.device_for("tok").is_none());
        let socket = access.revocation(&device.id);
        access.rotate_token();
        assert!(!access.token_matches("tok"), "the old token is refused");
        assert!(access.device_for(&credential).is_some(), "rotating the token unpairs nobody");
        access.revoke(&device.id).unwrap();
        assert!(socket.is_cancelled(), "its sockets are told at once");
        assert!(access.device_for(&credential).is_none());
        assert_eq!(access.check_device(&credential), DeviceCheck::Revoked, "not counted as a guess");
        assert_eq!(access.check_device(&secret::new_secret()), DeviceCheck::Unknown);
        assert!(access.revocation(&device.id).is_cancelled(), "a revoked device's new socket closes at once");
        assert!(matches!(access.revoke(&device.id), Err(AccessError::NoDevice(_))));
    }

    #[test]
    fn a_device_paired_elsewhere_is_adopted_renamed_and_never_brought_back_once_revoked() {
        let (_dir, here) = access();
        let (_other_dir, there) = access();
        let (record, credential) = there.pair("Mozilla/5.0 (iPhone) Safari/605.1", "10.0.0.2").unwrap();
        assert!(here.device_for(&credential).is_none());
        assert!(here.adopt(&record).unwrap());
        assert!(!here.adopt(&record).unwrap(), "the same record twice changes nothing");
        assert!(here.is_paired(&record.id));
        assert_eq!(
            here.device_for(&credential).and_then(|a| a.device_id().map(str::to_owned)),
            Some(record.id.clone())
        );
        assert_eq!(here.devices().unwrap().len(), 1, "kept in the store too");
        let renamed = DeviceRecord { name: "my phone".into(), ..record.clone() };
        assert!(here.adopt(&renamed).unwrap());
        assert_eq!(here.device(&record.id).unwrap().unwrap().name, "my phone");
        assert_eq!(here.device_for(&credential).unwrap().name(), "my phone");
        let socket = here.revocation(&record.id);
        here.revoke(&record.id).unwrap();
        assert!(socket.is_cancelled());
        assert!(!here.adopt(&renamed).unwrap(), "a revoked device stays revoked");
        assert_eq!(here.check_device(&credential), DeviceCheck::Revoked);
        assert!(here.device(&record.id).unwrap().is_none());
    }
}
