//! The cluster scenarios (`opcode-bench run --cluster`, `cargo xtask bench --cluster`): opcode-web as a
//! stateless replica (`--nats-url`) in front of `opcode-worker` processes that run the emitter as claude and
//! publish its events on NATS JetStream, measured beside the embedded log (a plain opcode-web with the same
//! emitter and the same sizes) in the same run. The bench starts everything itself: a 1-node JetStream (R1)
//! and a 3-node cluster on loopback (R3, `--stream-replicas 3` on the workers and the replica) through the
//! testkit's fixtures, the workers and the replicas through `opcode-proc`; each deployment is dropped (every
//! process killed with its group) when its scenario ends, also on error.
//!
//! Scenarios: events/s end to end of one unpaced session and of many at once; write → receipt latency at
//! 100 lines a second; the time from a worker's `kill -9` to the viewer's `completion` ("lost with its
//! worker") with a second worker alive to end the run; the memory of idle viewers on one replica (and on the
//! embedded server) and of the NATS server.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context as _};
use futures::{SinkExt, StreamExt};
use opcode_proc::ProcessSpec;
use opcode_testkit::nats::{NatsCluster, NatsServer};
use tokio_tungstenite::tungstenite::Message;

use crate::client::{connect, median, opcode_run, percentile_ms, read_run, Seen, Server, Ws, TOKEN};
use crate::procinfo::rss_mb;
use crate::scenarios::markdown_table;
use crate::Setup;

/// The workers' `--lease-ttl` in seconds: how long a dead worker's runs wait to be ended by another.
const LEASE_TTL_S: u64 = 3;

/// Where a scenario's runs go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Topology {
    /// A plain opcode-web: runs and their log in the server itself.
    Embedded,
    /// A replica and a worker on a 1-node JetStream.
    R1,
    /// A replica and a worker on a 3-node JetStream cluster, streams with 3 replicas.
    R3,
}

impl Topology {
    const ALL: [Topology; 3] = [Topology::Embedded, Topology::R1, Topology::R3];

    fn replicas(self) -> usize {
        if self == Topology::R3 {
            3
        } else {
            1
        }
    }
}

/// The NATS side of a deployment.
enum Nats {
    None,
    One(NatsServer),
    Three(NatsCluster),
}

impl Nats {
    async fn start(topology: Topology) -> Nats {
        match topology {
            Topology::Embedded => Nats::None,
            Topology::R1 => Nats::One(NatsServer::start().await),
            Topology::R3 => Nats::Three(NatsCluster::start(3).await),
        }
    }

    fn url(&self) -> String {
        match self {
            Nats::None => String::new(),
            Nats::One(server) => server.url(),
            Nats::Three(cluster) => cluster.url(),
        }
    }

    /// The RSS of every node, summed, in MB.
    fn rss_mb(&self) -> f64 {
        let pids: Vec<u32> = match self {
            Nats::None => Vec::new(),
            Nats::One(server) => server.pid().into_iter().collect(),
            Nats::Three(cluster) => (0..cluster.size()).filter_map(|n| cluster.pid(n)).collect(),
        };
        pids.into_iter().map(rss_mb).sum()
    }
}

/// What a scenario runs against: a server the clients talk to (the replica, or the embedded server), the
/// workers behind it and NATS. Fields drop in order: the replica, the workers, then NATS.
struct Deployment {
    server: Server,
    workers: Vec<Server>,
    nats: Nats,
    topology: Topology,
    /// This deployment's folder (data dirs, HOME).
    dir: PathBuf,
}

