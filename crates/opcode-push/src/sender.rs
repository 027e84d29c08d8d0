//! Posts one encrypted payload to one subscription's push service (RFC 8030), signed with VAPID.
//!
//! The body is encrypted to the browser's keys with `aes128gcm` (RFC 8291, by `web-push-native`); the
//! `Authorization` is `vapid t=<JWT>, k=<public key>` (RFC 8292). The push service answers `201`
//! (accepted), `404`/`410` (the subscription is gone: delete it), or another status (try again later;
//! keep it). Nothing else is read from the answer.

use std::sync::Arc;
use std::time::Duration;

use crate::payload::{Payload, MAX_PAYLOAD};
use crate::subscription::Subscription;
use crate::vapid::{VapidError, VapidKeys};

/// How long one delivery may take.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(15);

/// How urgent a push is for the device's battery (RFC 8030 `Urgency`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    /// Claude waits for an answer.
    High,
    /// Everything else.
    Normal,
}

impl Urgency {
    fn as_str(self) -> &'static str {
        match self {
            Urgency::High => "high",
            Urgency::Normal => "normal",
        }
    }
}

/// What the push service did with a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Accepted (2xx).
    Accepted,
    /// `404` or `410`: the subscription is gone and must be deleted.
    Gone(u16),
}

/// Why a push was not delivered (the subscription stays).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The payload is over [`MAX_PAYLOAD`] bytes.
    #[error("the push payload is {0} bytes, over the {MAX_PAYLOAD}-byte limit")]
    TooLarge(usize),
    /// It could not be encrypted to the subscription's keys.
    #[error("cannot encrypt the push payload: {0}")]
    Encrypt(String),
    /// VAPID signing failed.
    #[error(transparent)]
    Vapid(#[from] VapidError),
    /// The push service could not be reached.
    #[error("cannot reach the push service: {0}")]
    Http(#[source] reqwest::Error),
    /// The push service refused it with another status.
    #[error("the push service answered {status}: {body}")]
    Refused {
        /// Its status.
        status: u16,
        /// The start of its answer.
        body: String,
    },
}

/// Sends pushes. Cheap to clone (one HTTP client with its connection pool).
#[derive(Debug, Clone)]
pub struct Sender {
    client: reqwest::Client,
    keys: Arc<VapidKeys>,
    contact: Arc<str>,
}

impl Sender {
    /// A sender signing with `keys`; `contact` is the VAPID `sub` (`mailto:…` or `https://…`), which push
    /// services use to reach whoever runs the server.
    pub fn new(keys: Arc<VapidKeys>, contact: &str) -> Result<Sender, SendError> {
        let client = reqwest::Client::builder()
            .timeout(DELIVERY_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("opcode-web/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(SendError::Http)?;
        Ok(Sender { client, keys, contact: contact.into() })
    }

    /// The VAPID keys.
    pub fn keys(&self) -> &VapidKeys {
        &self.keys
    }

    /// Encrypts `payload` for `to` and posts it; `ttl` is how long the push service may keep it for an
    /// offline device.
    pub async fn send(
        &self,
        to: &Subscription,
        payload: &Payload,
        urgency: Urgency,
        ttl: Duration,
    ) -> Result<Delivery, SendError> {
        let json = serde_json::to_vec(payload).expect("a payload always serialises");
        if json.len() > MAX_PAYLOAD {
            return Err(SendError::TooLarge(json.len()));
        }
        let auth = web_push_native::Auth::clone_from_slice(&to.auth);
        let body =
            web_push_native::encrypt(json, &to.public_key, &auth).map_err(|e| SendError::Encrypt(e.to_string()))?;
        let authorization = self.keys.authorization(&to.endpoint, &self.contact)?;
        let response = self
            .client
            .post(to.endpoint.clone())
            .header("TTL", ttl.as_secs().to_string())
            .header("Urgency", urgency.as_str())
            .header("Content-Encoding", "aes128gcm")
            .header("Content-Type", "application/octet-stream")
            .header("Authorization", authorization)
            .body(body)
            .send()
            .await
            .map_err(SendError::Http)?;
        let status = response.status().as_u16();
        match status {
            200..=299 => Ok(Delivery::Accepted),
            404 | 410 => Ok(Delivery::Gone(status)),
            _ => {
                let text = response.text().await.unwrap_or_default();
                Err(SendError::Refused { status, body: crate::payload::one_line(&text, 200) })
            }
        }
    }
}
