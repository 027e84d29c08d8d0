//! A real opcode-web on an ephemeral port, with the fake claude, and a real WebSocket client.
#![allow(dead_code, unreachable_pub, unused_imports)]

pub mod binary;
pub mod cluster;
pub mod genuine;
pub mod push_endpoint;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use opcode_proc::{run_to_completion, CompletionLimits, ProcessSpec, TokioSupervisor};
use opcode_sessions::claude_store::ClaudeStore;
use opcode_sessions::{RegistryConfig, SessionRegistry};
use opcode_web::AppState;
use serde_json::Value;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

pub type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub const TOKEN: &str = "test-token-0123456789";
pub const LIMIT: Duration = Duration::from_secs(30);
/// The VAPID contact of [`TestServer::start_with_push`].
pub const PUSH_CONTACT: &str = "mailto:push-test@example.com";

pub struct TestServer {
    pub addr: std::net::SocketAddr,
    pub state: AppState,
    pub project: tempfile::TempDir,
    pub claude_dir: tempfile::TempDir,
    _data: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut RegistryConfig)) -> Self {
        Self::start_full(adjust, Duration::from_secs(20)).await
    }

    /// A server whose state `configure` adjusts before it serves (allowed origins, …).
    pub async fn start_configured(configure: impl FnOnce(&mut AppState)) -> Self {
        Box::pin(Self::start_inner(|_| {}, Duration::from_secs(20), None, None, None, configure, None)).await
    }

    /// A server that pings its WebSockets every `ping_every`.
    pub async fn start_full(adjust: impl FnOnce(&mut RegistryConfig), ping_every: Duration) -> Self {
        Box::pin(Self::start_inner(adjust, ping_every, None, None, None, |_| {}, None)).await
    }

    /// A server speaking HTTPS with `tls` (`serve_tls`), serving `local_ca` at `/ca.pem`, `/ca.crt`, `/trust`.
    pub async fn start_tls(
        tls: Arc<opcode_tls::rustls::ServerConfig>,
        local_ca: Option<Arc<opcode_web::trust::PublicCa>>,
    ) -> Self {
        Box::pin(Self::start_inner(|_| {}, Duration::from_secs(20), Some((tls, local_ca)), None, None, |_| {}, None))
            .await
    }

    /// A server with Web Push on (http endpoints allowed, for the tests' own push services).
    pub async fn start_with_push() -> Self {
        let config = opcode_push::PushConfig { contact: PUSH_CONTACT.to_owned(), allow_http_endpoints: true };
        Box::pin(Self::start_inner(|_| {}, Duration::from_secs(20), None, Some(config), None, |_| {}, None)).await
    }

    /// A replica of a cluster: runs through `client`'s workers (`opcode_cluster::ClusterRuns`), Web Push on
    /// when `push` (as [`TestServer::start_with_push`]).
    pub async fn start_replica(client: opcode_cluster::ClusterClient, push: bool) -> Self {
        let config =
            push.then(|| opcode_push::PushConfig { contact: PUSH_CONTACT.to_owned(), allow_http_endpoints: true });
        let runs = Arc::new(opcode_cluster::ClusterRuns::open(client.clone()).await.unwrap());
        let bus = client.bus().clone();
        Box::pin(Self::start_inner(
            |_| {},
            Duration::from_secs(20),
            None,
            config,
            None,
            |_| {},
            Some((runs, Some(bus))),
        ))
        .await
    }

    /// A replica of a cluster whose paired devices, revocations and pairing links are shared through `bus`
    /// (as `opcode-web --nats-url` does), running through `runs`.
    pub async fn start_replica_sharing(runs: Arc<dyn opcode_sessions::Runs>, bus: opcode_bus::Bus) -> Self {
        Box::pin(Self::start_inner(|_| {}, Duration::from_secs(20), None, None, None, |_| {}, Some((runs, Some(bus)))))
            .await
    }

    /// A server with terminals on (`config`), or off (`None`: `--no-terminal`).
    pub async fn start_with_terminals(
        adjust: impl FnOnce(&mut RegistryConfig),
        config: Option<opcode_terminals::TerminalsConfig>,
    ) -> Self {
        Box::pin(Self::start_inner(adjust, Duration::from_secs(20), None, None, config, |_| {}, None)).await
    }

    /// A server whose state `adjust` changes before it starts (e.g. `max_upload_bytes`).
    pub async fn start_with_state(adjust: impl FnOnce(&mut AppState)) -> Self {
        Box::pin(Self::start_inner(|_| {}, Duration::from_secs(20), None, None, None, adjust, None)).await
    }

    async fn start_inner(
        adjust: impl FnOnce(&mut RegistryConfig),
        ping_every: Duration,
        tls: Option<(Arc<opcode_tls::rustls::ServerConfig>, Option<Arc<opcode_web::trust::PublicCa>>)>,
        push: Option<opcode_push::PushConfig>,
        terminals: Option<opcode_terminals::TerminalsConfig>,
        adjust_state: impl FnOnce(&mut AppState),
        runs: Option<(Arc<dyn opcode_sessions::Runs>, Option<opcode_bus::Bus>)>,
    ) -> Self {
        let data = tempfile::tempdir().unwrap();
        let claude_dir = tempfile::tempdir().unwrap();
        let project = tempfile::tempdir().unwrap();
        let mut config = RegistryConfig::new(opcode_testkit::fake_claude(), data.path().to_path_buf());
        let store = ClaudeStore::new(claude_dir.path());
        config.claude_store = store.clone();
        config.child_env.push(("CLAUDE_CONFIG_DIR".into(), claude_dir.path().into()));
        config.cancel_grace = Duration::from_secs(5);
        adjust(&mut config);
        let registry = SessionRegistry::open(config, Arc::new(TokioSupervisor::default())).await.unwrap();
        let (runs, bus) = match runs {
            Some((runs, bus)) => (runs, bus),
            None => (Arc::new(registry.clone()) as Arc<dyn opcode_sessions::Runs>, None),
        };
        let push = match push {
            Some(config) => {
                Some(opcode_push::PushService::open(&registry, runs.notable_events(), config).await.unwrap())
            }
            None => None,
        };
        let mut state = AppState::open(registry, store, TOKEN).await.unwrap();
        state.set_runs(runs);
        state.ping_every = ping_every;
        state.push = push;
        state.terminals =
            terminals.map(|config| opcode_terminals::Terminals::new(Arc::new(TokioSupervisor::default()), config));
        adjust_state(&mut state);
        if let Some(bus) = bus {
            state.cluster = Some(opcode_cluster::ClusterClient::new(bus.clone()));
            let access = opcode_web::cluster_access::ClusterAccess::start(bus, state.access.clone()).await;
            state.cluster_access = Some(access.expect("the replica's devices in step with the cluster"));
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let shutdown = async move {
            let _ = rx.await;
        };
        let task = match tls {
            None => tokio::spawn(opcode_web::serve(listener, state.clone(), shutdown)),
            Some((config, local_ca)) => {
                state.local_ca = local_ca;
                tokio::spawn(opcode_web::serve_tls(listener, config, state.clone(), shutdown))
            }
        };
        TestServer { addr, state, project, claude_dir, _data: data, shutdown: Some(tx), task: Some(task) }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn project_path(&self) -> String {
        self.project.path().display().to_string()
    }

    pub async fn ws(&self, path: &str) -> Ws {
        self.ws_with(path, &[("authorization", &format!("Bearer {TOKEN}"))]).await.expect("websocket upgrade")
    }

    pub async fn ws_with(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
        let mut request = format!("ws://{}{path}", self.addr).into_client_request().unwrap();
        for (name, value) in headers {
            request
                .headers_mut()
                .insert(axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
        }
        tokio_tungstenite::connect_async(request).await.map(|(ws, _)| ws)
    }

    pub fn http(&self) -> reqwest::Client {
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let response = self.http().get(self.url(path)).bearer_auth(TOKEN).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Asks for shutdown and waits until serve returned (every run ended, every socket closed).
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(LIMIT, task).await.expect("shutdown in time").unwrap().unwrap();
        }
    }

    pub fn request(&self, command: &str, prompt: &str, session_id: Option<&str>) -> String {
        let mut request = serde_json::json!({
            "command_type": command, "project_path": self.project_path(), "prompt": prompt,
        });
        if let Some(id) = session_id {
            request["session_id"] = id.into();
        }
        request.to_string()
    }
}

impl TestServer {
    /// A request that starts a live session.
    pub fn live_request(&self, prompt: &str, session_id: &str) -> String {
        let mut request: Value = serde_json::from_str(&self.request("execute", prompt, Some(session_id))).unwrap();
        request["live"] = true.into();
        request.to_string()
    }
}

/// `v` percent-encoded for a query string (every byte but unreserved ones).
pub fn enc(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

pub async fn send(ws: &mut Ws, text: String) {
    ws.send(Message::Text(text.into())).await.unwrap();
}

/// The next JSON text frame; `None` when the socket closed.
pub async fn next_json(ws: &mut Ws) -> Option<Value> {
    // one deadline for the whole wait: pings and other control frames must not extend it
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await.expect("a JSON frame in time") {
            Some(Ok(Message::Text(text))) => return Some(serde_json::from_str(&text).unwrap()),
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
            Some(Ok(_)) => continue,
        }
    }
}

/// Session events until (and including) the run's completion.
pub async fn until_completion(ws: &mut Ws) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + LIMIT;
    let mut events = Vec::new();
    loop {
        let frame = match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(frame) => frame,
            Err(_) => panic!("no completion within {LIMIT:?}; events so far: {events:?}"),
        };
        match frame {
            Some(Ok(Message::Text(text))) => {
                let event: Value = serde_json::from_str(&text).unwrap();
                let done = event["type"] == "completion";
                events.push(event);
                if done {
                    return events;
                }
            }
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return events,
            Some(Ok(_)) => {}
        }
    }
}

