//! `GET /api/cluster`: how this server runs claude. On its own: `{"mode": "single"}`. As a replica of a
//! cluster (`--nats-url`): the live workers with the runs each owns, and the events stream (size, leader,
//! replicas), from the bus; a bus that does not answer within [`STATUS_TIMEOUT`] is a 503 saying so.

use std::time::Duration;

use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use serde_json::json;

use crate::error::{ok, ApiError};
use crate::AppState;

/// Longest the status waits for the bus.
pub const STATUS_TIMEOUT: Duration = Duration::from_secs(3);

/// The cluster route (authenticated like the rest of `/api`).
pub fn routes() -> Router<AppState> {
    Router::new().route("/api/cluster", get(status))
}

async fn status(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let Some(client) = &state.cluster else { return Ok(ok(json!({ "mode": "single" }))) };
    let unreachable = |detail: String| {
        ApiError::Unavailable(format!(
            "the cluster's NATS server does not answer ({detail}): runs cannot start or be steered until it is back"
        ))
    };
    let status = tokio::time::timeout(STATUS_TIMEOUT, client.status())
        .await
        .map_err(|_| unreachable(format!("no answer within {STATUS_TIMEOUT:?}")))?
        .map_err(|err| unreachable(err.to_string()))?;
    Ok(ok(json!({ "mode": "replica", "connected": client.bus().connected(), "cluster": status })))
}
