//! Paired devices and one-time pairing codes shared by every replica, in the key-value bucket
//! `OPCODE_ACCESS`. Only hashes of credentials and codes are ever put on the bus, never the secrets.
//!
//! - A paired device is the key `device.<id>`, its value a [`SharedDevice`] as JSON. Pairing creates it,
//!   renaming updates it by compare-and-set (a device revoked meanwhile stays revoked), revoking deletes it
//!   (the deletion marker stays, so a replica that was down learns the device was revoked, not merely
//!   unknown). [`Bus::watch_devices`] gives the current devices and then every change.
//! - A pairing code is the key `pairing.<sha256 of the code>`, its value its expiry (unix milliseconds),
//!   kept for its validity plus [`CODE_KEPT_AFTER`] by a per-key TTL. Redeeming it purges the key on the
//!   revision that was read (compare-and-set), so of two replicas redeeming one code at once exactly one
//!   wins; the purge marker stays for [`CODE_KEPT_AFTER`], so a second use is told "already used".

use std::collections::HashMap;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_nats::jetstream::kv::{CreateErrorKind, Entry, Operation, UpdateErrorKind, Watch};
use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use crate::{Bus, BusError};

/// How long a used or expired pairing code is still told apart from one never issued.
pub const CODE_KEPT_AFTER: Duration = Duration::from_secs(10 * 60);

const DEVICE_PREFIX: &str = "device.";
const CODE_PREFIX: &str = "pairing.";

/// A paired device as every replica knows it: never its credential, only the credential's hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedDevice {
    /// The device's id (32 lowercase hex characters).
    pub id: String,
    /// SHA-256 of its credential, hex.
    pub secret_hash: String,
    /// Its name.
    pub name: String,
    /// The User-Agent it paired with.
    pub user_agent: String,
    /// When it paired (unix seconds).
    pub paired_at: u64,
    /// The address it paired from.
    pub paired_addr: String,
}

/// A change to the paired devices, as [`DeviceWatch`] yields it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceChange {
    /// Paired, or renamed: the device as it is now.
    Paired(SharedDevice),
    /// Revoked: the device's id.
    Revoked(String),
}

/// What a pairing code is, when checked or redeemed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeState {
    /// Issued, unused, within its time (after a redemption: this call used it up).
    Valid,
    /// Never issued (or forgotten long ago).
    Unknown,
    /// Issued and unused, but past its time.
    Expired,
    /// Already used by someone.
    Used,
}

/// The current paired devices' changes from a moment on: yields every pairing, rename and revocation made
/// after the snapshot [`Bus::watch_devices`] returned with it, in order, and nothing older.
pub struct DeviceWatch {
    watch: Watch,
    /// Revisions of the keys in the snapshot: changes at or before them are already in it.
    seen: HashMap<String, u64>,
}

impl std::fmt::Debug for DeviceWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceWatch").field("snapshot_keys", &self.seen.len()).finish_non_exhaustive()
    }
}

impl Stream for DeviceWatch {
    type Item = Result<DeviceChange, BusError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            let entry = match futures::ready!(self.watch.poll_next_unpin(cx)) {
                None => return Poll::Ready(None),
                Some(Err(err)) => return Poll::Ready(Some(Err(BusError::nats("watch the paired devices", err)))),
                Some(Ok(entry)) => entry,
            };
            if self.seen.get(&entry.key).is_some_and(|&rev| entry.revision <= rev) {
                continue;
            }
            self.seen.remove(&entry.key);
            match device_change(&entry) {
                Some(change) => return Poll::Ready(Some(Ok(change))),
                None => continue,
            }
        }
    }
}

/// The change an entry of the bucket says, if it is a device's (a malformed value is logged and skipped).
fn device_change(entry: &Entry) -> Option<DeviceChange> {
    let id = entry.key.strip_prefix(DEVICE_PREFIX)?;
    match entry.operation {
        Operation::Delete | Operation::Purge => Some(DeviceChange::Revoked(id.to_owned())),
        Operation::Put => match serde_json::from_slice::<SharedDevice>(&entry.value) {
            Ok(device) if device.id == id => Some(DeviceChange::Paired(device)),
            Ok(_) | Err(_) => {
                tracing::warn!(key = %entry.key, "skipping a malformed device entry in the access bucket");
                None
            }
        },
    }
}

