//! The scenarios of issue "Fast by measurement", each measured on opcode-web and, where a relay floor is
//! meaningful, on the floor too. Sizes shrink with `--smoke`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures::SinkExt;
use tokio_tungstenite::tungstenite::Message;

use crate::client::{
    self, connect, floor_run, median, now_ns, opcode_run, opcode_run_as, percentile_ms, read_run, Server, TOKEN,
};
use crate::procinfo::{cpu_seconds, open_fds, rss_mb};
use crate::Setup;

/// One line of the table.
pub(crate) struct Row {
    scenario: String,
    metric: String,
    opcode: String,
    floor: String,
    ratio: String,
    target: String,
}

pub(crate) fn row(
    scenario: &str,
    metric: &str,
    opcode: String,
    floor: Option<f64>,
    opcode_value: f64,
    target: &str,
) -> Row {
    let (floor, ratio) = match floor {
        Some(f) => (format!("{f:.3}"), format!("{:.2}×", opcode_value / f)),
        None => ("—".into(), "—".into()),
    };
    Row { scenario: scenario.into(), metric: metric.into(), opcode, floor, ratio, target: target.into() }
}

pub(crate) async fn run_all(setup: &Setup) -> anyhow::Result<String> {
    let work = std::env::temp_dir().join(format!("opcode-bench-{}", std::process::id()));
    let home = work.join("home");
    std::fs::create_dir_all(&home)?;
    let server = Server::opcode_web(&setup.server_bin, &setup.emitter_bin, &home, &work.join("data")).await?;
    let floor = Server::floor(&setup.emitter_bin).await?;
    let mut rows = Vec::new();
    let smoke = setup.smoke;
    let runs = if smoke { 1 } else { 3 };

    // 1. throughput
    let lines: u64 = if smoke { 20_000 } else { 500_000 };
    let prompt = format!("count={lines} size=300 rate=0");
    let (mut ours, mut theirs, mut our_cpu, mut their_cpu) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut run_paces = Vec::new();
    for _ in 0..(if setup.wants("throughput") { runs } else { 0 }) {
        let cpu = cpu_seconds(server.pid);
        let seen = opcode_run(&server.addr, &prompt, false).await?;
        our_cpu.push((cpu_seconds(server.pid) - cpu) * 1e6 / lines as f64);
        anyhow::ensure!(seen.lines == lines, "opcode-web delivered {} of {lines} lines", seen.lines);
        ours.push(lines as f64 / seen.elapsed.as_secs_f64());
        run_paces.push(lines as f64 / (seen.emitter_ms.unwrap_or(f64::NAN) / 1e3));
        let cpu = cpu_seconds(floor.pid);
        let seen = floor_run(&floor.addr, &prompt, false).await?;
        their_cpu.push((cpu_seconds(floor.pid) - cpu) * 1e6 / lines as f64);
        theirs.push(lines as f64 / seen.elapsed.as_secs_f64());
    }
    let (ours, theirs) = (median(ours), median(theirs));
    let one_viewer_pace = median(run_paces);
    if setup.wants("throughput") {
        rows.push(row(
            "one session, 300 B lines, unpaced",
            "msgs/s end to end",
            format!("{ours:.0}"),
            Some(theirs),
            ours,
            "≥ 500,000; ≥ 0.7× floor",
        ));
        let (cpu, floor_cpu) = (median(our_cpu), median(their_cpu));
        rows.push(row("", "server CPU µs per line", format!("{cpu:.2}"), Some(floor_cpu), cpu, "≤ 1.5 µs"));
    }

    // 2. latency
    let latency = if setup.wants("latency") {
        &[(100u64, if smoke { 20 } else { 500 }), (10_000, if smoke { 2_000 } else { 50_000 })][..]
    } else {
        &[]
    };
    for &(rate, count) in latency {
        let prompt = format!("count={count} size=300 rate={rate}");
        let mut ours = opcode_run(&server.addr, &prompt, true).await?.latencies;
        let mut theirs = floor_run(&floor.addr, &prompt, true).await?.latencies;
        let (p50, p99) = (percentile_ms(&mut ours, 0.5), percentile_ms(&mut ours, 0.99));
        let (f50, f99) = (percentile_ms(&mut theirs, 0.5), percentile_ms(&mut theirs, 0.99));
        let target = if rate == 100 { "p99 ≤ 0.5 ms" } else { "p99 ≤ 2 ms" };
        rows.push(row(
            &format!("latency at {rate} msgs/s"),
            "p50 ms (write → receipt)",
            format!("{p50:.3}"),
            Some(f50),
            p50,
            "",
        ));
        rows.push(row("", "p99 ms", format!("{p99:.3}"), Some(f99), p99, target));
    }
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for _ in 0..(if !setup.wants("latency") {
        0
    } else if smoke {
        3
    } else {
        20
    }) {
        ours.push(first_line(opcode_run(&server.addr, "count=1 size=300", true).await?));
        theirs.push(first_line(floor_run(&floor.addr, "count=1 size=300", true).await?));
    }
    let (first, floor_first) = (median(ours), median(theirs));
    if setup.wants("latency") {
        rows.push(row(
            "first line of a run",
            "ms from request to claude's first line (median)",
            format!("{first:.2}"),
            Some(floor_first),
            first,
            "≤ 20 ms",
        ));
    }

    // 3. many sessions at once
    let (sessions, seconds) = if smoke { (20u64, 1u64) } else { (1000, 30) };
    if setup.wants("sessions") {
        rows.extend(concurrent(&server, sessions, seconds).await?);
    }

    // 4. many viewers of one run
    if setup.wants("viewers") {
        rows.extend(viewers(&server, if smoke { 10 } else { 100 }, lines, one_viewer_pace).await?);
    }

    // 5. replay of a long finished run
    if setup.wants("replay") {
        rows.extend(replay(&server, if smoke { 20_000 } else { 1_000_000 }).await?);
    }

    // 6. Claude's files
    if setup.wants("files") {
        rows.extend(claude_files(&server, &home, smoke).await?);
    }

    // 6b. git status of a big repository
    if setup.wants("git") {
        rows.extend(crate::git::scenario(&server, &work, smoke).await?);
    }

    // 6c. a project's files (the Files pane)
    if setup.wants("project-files") {
        rows.extend(project_files(&server, &home, smoke).await?);
    }

    // 7. cancel
    let mut latencies = Vec::new();
    for _ in 0..(if !setup.wants("cancel") {
        0
    } else if smoke {
        3
    } else {
        20
    }) {
        latencies.push(cancel_latency(&server).await?);
    }
    let p99 = percentile_ms(&mut latencies, 0.99);
    if setup.wants("cancel") {
        rows.push(row(
            "cancel",
            "p99 ms from cancel request to SIGTERM in the child",
            format!("{p99:.2}"),
            None,
            p99,
            "≤ 50 ms",
        ));
    }

    // 8. start-up and idle memory
    let mut starts = Vec::new();
    let mut idle = Vec::new();
    for i in 0..(if !setup.wants("startup") {
        0
    } else if smoke {
        2
    } else {
        5
    }) {
        let fresh_home = work.join(format!("home-{i}"));
        std::fs::create_dir_all(&fresh_home)?;
        let fresh =
            Server::opcode_web(&setup.server_bin, &setup.emitter_bin, &fresh_home, &work.join(format!("data-{i}")))
                .await?;
        starts.push(fresh.started_in.as_secs_f64() * 1e3);
        tokio::time::sleep(Duration::from_millis(300)).await; // let it settle: idle is the point
        idle.push(rss_mb(fresh.pid));
    }
    let (start, rss) = (median(starts), median(idle));
    if setup.wants("startup") {
        rows.push(row("start-up", "ms from exec to listening (median)", format!("{start:.1}"), None, start, "≤ 50 ms"));
        rows.push(row("", "idle RSS MB", format!("{rss:.1}"), None, rss, "≤ 6 MB"));
    }

    // 9. a terminal: `cat` of a big file reaches a WebSocket client
    if setup.wants("terminal") {
        rows.extend(terminal_cat(&server, &work, smoke).await?);
    }

    // 10. finished runs: what they cost, and a restart with them
    drop(floor);
    if setup.wants("finished") {
        rows.extend(finished_runs(setup, &work).await?);
    }

    // 10. usage analytics over generated transcripts
    if setup.wants("usage") {
        rows.extend(crate::usage::usage(setup, &work).await?);
    }

    drop(server);
    let _ = std::fs::remove_dir_all(&work);
    Ok(markdown_table(
        &["scenario", "metric", "opcode-web", "floor", "ratio", "target"],
        rows.into_iter().map(|r| vec![r.scenario, r.metric, r.opcode, r.floor, r.ratio, r.target]),
    ))
}

