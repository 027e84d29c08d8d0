//! A worker cut off from NATS past its lease, on a real nats-server with the fake claude: its connection goes
//! through a loopback proxy the test cuts. The worker cancels its run (its claude is stopped); another worker
//! ends the run on the bus with the lost-worker completion; whatever the cut-off worker publishes when it is
//! back is refused (fenced), so the session's events stay gap-free with one completion.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use opcode_bus::{Bus, BusConfig};
use opcode_cluster::{ClusterClient, Forwarder, Worker, WorkerConfig};
use opcode_proc::TokioSupervisor;
use opcode_proto::cluster::WorkerReply;
use opcode_proto::{ClaudeRequest, CompletionStatus, EventKind, SessionEvent};
use opcode_sessions::claude_store::ClaudeStore;
use opcode_sessions::{RegistryConfig, SessionRegistry};
use opcode_testkit::nats::NatsServer;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

const LIMIT: Duration = Duration::from_secs(30);

fn config() -> BusConfig {
    BusConfig { lease_ttl: Duration::from_secs(2), ..BusConfig::default() }
}

/// A loopback TCP proxy to `upstream` whose connections can be cut (and new ones refused) and then let
/// through again.
struct Proxy {
    port: u16,
    open: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (open, _) = watch::channel(true);
        let gate = open.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else { return };
                let mut gate = gate.subscribe();
                if !*gate.borrow() {
                    continue; // dropped: refused while cut
                }
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(upstream).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = gate.wait_for(|open| !*open) => {}
                    }
                });
            }
        });
        Proxy { port, open, task }
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn set_open(&self, open: bool) {
        self.open.send_replace(open);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn worker(url: &str, id: &str, claude: &std::path::Path, data: &std::path::Path) -> Worker {
    let forwarder = Forwarder::new(opcode_cluster::forward::DEFAULT_WINDOW);
    let mut registry_config = RegistryConfig::new(opcode_testkit::fake_claude(), data.to_path_buf());
    registry_config.claude_store = ClaudeStore::new(claude);
    registry_config.child_env.push(("CLAUDE_CONFIG_DIR".into(), claude.into()));
    registry_config.sink = Some(forwarder.clone());
    let registry = SessionRegistry::open(registry_config, Arc::new(TokioSupervisor::default())).await.unwrap();
    let bus = Bus::connect(url, config()).await.unwrap();
    Worker::start(bus, registry, forwarder, WorkerConfig { id: id.into() }).await.unwrap()
}

#[tokio::test]
async fn a_worker_cut_off_past_its_lease_cancels_its_run_and_its_late_events_are_refused() {
    let server = NatsServer::start().await;
    let proxy = Proxy::start(server.url().trim_start_matches("nats://").to_owned()).await;
    let dirs: Vec<tempfile::TempDir> = (0..5).map(|_| tempfile::tempdir().unwrap()).collect();
    let cut_off = worker(&proxy.url(), "w-cut", dirs[0].path(), dirs[1].path()).await;
    let client = ClusterClient::new(Bus::connect(&server.url(), config()).await.unwrap());

    let pidfile = dirs[4].path().join("claude.pid");
    let request = ClaudeRequest {
        command_type: "execute".into(),
        project_path: dirs[4].path().display().to_string(),
        prompt: format!("wait @pidfile={} @hang", pidfile.display()),
        model: None,
        session_id: None,
        include_partial_messages: false,
        live: false,
        permission_mode: None,
        images: Vec::new(),
        run_options: None,
    };
    let session = match client.start(request).await.unwrap() {
        WorkerReply::Started { session_id, worker, .. } => {
            assert_eq!(worker, "w-cut");
            session_id
        }
        other => panic!("{other:?}"),
    };
    let pids = opcode_testkit::wait_for_pids(&pidfile).await;
    let survivor = worker(&server.url(), "w-survivor", dirs[2].path(), dirs[3].path()).await;

    // the cut: the worker cannot renew its lease, so it cancels its run; the survivor ends it on the bus
    proxy.set_open(false);
    opcode_testkit::assert_all_dead(&pids).await;
    let mut events = Vec::new();
    let mut stream = std::pin::pin!(client.bus().read(&session, None));
    let ended = tokio::time::timeout(LIMIT, async {
        while let Some(event) = stream.next().await {
            let event = SessionEvent::from_json(std::str::from_utf8(&event.unwrap().line).unwrap()).unwrap();
            let done = event.kind.is_completion();
            events.push(event);
            if done {
                return;
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "no completion; events: {events:#?}");
    match &events.last().unwrap().kind {
        EventKind::Completion { status: CompletionStatus::Error, error: Some(error), .. } => {
            assert!(error.contains("w-cut"), "{error}")
        }
        other => panic!("the run must end as lost with its worker: {other:?}"),
    }

    // the cut-off worker comes back: what it publishes now is refused, and it lets go of the run
    proxy.set_open(true);
    let deadline = tokio::time::Instant::now() + LIMIT;
    while !cut_off.owned().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "the cut-off worker kept the run");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let all: Vec<SessionEvent> = client
        .bus()
        .read_to_end(&session, None)
        .map(|e| SessionEvent::from_json(std::str::from_utf8(&e.unwrap().line).unwrap()).unwrap())
        .collect()
        .await;
    for (i, e) in all.iter().enumerate() {
        assert_eq!(e.seq, i as u64, "no gap, no repeat");
    }
    assert_eq!(all.iter().filter(|e| e.kind.is_completion()).count(), 1, "one completion: {all:#?}");
    survivor.shutdown().await;
    cut_off.shutdown().await;
}
