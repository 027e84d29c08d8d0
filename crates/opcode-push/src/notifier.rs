//! [`PushService`]: subscriptions in, pushes out. Its notifier task listens to the registry's notable
//! events; for each that deserves a push ([`crate::payload::for_event`]) it reads the subscriptions
//! (on the blocking pool), leaves out the devices that were watching when the event was announced
//! ([`Presence`]), and spawns one delivery per remaining device. A `404`/`410` deletes that
//! subscription; any other failure is logged and the subscription kept.
//!
//! Ordering: events are handled in the order they were announced; deliveries run concurrently and may
//! reach devices in any order (each notification has its own tag, so order hardly matters).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opcode_sessions::notable::NotableEvent;
use opcode_sessions::SessionRegistry;
use opcode_store::{Store, StoreError};
use tokio::sync::{broadcast, watch};
use tokio_util::task::TaskTracker;

use crate::payload::{self, Payload, PayloadKind};
use crate::presence::Presence;
use crate::sender::{Delivery, SendError, Sender, Urgency};
use crate::subscription::{check_device_id, SubscribeRequest, Subscription, SubscriptionError};
use crate::vapid::{VapidError, VapidKeys};

/// How long a push service keeps a finished/failed notification for an offline device.
const RUN_TTL: Duration = Duration::from_secs(12 * 60 * 60);
/// How long it keeps a test notification.
const TEST_TTL: Duration = Duration::from_secs(60);

/// Settings of Web Push.
#[derive(Debug, Clone)]
pub struct PushConfig {
    /// The VAPID `sub`: a `mailto:` or `https:` contact for the push services.
    pub contact: String,
    /// Accept `http://` endpoints (tests; a push service on the local network). Off: https only.
    pub allow_http_endpoints: bool,
}

impl Default for PushConfig {
    fn default() -> Self {
        PushConfig { contact: "mailto:opcode-web@example.com".to_owned(), allow_http_endpoints: false }
    }
}

/// What the notifier has done so far (for tests and the log); changes after each step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PushStats {
    /// Notable events handled (whether or not they became pushes).
    pub events: u64,
    /// Pushes the push services accepted.
    pub sent: u64,
    /// Pushes not sent because a visible page of the device was watching.
    pub suppressed: u64,
    /// Deliveries that failed (the subscription was kept).
    pub failed: u64,
    /// Subscriptions deleted because their push service said they are gone.
    pub removed: u64,
}

/// Why a push operation failed. Messages say what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    /// The VAPID key could not be had.
    #[error(transparent)]
    Vapid(#[from] VapidError),
    /// What the device sent is not a usable subscription.
    #[error(transparent)]
    Subscription(#[from] SubscriptionError),
    /// The database failed.
    #[error("push subscriptions: {0}")]
    Store(#[from] StoreError),
    /// The device has no subscription.
    #[error("device {0} has no push subscription; subscribe it first (POST /api/push/subscriptions)")]
    NotSubscribed(String),
    /// The push service said the subscription is gone (it was deleted).
    #[error("the push service says this device's subscription is gone ({0}); it was removed: subscribe again")]
    Gone(u16),
    /// The push could not be delivered.
    #[error(transparent)]
    Send(#[from] SendError),
}

/// How a test notification went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestOutcome {
    /// The push service accepted it.
    Accepted,
}

#[derive(Debug)]
struct Inner {
    store: Arc<Store>,
    sender: Sender,
    presence: Presence,
    config: PushConfig,
    stats: watch::Sender<PushStats>,
    deliveries: TaskTracker,
}

/// Web Push: the VAPID key, device subscriptions, presence, and the notifier. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PushService {
    inner: Arc<Inner>,
}

fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()))
}

impl PushService {
    /// Opens Web Push on the registry's data dir and database (making the VAPID key on first use), and
    /// starts the notifier task, which listens to `notable` (the registry's notable events, or a cluster's
    /// as a replica hears them) until its sender is gone. Must be called inside a tokio runtime.
    pub async fn open(
        registry: &SessionRegistry,
        notable: broadcast::Receiver<NotableEvent>,
        config: PushConfig,
    ) -> Result<PushService, PushError> {
        let dir = registry.config().data_dir.clone();
        let keys = blocking(move || VapidKeys::load_or_create(&dir)).await?;
        let sender = Sender::new(Arc::new(keys), &config.contact)?;
        let service = PushService {
            inner: Arc::new(Inner {
                store: registry.store(),
                sender,
                presence: Presence::default(),
                config,
                stats: watch::channel(PushStats::default()).0,
                deliveries: TaskTracker::new(),
            }),
        };
        tokio::spawn(service.clone().notify(notable));
        Ok(service)
    }

    /// The VAPID public key (base64url), the `applicationServerKey` of a browser's subscription.
    pub fn public_key(&self) -> &str {
        self.inner.sender.keys().public_key()
    }

    /// Which devices are watching; the sockets report to it.
    pub fn presence(&self) -> &Presence {
        &self.inner.presence
    }

