//! This process's own stop signals: what a server waits for before it shuts down cleanly.

use std::future::Future;

use tokio::signal::unix::{signal, SignalKind};

/// Listens for SIGINT (Ctrl-C) and SIGTERM from this call on and returns a future that resolves on the
/// first of them. Call it before the process says it is ready: a signal that comes before the handlers are
/// installed kills the process outright (no clean shutdown, no exit code), and an async fn would install
/// them only when first polled. Needs a Tokio runtime with I/O; an error if the handlers cannot be set.
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    let (mut interrupt, mut terminate) = (signal(SignalKind::interrupt())?, signal(SignalKind::terminate())?);
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}