/// Every frame until the server closes the socket; and the close code.
pub async fn until_close(ws: &mut Ws) -> (Vec<Value>, Option<u16>) {
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await.expect("the close in time") {
            Some(Ok(Message::Text(text))) => events.push(serde_json::from_str(&text).unwrap()),
            Some(Ok(Message::Close(frame))) => return (events, frame.map(|f| u16::from(f.code))),
            None | Some(Err(_)) => return (events, None),
            Some(Ok(_)) => {}
        }
    }
}

pub fn assert_contiguous(events: &[Value], session_id: &str, from: u64) {
    for (i, event) in events.iter().enumerate() {
        assert_eq!(event["session_id"], session_id, "{event}");
        assert_eq!(event["seq"].as_u64(), Some(from + i as u64), "seq gap or duplicate at {event}");
    }
}

pub use opcode_testkit::assert_all_dead;

/// Reads events until one matches; returns every event read (`OPCODE_TEST_TRACE=1` prints them).
pub async fn until(ws: &mut Ws, what: impl Fn(&Value) -> bool) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let event = next_json(ws).await.expect("the awaited event");
        if std::env::var_os("OPCODE_TEST_TRACE").is_some() {
            let text = event.to_string();
            eprintln!("event: {}", &text[..text.len().min(300)]);
        }
        let hit = what(&event);
        seen.push(event);
        if hit {
            return seen;
        }
    }
}