/// A Markdown table of `header` and `rows` (one cell per column).
pub(crate) fn markdown_table(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut table = format!("| {} |\n|{}\n", header.join(" | "), "---|".repeat(header.len()));
    for cells in rows {
        let _ = writeln!(table, "| {} |", cells.join(" | "));
    }
    table
}

fn first_line(seen: client::Seen) -> f64 {
    seen.first_frame.map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
}

/// Samples the server's RSS until `stop` flips; returns the peak.
fn sample_rss(pid: u32, stop: std::sync::Arc<std::sync::atomic::AtomicBool>) -> tokio::task::JoinHandle<f64> {
    tokio::spawn(async move {
        let mut peak: f64 = 0.0;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            peak = peak.max(rss_mb(pid));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        peak
    })
}

async fn concurrent(server: &Server, sessions: u64, seconds: u64) -> anyhow::Result<Vec<Row>> {
    let per_session = 10 * seconds;
    let prompt = format!("count={per_session} size=300 rate=10");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = sample_rss(server.pid, stop.clone());
    // sessions start spread over a ramp (5 s, 0.5 s in smoke runs), as people start them, not in one instant
    let ramp = Duration::from_millis(if seconds > 1 { 5_000 } else { 500 });
    let mut tasks = Vec::new();
    for i in 0..sessions {
        let (addr, prompt) = (server.addr.clone(), prompt.clone());
        let delay = ramp * i as u32 / sessions as u32;
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            opcode_run(&addr, &prompt, true).await
        }));
    }
    let (mut received, mut foreign, mut latencies) = (0, 0, Vec::new());
    for task in tasks {
        let seen = task.await??;
        received += seen.lines;
        foreign += seen.foreign;
        latencies.extend(seen.latencies);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak = sampler.await?;
    let expected = sessions * per_session;
    let p99 = percentile_ms(&mut latencies, 0.99);
    let name = format!(
        "{sessions} sessions × 10 msgs/s × {seconds} s, one viewer each (started over {} s)",
        ramp.as_secs_f64()
    );
    Ok(vec![
        row(
            &name,
            "lines lost / frames of another session",
            format!("{} / {foreign}", expected - received),
            None,
            0.0,
            "0 / 0",
        ),
        row("", "server peak RSS MB (children excluded)", format!("{peak:.1}"), None, peak, "≤ 200 MB"),
        row("", "p99 ms (write → receipt)", format!("{p99:.2}"), None, p99, "≤ 10 ms"),
    ])
}

