//! Devices and the token over HTTP: list, rename and revoke paired devices, make one-time pairing links
//! (and pair a browser through one at `/pair`), rotate the token, read the audit trail. The model lives
//! in `opcode_access`; this is only HTTP.
//!
//! `GET /pair?code=C` shows a page with a "Pair this browser" button (a form), and only its `POST /pair`
//! uses the code up: a link preview or a scanner that fetches the URL does not spend the link.
//!
//! On a cluster (`--nats-url`) pairing, renaming, revoking and pairing links go through
//! [`crate::cluster_access`], so they hold on every replica; the audit trail stays this replica's.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Extension, Form, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use opcode_access::{AccessError, Actor, AuditAction, PairingError};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::api::blocking;
use crate::auth::{clear_legacy_cookie, device_cookie};
use crate::error::{ok, ApiError};
use crate::page;
use crate::state::{AppState, Caller};

/// Largest body on these routes (a name).
pub const MAX_DEVICES_BODY: usize = 4 * 1024;
/// Audit entries per page at most.
const MAX_AUDIT_PAGE: usize = 500;

/// The authenticated routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/devices", get(list))
        .route("/api/devices/{device_id}", patch(rename).delete(revoke))
        .route("/api/pairing-links", post(create_link))
        .route("/api/token/rotate", post(rotate))
        .route("/api/audit", get(audit))
        .layer(DefaultBodyLimit::max(MAX_DEVICES_BODY))
}

/// `/pair` (no credential: the code is one).
pub fn pairing_routes() -> Router<AppState> {
    Router::new().route("/pair", get(pair_page).post(pair)).layer(DefaultBodyLimit::max(MAX_DEVICES_BODY))
}

impl From<AccessError> for ApiError {
    fn from(err: AccessError) -> Self {
        match err {
            AccessError::NoDevice(_) => ApiError::NotFound(err.to_string()),
            AccessError::BadName => ApiError::BadRequest(err.to_string()),
            other => ApiError::Internal(format!("{other}: {:?}", std::error::Error::source(&other))),
        }
    }
}

/// A device as the UI sees it (never its credential or hash).
#[derive(Debug, Serialize)]
struct DeviceView {
    id: String,
    name: String,
    paired_at: u64,
    paired_addr: String,
    last_seen_at: u64,
    last_seen_addr: String,
    /// The device that asked.
    current: bool,
}

/// A device id from a path: 32 lowercase hex characters, or a 400 before anything is looked up.
fn device_id(id: &str) -> Result<&str, ApiError> {
    if opcode_access::secret::is_hex(id, 32) {
        Ok(id)
    } else {
        Err(ApiError::BadRequest(format!("{id:?} is not a device id (32 hex characters): reload the devices list")))
    }
}

async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<impl IntoResponse, ApiError> {
    let access = state.access.clone();
    let devices = blocking(move || Ok(access.devices()?)).await?;
    let current = caller.actor.device_id().map(str::to_owned);
    let views: Vec<DeviceView> = devices
        .into_iter()
        .map(|d| DeviceView {
            current: current.as_deref() == Some(d.id.as_str()),
            id: d.id,
            name: d.name,
            paired_at: d.paired_at,
            paired_addr: d.paired_addr,
            last_seen_at: d.last_seen_at,
            last_seen_addr: d.last_seen_addr,
        })
        .collect();
    Ok(ok(json!({ "devices": views, "current": current })))
}

/// `{ "name": … }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rename {
    name: String,
}

/// A body that could not be read as the route's JSON.
fn rejected(rejection: JsonRejection) -> ApiError {
    match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::TooLarge(format!("the body is over the {MAX_DEVICES_BODY}-byte limit"))
        }
        _ => ApiError::BadRequest(format!(
            "send a JSON object (Content-Type: application/json): {}",
            rejection.body_text()
        )),
    }
}

async fn rename(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<Rename>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let id = device_id(&id)?.to_owned();
    let Json(body) = body.map_err(rejected)?;
    let name = match &state.cluster_access {
        Some(cluster) => cluster.rename(&id, &body.name).await?,
        None => {
            let (access, target) = (state.access.clone(), id.clone());
            blocking(move || Ok(access.rename(&target, &body.name)?)).await?
        }
    };
    state.audit(&caller, AuditAction::DeviceRenamed, &id).await;
    Ok(ok(json!({ "id": id, "name": name })))
}