/// Claude's `result` line: the end of a turn.
/// Claude's `control_response` (an `output` event) to a model or mode switch of the server's (`set-…` ids).
pub fn is_settings_answer(e: &Value) -> bool {
    e["content"]["type"] == "control_response"
        && e["content"]["response"]["request_id"].as_str().is_some_and(|r| r.starts_with("set-"))
}

pub fn is_result(e: &Value) -> bool {
    e["type"] == "output" && e["content"]["type"] == "result"
}

/// Polls the run history of agent `agent` until `done` holds for its newest run, and returns that run.
pub async fn agent_run_until(server: &TestServer, agent: i64, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + LIMIT;
    loop {
        let (status, body) = server.get_json(&format!("/api/agents/{agent}/runs")).await;
        assert_eq!(status, 200, "{body}");
        let newest = body["data"][0].clone();
        if done(&newest) {
            return newest;
        }
        assert!(std::time::Instant::now() < deadline, "the agent run never got there: {newest}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The cookie a browser gets from the token URL (`name=value`).
pub async fn browser_cookie(server: &TestServer) -> String {
    let response = server.http().get(server.url(&format!("/?token={TOKEN}"))).send().await.unwrap();
    assert_eq!(response.status(), 303);
    let set = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| !c.contains("Max-Age=0"))
        .expect("a cookie");
    set.split(';').next().unwrap().to_owned()
}

/// `name=value` of the device cookie in a response, if it set one.
pub fn device_cookie_of(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("opcode_device="))
        .map(|c| c.split(';').next().unwrap().to_owned())
}

/// The paired devices, as the API lists them.
pub async fn devices(server: &TestServer) -> Vec<serde_json::Value> {
    let (status, body) = server.get_json("/api/devices").await;
    assert_eq!(status, 200, "{body}");
    body["data"]["devices"].as_array().unwrap().clone()
}

/// The audit trail, newest first.
pub async fn audit(server: &TestServer) -> Vec<serde_json::Value> {
    let (status, body) = server.get_json("/api/audit").await;
    assert_eq!(status, 200, "{body}");
    body["data"].as_array().unwrap().clone()
}

/// `method path?query` with the token; the status and the JSON body.
pub async fn api_call(
    server: &TestServer,
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    body: Option<Value>,
) -> (u16, Value) {
    let http = server.http();
    let request = match method {
        "GET" => http.get(server.url(path)),
        "PUT" => http.put(server.url(path)),
        "POST" => http.post(server.url(path)),
        "DELETE" => http.delete(server.url(path)),
        other => panic!("{other}"),
    };
    let request = request.bearer_auth(TOKEN).query(query);
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Runs git in `dir` for a test's set-up (through the supervisor), failing on error.
pub async fn sh_git(dir: &Path, args: &[&str]) -> String {
    let spec = ProcessSpec::new("git").cwd(dir).args(args.iter().copied());
    let done = run_to_completion(&TokioSupervisor::default(), spec, CompletionLimits::default()).await.unwrap();
    assert!(done.status.success(), "git {args:?}: {}", done.stderr_text());
    String::from_utf8(done.stdout).unwrap()
}

/// Makes the server's project a repository with one commit (a.txt) and a local identity.
pub async fn make_repo(server: &TestServer) {
    let d = server.project.path();
    sh_git(d, &["init", "-q", "-b", "main"]).await;
    sh_git(d, &["config", "user.name", "Test"]).await;
    sh_git(d, &["config", "user.email", "test@example.invalid"]).await;
    std::fs::write(d.join("a.txt"), "one\n").unwrap();
    sh_git(d, &["add", "-A"]).await;
    sh_git(d, &["commit", "-q", "-m", "first"]).await;
}

/// Polls the session's turns until `n` of them have finished.
pub async fn finished_turns(server: &TestServer, session_id: &str, n: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let (code, body) = server.get_json(&format!("/api/sessions/{session_id}/turns")).await;
        assert_eq!(code, 200, "{body}");
        let turns = body["data"].as_array().cloned().unwrap_or_default();
        if turns.len() >= n && turns.iter().take(n).all(|t| t["finished_at"].is_u64()) {
            return turns;
        }
        assert!(tokio::time::Instant::now() < deadline, "turns did not finish: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
