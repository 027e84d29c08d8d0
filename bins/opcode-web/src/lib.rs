//! opcode-web: an axum server that lets a browser drive Claude Code sessions.
//!
//! A thin adapter: requests are parsed by `opcode-proto`, runs live in `opcode-sessions`, processes in
//! `opcode-proc`. This crate adds HTTP, WebSockets, auth and the embedded UI, and nothing else.
//!
//! - [`app`] builds the router from an [`AppState`] (the seam the tests use);
//! - [`serve`] runs it on a listener until a shutdown future resolves, then stops every run and closes
//!   every socket; [`serve_tls`] does the same over HTTPS ([`tls`]), answering plain HTTP on the same
//!   port with a redirect.

pub mod agents;
pub mod api;
pub mod auth;
pub mod claude_md;
pub mod cluster;
pub mod cluster_access;
pub mod config;
pub mod devices;
pub mod error;
pub mod files;
pub mod git;
pub mod headers;
pub mod limiter;
pub mod mcp;
pub mod page;
pub mod push;
pub mod qr;
pub mod rules;
pub mod state;
pub mod terminals;
pub mod timeline;
pub mod tls;
pub mod trust;
pub mod turns;
pub mod ui;
pub mod usage;
pub mod ws;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::serve::{Listener, ListenerExt};
use axum::Router;
pub use state::AppState;

/// Largest request body accepted on REST routes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The whole router: UI, `/api`, `/ws`, with the security layers.
pub fn app(state: AppState) -> Router {
    let api = api::routes()
        .merge(push::routes())
        .merge(cluster::routes())
        .merge(devices::routes())
        .merge(terminals::routes())
        .merge(git::routes())
        .merge(files::routes(state.max_upload_bytes));
    let ws = ws::routes();
    let protected = Router::new()
        .merge(api)
        .merge(ws)
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::require_token));
    let secure = state.secure;
    let router = Router::new()
        .route("/api/health", axum::routing::get(api::health))
        .merge(protected)
        .merge(devices::pairing_routes())
        .merge(trust::routes())
        .merge(ui::routes())
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::check_host))
        .layer(auth::cors(&state))
        .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
            // the path only: a query can carry the token
            tracing::debug_span!("http", method = %request.method(), path = %request.uri().path())
        }))
        .layer(axum::middleware::from_fn(headers::limit_header_size))
        .layer(axum::middleware::from_fn(headers::security_headers));
    let router = if secure { router.layer(axum::middleware::from_fn(auth::strict_transport_security)) } else { router };
    router.with_state(state)
}

/// Serves `app(state)` on `listener` until `shutdown` resolves; then cancels every run (viewers get
/// `cancelled` + `completion`), waits for their processes to be reaped, kills every terminal's session,
/// and closes every WebSocket with
/// 1001 (going away). Returns once all of that is done.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // small event frames must not wait for delayed ACKs
    let listener = listener.tap_io(|tcp| {
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::debug!(%err, "could not set TCP_NODELAY");
        }
    });
    serve_on(listener, state, shutdown).await
}

/// [`serve`] over HTTPS with `tls`: the cookie becomes `Secure`, responses carry HSTS, and a plain HTTP
/// request on the same port gets a redirect to `https://` (or, for `/ca.pem`, `/ca.crt` and `/trust`,
/// the local CA it needs to trust the certificate first). See [`tls`].
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    tls: Arc<opcode_tls::rustls::ServerConfig>,
    mut state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    state.secure = true;
    let listener = tls::TlsListener::new(listener, tls, tls::plain_routes(state.clone()))?;
    serve_on(listener.tap_io(|_| {}), state, shutdown).await
}

async fn serve_on<L, F>(
    listener: axum::serve::TapIo<L, F>,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: Listener<Addr = SocketAddr>,
    F: FnMut(&mut L::Io) + Send + 'static,
{
    match state.agents.resume_watchers().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(runs = n, "following agent runs an earlier server started"),
        Err(err) => tracing::warn!(%err, "could not follow the agent runs an earlier server started"),
    }
    let registry = state.registry.clone();
    let sockets = state.sockets.clone();
    let observer = state.turns.watch();
    let closing = state.closing.clone();
    let terminals = state.terminals.clone();
    axum::serve(listener, app(state).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down: cancelling every run");
            registry.shutdown().await;
            if let Some(terminals) = terminals {
                // every terminal's whole session, killed and reaped
                terminals.shutdown().await;
            }
            closing.cancel();
        })
        .await?;
    observer.abort();
    sockets.close();
    sockets.wait().await;
    Ok(())
}