/// Checks that `id` (a device id, a code hash) is lowercase hex of a sane length: a key of its own.
fn checked_key(prefix: &str, id: &str) -> Result<String, BusError> {
    if (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        Ok(format!("{prefix}{id}"))
    } else {
        Err(BusError::InvalidAccessKey(id.to_owned()))
    }
}

fn unix_millis() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

impl Bus {
    /// Shares a newly paired device with every replica. [`BusError::Nats`] if a device of that id is
    /// already shared (ids are random: that is a bug) or NATS does not answer.
    #[tracing::instrument(skip_all, fields(device = %device.id))]
    pub async fn share_device(&self, device: &SharedDevice) -> Result<(), BusError> {
        let key = checked_key(DEVICE_PREFIX, &device.id)?;
        let value = Bytes::from(serde_json::to_vec(device).unwrap_or_default());
        self.shared.access.create(&key, value).await.map_err(|e| BusError::nats("share a paired device", e))?;
        Ok(())
    }

    /// Replaces a shared device's record (its new name) if it is still paired, by compare-and-set: returns
    /// `false`, writing nothing, if it was revoked (or never shared).
    #[tracing::instrument(skip_all, fields(device = %device.id))]
    pub async fn update_device(&self, device: &SharedDevice) -> Result<bool, BusError> {
        let key = checked_key(DEVICE_PREFIX, &device.id)?;
        let value = Bytes::from(serde_json::to_vec(device).unwrap_or_default());
        loop {
            let entry = self.shared.access.entry(&key).await.map_err(|e| BusError::nats("read a shared device", e))?;
            let Some(entry) = entry.filter(|e| e.operation == Operation::Put) else { return Ok(false) };
            match self.shared.access.update(&key, value.clone(), entry.revision).await {
                Ok(_) => return Ok(true),
                // changed in between (renamed or revoked elsewhere): look again
                Err(err) if err.kind() == UpdateErrorKind::WrongLastRevision => continue,
                Err(err) => return Err(BusError::nats("update a shared device", err)),
            }
        }
    }

    /// Revokes device `id` on every replica (deletes its key; the deletion stays on record).
    #[tracing::instrument(skip(self))]
    pub async fn revoke_device(&self, id: &str) -> Result<(), BusError> {
        let key = checked_key(DEVICE_PREFIX, id)?;
        self.shared.access.delete(&key).await.map_err(|e| BusError::nats("revoke a shared device", e))
    }

    /// Whether device `id` was revoked (its key's last entry is a deletion), as opposed to paired or never
    /// shared.
    pub async fn device_revoked(&self, id: &str) -> Result<bool, BusError> {
        let key = checked_key(DEVICE_PREFIX, id)?;
        let entry = self.shared.access.entry(&key).await.map_err(|e| BusError::nats("read a shared device", e))?;
        Ok(entry.is_some_and(|e| matches!(e.operation, Operation::Delete | Operation::Purge)))
    }

    /// Every device paired now, and a watch of every change after that snapshot (none missed, none
    /// older than the snapshot).
    #[tracing::instrument(skip(self))]
    pub async fn watch_devices(&self) -> Result<(Vec<SharedDevice>, DeviceWatch), BusError> {
        // the watch first: whatever changes while the snapshot is read comes through it
        let watch = self
            .shared
            .access
            .watch(format!("{DEVICE_PREFIX}>"))
            .await
            .map_err(|e| BusError::nats("watch the paired devices", e))?;
        let keys: Vec<String> = match self.shared.access.keys().await {
            Ok(keys) => keys.try_collect().await.map_err(|e| BusError::nats("list the paired devices", e))?,
            Err(err) => return Err(BusError::nats("list the paired devices", err)),
        };
        let (mut devices, mut seen) = (Vec::new(), HashMap::new());
        for key in keys.into_iter().filter(|k| k.starts_with(DEVICE_PREFIX)) {
            let entry = self.shared.access.entry(&key).await.map_err(|e| BusError::nats("read a shared device", e))?;
            let Some(entry) = entry else { continue };
            seen.insert(key, entry.revision);
            if let Some(DeviceChange::Paired(device)) = device_change(&entry) {
                devices.push(device);
            }
        }
        devices.sort_by(|a, b| a.id.cmp(&b.id));
        Ok((devices, DeviceWatch { watch, seen }))
    }

