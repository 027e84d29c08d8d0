//! A device's push subscription, as its browser's `PushSubscription.toJSON()` gives it, checked before
//! anything is stored: an endpoint the server may post to, a P-256 public key and a 16-byte auth secret
//! that decode, and a device id the client made up (letters, digits, `-`, `_`, `.`; at most 128).

use base64ct::{Base64UrlUnpadded, Encoding};
use opcode_store::PushSubscriptionRecord;
use serde::Deserialize;
use web_push_native::p256::PublicKey;

/// Longest endpoint URL accepted.
pub const MAX_ENDPOINT: usize = 2048;
/// Longest device id accepted.
pub const MAX_DEVICE_ID: usize = 128;

/// Why a subscription was refused. Messages say what to send instead.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubscriptionError {
    /// The device id is empty, too long, or has other characters.
    #[error("device_id must be 1 to 128 letters, digits, '-', '_' or '.'")]
    BadDeviceId,
    /// The endpoint is not an absolute URL the server may post to.
    #[error("subscription.endpoint must be an https URL of at most 2048 characters: {0}")]
    BadEndpoint(String),
    /// `keys.p256dh` is not a base64url P-256 public key.
    #[error("subscription.keys.p256dh must be the browser's P-256 public key, base64url (65 bytes)")]
    BadPublicKey,
    /// `keys.auth` is not a base64url 16-byte secret.
    #[error("subscription.keys.auth must be the browser's 16-byte auth secret, base64url")]
    BadAuth,
}

/// `POST /api/push/subscriptions`: a device and its browser's subscription.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscribeRequest {
    /// The device's id, made up by the client and kept (e.g. in its local storage).
    pub device_id: String,
    /// `PushSubscription.toJSON()`.
    pub subscription: BrowserSubscription,
}

/// What `PushSubscription.toJSON()` gives (its `expirationTime` and anything else are ignored).
#[derive(Debug, Clone, Deserialize)]
pub struct BrowserSubscription {
    /// The push service's URL for this subscription.
    pub endpoint: String,
    /// The keys the payload is encrypted to.
    pub keys: BrowserKeys,
}

/// `PushSubscription.toJSON().keys`.
#[derive(Debug, Clone, Deserialize)]
pub struct BrowserKeys {
    /// The browser's P-256 public key (base64url).
    pub p256dh: String,
    /// The browser's auth secret (base64url).
    pub auth: String,
}

/// A checked subscription, ready to encrypt to.
#[derive(Debug, Clone)]
pub struct Subscription {
    /// The device it belongs to.
    pub device_id: String,
    /// Where pushes go.
    pub endpoint: reqwest::Url,
    /// The browser's public key.
    pub public_key: PublicKey,
    /// The browser's auth secret.
    pub auth: [u8; 16],
}

fn decode(text: &str) -> Option<Vec<u8>> {
    Base64UrlUnpadded::decode_vec(text.trim_end_matches('=')).ok()
}

/// Checks a device id.
pub fn check_device_id(id: &str) -> Result<(), SubscriptionError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_DEVICE_ID
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(SubscriptionError::BadDeviceId)
    }
}

impl Subscription {
    /// Checks what a device sent. `allow_http`: accept `http://` endpoints (tests, a local push service).
    pub fn parse(
        device_id: &str,
        endpoint: &str,
        p256dh: &str,
        auth: &str,
        allow_http: bool,
    ) -> Result<Subscription, SubscriptionError> {
        check_device_id(device_id)?;
        let bad_endpoint = |why: &str| SubscriptionError::BadEndpoint(why.to_owned());
        if endpoint.len() > MAX_ENDPOINT {
            return Err(bad_endpoint("too long"));
        }
        let url = reqwest::Url::parse(endpoint).map_err(|e| bad_endpoint(&e.to_string()))?;
        let scheme_ok = url.scheme() == "https" || (allow_http && url.scheme() == "http");
        if !scheme_ok || url.host_str().is_none() || !url.username().is_empty() || url.password().is_some() {
            return Err(bad_endpoint("not an https URL with a host and no credentials"));
        }
        let public_key = decode(p256dh)
            .filter(|bytes| bytes.len() == 65)
            .and_then(|bytes| PublicKey::from_sec1_bytes(&bytes).ok())
            .ok_or(SubscriptionError::BadPublicKey)?;
        let auth: [u8; 16] = decode(auth).and_then(|b| b.try_into().ok()).ok_or(SubscriptionError::BadAuth)?;
        Ok(Subscription { device_id: device_id.to_owned(), endpoint: url, public_key, auth })
    }