async fn revoke(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let id = device_id(&id)?.to_owned();
    match &state.cluster_access {
        Some(cluster) => cluster.revoke(&id).await?,
        None => {
            let (access, target) = (state.access.clone(), id.clone());
            blocking(move || Ok(access.revoke(&target)?)).await?;
        }
    }
    state.audit(&caller, AuditAction::DeviceRevoked, &id).await;
    Ok(ok(json!({ "revoked": true })))
}

/// `scheme://host` of the request (the address the browser used).
fn base_url(state: &AppState, headers: &HeaderMap) -> Result<String, ApiError> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .ok_or_else(|| ApiError::BadRequest("a Host header is needed to make a link".to_owned()))?;
    let scheme = if state.secure { "https" } else { "http" };
    Ok(format!("{scheme}://{host}"))
}

/// `url` as a QR code in SVG.
fn qr_svg(url: &str) -> Option<String> {
    let code = qrcode::QrCode::new(url.as_bytes()).ok()?;
    Some(code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(220, 220).quiet_zone(true).build())
}

async fn create_link(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let base = base_url(&state, &headers)?;
    let code = match &state.cluster_access {
        Some(cluster) => cluster.create_pairing_code(state.pairing_ttl).await?,
        None => state.access.create_pairing_code(state.pairing_ttl),
    };
    let url = format!("{base}/pair?code={code}");
    state.audit(&caller, AuditAction::PairingLinkCreated, "").await;
    let expires_at = opcode_access::unix_now() + state.pairing_ttl.as_secs();
    Ok(ok(json!({ "url": url, "expires_at": expires_at, "qr_svg": qr_svg(&url) })))
}

async fn rotate(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    if state.cluster_access.is_some() {
        return Err(ApiError::Conflict(
            "this is a replica of a cluster: every replica shares the token given with --token (or OPCODE_TOKEN); \
             restart them all with another one to change it"
                .to_owned(),
        ));
    }
    let Some(file) = state.token_file.clone() else {
        return Err(ApiError::Conflict(
            "this server's token was set with --token (or OPCODE_TOKEN): restart it with another one to change it"
                .to_owned(),
        ));
    };
    let base = base_url(&state, &headers)?;
    let access = state.access.clone();
    let token = blocking(move || {
        let token = access.rotate_token();
        opcode_access::token_file::write(&file, &token)?;
        Ok(token)
    })
    .await?;
    state.audit(&caller, AuditAction::TokenRotated, "").await;
    tracing::info!("token rotated: the old one no longer works; paired devices stay paired");
    let url = format!("{base}/?token={token}");
    Ok(ok(json!({ "token": token, "url": url, "qr_svg": qr_svg(&url) })))
}

/// The query of `/api/audit`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    limit: Option<usize>,
    before: Option<i64>,
}

/// An audit entry as the UI sees it.
#[derive(Debug, Serialize)]
struct AuditView {
    id: i64,
    at: u64,
    actor: String,
    actor_kind: String,
    actor_id: Option<String>,
    action: String,
    target: String,
    addr: String,
}

async fn audit(
    State(state): State<AppState>,
    q: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let Query(q) =
        q.map_err(|r| ApiError::BadRequest(format!("{}; this route takes limit=N and before=ID", r.body_text())))?;
    let limit = q.limit.unwrap_or(100).clamp(1, MAX_AUDIT_PAGE);
    let access = state.access.clone();
    let entries = blocking(move || Ok(access.recent(limit, q.before)?)).await?;
    let views: Vec<AuditView> = entries
        .into_iter()
        .map(|e| AuditView {
            id: e.id,
            at: e.at,
            actor: e.actor_name,
            actor_kind: e.actor_kind,
            actor_id: e.actor_id,
            action: e.action,
            target: e.target,
            addr: e.addr,
        })
        .collect();
    Ok(ok(views))
}

/// The query or form of `/pair`.
#[derive(Debug, Deserialize)]
pub struct PairCode {
    code: String,
}

