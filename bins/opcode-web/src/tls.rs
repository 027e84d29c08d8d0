//! HTTPS on the server's one port, with plain HTTP on the same port answered, not dropped.
//!
//! [`TlsListener`] is an [`axum::serve::Listener`], so `axum::serve` keeps doing what it does for plain
//! TCP (graceful shutdown, connect info, upgrades). Behind it an accept task hands every connection to a
//! task of its own, which peeks at the first byte: `0x16` (a TLS handshake record) is handshaken there,
//! with a time limit, and the TLS stream goes to axum; anything else is plain HTTP and is served by
//! [`plain_routes`]: a `308` to the same URL on `https://`, or the local CA (`/ca.pem`, `/ca.crt`,
//! `/trust`), which a phone needs before it can trust the HTTPS. A slow or silent client therefore never
//! holds up the accept loop. Dropping the listener (at shutdown) ends the accept task and every
//! connection still in its handshake.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Router;
use opcode_tls::rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::state::AppState;

/// How long a client may take to send its first byte and finish the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a plain HTTP connection may stay open (it only ever gets a redirect or a small file).
pub const PLAIN_CONNECTION_TIMEOUT: Duration = Duration::from_secs(30);

/// A listener that yields TLS streams; plain HTTP on its port is answered by [`plain_routes`].
#[derive(Debug)]
pub struct TlsListener {
    incoming: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local_addr: SocketAddr,
    acceptor: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    /// Starts accepting on `listener` with `config`; `plain` answers requests that are not TLS.
    pub fn new(listener: TcpListener, config: Arc<ServerConfig>, plain: Router) -> std::io::Result<Self> {
        let local_addr = listener.local_addr()?;
        let (tx, incoming) = mpsc::channel(64);
        let acceptor = tokio::spawn(accept_loop(listener, TlsAcceptor::from(config), plain, tx));
        Ok(TlsListener { incoming, local_addr, acceptor })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.incoming.recv().await {
            Some(connection) => connection,
            // the accept task ended (it only does when this listener is dropped): nothing more comes
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    plain: Router,
    tx: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    // dropped with this task: connections still in their handshake end with it
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = tx.closed() => return,
        };
        match accepted {
            Ok((tcp, addr)) => {
                connections.spawn(connection(tcp, addr, acceptor.clone(), plain.clone(), tx.clone()));
            }
            Err(err) if is_connection_error(&err) => {}
            Err(err) => {
                // out of file descriptors and the like: back off as axum's own listener does
                tracing::error!(%err, "accept failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

fn is_connection_error(err: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(err.kind(), ConnectionRefused | ConnectionAborted | ConnectionReset)
}

async fn connection(
    tcp: TcpStream,
    addr: SocketAddr,
    acceptor: TlsAcceptor,
    plain: Router,
    tx: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    if let Err(err) = tcp.set_nodelay(true) {
        tracing::debug!(%err, "could not set TCP_NODELAY");
    }
    let mut first = [0u8; 1];
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, tcp.peek(&mut first)).await {
        Ok(Ok(1)) => {}
        _ => return, // closed, failed or silent
    }
    if first[0] != 0x16 {
        serve_plain(tcp, addr, plain).await;
        return;
    }
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => {
            let _ = tx.send((tls, addr)).await; // fails only when the server is shutting down
        }
        // e.g. a browser that does not trust the certificate yet: it closes, and says so to its user
        Ok(Err(err)) => tracing::debug!(client = %addr.ip(), %err, "TLS handshake failed"),
        Err(_) => tracing::debug!(client = %addr.ip(), "TLS handshake timed out"),
    }
}

async fn serve_plain(tcp: TcpStream, addr: SocketAddr, plain: Router) {
    let service = hyper::service::service_fn(move |mut request: Request<hyper::body::Incoming>| {
        request.extensions_mut().insert(ConnectInfo(addr));
        tower::ServiceExt::oneshot(plain.clone(), request)
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .keep_alive(false)
        .serve_connection(hyper_util::rt::TokioIo::new(tcp), service);
    match tokio::time::timeout(PLAIN_CONNECTION_TIMEOUT, connection).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => tracing::debug!(client = %addr.ip(), %err, "plain HTTP connection failed"),
        Err(_) => tracing::debug!(client = %addr.ip(), "plain HTTP connection timed out"),
    }
}

/// What plain HTTP on the HTTPS port gets: the local CA's routes (so a phone can fetch the CA before it
/// trusts the certificate) and, for every other request, a `308 Permanent Redirect` to the same host,
/// path and query on `https://`. A request without `Host` gets a `400` that says to use HTTPS.
pub fn plain_routes(state: AppState) -> Router {
    Router::new()
        .merge(crate::trust::routes())
        .fallback(to_https)
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::auth::check_host))
        .with_state(state)
}

async fn to_https(headers: HeaderMap, uri: Uri) -> Response {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return (StatusCode::BAD_REQUEST, "this port speaks HTTPS: open https://<address>:<port>/ instead\n")
            .into_response();
    };
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    Redirect::permanent(&format!("https://{host}{path}")).into_response()
}
