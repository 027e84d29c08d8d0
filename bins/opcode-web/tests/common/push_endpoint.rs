//! A push service of the tests' own (axum on 127.0.0.1) that checks every push as a browser's push service
//! and browser would: the VAPID JWT's ES256 signature against the server's public key (and its `aud`,
//! `sub`, validity), then the RFC 8291 `aes128gcm` decryption with the subscription's private key.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64ct::{Base64UrlUnpadded, Encoding};
use opcode_push::PushStats;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use web_push_native::jwt_simple::prelude::*;
use web_push_native::p256::elliptic_curve::sec1::ToEncodedPoint;

use super::{TestServer, LIMIT, PUSH_CONTACT, TOKEN};

/// A push as the test's push service received it, checked and decrypted.
#[derive(Debug)]
pub struct Pushed {
    pub headers: HeaderMap,
    pub payload: Value,
}

#[derive(Clone)]
pub struct EndpointState {
    secret: web_push_native::p256::SecretKey,
    auth: [u8; 16],
    vapid_public_key: String,
    origin: String,
    status: Arc<AtomicU16>,
    tx: mpsc::UnboundedSender<Result<Pushed, String>>,
}

/// One device's push service: receives, checks, decrypts; answers with `status`.
pub struct Endpoint {
    url: String,
    state: EndpointState,
    rx: mpsc::UnboundedReceiver<Result<Pushed, String>>,
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    for chunk in out.chunks_mut(16) {
        chunk.copy_from_slice(&uuid::Uuid::new_v4().as_bytes()[..chunk.len()]);
    }
    out
}

impl Endpoint {
    pub async fn start(vapid_public_key: &str) -> Endpoint {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        // a browser's subscription keys: a P-256 key pair and a 16-byte auth secret
        let secret = web_push_native::p256::SecretKey::from_slice(&ES256KeyPair::generate().to_bytes()).unwrap();
        let state = EndpointState {
            secret,
            auth: random_bytes(),
            vapid_public_key: vapid_public_key.to_owned(),
            origin: format!("http://{addr}"),
            status: Arc::new(AtomicU16::new(201)),
            tx,
        };
        let app = axum::Router::new().route("/push/{id}", axum::routing::post(receive)).with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Endpoint { url: format!("http://{addr}/push/{}", uuid::Uuid::new_v4().simple()), state, rx }
    }

    /// Answer pushes with this status from now on.
    pub fn answer_with(&self, status: u16) {
        self.state.status.store(status, Ordering::SeqCst);
    }

    /// `POST /api/push/subscriptions`'s body for `device`, as `PushSubscription.toJSON()` gives it.
    pub fn subscribe_body(&self, device: &str) -> Value {
        let public = self.state.secret.public_key().to_encoded_point(false);
        json!({
            "device_id": device,
            "subscription": {
                "endpoint": self.url,
                "expirationTime": null,
                "keys": {
                    "p256dh": Base64UrlUnpadded::encode_string(public.as_bytes()),
                    "auth": Base64UrlUnpadded::encode_string(&self.state.auth),
                },
            },
        })
    }

    /// The next push, checked; fails the test if a push did not check out.
    pub async fn next(&mut self) -> Pushed {
        let received = tokio::time::timeout(LIMIT, self.rx.recv()).await.expect("a push in time").expect("endpoint up");
        received.unwrap_or_else(|why| panic!("the push service refused a push: {why}"))
    }

    /// The next push whose payload is of `kind` (others are skipped).
    pub async fn next_of(&mut self, kind: &str) -> Pushed {
        loop {
            let pushed = self.next().await;
            if pushed.payload["kind"] == kind {
                return pushed;
            }
        }
    }

    pub fn nothing_received(&mut self) -> bool {
        self.rx.try_recv().is_err()
    }
}

pub async fn receive(State(state): State<EndpointState>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let checked = check(&state, &headers, &body);
    let status = if checked.is_ok() { state.status.load(Ordering::SeqCst) } else { 400 };
    let _ = state.tx.send(checked);
    StatusCode::from_u16(status).unwrap()
}

/// What a push service and the browser check.
pub fn check(state: &EndpointState, headers: &HeaderMap, body: &[u8]) -> Result<Pushed, String> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    if header("content-encoding") != "aes128gcm" {
        return Err(format!("Content-Encoding {:?}", header("content-encoding")));
    }
    if header("ttl").parse::<u64>().is_err() {
        return Err("no TTL".into());
    }
    // Authorization: vapid t=<jwt>, k=<public key>
    let authorization = header("authorization");
    let rest = authorization.strip_prefix("vapid ").ok_or("not a vapid Authorization")?;
    let mut token = None;
    let mut key = None;
    for part in rest.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => token = Some(v.to_owned()),
            Some(("k", v)) => key = Some(v.to_owned()),
            _ => {}
        }
    }
    let (token, key) = (token.ok_or("no t=")?, key.ok_or("no k=")?);
    if key != state.vapid_public_key {
        return Err(format!("k= is {key}, not the server's public key"));
    }
    let public = ES256PublicKey::from_bytes(&Base64UrlUnpadded::decode_vec(&key).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let options = VerificationOptions {
        allowed_audiences: Some(HashSet::from([state.origin.clone()])),
        required_subject: Some(PUSH_CONTACT.to_owned()),
        max_validity: Some(Duration::from_hours(24)),
        ..Default::default()
    };
    let claims = public.verify_token::<NoCustomClaims>(&token, Some(options)).map_err(|e| format!("JWT: {e}"))?;
    if claims.expires_at.is_none() {
        return Err("the JWT has no exp".into());
    }
    let auth = web_push_native::Auth::clone_from_slice(&state.auth);
    let plain = web_push_native::decrypt(body.to_vec(), &state.secret, &auth).map_err(|e| format!("decrypt: {e}"))?;
    let payload = serde_json::from_slice(&plain).map_err(|e| format!("payload is not JSON: {e}"))?;
    Ok(Pushed { headers: headers.clone(), payload })
}

impl TestServer {
    pub fn push(&self) -> &opcode_push::PushService {
        self.state.push.as_ref().expect("push on")
    }

    pub async fn vapid_public_key(&self) -> String {
        let (status, body) = self.get_json("/api/push/vapid-public-key").await;
        assert_eq!(status, 200, "{body}");
        body["data"]["public_key"].as_str().unwrap().to_owned()
    }

    pub async fn endpoint(&self) -> Endpoint {
        Endpoint::start(&self.vapid_public_key().await).await
    }

    pub async fn call(&self, method: reqwest::Method, path: &str, body: &Value) -> (u16, Value) {
        let response = self.http().request(method, self.url(path)).bearer_auth(TOKEN).json(body).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn subscribe(&self, endpoint: &Endpoint, device: &str) {
        let (status, body) =
            self.call(reqwest::Method::POST, "/api/push/subscriptions", &endpoint.subscribe_body(device)).await;
        assert_eq!(status, 200, "{body}");
    }

    pub async fn stored_devices(&self) -> Vec<String> {
        let store = self.state.registry.store();
        let rows = tokio::task::spawn_blocking(move || store.push_subscriptions().unwrap()).await.unwrap();
        rows.into_iter().map(|r| r.device_id).collect()
    }

    /// Waits until the notifier's counts satisfy `what`.
    pub async fn push_stats(&self, what: impl FnMut(&PushStats) -> bool) -> PushStats {
        let mut stats = self.push().stats();
        let seen = tokio::time::timeout(LIMIT, stats.wait_for(what)).await.expect("push stats in time").unwrap();
        *seen
    }
}