/// One unpaced run with `count` viewers attached. The run's pace (lines per second the emitter could write,
/// i.e. how fast the server consumed them) is compared with its pace with one viewer: viewers must not slow
/// the run. What each viewer receives is reported too.
async fn viewers(server: &Server, count: usize, lines: u64, one_viewer_pace: f64) -> anyhow::Result<Vec<Row>> {
    let id = uuid::Uuid::new_v4().to_string();
    let mut owner = connect(&format!("ws://{}/ws/claude", server.addr), Some(TOKEN)).await?;
    let request = serde_json::json!({"command_type":"execute","project_path":"/tmp",
        "prompt":format!("count={lines} size=300 rate=0"),"session_id":id});
    owner.send(Message::Text(request.to_string().into())).await?;
    // the viewers attach once the run exists (its `start` event came back): an attach that wins the race
    // with the request would be told "unknown session" and count as a viewer that got nothing
    loop {
        match futures::StreamExt::next(&mut owner).await {
            Some(Ok(Message::Text(_))) => break,
            Some(Ok(_)) => {}
            _ => anyhow::bail!("the run ended before its first event"),
        }
    }
    let mut tasks = Vec::new();
    for _ in 0..count {
        let (addr, id) = (server.addr.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            let mut ws = connect(&format!("ws://{addr}/ws/sessions/{id}"), Some(TOKEN)).await?;
            // no cross-talk check here (one session): keep the client cheap, it shares the cores
            read_run(&mut ws, Instant::now(), None, false).await
        }));
    }
    let owner_seen = read_run(&mut owner, Instant::now(), Some(&id), false).await?;
    let mut slowest = f64::MAX;
    let mut complete = 0;
    let mut delivered = 0.0;
    for task in tasks {
        let seen = task.await??;
        complete += usize::from(seen.lines == lines);
        let rate = seen.lines as f64 / seen.elapsed.as_secs_f64();
        slowest = slowest.min(rate);
        delivered += rate;
    }
    anyhow::ensure!(owner_seen.lines == lines, "the owner missed lines");
    let pace = lines as f64 / (owner_seen.emitter_ms.unwrap_or(f64::NAN) / 1e3);
    let ratio = pace / one_viewer_pace;
    let name = format!("1 run ({lines} lines), {count} attached viewers");
    Ok(vec![
        row(&name, "viewers that got every event", format!("{complete} / {count}"), None, 0.0, "all"),
        row(
            "",
            "run pace msgs/s (ratio to its pace with one viewer)",
            format!("{pace:.0} ({ratio:.2}×)"),
            None,
            pace,
            "≥ 0.5× one viewer's",
        ),
        row(
            "",
            "slowest viewer / all viewers together, msgs/s delivered",
            format!("{slowest:.0} / {delivered:.0}"),
            None,
            slowest,
            "",
        ),
    ])
}