impl Deployment {
    /// Starts `topology` with `workers` workers (none for the embedded server). The replica starts first;
    /// the workers' lease TTL is theirs whatever the order (a replica leaves the bucket as it finds it).
    async fn start(setup: &Setup, work: &Path, name: &str, topology: Topology, workers: usize) -> anyhow::Result<Self> {
        let dir = work.join(name);
        let home = dir.join("home");
        std::fs::create_dir_all(&home)?;
        let nats = Nats::start(topology).await;
        let spec = Server::opcode_web_spec(&setup.server_bin, &setup.emitter_bin, &home, &dir.join("data"));
        let spec = match topology {
            Topology::Embedded => spec,
            _ => spec.args(["--nats-url", &nats.url(), "--stream-replicas", &topology.replicas().to_string()]),
        };
        let server = Server::start(spec).await.with_context(|| format!("start the {topology:?} server"))?;
        let mut deployment = Deployment { server, workers: Vec::new(), nats, topology, dir };
        if topology != Topology::Embedded {
            for i in 0..workers {
                let worker = deployment.worker(setup, &format!("w{i}")).await?;
                deployment.workers.push(worker);
            }
        }
        Ok(deployment)
    }

    /// Starts an `opcode-worker` named `id` with the emitter as claude; ready once it serves.
    async fn worker(&self, setup: &Setup, id: &str) -> anyhow::Result<Server> {
        let bin = setup.worker_bin.as_deref().context("--worker-bin is required for the cluster scenarios")?;
        let spec = ProcessSpec::new(bin)
            .args(["--nats-url", &self.nats.url(), "--worker-id", id, "--max-sessions", "1000"])
            .args(["--lease-ttl", &LEASE_TTL_S.to_string(), "--stream-replicas", &self.topology.replicas().to_string()])
            .arg("--data-dir")
            .arg(self.dir.join(format!("worker-{id}")))
            .arg("--claude-bin")
            .arg(&setup.emitter_bin)
            .env("HOME", self.dir.join("home"))
            .env("RUST_LOG", "warn");
        let id = id.to_owned();
        Server::start_when(spec, move |line| line.contains(" serving on ").then(|| id.clone()))
            .await
            .with_context(|| format!("start worker {bin:?}"))
    }

    fn addr(&self) -> &str {
        &self.server.addr
    }

    /// Stops the server and the workers as a service manager does (SIGTERM: they end their runs, so no
    /// claude outlives them), then NATS. Dropping a deployment instead kills every process's group.
    async fn stop(self) -> anyhow::Result<()> {
        let Deployment { server, workers, nats, .. } = self;
        let mut result = server.stop().await;
        for worker in workers {
            result = result.and(worker.stop().await);
        }
        drop(nats);
        result
    }
}

/// Fails instead of waiting for ever when a run does not end.
async fn bounded<T>(
    what: &str,
    limit: Duration,
    work: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    tokio::time::timeout(limit, work).await.with_context(|| format!("{what}: no end within {limit:?}"))?
}

/// One cell per topology, in [`Topology::ALL`]'s order.
type Cells = [String; 3];

/// Cells with nothing measured yet.
fn dashes() -> Cells {
    ["—".into(), "—".into(), "—".into()]
}

/// A row of the cluster table.
fn line(scenario: &str, metric: &str, cells: Cells, target: &str) -> Vec<String> {
    let [embedded, r1, r3] = cells;
    vec![scenario.into(), metric.into(), embedded, r1, r3, target.into()]
}

