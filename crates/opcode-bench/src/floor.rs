//! The floor: the least a relay can do with the same crates. A WebSocket client sends any text; the floor
//! spawns the emitter with that text as its prompt (through `opcode-proc`) and forwards each stdout line
//! as one text frame, then closes. No numbering, no log, no auth, no parsing.

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use futures::{FutureExt, SinkExt};
use opcode_proc::{OutputStream, ProcessEvent, ProcessSpec, ProcessSupervisor, TokioSupervisor};

pub(crate) async fn serve(emitter: PathBuf) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("floor listening on http://{}", listener.local_addr()?);
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let app = Router::new().route("/ws", get(upgrade)).with_state(Arc::new(emitter));
    axum::serve(listener, app).await?;
    Ok(())
}

async fn upgrade(ws: WebSocketUpgrade, State(emitter): State<Arc<PathBuf>>) -> axum::response::Response {
    ws.on_upgrade(move |socket| relay(socket, emitter))
}

async fn relay(mut socket: WebSocket, emitter: Arc<PathBuf>) {
    let Some(Ok(Message::Text(prompt))) = socket.recv().await else { return };
    let spec = ProcessSpec::new(emitter.as_path()).args(["-p", "--", prompt.as_str()]);
    let Ok(mut child) = TokioSupervisor::default().spawn(spec).await else { return };
    while let Some(mut event) = child.next_event().await {
        // feed what is ready, then flush once, as opcode-web does per batch
        loop {
            if let ProcessEvent::Line { stream: OutputStream::Stdout, text } = event {
                if socket.feed(Message::Text(text.into())).await.is_err() {
                    return;
                }
            }
            match child.next_event().now_or_never() {
                Some(Some(next)) => event = next,
                _ => break,
            }
        }
        if socket.flush().await.is_err() {
            return;
        }
    }
    let _ = socket.send(Message::Close(None)).await;
}