    /// Checks a request of `POST /api/push/subscriptions`.
    pub fn from_request(request: &SubscribeRequest, allow_http: bool) -> Result<Subscription, SubscriptionError> {
        let s = &request.subscription;
        Subscription::parse(&request.device_id, &s.endpoint, &s.keys.p256dh, &s.keys.auth, allow_http)
    }

    /// Reads back a stored subscription (checked again: a row this version cannot use is an error).
    pub fn from_record(record: &PushSubscriptionRecord, allow_http: bool) -> Result<Subscription, SubscriptionError> {
        Subscription::parse(&record.device_id, &record.endpoint, &record.p256dh, &record.auth, allow_http)
    }

    /// The row to store, with these times (unix seconds).
    pub fn record(&self, created_at: u64, updated_at: u64) -> PushSubscriptionRecord {
        use web_push_native::p256::elliptic_curve::sec1::ToEncodedPoint;
        PushSubscriptionRecord {
            device_id: self.device_id.clone(),
            endpoint: self.endpoint.to_string(),
            p256dh: Base64UrlUnpadded::encode_string(self.public_key.to_encoded_point(false).as_bytes()),
            auth: Base64UrlUnpadded::encode_string(&self.auth),
            created_at,
            updated_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // a real browser's keys (from RFC 8291's example)
    const P256DH: &str = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
    const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";

    #[test]
    fn a_browser_subscription_is_checked() {
        let ok = Subscription::parse("phone-1", "https://push.example/abc", P256DH, AUTH, false).unwrap();
        assert_eq!(ok.endpoint.as_str(), "https://push.example/abc");
        let again = Subscription::from_record(&ok.record(1, 2), false).unwrap();
        assert_eq!((again.public_key, again.auth), (ok.public_key, ok.auth));
        // padding is tolerated
        assert!(Subscription::parse("d", "https://p/x", &format!("{P256DH}="), &format!("{AUTH}=="), false).is_ok());

        let cases = [
            ("", "https://p/x", P256DH, AUTH, SubscriptionError::BadDeviceId),
            ("a b", "https://p/x", P256DH, AUTH, SubscriptionError::BadDeviceId),
            ("d", "http://p/x", P256DH, AUTH, SubscriptionError::BadEndpoint(String::new())),
            ("d", "https://u:p@p/x", P256DH, AUTH, SubscriptionError::BadEndpoint(String::new())),
            ("d", "not a url", P256DH, AUTH, SubscriptionError::BadEndpoint(String::new())),
            ("d", "https://p/x", "AAAA", AUTH, SubscriptionError::BadPublicKey),
            ("d", "https://p/x", &P256DH.replace('B', "C"), AUTH, SubscriptionError::BadPublicKey),
            ("d", "https://p/x", P256DH, "AAAA", SubscriptionError::BadAuth),
        ];
        for (device, endpoint, key, auth, expected) in cases {
            let err = Subscription::parse(device, endpoint, key, auth, false).unwrap_err();
            assert_eq!(std::mem::discriminant(&err), std::mem::discriminant(&expected), "{device} {endpoint}");
        }
        assert!(Subscription::parse("d", "http://127.0.0.1:9/x", P256DH, AUTH, true).is_ok());
    }
}
