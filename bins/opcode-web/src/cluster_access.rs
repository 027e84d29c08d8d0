//! On a cluster (`--nats-url`): every replica has the same paired devices, revocations and pairing links,
//! through the bus's access bucket (`opcode_bus`, `OPCODE_ACCESS`). The model stays `opcode_access`'s; this
//! is the glue between it and the bus.
//!
//! - At start the replica takes in every device paired through the cluster ([`opcode_access::Access::adopt`]),
//!   forgets those of its own that were revoked elsewhere, and shares those the cluster never heard of
//!   (paired before it joined). Then a watcher applies every pairing, rename and revocation made through
//!   any replica: a device revoked elsewhere is revoked here at once, its open sockets closed.
//! - Pairing, renaming and revoking through this replica go to the bucket before they answer; pairing
//!   links are issued and redeemed in the bucket (compare-and-set: a link pairs one browser across all
//!   replicas). Only hashes of credentials and codes go on the bus.
//! - The audit trail and last-seen times stay per replica.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use opcode_access::{secret, Access, AccessError, PairingError};
use opcode_bus::{Bus, BusError, CodeState, DeviceChange, DeviceWatch, SharedDevice};
use opcode_store::DeviceRecord;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::api::blocking;
use crate::error::ApiError;

/// The replica's access shared through the bus, and the watcher that keeps it in step. Cheap to clone;
/// the watcher stops when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct ClusterAccess {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    bus: Bus,
    access: Access,
    _stop: DropGuard,
}

/// A bus failure as the API answers it: 503, saying what to check.
fn unavailable(err: BusError) -> ApiError {
    ApiError::Unavailable(format!("the cluster's NATS did not answer ({err}); nothing was changed: try again"))
}

/// A shared device as the store keeps it.
fn record_of(device: SharedDevice) -> DeviceRecord {
    DeviceRecord {
        last_seen_at: device.paired_at,
        last_seen_addr: device.paired_addr.clone(),
        id: device.id,
        secret_hash: device.secret_hash,
        name: device.name,
        user_agent: device.user_agent,
        paired_at: device.paired_at,
        paired_addr: device.paired_addr,
    }
}

/// A stored device as the bus shares it (no last-seen: that stays per replica).
fn shared_of(record: &DeviceRecord) -> SharedDevice {
    SharedDevice {
        id: record.id.clone(),
        secret_hash: record.secret_hash.clone(),
        name: record.name.clone(),
        user_agent: record.user_agent.clone(),
        paired_at: record.paired_at,
        paired_addr: record.paired_addr.clone(),
    }
}

/// Runs `f` on the blocking pool (the store is synchronous SQLite).
async fn on_store<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AccessError> + Send + 'static,
) -> Result<T, anyhow::Error> {
    Ok(tokio::task::spawn_blocking(f).await??)
}

/// Revokes `id` here, if it is paired here (a device revoked elsewhere: its sockets close at once).
fn forget(access: &Access, id: &str) -> Result<(), AccessError> {
    match access.revoke(id) {
        Ok(()) | Err(AccessError::NoDevice(_)) => Ok(()),
        Err(err) => Err(err),
    }
}

impl ClusterAccess {
    /// Brings `access` in step with the cluster's devices on `bus` (see the module doc) and keeps it so
    /// until dropped. Fails, changing nothing it could not finish, when NATS does not answer.
    pub async fn start(bus: Bus, access: Access) -> anyhow::Result<ClusterAccess> {
        let stop = CancellationToken::new();
        let watch = sync(&bus, &access).await?;
        tokio::spawn(tracing::Instrument::instrument(
            keep_in_step(bus.clone(), access.clone(), watch, stop.clone()),
            tracing::info_span!("cluster_access"),
        ));
        Ok(ClusterAccess { inner: Arc::new(Inner { bus, access, _stop: stop.drop_guard() }) })
    }

    /// Shares a device just paired through this replica; if the bus refuses, the device is unpaired again
    /// (a device must never work on one replica only) and the error says so.
    pub async fn paired(&self, record: &DeviceRecord) -> Result<(), ApiError> {
        if let Err(err) = self.inner.bus.share_device(&shared_of(record)).await {
            let (access, id) = (self.inner.access.clone(), record.id.clone());
            blocking(move || Ok(forget(&access, &id)?)).await?;
            return Err(unavailable(err));
        }
        Ok(())
    }

    /// Renames device `id` on every replica (on the bus first, nothing changes if NATS does not answer,
    /// then here); returns the name it now has. A device revoked elsewhere meanwhile stays revoked: 404,
    /// and it is forgotten here too. 400 for a name a device may not have.
    pub async fn rename(&self, id: &str, name: &str) -> Result<String, ApiError> {
        let name = opcode_access::name::checked_name(name).ok_or(AccessError::BadName)?;
        let (access, target) = (self.inner.access.clone(), id.to_owned());
        let record = blocking(move || Ok(access.device(&target)?))
            .await?
            .ok_or_else(|| ApiError::from(AccessError::NoDevice(id.to_owned())))?;
        let renamed = DeviceRecord { name, ..record };
        if !self.inner.bus.update_device(&shared_of(&renamed)).await.map_err(unavailable)? {
            let (access, target) = (self.inner.access.clone(), id.to_owned());
            blocking(move || Ok(forget(&access, &target)?)).await?;
            return Err(AccessError::NoDevice(id.to_owned()).into());
        }
        let (access, target) = (self.inner.access.clone(), id.to_owned());
        blocking(move || Ok(access.rename(&target, &renamed.name)?)).await
    }

