//! API errors as responses: the status a user can act on and Opcode's envelope
//! `{success: false, data: null, error}`. Internal failures are logged here and sent as a generic message.

use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use opcode_sessions::{CancelError, ControlError, StoreError};
use serde::Serialize;

/// Opcode's JSON envelope.
#[derive(Debug, Serialize)]
pub struct Envelope<T: Serialize> {
    /// True on success.
    pub success: bool,
    /// The payload (null on error).
    pub data: Option<T>,
    /// What went wrong (null on success).
    pub error: Option<String>,
}

/// A successful envelope.
pub fn ok<T: Serialize>(data: T) -> Json<Envelope<T>> {
    Json(Envelope { success: true, data: Some(data), error: None })
}

/// Why an API call failed.
#[derive(Debug)]
pub enum ApiError {
    /// 400: the request is wrong; the message says how.
    BadRequest(String),
    /// 403: refused by the server's configuration (e.g. outside `--project-root`).
    Forbidden(String),
    /// 404: no such thing.
    NotFound(String),
    /// 409: not possible in the current state.
    Conflict(String),
    /// 410: it was there and is gone for good (a push subscription its push service dropped).
    Gone(String),
    /// 413: the request body is over the route's limit.
    TooLarge(String),
    /// 502: a service the server relies on (a push service) refused or could not be reached.
    BadGateway(String),
    /// 503: the feature is off on this server.
    Unavailable(String),
    /// 500: logged with its detail, sent as a generic message.
    Internal(String),
}

impl ApiError {
    /// A refusal from another machine (a cluster's worker) with the status a server on its own would give.
    pub fn refused(refusal: opcode_proto::cluster::Refusal, message: String) -> ApiError {
        use opcode_proto::cluster::Refusal;
        match refusal {
            Refusal::BadRequest => ApiError::BadRequest(message),
            Refusal::Forbidden => ApiError::Forbidden(message),
            Refusal::NotFound => ApiError::NotFound(message),
            Refusal::Conflict | Refusal::Busy => ApiError::Conflict(message),
            Refusal::Unavailable => ApiError::Unavailable(message),
        }
    }

    /// The message a client is sent (an internal failure's detail is logged, never sent).
    pub fn message(self) -> String {
        self.parts().1
    }

    fn parts(self) -> (StatusCode, String) {
        match self {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, m),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, m),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, m),
            ApiError::Gone(m) => (StatusCode::GONE, m),
            ApiError::TooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, m),
            ApiError::BadGateway(m) => (StatusCode::BAD_GATEWAY, m),
            ApiError::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, m),
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error; see the server log".to_owned())
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = self.parts();
        (status, Json(Envelope::<()> { success: false, data: None, error: Some(message) })).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::BadProjectId(_) | StoreError::BadSessionId(_) | StoreError::BadCursor(_) => {
                ApiError::BadRequest(err.to_string())
            }
            StoreError::NotFound(_) => ApiError::NotFound(err.to_string()),
            other => ApiError::Internal(format!("{other}: {:?}", std::error::Error::source(&other))),
        }
    }
}

impl From<CancelError> for ApiError {
    fn from(err: CancelError) -> Self {
        match err {
            CancelError::NotFound(_) => ApiError::NotFound(err.to_string()),
            CancelError::Refused { refusal, message } => ApiError::refused(refusal, message),
            other => ApiError::Conflict(other.to_string()),
        }
    }
}

impl From<ControlError> for ApiError {
    fn from(err: ControlError) -> Self {
        match err {
            ControlError::NotFound(_) => ApiError::NotFound(err.to_string()),
            ControlError::EmptyPrompt
            | ControlError::BadClientId(_)
            | ControlError::BadImage(_)
            | ControlError::BadSettings(_) => ApiError::BadRequest(err.to_string()),
            ControlError::NotQueued(_) => ApiError::NotFound(err.to_string()),
            ControlError::Refused { refusal, message } => ApiError::refused(refusal, message),
            other => ApiError::Conflict(other.to_string()),
        }
    }
}

impl From<opcode_push::PushError> for ApiError {
    fn from(err: opcode_push::PushError) -> Self {
        use opcode_push::PushError;
        match err {
            PushError::Subscription(_) => ApiError::BadRequest(err.to_string()),
            PushError::NotSubscribed(_) => ApiError::NotFound(err.to_string()),
            PushError::Gone(_) => ApiError::Gone(err.to_string()),
            PushError::Send(_) => ApiError::BadGateway(err.to_string()),
            other => ApiError::Internal(format!("{other}: {:?}", std::error::Error::source(&other))),
        }
    }
}

/// A JSON body that could not be read: `413` over the route's `limit` (bytes), else `400` with what was
/// wrong (syntax, a missing or unknown field, a value of the wrong type).
pub fn json_rejected(rejection: &JsonRejection, limit: usize) -> ApiError {
    match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::TooLarge(format!("the body is over the {limit}-byte limit of this route"))
        }
        _ => ApiError::BadRequest(format!(
            "send a JSON object (Content-Type: application/json): {}",
            rejection.body_text()
        )),
    }
}