async fn replay(server: &Server, lines: u64) -> anyhow::Result<Vec<Row>> {
    let id = uuid::Uuid::new_v4().to_string();
    let mut owner = connect(&format!("ws://{}/ws/claude", server.addr), Some(TOKEN)).await?;
    let request = serde_json::json!({"command_type":"execute","project_path":"/tmp",
        "prompt":format!("count={lines} size=300 rate=0"),"session_id":id});
    owner.send(Message::Text(request.to_string().into())).await?;
    read_run(&mut owner, Instant::now(), Some(&id), false).await?;
    let before = rss_mb(server.pid);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = sample_rss(server.pid, stop.clone());
    let mut viewer = connect(&format!("ws://{}/ws/sessions/{id}?since=0", server.addr), Some(TOKEN)).await?;
    let seen = read_run(&mut viewer, Instant::now(), Some(&id), false).await?;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak = sampler.await?;
    anyhow::ensure!(seen.lines == lines, "replay delivered {} of {lines}", seen.lines);
    let first = seen.first_frame.map_or(f64::NAN, |d| d.as_secs_f64() * 1e3);
    let mbps = seen.bytes as f64 / 1e6 / seen.elapsed.as_secs_f64();
    let name = format!("replay of a finished run of {lines} events from seq 0");
    Ok(vec![
        row(&name, "ms to first event", format!("{first:.2}"), None, first, "≤ 50 ms"),
        row("", "MB/s", format!("{mbps:.0}"), None, mbps, "≥ 100 MB/s"),
        row("", "server RSS MB before → peak during", format!("{before:.1} → {peak:.1}"), None, peak, "flat"),
    ])
}

/// The Files pane on a generated repository of 100,000 files (100 folders × 10 × 100; `--smoke`: 2,000):
/// listing a folder, a fuzzy name search across all of it, opening a 1 MB text file; the server's RSS
/// before and after.
async fn project_files(server: &Server, home: &std::path::Path, smoke: bool) -> anyhow::Result<Vec<Row>> {
    let (top, mid, leaf) = if smoke { (10, 2, 100) } else { (100, 10, 100) };
    let repo = home.join("projects/big-repo");
    for t in 0..top {
        for m in 0..mid {
            let dir = repo.join(format!("pkg{t:03}/mod{m}"));
            std::fs::create_dir_all(&dir)?;
            for f in 0..leaf {
                std::fs::write(dir.join(format!("file{f:03}.rs")), format!("// {t} {m} {f}\n"))?;
            }
        }
    }
    std::fs::write(repo.join(".gitignore"), "target/\n")?;
    let line = format!("{}\n", "x".repeat(99));
    std::fs::write(repo.join("big.txt"), line.repeat(10_000))?;
    let files = top * mid * leaf;
    let project = repo.canonicalize()?.display().to_string();
    let http = reqwest::Client::new();
    let get = |route: &str, extra: &str| {
        let http = http.clone();
        let url =
            format!("http://{}/api/files/{route}?project_path={}&{extra}", server.addr, project.replace('/', "%2F"));
        async move {
            let began = Instant::now();
            let response = http.get(url).bearer_auth(TOKEN).send().await?;
            anyhow::ensure!(response.status().is_success(), "{}", response.status());
            let _ = response.bytes().await?;
            anyhow::Ok(began.elapsed().as_secs_f64() * 1e3)
        }
    };
    let runs = if smoke { 3 } else { 10 };
    let before = rss_mb(server.pid);
    let (mut root, mut leaf_list, mut search, mut open) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..runs {
        root.push(get("list", "path=").await?);
        leaf_list.push(get("list", &format!("path=pkg{:03}%2Fmod1", i % top)).await?);
        search.push(get("search", &format!("q=pkg{:03}mod1file0{i}", i % top)).await?);
        open.push(get("read", "path=big.txt").await?);
    }
    let after = rss_mb(server.pid);
    let (root, leaf_list, search, open) = (median(root), median(leaf_list), median(search), median(open));
    Ok(vec![
        row(
            &format!("project files ({files} files)"),
            "ms to list the top folder (median)",
            format!("{root:.2}"),
            None,
            root,
            "≤ 20 ms",
        ),
        row("", "ms to list a folder of 100 files (median)", format!("{leaf_list:.2}"), None, leaf_list, "≤ 20 ms"),
        row(
            "",
            "ms for a fuzzy name search of the whole tree (median)",
            format!("{search:.1}"),
            None,
            search,
            "≤ 200 ms",
        ),
        row("", "ms to open a 1 MB text file (median)", format!("{open:.2}"), None, open, "≤ 50 ms"),
        row("", "server RSS MB before → after", format!("{before:.1} → {after:.1}"), None, after, "bounded"),
    ])
}