    /// Issues pairing code `code_hash` (the code's SHA-256, hex), valid for `ttl` from now on every replica.
    #[tracing::instrument(skip_all)]
    pub async fn create_pairing_code(&self, code_hash: &str, ttl: Duration) -> Result<(), BusError> {
        let key = checked_key(CODE_PREFIX, code_hash)?;
        let expires = unix_millis().saturating_add(ttl.as_millis() as u64);
        let kept = ttl.saturating_add(CODE_KEPT_AFTER);
        match self.shared.access.create_with_ttl(&key, Bytes::from(expires.to_string()), kept).await {
            Ok(_) => Ok(()),
            Err(err) if err.kind() == CreateErrorKind::AlreadyExists => {
                Err(BusError::nats("issue a pairing code", "the same code was issued twice"))
            }
            Err(err) => Err(BusError::nats("issue a pairing code", err)),
        }
    }

    /// What pairing code `code_hash` is now, without using it up.
    pub async fn check_pairing_code(&self, code_hash: &str) -> Result<CodeState, BusError> {
        Ok(self.code_entry(code_hash).await?.0)
    }

    /// Uses pairing code `code_hash` up: [`CodeState::Valid`] for exactly one caller across every replica,
    /// within its time; anyone else gets why not.
    #[tracing::instrument(skip_all)]
    pub async fn redeem_pairing_code(&self, code_hash: &str) -> Result<CodeState, BusError> {
        let (state, revision) = self.code_entry(code_hash).await?;
        let (CodeState::Valid, Some(revision)) = (state, revision) else { return Ok(state) };
        let key = checked_key(CODE_PREFIX, code_hash)?;
        match self.shared.access.purge_expect_revision_with_ttl(&key, revision, CODE_KEPT_AFTER).await {
            Ok(()) => Ok(CodeState::Valid),
            Err(err) if err.kind() == UpdateErrorKind::WrongLastRevision => Ok(CodeState::Used),
            Err(err) => Err(BusError::nats("redeem a pairing code", err)),
        }
    }

    /// A code's state and, when valid, the revision to redeem it on.
    async fn code_entry(&self, code_hash: &str) -> Result<(CodeState, Option<u64>), BusError> {
        let key = checked_key(CODE_PREFIX, code_hash)?;
        let entry = self.shared.access.entry(&key).await.map_err(|e| BusError::nats("read a pairing code", e))?;
        let Some(entry) = entry else { return Ok((CodeState::Unknown, None)) };
        if entry.operation != Operation::Put {
            return Ok((CodeState::Used, None));
        }
        let expires: Option<u64> = std::str::from_utf8(&entry.value).ok().and_then(|v| v.parse().ok());
        match expires {
            None => Ok((CodeState::Unknown, None)),
            Some(expires) if expires <= unix_millis() => Ok((CodeState::Expired, None)),
            Some(_) => Ok((CodeState::Valid, Some(entry.revision))),
        }
    }
}

/// The description of the access bucket.
pub(crate) const BUCKET_DESCRIPTION: &str =
    "opcode access: paired devices (credential hashes only) and one-time pairing codes (hashed), shared by replicas";

/// The access bucket's configuration from the common one: per-key TTLs on (pairing codes lapse), with
/// markers so a lapsed code is seen as gone.
pub(crate) fn bucket_config(common: async_nats::jetstream::kv::Config) -> async_nats::jetstream::kv::Config {
    async_nats::jetstream::kv::Config { limit_markers: Some(CODE_KEPT_AFTER), ..common }
}
