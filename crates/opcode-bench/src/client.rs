//! The bench's side: starting the servers under test, and a fast WebSocket client that measures at
//! receipt without parsing whole frames.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use futures::{SinkExt, StreamExt};
use opcode_proc::{ExitStatus, ProcessEvent, ProcessHandle, ProcessSpec, ProcessSupervisor, TokioSupervisor};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

pub(crate) type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub(crate) const TOKEN: &str = "bench-token";

pub(crate) fn now_ns() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}

/// A server process under test; its output is drained in the background so it never blocks on a pipe.
#[derive(Debug)]
pub(crate) struct Server {
    pub(crate) addr: String,
    pub(crate) pid: u32,
    pub(crate) started_in: Duration,
    control: opcode_proc::ProcessControl,
    /// The draining task; it ends with the server's exit status.
    drained: Option<tokio::task::JoinHandle<Option<ExitStatus>>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        // the draining task holds the handle; stop the server (its whole group) now
        self.control.kill();
    }
}

impl Server {
    pub(crate) async fn start(spec: ProcessSpec) -> anyhow::Result<Self> {
        Self::start_when(spec, |line| line.split("listening on http://").nth(1).map(|url| url.trim().to_owned())).await
    }

    /// Starts the process of `spec` and waits (30 s at most) for the first output line `ready` maps to
    /// `Some(addr)`, which becomes [`Server::addr`].
    pub(crate) async fn start_when(spec: ProcessSpec, ready: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let began = Instant::now();
        let mut child: ProcessHandle = TokioSupervisor::default().spawn(spec).await?;
        let addr = loop {
            match tokio::time::timeout(Duration::from_secs(30), child.next_event()).await? {
                Some(ProcessEvent::Line { text, .. }) => {
                    if let Some(addr) = ready(&text) {
                        break addr;
                    }
                }
                Some(ProcessEvent::Exited(status)) => bail!("server exited at start-up: {status}"),
                Some(_) => {}
                None => bail!("server output ended"),
            }
        };
        let started_in = began.elapsed();
        let (pid, control) = (child.pid(), child.control());
        let drained = tokio::spawn(async move {
            let mut exit = None;
            while let Some(event) = child.next_event().await {
                if let ProcessEvent::Exited(status) = event {
                    exit = Some(status);
                }
            }
            exit
        });
        Ok(Server { addr, pid, started_in, control, drained: Some(drained) })
    }

    /// Stops the server as a service manager does (SIGTERM to its group) and waits for its exit, which
    /// must be a clean one.
    pub(crate) async fn stop(mut self) -> anyhow::Result<()> {
        self.control.cancel(Duration::from_secs(30));
        let drained = self.drained.take().context("the server was already stopped")?;
        match tokio::time::timeout(Duration::from_secs(60), drained).await?? {
            Some(status) if status.success() => Ok(()),
            other => bail!("the server did not exit cleanly on SIGTERM: {other:?}"),
        }
    }

    /// opcode-web with the emitter as claude.
    pub(crate) async fn opcode_web(bin: &Path, emitter: &Path, home: &Path, data: &Path) -> anyhow::Result<Self> {
        Self::start(Self::opcode_web_spec(bin, emitter, home, data)).await
    }

    /// How [`Server::opcode_web`] starts opcode-web (a cluster's replica adds its flags to it).
    pub(crate) fn opcode_web_spec(bin: &Path, emitter: &Path, home: &Path, data: &Path) -> ProcessSpec {
        ProcessSpec::new(bin)
            .args([
                "--port",
                "0",
                "--token",
                TOKEN,
                "--max-sessions",
                "4000",
                "--max-runs-per-minute",
                "0",
                "--log-format",
                "json",
            ])
            .arg("--claude-bin")
            .arg(emitter)
            .arg("--data-dir")
            .arg(data)
            .env("HOME", home)
            .env("RUST_LOG", "warn")
    }

    /// The floor relay (this program, `floor` subcommand).
    pub(crate) async fn floor(emitter: &Path) -> anyhow::Result<Self> {
        let spec = ProcessSpec::new(std::env::current_exe()?).arg("floor").arg("--emitter-bin").arg(emitter);
        Self::start(spec).await
    }
}

pub(crate) async fn connect(url: &str, token: Option<&str>) -> anyhow::Result<Ws> {
    let mut request = url.into_client_request()?;
    if let Some(token) = token {
        request.headers_mut().insert("authorization", format!("Bearer {token}").parse()?);
    }
    let (ws, _) = tokio_tungstenite::connect_async(request).await.with_context(|| format!("connect {url}"))?;
    Ok(ws)
}

