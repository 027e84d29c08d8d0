//! opcode-web: an axum server that lets a browser drive Claude Code sessions.
//!
//! A thin adapter: requests are parsed by `opcode-proto`, runs live in `opcode-sessions`, processes in
//! `opcode-proc`. This crate adds HTTP, WebSockets, auth and the embedded UI, and nothing else.
//!
//! - [`app`] builds the router from an [`AppState`] (the seam the tests use);
//! - [`serve`] runs it on a listener until a shutdown future resolves, then stops every run and closes
//!   every socket.

pub mod api;
pub mod auth;
pub mod config;
pub mod error;
pub mod limiter;
pub mod push;
pub mod state;
pub mod ui;
pub mod ws;

use std::future::Future;

use axum::Router;
pub use state::AppState;

/// Largest request body accepted on REST routes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The whole router: UI, `/api`, `/ws`, with the security layers.
pub fn app(state: AppState) -> Router {
    let api = api::routes().merge(push::routes());
    let ws = ws::routes();
    let protected = Router::new()
        .merge(api)
        .merge(ws)
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::require_token));
    Router::new()
        .route("/api/health", axum::routing::get(api::health))
        .merge(protected)
        .merge(ui::routes())
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::check_host))
        .layer(auth::cors(&state))
        .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
            // the path only: a query can carry the token
            tracing::debug_span!("http", method = %request.method(), path = %request.uri().path())
        }))
        .with_state(state)
}

/// Serves `app(state)` on `listener` until `shutdown` resolves; then cancels every run (viewers get
/// `cancelled` + `completion`), waits for their processes to be reaped, and closes every WebSocket with
/// 1001 (going away). Returns once all of that is done.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let registry = state.registry.clone();
    let sockets = state.sockets.clone();
    let closing = state.closing.clone();
    // small event frames must not wait for delayed ACKs
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::debug!(%err, "could not set TCP_NODELAY");
        }
    });
    axum::serve(listener, app(state).into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down: cancelling every run");
            registry.shutdown().await;
            closing.cancel();
        })
        .await?;
    sockets.close();
    sockets.wait().await;
    Ok(())
}