/// The page for a pairing link that cannot be used, with the status that says why.
fn refused_link(err: PairingError) -> Response {
    let status = match err {
        PairingError::Unknown => StatusCode::NOT_FOUND,
        PairingError::Expired | PairingError::Used => StatusCode::GONE,
    };
    let title = match err {
        PairingError::Unknown => "Unknown pairing link",
        PairingError::Expired => "This pairing link has expired",
        PairingError::Used => "This pairing link was already used",
    };
    let body = format!(
        "<h1 data-testid=\"pair-refused\">{title}</h1><p>{err}.</p><p>On a device that is already paired, open \
         Devices and choose <b>Pair a device</b> for a fresh link (each one pairs one browser, for a few \
         minutes), or open the URL opcode-web printed at start-up.</p>"
    );
    (status, Html(page::html(title, &body))).into_response()
}

/// Checks pairing code `code` (and uses it up when `redeem`), on the cluster's bus when there is one;
/// `Err` is the page (or the 503) to answer with.
async fn use_code(state: &AppState, code: &str, redeem: bool) -> Result<(), Response> {
    let outcome = match (&state.cluster_access, redeem) {
        (Some(cluster), true) => cluster.redeem_pairing_code(code).await,
        (Some(cluster), false) => cluster.check_pairing_code(code).await,
        (None, true) => Ok(state.access.redeem_pairing_code(code)),
        (None, false) => Ok(state.access.check_pairing_code(code)),
    };
    match outcome {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => Err(refused_link(err)),
        Err(err) => Err(err.into_response()),
    }
}

async fn pair_page(State(state): State<AppState>, q: Result<Query<PairCode>, QueryRejection>) -> Response {
    let Ok(Query(q)) = q else { return refused_link(PairingError::Unknown) };
    if let Err(refused) = use_code(&state, &q.code, false).await {
        return refused;
    }
    // the code is hex (checked): safe in an attribute
    let body = format!(
        "<h1>Pair this browser</h1><p>This link makes this browser a device of this opcode-web server, with a \
         credential of its own that can be revoked on the Devices page. It works once, for a few minutes.</p>\
         <form method=\"post\" action=\"/pair\"><input type=\"hidden\" name=\"code\" value=\"{}\">\
         <button class=\"button\" data-testid=\"pair-confirm\" type=\"submit\">Pair this browser</button></form>",
        q.code
    );
    Html(page::html("pair this browser", &body)).into_response()
}

async fn pair(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<PairCode>, axum::extract::rejection::FormRejection>,
) -> Response {
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        if !crate::auth::origin_accepted(&state, &headers, origin) {
            return ApiError::Forbidden("cross-origin request refused: pair from the link's own page".to_owned())
                .into_response();
        }
    }
    let Ok(Form(form)) = form else { return refused_link(PairingError::Unknown) };
    if let Err(refused) = use_code(&state, &form.code, true).await {
        return refused;
    }
    let user_agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    pair_browser(&state, addr.ip(), user_agent, "pairing link").await
}

/// Pairs the browser that asked (by `how`: the token URL or a pairing link): its cookie, then `/`.
pub async fn pair_browser(state: &AppState, ip: std::net::IpAddr, user_agent: String, how: &'static str) -> Response {
    let access = state.access.clone();
    let addr = ip.to_string();
    let mut paired = blocking(move || Ok(access.pair(&user_agent, &addr)?)).await;
    if let (Ok((device, _)), Some(cluster)) = (&paired, &state.cluster_access) {
        if let Err(err) = cluster.paired(device).await {
            paired = Err(err);
        }
    }
    match paired {
        Ok((device, credential)) => {
            let caller = Caller { actor: Actor::Device { id: device.id.clone(), name: device.name.clone() }, addr: ip };
            state.audit(&caller, AuditAction::DevicePaired, how).await;
            let mut response = Redirect::to("/").into_response();
            let headers = response.headers_mut();
            if let Ok(value) = device_cookie(&credential, state.secure).parse() {
                headers.append(header::SET_COOKIE, value);
            }
            if let Ok(value) = clear_legacy_cookie().parse() {
                headers.append(header::SET_COOKIE, value);
            }
            response
        }
        Err(err) => err.into_response(),
    }
}