/// What a client saw of one run.
#[derive(Debug, Default, Clone)]
pub(crate) struct Seen {
    /// Frames carrying an emitter line (`"t":`).
    pub(crate) lines: u64,
    /// Bytes of all frames.
    pub(crate) bytes: u64,
    /// Write → receipt latency of each timed line, in ns.
    pub(crate) latencies: Vec<u64>,
    /// From the first byte sent to the first frame received.
    pub(crate) first_frame: Option<Duration>,
    /// From the first byte sent to the end.
    pub(crate) elapsed: Duration,
    /// Frames of another session (must stay 0).
    pub(crate) foreign: u64,
    /// Time of the emitter's SIGTERM receipt, if it reported one.
    pub(crate) sigterm_at: Option<u128>,
    /// How long the emitter took to write everything (from its `result` line): the run's own pace,
    /// which a relay that cannot keep up slows down through the pipe.
    pub(crate) emitter_ms: Option<f64>,
    /// The run's `completion` arrived.
    pub(crate) completed: bool,
    /// The `completion` frame itself.
    pub(crate) completion: Option<String>,
}

/// The emitter's `"t":<ns>` stamp at the end of one of its lines, read without parsing the frame.
fn stamp(frame: &str) -> Option<u128> {
    if !frame.contains("\"i\":") {
        return None;
    }
    let at = frame.rfind("\"t\":")?;
    let digits: String = frame[at + 4..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Reads frames until a `completion` (opcode-web) or a close (floor, attach).
pub(crate) async fn read_run(ws: &mut Ws, began: Instant, session: Option<&str>, timed: bool) -> anyhow::Result<Seen> {
    let mut seen = Seen::default();
    while let Some(message) = ws.next().await {
        let text = match message? {
            Message::Text(text) => text,
            Message::Close(_) => break,
            _ => continue,
        };
        let received = now_ns();
        if std::env::var_os("OPCODE_BENCH_TRACE").is_some() {
            eprintln!("frame: {}", &text[..text.len().min(200)]);
        }
        seen.first_frame.get_or_insert_with(|| began.elapsed());
        seen.bytes += text.len() as u64;
        if let Some(session) = session {
            if !text.contains(session) {
                seen.foreign += 1;
            }
        }
        // the emitter's lines (the bulk) end in their stamp; only the others are searched further
        if let Some(t) = stamp(&text) {
            seen.lines += 1;
            if timed {
                seen.latencies.push(received.saturating_sub(t) as u64);
            }
        } else if text.contains("\"subtype\":\"sigterm\"") {
            seen.sigterm_at = text.rfind("\"t\":").and_then(|at| {
                text[at + 4..].chars().take_while(char::is_ascii_digit).collect::<String>().parse().ok()
            });
        } else if let Some(at) = text.find("\"duration_ms\":") {
            let digits: String = text[at + 14..].chars().take_while(char::is_ascii_digit).collect();
            seen.emitter_ms = digits.parse().ok();
        }
        if text.starts_with("{\"type\":\"completion\"") {
            seen.completed = true;
            seen.completion = Some(text.to_string());
            break;
        }
    }
    seen.elapsed = began.elapsed();
    Ok(seen)
}

/// Starts a run on opcode-web over `/ws/claude` and reads it to its completion.
pub(crate) async fn opcode_run(addr: &str, prompt: &str, timed: bool) -> anyhow::Result<Seen> {
    Ok(opcode_run_as(addr, uuid::Uuid::new_v4().to_string(), prompt, timed).await?.1)
}

/// [`opcode_run`] under the session id `id`; returns the id with what was seen.
pub(crate) async fn opcode_run_as(addr: &str, id: String, prompt: &str, timed: bool) -> anyhow::Result<(String, Seen)> {
    let mut ws = connect(&format!("ws://{addr}/ws/claude"), Some(TOKEN)).await?;
    let request = serde_json::json!({"command_type":"execute","project_path":"/tmp","prompt":prompt,"session_id":id});
    let began = Instant::now();
    ws.send(Message::Text(request.to_string().into())).await?;
    let seen = read_run(&mut ws, began, Some(&id), timed).await?;
    Ok((id, seen))
}

/// The same through the floor.
pub(crate) async fn floor_run(addr: &str, prompt: &str, timed: bool) -> anyhow::Result<Seen> {
    let mut ws = connect(&format!("ws://{addr}/ws"), None).await?;
    let began = Instant::now();
    ws.send(Message::Text(prompt.to_owned().into())).await?;
    read_run(&mut ws, began, None, timed).await
}

/// `p`-th percentile of `values` (sorted in place), in ms.
pub(crate) fn percentile_ms(values: &mut [u64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_unstable();
    let index = ((values.len() as f64 - 1.0) * p).round() as usize;
    values[index] as f64 / 1e6
}

/// The median of `values`.
pub(crate) fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}
