//! Worker leases and run ownership, in key-value buckets.
//!
//! A lease is the key `<worker>` in `OPCODE_WORKERS`, a bucket whose entries expire after the lease TTL
//! (`max_age`, with limit markers so watchers see the expiry). The holder renews it every third of the TTL
//! with `update(key, value, revision)`: a renewal that loses the revision race, or no successful renewal
//! for a whole TTL, means the lease is lost, and [`WorkerLease::lost`] fires — *before* the server can let
//! the key lapse for others, since the deadline counts from the moment the last successful renewal was sent.
//!
//! A run is the key `<session>` in `OPCODE_RUNS`, created by compare-and-set (create = update at revision
//! 0), its value the owning worker: at most one worker owns a session's run, and the bucket's keys are the
//! cluster-wide list of runs.
//!
//! A session's place is the key `<session>` in `OPCODE_PLACES`, its value the worker it last ran on
//! (remembered for 90 days), so that its next run can go where its transcript is.

use std::time::Duration;

use async_nats::jetstream::kv::{CreateErrorKind, Operation, UpdateErrorKind};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::error::valid_id;
use crate::{Bus, BusError};

/// A live worker lease, renewed in the background until released, dropped or lost.
///
/// Guarantees: [`WorkerLease::lost`] fires when a renewal is refused (another process took the key) or
/// when no renewal succeeded for a whole lease TTL (NATS unreachable), which is no later than the key can
/// lapse on the server; once lost, a lease is never regained (acquire a new one). Dropping the lease stops
/// renewing (the key lapses after the TTL); [`WorkerLease::release`] deletes it at once.
#[derive(Debug)]
pub struct WorkerLease {
    worker: String,
    lost: watch::Receiver<bool>,
    renewer: JoinHandle<()>,
    bus: Bus,
}

impl Bus {
    /// Takes the lease of `worker` for [`crate::BusConfig::lease_ttl`] and keeps renewing it.
    /// [`BusError::LeaseHeld`] if a live lease of that worker id exists.
    pub async fn acquire_worker_lease(&self, worker: &str) -> Result<WorkerLease, BusError> {
        self.acquire_worker_lease_with(worker, Bytes::from(worker.to_owned())).await
    }

    /// [`Bus::acquire_worker_lease`] with `card` as the lease's value: what the worker tells others about
    /// itself (opaque here; [`Bus::worker_cards`] reads it back).
    #[tracing::instrument(skip(self, card), fields(worker = %worker))]
    pub async fn acquire_worker_lease_with(&self, worker: &str, card: Bytes) -> Result<WorkerLease, BusError> {
        if !valid_id(worker) {
            return Err(BusError::InvalidWorker(worker.to_owned()));
        }
        let sent_at = Instant::now();
        let revision = match self.shared.workers.create(worker, card.clone()).await {
            Ok(revision) => revision,
            Err(err) if err.kind() == CreateErrorKind::AlreadyExists => {
                return Err(BusError::LeaseHeld { worker: worker.to_owned() })
            }
            Err(err) => return Err(BusError::nats(format!("take the lease of worker {worker}"), err)),
        };
        let (lost_tx, lost) = watch::channel(false);
        let renewer = tokio::spawn(tracing::Instrument::instrument(
            renew(self.clone(), worker.to_owned(), card, revision, sent_at, lost_tx),
            tracing::debug_span!("lease", worker = %worker),
        ));
        Ok(WorkerLease { worker: worker.to_owned(), lost, renewer, bus: self.clone() })
    }

    /// The lease TTL in force: the lease bucket's, as the workers set it (a replica's own
    /// [`crate::BusConfig::lease_ttl`] does not change it).
    pub async fn lease_ttl_in_force(&self) -> Result<Duration, BusError> {
        let status = self.shared.workers.status().await.map_err(|e| BusError::nats("read the lease bucket", e))?;
        Ok(status.max_age())
    }

    /// Whether `worker` holds a live lease now (its key exists and has not lapsed).
    pub async fn worker_alive(&self, worker: &str) -> Result<bool, BusError> {
        if !valid_id(worker) {
            return Err(BusError::InvalidWorker(worker.to_owned()));
        }
        let entry = self.shared.workers.entry(worker).await.map_err(|e| BusError::nats("read a worker lease", e))?;
        Ok(entry.is_some_and(|e| e.operation == Operation::Put))
    }