/// Runs the cluster scenarios `setup` asks for and returns their Markdown table.
pub(crate) async fn run_all(setup: &Setup) -> anyhow::Result<String> {
    match opcode_proc::raise_open_file_limit() {
        Ok((_, limit)) => eprintln!("open-file limit of the bench: {limit}"),
        Err(err) => eprintln!("could not raise the bench's open-file limit: {err}"),
    }
    let work = std::env::temp_dir().join(format!("opcode-bench-cluster-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let result = scenarios(setup, &work).await;
    let _ = std::fs::remove_dir_all(&work);
    let rows = result?;
    Ok(markdown_table(&["scenario", "metric", "embedded", "R1 (1 node)", "R3 (3 nodes)", "target"], rows))
}

async fn scenarios(setup: &Setup, work: &Path) -> anyhow::Result<Vec<Vec<String>>> {
    let smoke = setup.smoke;
    let mut rows = Vec::new();
    let limit = Duration::from_secs(if smoke { 60 } else { 180 });

    // 1 and 2: events/s and latency, on each topology in turn
    let (one_lines, runs) = if smoke { (2_000u64, 1) } else { (100_000, 3) };
    let (sessions, per_session) = if smoke { (20u64, 100u64) } else { (200, 500) };
    let latency_count = if smoke { 20 } else { 500 };
    let (mut one, mut many, mut p50s, mut p99s) = (dashes(), dashes(), dashes(), dashes());
    let wants_throughput = setup.wants("throughput");
    if wants_throughput || setup.wants("latency") {
        for (t, topology) in Topology::ALL.into_iter().enumerate() {
            let deployment = Deployment::start(setup, work, &format!("{topology:?}"), topology, 1).await?;
            let addr = deployment.addr().to_owned();
            // a full run records a topology that fails (or hangs past `limit`) in its cells and goes on;
            // a smoke run fails
            let outcome: anyhow::Result<()> = async {
                if wants_throughput {
                    let prompt = format!("count={one_lines} size=300 rate=0");
                    let mut rates = Vec::new();
                    for _ in 0..runs {
                        let seen = bounded("one session", limit, opcode_run(&addr, &prompt, false)).await?;
                        ensure!(seen.lines == one_lines, "{topology:?}: {} of {one_lines} lines arrived", seen.lines);
                        rates.push(one_lines as f64 / seen.elapsed.as_secs_f64());
                    }
                    one[t] = format!("{:.0}", median(rates));
                    let prompt = format!("count={per_session} size=300 rate=0");
                    let began = Instant::now();
                    let tasks: Vec<_> = (0..sessions)
                        .map(|_| {
                            let (addr, prompt) = (addr.clone(), prompt.clone());
                            tokio::spawn(async move { opcode_run(&addr, &prompt, false).await })
                        })
                        .collect();
                    let mut received = 0;
                    for task in tasks {
                        received += bounded("a concurrent session", limit, async { task.await? }).await?.lines;
                    }
                    let elapsed = began.elapsed().as_secs_f64();
                    let expected = sessions * per_session;
                    ensure!(received == expected, "{topology:?}: {received} of {expected} lines arrived");
                    many[t] = format!("{:.0}", expected as f64 / elapsed);
                }
                if setup.wants("latency") {
                    let prompt = format!("count={latency_count} size=300 rate=100");
                    let mut seen = bounded("latency", limit, opcode_run(&addr, &prompt, true)).await?.latencies;
                    p50s[t] = format!("{:.2}", percentile_ms(&mut seen, 0.5));
                    p99s[t] = format!("{:.2}", percentile_ms(&mut seen, 0.99));
                }
                anyhow::Ok(())
            }
            .await;
            if let Err(err) = outcome {
                anyhow::ensure!(!smoke, "{topology:?}: {err:#}");
                eprintln!("{topology:?} failed: {err:#}");
                for cells in [&mut one, &mut many, &mut p50s, &mut p99s] {
                    if cells[t] == "—" {
                        cells[t] = "failed (see notes)".into();
                    }
                }
                drop(deployment);
                continue;
            }
            deployment.stop().await?;
        }
    }
    if wants_throughput {
        rows.push(line(
            &format!("one session, 300 B lines, unpaced ({one_lines} lines)"),
            &format!("events/s emitter → browser (median of {runs})"),
            one,
            "R1 ≥ 0.5×, R3 ≥ 0.25× embedded",
        ));
        rows.push(line(
            &format!("{sessions} sessions at once, {per_session} unpaced 300 B lines each"),
            "events/s in all, first start → last completion",
            many,
            "R1 ≥ 0.5×, R3 ≥ 0.25× embedded",
        ));
    }
    if setup.wants("latency") {
        rows.push(line(
            &format!("latency at 100 msgs/s ({latency_count} lines)"),
            "p50 ms (claude's write → browser)",
            p50s,
            "",
        ));
        rows.push(line("", "p99 ms", p99s, "≤ 10 ms through the cluster"));
    }

    // 3. failover
    if setup.wants("failover") {
        rows.extend(failover(setup, work, if smoke { 1 } else { 3 }).await?);
    }

    // 4. idle viewers
    if setup.wants("idle-viewers") {
        rows.extend(idle_viewers(setup, work, if smoke { 200 } else { 10_000 }, 10).await?);
    }
    Ok(rows)
}

/// Starts a run of `prompt` over `/ws/claude` and reads until the emitter's first line arrived: the run
/// streams. Returns the session id and the owner's socket.
async fn started(addr: &str, prompt: &str) -> anyhow::Result<(String, Ws)> {
    let id = uuid::Uuid::new_v4().to_string();
    let mut ws = connect(&format!("ws://{addr}/ws/claude"), Some(TOKEN)).await?;
    let request = serde_json::json!({"command_type":"execute","project_path":"/tmp","prompt":prompt,"session_id":id});
    ws.send(Message::Text(request.to_string().into())).await?;
    until_frame(&mut ws, Duration::from_secs(30), |text| text.contains("\"i\":0,"))
        .await
        .with_context(|| format!("run {id} of {prompt:?}"))?;
    Ok((id, ws))
}

/// Reads frames until one satisfies `done` (`limit` at most).
async fn until_frame(ws: &mut Ws, limit: Duration, done: impl Fn(&str) -> bool) -> anyhow::Result<()> {
    let read = async {
        while let Some(message) = ws.next().await {
            match message? {
                Message::Text(text) if done(&text) => return Ok(()),
                Message::Close(frame) => anyhow::bail!("the socket closed: {frame:?}"),
                _ => {}
            }
        }
        anyhow::bail!("the socket ended")
    };
    tokio::time::timeout(limit, read)
        .await
        .with_context(|| format!("the awaited frame did not come within {limit:?}"))?
}

/// `samples` times: a slow run on the only worker, a second worker started, the first one `kill -9`ed; the
/// time from the kill to the owner's `completion`, which must say the run was lost with its worker. The
/// survivor runs the next sample's run.
async fn failover(setup: &Setup, work: &Path, samples: usize) -> anyhow::Result<Vec<Vec<String>>> {
    let mut deployment = Deployment::start(setup, work, "failover", Topology::R1, 1).await?;
    let mut times = Vec::new();
    for sample in 0..samples {
        let (id, mut ws) = started(deployment.addr(), "count=100000 size=300 rate=10").await?;
        let survivor = deployment.worker(setup, &format!("w-next-{sample}")).await?;
        let doomed = std::mem::replace(&mut deployment.workers[0], survivor);
        let killed = Instant::now();
        drop(doomed); // SIGKILL to the worker's process group; its claude dies with it
        let seen: Seen =
            bounded("the failover", Duration::from_secs(60), read_run(&mut ws, killed, Some(&id), false)).await?;
        let completion = seen.completion.unwrap_or_default();
        ensure!(
            completion.contains("\"status\":\"error\"") && completion.contains("lost with its worker"),
            "after the kill the run {id} ended with {completion:?}"
        );
        times.push(seen.elapsed.as_secs_f64());
    }
    deployment.stop().await?;
    let (mid, max) = (median(times.clone()), times.iter().copied().fold(0.0, f64::max));
    let mut cells = dashes();
    cells[1] = format!("{mid:.2} / {max:.2}");
    Ok(vec![line(
        &format!("failover: `kill -9` of the worker of a run (lease TTL {LEASE_TTL_S} s, a second worker alive)"),
        &format!(
            "s from the kill to the browser's completion (error, lost with its worker): median / max of {samples}"
        ),
        cells,
        &format!("≤ {} s (TTL + 2 s)", LEASE_TTL_S + 2),
    )])
}

/// `viewers` WebSockets on `/ws/sessions/{id}` of `sessions` runs that wait (the emitter hangs after its
/// lines), each read until it caught up with the run's events; the server's (and NATS's) RSS before and
/// after, on the embedded server and on an R1 replica.
async fn idle_viewers(setup: &Setup, work: &Path, viewers: usize, sessions: usize) -> anyhow::Result<Vec<Vec<String>>> {
    let (mut before_after, mut per_viewer, mut nats, mut connect_s) = (dashes(), dashes(), dashes(), dashes());
    for (t, topology) in [(0, Topology::Embedded), (1, Topology::R1)] {
        let deployment = Deployment::start(setup, work, &format!("idle-{topology:?}"), topology, 1).await?;
        // the runs hang: the deployment is stopped (its runs ended) whatever the outcome
        let measured = idle_on(&deployment, viewers, sessions).await;
        deployment.stop().await?;
        let idle = measured?;
        connect_s[t] = format!("{:.1}", idle.connect_s);
        before_after[t] = format!("{:.1} → {:.1}", idle.rss_mb.0, idle.rss_mb.1);
        per_viewer[t] = format!("{:.1}", (idle.rss_mb.1 - idle.rss_mb.0) * 1024.0 / viewers as f64);
        if topology != Topology::Embedded {
            nats[t] = format!("{:.1} → {:.1}", idle.nats_mb.0, idle.nats_mb.1);
        }
    }
    let scenario = format!("{viewers} idle viewers of {sessions} waiting runs on one server (replica)");
    Ok(vec![
        line(&scenario, "s to connect them all, each caught up (64 at a time)", connect_s, ""),
        line("", "server RSS MB before → after", before_after, ""),
        line("", "KB of server RSS per idle viewer", per_viewer, "≤ 20 KB"),
        line("", "NATS server RSS MB before → after", nats, ""),
    ])
}

/// What [`idle_on`] measured.
struct Idle {
    connect_s: f64,
    rss_mb: (f64, f64),
    nats_mb: (f64, f64),
}

/// Starts `sessions` runs that wait, then connects `viewers` viewers spread over them, each read until
/// it caught up (the run's `result` line); the RSS before and after, once the viewers sit idle.
async fn idle_on(deployment: &Deployment, viewers: usize, sessions: usize) -> anyhow::Result<Idle> {
    let mut owners = Vec::new();
    for _ in 0..sessions {
        owners.push(started(deployment.addr(), "count=1 size=300 hang").await?);
    }
    let ids: Vec<String> = owners.iter().map(|(id, _)| id.clone()).collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (rss_before, nats_before) = (rss_mb(deployment.server.pid), deployment.nats.rss_mb());
    let began = Instant::now();
    let addr = deployment.addr().to_owned();
    let sockets: Vec<Ws> = futures::stream::iter(0..viewers)
        .map(|i| {
            let url = format!("ws://{addr}/ws/sessions/{}", ids[i % ids.len()]);
            async move {
                let mut ws = connect(&url, Some(TOKEN)).await?;
                until_frame(&mut ws, Duration::from_secs(180), |text| text.contains("\"subtype\":\"success\"")).await?;
                anyhow::Ok(ws)
            }
        })
        .buffer_unordered(64)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    let connect_s = began.elapsed().as_secs_f64();
    // idle: the sockets settle (a catch-up of these short sessions takes no consumer: nothing to wait out)
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (rss_after, nats_after) = (rss_mb(deployment.server.pid), deployment.nats.rss_mb());
    drop(sockets);
    drop(owners);
    Ok(Idle { connect_s, rss_mb: (rss_before, rss_after), nats_mb: (nats_before, nats_after) })
}