    /// Revokes device `id` on every replica: on the bus first (nothing changes if NATS does not answer),
    /// then here at once; the other replicas' watchers close its sockets there. 404 if it is not paired.
    pub async fn revoke(&self, id: &str) -> Result<(), ApiError> {
        if !self.inner.access.is_paired(id) {
            return Err(AccessError::NoDevice(id.to_owned()).into());
        }
        self.inner.bus.revoke_device(id).await.map_err(unavailable)?;
        let (access, target) = (self.inner.access.clone(), id.to_owned());
        blocking(move || Ok(forget(&access, &target)?)).await
    }

    /// A new one-time pairing link code, valid for `ttl` on every replica (only its hash is shared).
    pub async fn create_pairing_code(&self, ttl: Duration) -> Result<String, ApiError> {
        let code = secret::new_secret();
        self.inner.bus.create_pairing_code(&secret::hash(&code), ttl).await.map_err(unavailable)?;
        Ok(code)
    }

    /// Whether pairing code `code` could be used now, on any replica (without using it up).
    pub async fn check_pairing_code(&self, code: &str) -> Result<Result<(), PairingError>, ApiError> {
        if !secret::is_hex(code, 64) {
            return Ok(Err(PairingError::Unknown));
        }
        Ok(refusal(self.inner.bus.check_pairing_code(&secret::hash(code)).await.map_err(unavailable)?))
    }

    /// Uses pairing code `code` up: `Ok` for one browser only, whichever replica it came through.
    pub async fn redeem_pairing_code(&self, code: &str) -> Result<Result<(), PairingError>, ApiError> {
        if !secret::is_hex(code, 64) {
            return Ok(Err(PairingError::Unknown));
        }
        Ok(refusal(self.inner.bus.redeem_pairing_code(&secret::hash(code)).await.map_err(unavailable)?))
    }
}

/// A code's state as the pairing routes answer it.
fn refusal(state: CodeState) -> Result<(), PairingError> {
    match state {
        CodeState::Valid => Ok(()),
        CodeState::Unknown => Err(PairingError::Unknown),
        CodeState::Expired => Err(PairingError::Expired),
        CodeState::Used => Err(PairingError::Used),
    }
}

/// Takes in the cluster's devices, forgets ours revoked elsewhere, shares ours the cluster never saw;
/// returns the watch of what changes after.
async fn sync(bus: &Bus, access: &Access) -> anyhow::Result<DeviceWatch> {
    let (devices, watch) = bus.watch_devices().await?;
    let shared: std::collections::HashSet<String> = devices.iter().map(|d| d.id.clone()).collect();
    let records: Vec<DeviceRecord> = devices.into_iter().map(record_of).collect();
    let local = {
        let access = access.clone();
        on_store(move || {
            for record in &records {
                access.adopt(record)?;
            }
            access.devices()
        })
        .await?
    };
    for record in local.into_iter().filter(|r| !shared.contains(&r.id)) {
        if bus.device_revoked(&record.id).await? {
            let access = access.clone();
            on_store(move || forget(&access, &record.id)).await?;
        } else if let Err(err) = bus.share_device(&shared_of(&record)).await {
            // shared meanwhile by another replica's start: the watch brings it
            tracing::debug!(%err, device = %record.id, "a device of this replica was not shared");
        } else {
            tracing::info!(device = %record.id, "shared a device paired here before the cluster knew it");
        }
    }
    Ok(watch)
}

/// Applies every change to this replica's access until `stop`; a watch that fails is re-made (and the
/// whole state synced again), pausing up to a second between tries.
async fn keep_in_step(bus: Bus, access: Access, mut watch: DeviceWatch, stop: CancellationToken) {
    loop {
        loop {
            let change = tokio::select! {
                () = stop.cancelled() => return,
                change = watch.next() => change,
            };
            let applied = match change {
                None => break,
                Some(Err(err)) => {
                    tracing::warn!(%err, "the watch of the cluster's devices failed; syncing again");
                    break;
                }
                Some(Ok(DeviceChange::Paired(device))) => {
                    let (access, record) = (access.clone(), record_of(device));
                    on_store(move || access.adopt(&record).map(|_| ())).await
                }
                Some(Ok(DeviceChange::Revoked(id))) => {
                    let access = access.clone();
                    on_store(move || forget(&access, &id)).await
                }
            };
            if let Err(err) = applied {
                tracing::warn!(%err, "a change to the cluster's devices was not applied here");
            }
        }
        let mut pause = Duration::from_millis(100);
        watch = loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(pause) => {}
            }
            match sync(&bus, &access).await {
                Ok(watch) => break watch,
                Err(err) => tracing::warn!(%err, "cannot sync the cluster's devices yet; retrying"),
            }
            pause = (pause * 2).min(Duration::from_secs(1));
        };
    }
}