async fn claude_files(server: &Server, home: &std::path::Path, smoke: bool) -> anyhow::Result<Vec<Row>> {
    let (projects, sessions, big_mb) = if smoke { (20, 5, 5) } else { (200, 25, 500) };
    let root = home.join(".claude/projects");
    for p in 0..projects {
        let dir = root.join(format!("-home-dev-project{p}"));
        std::fs::create_dir_all(&dir)?;
        for _ in 0..sessions {
            let mut file = std::fs::File::create(dir.join(format!("{}.jsonl", uuid::Uuid::new_v4())))?;
            for turn in 0..10 {
                writeln!(file, "{{\"type\":\"user\",\"message\":{{\"role\":\"user\",\"content\":\"prompt {turn}\"}},\"cwd\":\"/home/dev/project{p}\",\"timestamp\":\"2026-11-29T00:00:00Z\"}}")?;
            }
        }
    }
    let big_dir = root.join("-home-dev-big");
    std::fs::create_dir_all(&big_dir)?;
    let big_id = uuid::Uuid::new_v4().to_string();
    {
        let mut file = std::io::BufWriter::new(std::fs::File::create(big_dir.join(format!("{big_id}.jsonl")))?);
        let pad = "y".repeat(900);
        for i in 0..(big_mb * 1000) {
            writeln!(file, "{{\"type\":\"assistant\",\"i\":{i},\"message\":{{\"role\":\"assistant\",\"content\":[{{\"type\":\"text\",\"text\":\"{pad}\"}}]}}}}")?;
        }
    }
    let http = reqwest::Client::new();
    let get = |path: String| {
        let http = http.clone();
        let url = format!("http://{}{path}", server.addr);
        async move {
            let began = Instant::now();
            let response = http.get(url).bearer_auth(TOKEN).send().await?;
            anyhow::ensure!(response.status().is_success(), "{}", response.status());
            let _ = response.bytes().await?;
            anyhow::Ok(began.elapsed().as_secs_f64() * 1e3)
        }
    };
    let mut listing = Vec::new();
    for _ in 0..5 {
        listing.push(get("/api/projects".into()).await?);
    }
    let before = rss_mb(server.pid);
    let mut page = Vec::new();
    for _ in 0..5 {
        page.push(get(format!("/api/sessions/{big_id}/history/-home-dev-big?limit=200")).await?);
    }
    let after = rss_mb(server.pid);
    let (listing, page) = (median(listing), median(page));
    Ok(vec![
        row(
            &format!("/api/projects over {projects} projects × {sessions} sessions"),
            "ms (median)",
            format!("{listing:.1}"),
            None,
            listing,
            "≤ 100 ms",
        ),
        row(
            &format!("history page (200 lines) of a {big_mb} MB transcript"),
            "ms (median)",
            format!("{page:.1}"),
            None,
            page,
            "≤ 20 ms",
        ),
        row("", "server RSS MB before → after", format!("{before:.1} → {after:.1}"), None, after, "flat"),
    ])
}