    /// What the notifier has done so far.
    pub fn stats(&self) -> watch::Receiver<PushStats> {
        self.inner.stats.subscribe()
    }

    /// Checks and saves a device's subscription (replacing its earlier one). Nothing is written when it
    /// is refused.
    pub async fn subscribe(&self, request: &SubscribeRequest) -> Result<(), PushError> {
        let subscription = Subscription::from_request(request, self.inner.config.allow_http_endpoints)?;
        let now = unix_ms() / 1000;
        let record = subscription.record(now, now);
        let store = self.inner.store.clone();
        blocking(move || store.save_push_subscription(&record)).await?;
        tracing::info!(device = %request.device_id, "push subscription saved");
        Ok(())
    }

    /// Deletes a device's subscription; whether it had one.
    pub async fn unsubscribe(&self, device_id: &str) -> Result<bool, PushError> {
        check_device_id(device_id)?;
        let (store, id) = (self.inner.store.clone(), device_id.to_owned());
        Ok(blocking(move || store.delete_push_subscription(&id)).await?)
    }

    /// Sends a test notification to a device now, whether or not it is watching.
    pub async fn test(&self, device_id: &str) -> Result<TestOutcome, PushError> {
        check_device_id(device_id)?;
        let (store, id) = (self.inner.store.clone(), device_id.to_owned());
        let record = blocking(move || store.push_subscription(&id))
            .await?
            .ok_or_else(|| PushError::NotSubscribed(device_id.to_owned()))?;
        let subscription = Subscription::from_record(&record, self.inner.config.allow_http_endpoints)?;
        match self.deliver(&subscription, &payload::test(unix_ms()), Urgency::Normal, TEST_TTL).await? {
            Delivery::Accepted => Ok(TestOutcome::Accepted),
            Delivery::Gone(status) => Err(PushError::Gone(status)),
        }
    }

    fn count(&self, change: impl FnOnce(&mut PushStats)) {
        self.inner.stats.send_modify(change);
    }

    /// Sends one push; a `404`/`410` deletes the subscription (if it is still the same endpoint).
    async fn deliver(
        &self,
        to: &Subscription,
        payload: &Payload,
        urgency: Urgency,
        ttl: Duration,
    ) -> Result<Delivery, SendError> {
        let result = self.inner.sender.send(to, payload, urgency, ttl).await;
        match &result {
            Ok(Delivery::Accepted) => self.count(|s| s.sent += 1),
            Ok(Delivery::Gone(status)) => {
                tracing::info!(device = %to.device_id, status, "push subscription gone: removing it");
                let (store, id, endpoint) = (self.inner.store.clone(), to.device_id.clone(), to.endpoint.to_string());
                match blocking(move || store.delete_push_endpoint(&id, &endpoint)).await {
                    Ok(_) => self.count(|s| s.removed += 1),
                    Err(err) => tracing::warn!(%err, "could not remove a gone push subscription"),
                }
            }
            Err(err) => {
                tracing::warn!(device = %to.device_id, %err, "push not delivered");
                self.count(|s| s.failed += 1);
            }
        }
        result
    }

    /// The notifier task: handles notable events in order until the registry is gone.
    async fn notify(self, mut events: broadcast::Receiver<NotableEvent>) {
        loop {
            match events.recv().await {
                Ok(event) => self.handle(event).await,
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "the push notifier fell behind; some notifications were not sent");
                }
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
        self.inner.deliveries.close();
        self.inner.deliveries.wait().await;
    }

    async fn handle(&self, event: NotableEvent) {
        let Some(payload) = payload::for_event(&event, unix_ms()) else {
            self.count(|s| s.events += 1);
            return;
        };
        let store = self.inner.store.clone();
        let records = match blocking(move || store.push_subscriptions()).await {
            Ok(records) => records,
            Err(err) => {
                tracing::warn!(%err, "cannot read push subscriptions");
                self.count(|s| s.events += 1);
                return;
            }
        };
        let (urgency, ttl) = match (&payload.kind, &payload.permission) {
            (PayloadKind::PermissionRequest, Some(p)) => (
                Urgency::High,
                Duration::from_millis(p.expires_at.saturating_sub(unix_ms())).max(Duration::from_secs(60)),
            ),
            _ => (Urgency::Normal, RUN_TTL),
        };
        let payload = Arc::new(payload);
        for record in records {
            if self.inner.presence.watching_at(&record.device_id, event.at) {
                self.count(|s| s.suppressed += 1);
                continue;
            }
            let subscription = match Subscription::from_record(&record, self.inner.config.allow_http_endpoints) {
                Ok(subscription) => subscription,
                Err(err) => {
                    tracing::warn!(device = %record.device_id, %err, "a stored push subscription is unusable");
                    continue;
                }
            };
            let (service, payload) = (self.clone(), payload.clone());
            self.inner.deliveries.spawn(async move {
                let _ = service.deliver(&subscription, &payload, urgency, ttl).await;
            });
        }
        self.count(|s| s.events += 1);
    }
}
