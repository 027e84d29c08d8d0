//! Web Push routes (`/api/push/*`): the VAPID public key, a device's subscription (save, delete), and a
//! test notification. Everything behind them is `opcode-push`; this is only HTTP.
//!
//! Bodies are small JSON objects: over [`MAX_PUSH_BODY`] bytes is a `413`, malformed JSON or a field
//! that does not check is a `400`, and in both cases nothing is written.

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use opcode_push::{PushService, SubscribeRequest};
use serde::Deserialize;
use serde_json::json;

use crate::error::{ok, ApiError};
use crate::state::AppState;

/// Largest body accepted on the push routes (a subscription is about 500 bytes).
pub const MAX_PUSH_BODY: usize = 8 * 1024;

/// The push routes (authenticated like the rest of `/api`).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/push/vapid-public-key", get(public_key))
        .route("/api/push/subscriptions", post(subscribe).delete(unsubscribe))
        .route("/api/push/test", post(test))
        .layer(DefaultBodyLimit::max(MAX_PUSH_BODY))
}

fn service(state: &AppState) -> Result<&PushService, ApiError> {
    state.push.as_ref().ok_or_else(|| ApiError::Unavailable("Web Push is off on this server (see its log)".to_owned()))
}

/// A body that could not be read as the route's JSON.
fn rejected(rejection: JsonRejection) -> ApiError {
    crate::error::rejected_body(rejection, MAX_PUSH_BODY, "push")
}

/// `{ "device_id": … }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Device {
    device_id: String,
}

async fn public_key(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    Ok(ok(json!({ "public_key": service(&state)?.public_key() })))
}

async fn subscribe(
    State(state): State<AppState>,
    body: Result<Json<SubscribeRequest>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let push = service(&state)?;
    let Json(request) = body.map_err(rejected)?;
    push.subscribe(&request).await?;
    Ok(ok(json!({ "device_id": request.device_id })))
}

async fn unsubscribe(
    State(state): State<AppState>,
    body: Result<Json<Device>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let push = service(&state)?;
    let Json(device) = body.map_err(rejected)?;
    let deleted = push.unsubscribe(&device.device_id).await?;
    Ok(ok(json!({ "deleted": deleted })))
}

async fn test(
    State(state): State<AppState>,
    body: Result<Json<Device>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let push = service(&state)?;
    let Json(device) = body.map_err(rejected)?;
    push.test(&device.device_id).await?;
    Ok(ok(json!({ "accepted": true })))
}