async fn cancel_latency(server: &Server) -> anyhow::Result<u64> {
    let id = uuid::Uuid::new_v4().to_string();
    let mut ws = connect(&format!("ws://{}/ws/claude", server.addr), Some(TOKEN)).await?;
    let request =
        serde_json::json!({"command_type":"execute","project_path":"/tmp","prompt":"count=0 hang","session_id":id});
    ws.send(Message::Text(request.to_string().into())).await?;
    // wait for the emitter's init line: it runs and has its SIGTERM thread ready
    loop {
        match futures::StreamExt::next(&mut ws).await {
            Some(Ok(Message::Text(text))) if text.contains("\"subtype\":\"init\"") => break,
            Some(Ok(_)) => {}
            _ => anyhow::bail!("run ended before its first line"),
        }
    }
    let http = reqwest::Client::new();
    let asked = now_ns();
    http.post(format!("http://{}/api/sessions/{id}/cancel", server.addr)).bearer_auth(TOKEN).send().await?;
    let seen = read_run(&mut ws, Instant::now(), Some(&id), false).await?;
    let received = seen.sigterm_at.ok_or_else(|| anyhow::anyhow!("the emitter reported no SIGTERM"))?;
    Ok(received.saturating_sub(asked) as u64)
}

/// Many short runs on a server of its own: its fds and RSS before and after (a finished run must cost no
/// fd and bounded memory); then a graceful restart on the same data dir, timed from the new server's spawn
/// until the oldest and a random one of those runs are attachable and have replayed their whole log.
async fn finished_runs(setup: &Setup, work: &std::path::Path) -> anyhow::Result<Vec<Row>> {
    const LINES: u64 = 10;
    const AT_ONCE: usize = 8;
    let runs = if setup.smoke { 50 } else { 1000 };
    let (home, data) = (work.join("home-finished"), work.join("data-finished"));
    std::fs::create_dir_all(&home)?;
    let server = Server::opcode_web(&setup.server_bin, &setup.emitter_bin, &home, &data).await?;
    let prompt = format!("count={LINES} size=300");
    // a first run warms up what the server opens once for good (the runtime's signal pipe, the store)
    let mut ids = vec![opcode_run_as(&server.addr, new_id(), &prompt, false).await?.0];
    let (fds_start, rss_start) = (open_fds(server.pid), rss_mb(server.pid));
    let mut batch = tokio::task::JoinSet::new();
    let mut run = 0;
    while run < runs || !batch.is_empty() {
        if run < runs && batch.len() < AT_ONCE {
            let (addr, prompt) = (server.addr.clone(), prompt.clone());
            batch.spawn(async move { opcode_run_as(&addr, new_id(), &prompt, false).await });
            run += 1;
            continue;
        }
        if let Some(done) = batch.join_next().await {
            let (id, seen) = done??;
            anyhow::ensure!(seen.lines == LINES && seen.completed, "run {id} delivered {} of {LINES}", seen.lines);
            ids.push(id);
        }
    }
    // a run's completion reaches its viewer just before the server closes its log: let that happen
    let settle = Instant::now();
    while open_fds(server.pid) > fds_start + 8 && settle.elapsed() < Duration::from_secs(2) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (fds_after, rss_after) = (open_fds(server.pid), rss_mb(server.pid));

    let stopping = Instant::now();
    server.stop().await?;
    let stop_ms = stopping.elapsed().as_secs_f64() * 1e3;
    let began = Instant::now();
    let restarted = Server::opcode_web(&setup.server_bin, &setup.emitter_bin, &home, &data).await?;
    let listening_ms = began.elapsed().as_secs_f64() * 1e3;
    let replayed = |id: String| {
        let addr = restarted.addr.clone();
        async move {
            let mut ws = connect(&format!("ws://{addr}/ws/sessions/{id}"), Some(TOKEN)).await?;
            let seen = read_run(&mut ws, Instant::now(), Some(&id), false).await?;
            anyhow::ensure!(
                seen.lines == LINES && seen.completed,
                "after the restart run {id} replayed {} of {LINES} lines (completion: {})",
                seen.lines,
                seen.completed
            );
            anyhow::Ok(began.elapsed().as_secs_f64() * 1e3)
        }
    };
    let oldest_ms = replayed(ids[0].clone()).await?;
    let random = ids[(now_ns() % ids.len() as u128) as usize].clone();
    let random_ms = replayed(random).await?;
    restarted.stop().await?;
    let total = ids.len();
    Ok(vec![
        row(
            &format!("{total} finished runs ({LINES} lines each, {AT_ONCE} at a time)"),
            "server open fds at start → after",
            format!("{fds_start} → {fds_after}"),
            None,
            fds_after as f64,
            "back to start ± 8",
        ),
        row("", "server RSS MB at start → after", format!("{rss_start:.1} → {rss_after:.1}"), None, rss_after, "flat"),
        row("", "ms from SIGTERM to the server's exit", format!("{stop_ms:.0}"), None, stop_ms, ""),
        row(
            &format!("restart on the same data dir with {total} finished runs"),
            "ms from spawn to listening",
            format!("{listening_ms:.1}"),
            None,
            listening_ms,
            "",
        ),
        row(
            "",
            "ms from spawn until the oldest run has replayed in full",
            format!("{oldest_ms:.1}"),
            None,
            oldest_ms,
            "≤ 1000 ms",
        ),
        row(
            "",
            "ms from spawn until a random run has then replayed in full",
            format!("{random_ms:.1}"),
            None,
            random_ms,
            "≤ 1000 ms",
        ),
    ])
}

