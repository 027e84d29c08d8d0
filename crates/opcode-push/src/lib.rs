//! Web Push for opcode-web: tells a person's devices when a session needs them (a permission request)
//! or is done (a turn or run finished, or failed), while no visible page of that device is watching.
//!
//! - [`vapid`]: the server's VAPID key pair (RFC 8292), made once and kept in the data dir; it signs the
//!   `Authorization` of every push.
//! - [`subscription`]: what a browser's `PushSubscription` gives, checked before it is stored (one per
//!   device, in `opcode-store`).
//! - [`payload`]: the JSON a service worker receives, decrypted (the format is in `docs/protocol.md`).
//! - [`sender`]: encrypts a payload for one subscription (RFC 8291, `aes128gcm`) and posts it to the push
//!   service; `404`/`410` mean the subscription is gone.
//! - [`presence`]: which devices have a visible page open right now (their sockets report it).
//! - [`PushService`] ties them together, and its notifier task listens to the registry's notable events.
//!
//! **Invariant:** nothing here is on the path of a run. The notifier reads a broadcast the registry
//! writes without waiting; store reads run on the blocking pool; each delivery is a task of its own.
#![warn(missing_docs)]

mod notifier;
pub mod payload;
pub mod presence;
pub mod sender;
pub mod subscription;
pub mod vapid;

pub use notifier::{PushConfig, PushError, PushService, PushStats, TestOutcome};
pub use payload::{Payload, PayloadKind, PermissionPayload};
pub use presence::{Presence, Watcher};
pub use sender::{Delivery, SendError, Sender};
pub use subscription::{SubscribeRequest, Subscription, SubscriptionError};
pub use vapid::{VapidError, VapidKeys};