    /// A stream of worker ids whose lease ended from now on: lapsed (not renewed within the TTL; the
    /// server's expiry marker) or released. For a process that must notice a dead worker at once (e.g. to
    /// [`Bus::reclaim_run`] its runs) instead of polling [`Bus::worker_alive`]. Renewals are not reported.
    pub async fn watch_lapsed_workers(
        &self,
    ) -> Result<impl futures::Stream<Item = Result<String, BusError>> + Send + 'static, BusError> {
        let watch = self.shared.workers.watch_all().await.map_err(|e| BusError::nats("watch worker leases", e))?;
        Ok(watch.filter_map(|entry| async move {
            match entry {
                Ok(entry) if entry.operation == Operation::Put => None,
                Ok(entry) => Some(Ok(entry.key)),
                Err(err) => Some(Err(BusError::nats("watch worker leases", err))),
            }
        }))
    }

    /// Claims the run of `session` for `worker` by compare-and-set: [`BusError::AlreadyRunning`] naming
    /// the owner if the session already has a run.
    #[tracing::instrument(skip(self), fields(session = %session, worker = %worker))]
    pub async fn claim_run(&self, session: &str, worker: &str) -> Result<RunClaim, BusError> {
        if !valid_id(session) {
            return Err(BusError::InvalidSession(session.to_owned()));
        }
        if !valid_id(worker) {
            return Err(BusError::InvalidWorker(worker.to_owned()));
        }
        match self.shared.runs.create(session, Bytes::from(worker.to_owned())).await {
            Ok(revision) => {
                Ok(RunClaim { bus: self.clone(), session: session.to_owned(), worker: worker.to_owned(), revision })
            }
            Err(err) if err.kind() == CreateErrorKind::AlreadyExists => {
                let owner = self
                    .shared
                    .runs
                    .get(session)
                    .await
                    .map_err(|e| BusError::nats("read a run's owner", e))?
                    .map(|v| String::from_utf8_lossy(&v).into_owned())
                    .unwrap_or_default();
                Err(BusError::AlreadyRunning { session: session.to_owned(), owner })
            }
            Err(err) => Err(BusError::nats(format!("claim the run of session {session}"), err)),
        }
    }

    /// Takes over the run of `session` for `worker` from an owner whose lease has lapsed (a dead worker),
    /// or claims it if nobody owns it. Compare-and-set on the claim's revision: of several processes
    /// reclaiming at once exactly one wins. [`BusError::AlreadyRunning`] if the owner is alive (or another
    /// reclaimer won).
    #[tracing::instrument(skip(self), fields(session = %session, worker = %worker))]
    pub async fn reclaim_run(&self, session: &str, worker: &str) -> Result<RunClaim, BusError> {
        if !valid_id(session) {
            return Err(BusError::InvalidSession(session.to_owned()));
        }
        let entry = self.shared.runs.entry(session).await.map_err(|e| BusError::nats("read a run's owner", e))?;
        let Some(entry) = entry.filter(|e| e.operation == Operation::Put) else {
            return self.claim_run(session, worker).await;
        };
        let owner = String::from_utf8_lossy(&entry.value).into_owned();
        let already = |owner: String| BusError::AlreadyRunning { session: session.to_owned(), owner };
        if valid_id(&owner) && self.worker_alive(&owner).await? {
            return Err(already(owner));
        }
        if !valid_id(worker) {
            return Err(BusError::InvalidWorker(worker.to_owned()));
        }
        match self.shared.runs.update(session, Bytes::from(worker.to_owned()), entry.revision).await {
            Ok(revision) => {
                tracing::info!(dead_owner = %owner, "took over the run of a worker whose lease lapsed");
                Ok(RunClaim { bus: self.clone(), session: session.to_owned(), worker: worker.to_owned(), revision })
            }
            Err(err) if err.kind() == UpdateErrorKind::WrongLastRevision => {
                let owner = self.shared.runs.get(session).await.ok().flatten();
                Err(already(owner.map(|v| String::from_utf8_lossy(&v).into_owned()).unwrap_or_default()))
            }
            Err(err) => Err(BusError::nats(format!("take over the run of session {session}"), err)),
        }
    }

    /// The live workers with their cards (the value their lease was taken with), sorted by id
    /// ([`BusError::Unreachable`] soon while the connection to NATS is lost, as [`Bus::request`]).
    pub async fn worker_cards(&self) -> Result<Vec<(String, Bytes)>, BusError> {
        self.wait_connected().await?;
        let keys: Vec<String> = match self.shared.workers.keys().await {
            Ok(keys) => keys.try_collect().await.map_err(|e| BusError::nats("list workers", e))?,
            Err(err) => return Err(BusError::nats("list workers", err)),
        };
        let mut cards = Vec::with_capacity(keys.len());
        for worker in keys {
            let entry =
                self.shared.workers.entry(&worker).await.map_err(|e| BusError::nats("read a worker lease", e))?;
            if let Some(entry) = entry.filter(|e| e.operation == Operation::Put) {
                cards.push((worker, entry.value));
            }
        }
        cards.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(cards)
    }

    /// Records that `session` ran on `worker` (its next run goes there first, where its transcript is).
    pub async fn place_session(&self, session: &str, worker: &str) -> Result<(), BusError> {
        if !valid_id(session) {
            return Err(BusError::InvalidSession(session.to_owned()));
        }
        if !valid_id(worker) {
            return Err(BusError::InvalidWorker(worker.to_owned()));
        }
        self.shared
            .places
            .put(session, Bytes::from(worker.to_owned()))
            .await
            .map_err(|e| BusError::nats("place a session", e))?;
        Ok(())
    }

    /// The worker `session` last ran on, if it is remembered.
    pub async fn session_place(&self, session: &str) -> Result<Option<String>, BusError> {
        if !valid_id(session) {
            return Err(BusError::InvalidSession(session.to_owned()));
        }
        let value = self.shared.places.get(session).await.map_err(|e| BusError::nats("read a session's place", e))?;
        Ok(value.map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// The workers whose lease is live now, sorted.
    pub async fn workers(&self) -> Result<Vec<String>, BusError> {
        Ok(self.worker_cards().await?.into_iter().map(|(worker, _)| worker).collect())
    }

    /// Every run in the cluster: (session, owning worker), sorted by session ([`BusError::Unreachable`] soon
    /// while the connection to NATS is lost, as [`Bus::request`]).
    pub async fn running(&self) -> Result<Vec<(String, String)>, BusError> {
        self.wait_connected().await?;
        let keys: Vec<String> = match self.shared.runs.keys().await {
            Ok(keys) => keys.try_collect().await.map_err(|e| BusError::nats("list runs", e))?,
            Err(err) => return Err(BusError::nats("list runs", err)),
        };
        let mut runs = Vec::with_capacity(keys.len());
        for session in keys {
            if let Some(owner) = self.shared.runs.get(&session).await.map_err(|e| BusError::nats("read a run", e))? {
                runs.push((session, String::from_utf8_lossy(&owner).into_owned()));
            }
        }
        runs.sort();
        Ok(runs)
    }
}

impl WorkerLease {
    /// The worker id the lease is for.
    pub fn worker(&self) -> &str {
        &self.worker
    }

    /// Whether the lease has been lost.
    pub fn is_lost(&self) -> bool {
        *self.lost.borrow()
    }

    /// Resolves once the lease is lost (at once if it already is). Cancel-safe.
    pub async fn lost(&self) {
        let mut lost = self.lost.clone();
        let _ = lost.wait_for(|lost| *lost).await;
    }

    /// A receiver that turns `true` when the lease is lost, for tasks that must stop with it.
    pub fn lost_signal(&self) -> watch::Receiver<bool> {
        self.lost.clone()
    }

    /// Stops renewing and deletes the lease, so others see the worker gone at once.
    pub async fn release(self) -> Result<(), BusError> {
        self.renewer.abort();
        self.bus.shared.workers.delete(&self.worker).await.map_err(|e| BusError::nats("release a worker lease", e))
    }
}

impl Drop for WorkerLease {
    fn drop(&mut self) {
        self.renewer.abort();
    }
}

/// Renews `worker`'s lease every third of the TTL until it is lost; `sent_at` is when the request that
/// produced `revision` was sent (the server's TTL counts from no earlier than that).
async fn renew(
    bus: Bus,
    worker: String,
    card: Bytes,
    mut revision: u64,
    mut sent_at: Instant,
    lost: watch::Sender<bool>,
) {
    let ttl = bus.shared.config.lease_ttl;
    let every = ttl / 3;
    loop {
        // lost once a whole TTL has passed since the last successful renewal was sent
        let deadline = sent_at + ttl;
        tokio::time::sleep_until((Instant::now() + every).min(deadline)).await;
        let attempt = Instant::now();
        if attempt >= deadline {
            tracing::warn!(?ttl, "lease lost: not renewed within its TTL");
            let _ = lost.send(true);
            return;
        }
        let update = bus.shared.workers.update(&worker, card.clone(), revision);
        match tokio::time::timeout_at(deadline, update).await {
            Ok(Ok(next)) => {
                revision = next;
                sent_at = attempt;
            }
            Ok(Err(err)) if err.kind() == UpdateErrorKind::WrongLastRevision => {
                tracing::warn!("lease lost: another process holds it now");
                let _ = lost.send(true);
                return;
            }
            Ok(Err(err)) => {
                tracing::debug!(%err, "lease renewal failed, retrying");
                tokio::time::sleep(Duration::from_millis(100).min(every)).await;
            }
            Err(_) => {
                tracing::warn!(?ttl, "lease lost: not renewed within its TTL");
                let _ = lost.send(true);
                return;
            }
        }
    }
}

/// The ownership of one session's run by one worker, held until released.
///
/// Guarantees: while a claim exists no other [`Bus::claim_run`] for its session succeeds, and
/// [`Bus::reclaim_run`] only once the owner's lease has lapsed. A claim is not released on drop (a worker
/// that dies keeps its runs claimed until another takes them over with [`Bus::reclaim_run`]); call
/// [`RunClaim::release`]. Releasing a claim that was taken over leaves the new owner's claim alone.
#[derive(Debug)]
pub struct RunClaim {
    bus: Bus,
    session: String,
    worker: String,
    revision: u64,
}

impl RunClaim {
    /// The session whose run is claimed.
    pub fn session(&self) -> &str {
        &self.session
    }

    /// The worker that owns the run.
    pub fn worker(&self) -> &str {
        &self.worker
    }

    /// Ends the claim, if it is still this one (compare-and-delete on its revision), so the session can be
    /// claimed again; an error if another worker took the run over (its claim stays). While NATS does not answer (the bucket's leader died and another is being elected)
    /// the delete is tried again for up to `BusConfig::publish_timeout`: a claim left behind would list the
    /// run as running for ever. [`BusError::Unreachable`] once the connection has been lost for
    /// `BusConfig::unreachable_after`.
    pub async fn release(self) -> Result<(), BusError> {
        let what = || format!("release the run of session {}", self.session);
        let deadline = Instant::now() + self.bus.shared.config.publish_timeout;
        let mut backoff = Duration::from_millis(50);
        loop {
            let delete = self.bus.shared.runs.delete_expect_revision(&self.session, Some(self.revision));
            let err = tokio::select! {
                result = delete => match result {
                    Ok(()) => return Ok(()),
                    Err(err) => err,
                },
                err = self.bus.unreachable_for_too_long() => return Err(err),
            };
            match self.bus.shared.runs.entry(&self.session).await {
                // still this claim: NATS did not answer, try again
                Ok(Some(entry)) if entry.revision == self.revision && entry.operation == Operation::Put => {}
                // taken over: the new owner's claim stays
                Ok(Some(entry)) if entry.operation == Operation::Put => return Err(BusError::nats(what(), err)),
                // gone (this delete was stored, its answer lost)
                Ok(_) => return Ok(()),
                Err(_) => {}
            }
            if Instant::now() + backoff > deadline {
                return Err(BusError::nats(what(), err));
            }
            tracing::debug!(%err, "releasing a run's claim failed, retrying");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(1));
        }
    }
}