/// `cat` of a file of `MB` megabytes in a terminal, read by one WebSocket client as a browser reads it:
/// MB/s from the command to the marker printed after it, and the server's peak RSS meanwhile.
async fn terminal_cat(server: &Server, work: &std::path::Path, smoke: bool) -> anyhow::Result<Vec<Row>> {
    let mb: usize = if smoke { 2 } else { 100 };
    let folder = work.join("terminal");
    std::fs::create_dir_all(&folder)?;
    let file = folder.join("big.txt");
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&file)?);
        let line = format!("{}\n", "0123456789abcdefghijklmnopqrstuvwxyz".repeat(3)); // 109 bytes
        let mut written = 0;
        while written < mb * 1_000_000 {
            out.write_all(line.as_bytes())?;
            written += line.len();
        }
        out.flush()?;
    }
    let size = std::fs::metadata(&file)?.len();
    let http = reqwest::Client::new();
    let created: serde_json::Value = http
        .post(format!("http://{}/api/terminals", server.addr))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({ "project_path": folder, "rows": 40, "cols": 120 }))
        .send()
        .await?
        .json()
        .await?;
    let id = created["data"]["id"].as_str().context("no terminal id")?.to_owned();
    let mut ws = connect(&format!("ws://{}/ws/terminals/{id}", server.addr), Some(TOKEN)).await?;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = sample_rss(server.pid, stop.clone());
    let rss_before = rss_mb(server.pid);
    // the marker is computed by the shell, so the echo of the typed line does not contain it
    let command = format!("cat {}; echo CAT-DONE-$((40+2))\r", file.display());
    let began = Instant::now();
    ws.send(Message::Binary(command.into_bytes().into())).await?;
    let marker = b"CAT-DONE-42";
    let (mut received, mut tail) = (0u64, Vec::new());
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(120), futures::StreamExt::next(&mut ws))
            .await
            .context("the terminal went quiet before the marker")?;
        match frame {
            Some(Ok(Message::Binary(bytes))) => {
                received += bytes.len() as u64;
                // the marker comes last (then only the prompt): look at the end of what arrived
                tail.extend_from_slice(&bytes[bytes.len().saturating_sub(4096)..]);
                tail.drain(..tail.len().saturating_sub(4096));
                if tail.windows(marker.len()).any(|w| w == marker) {
                    break;
                }
            }
            Some(Ok(_)) => {}
            other => anyhow::bail!("the terminal socket ended: {other:?}"),
        }
    }
    let elapsed = began.elapsed().as_secs_f64();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak = sampler.await?.max(rss_mb(server.pid));
    anyhow::ensure!(received >= size, "the client got {received} bytes of a {size}-byte file");
    let mb_s = size as f64 / 1e6 / elapsed;
    http.delete(format!("http://{}/api/terminals/{id}", server.addr)).bearer_auth(TOKEN).send().await?;
    let _ = std::fs::remove_file(&file);
    Ok(vec![
        row(
            &format!("terminal: cat of a {mb} MB file, one WebSocket client"),
            "MB/s to the client",
            format!("{mb_s:.1}"),
            None,
            mb_s,
            "≥ 20 MB/s",
        ),
        row("", "server RSS MB before → peak during", format!("{rss_before:.1} → {peak:.1}"), None, peak, "bounded"),
    ])
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
