//! The usage analytics scenario: generated Claude transcripts (1 GB; 20 MB with `--smoke`) over a year in
//! a fresh server's HOME; the first report indexes them all (time, the server's peak RSS), a new run
//! appended to one session is picked up by the next report, and a year's report from an index that is up
//! to date. Every figure is a whole request as the browser makes it (refresh + query + JSON).

use std::io::Write as _;
use std::path::Path;
use std::time::Instant;

use crate::client::{median, Server, TOKEN};
use crate::procinfo::{peak_rss_mb, rss_mb};
use crate::scenarios::{row, Row};
use crate::Setup;

const PROJECTS: usize = 40;
const MODELS: [&str; 3] = ["claude-sonnet-4-5-20250929", "claude-opus-4-1-20250805", "claude-haiku-4-5-20251001"];

/// One turn of a session, as the CLI writes it: the prompt, an assistant tool call (written twice, one
/// line per content block, as the CLI does), the tool's result, the answer. About 6 KB.
fn turn(out: &mut impl std::io::Write, session: &str, cwd: &str, day: &str, n: u64, pad: &str) -> std::io::Result<()> {
    let ts = format!("{day}T{:02}:{:02}:{:02}.000Z", (n / 3600) % 24, (n / 60) % 60, n % 60);
    let model = MODELS[(n % 3) as usize];
    writeln!(
        out,
        r#"{{"parentUuid":null,"isSidechain":false,"type":"user","message":{{"role":"user","content":"turn {n}: {pad}"}},"uuid":"u{n}","timestamp":"{ts}","cwd":"{cwd}","sessionId":"{session}","version":"2.1.328"}}"#
    )?;
    for block in 0..2 {
        writeln!(
            out,
            r#"{{"parentUuid":"u{n}","isSidechain":false,"message":{{"id":"msg_{session}_{n}","type":"message","role":"assistant","model":"{model}","content":[{{"type":"tool_use","id":"t{n}{block}","name":"Bash","input":{{"command":"ls {pad}"}}}}],"stop_reason":"tool_use","usage":{{"input_tokens":{},"cache_creation_input_tokens":{},"cache_read_input_tokens":{},"output_tokens":{},"service_tier":"standard"}}}},"requestId":"req_{session}_{n}","type":"assistant","uuid":"a{n}{block}","timestamp":"{ts}","cwd":"{cwd}","sessionId":"{session}","version":"2.1.328"}}"#,
            10 + n % 50,
            n % 2000,
            20_000 + n % 5000,
            100 + n % 900
        )?;
    }
    writeln!(
        out,
        r#"{{"parentUuid":"a{n}1","isSidechain":false,"type":"user","message":{{"role":"user","content":[{{"tool_use_id":"t{n}1","type":"tool_result","content":"{pad}{pad}{pad}"}}]}},"uuid":"r{n}","timestamp":"{ts}","cwd":"{cwd}","sessionId":"{session}","version":"2.1.328"}}"#
    )?;
    writeln!(
        out,
        r#"{{"parentUuid":"r{n}","isSidechain":false,"message":{{"id":"msg_{session}_{n}b","type":"message","role":"assistant","model":"{model}","content":[{{"type":"text","text":"done: {pad}"}}],"stop_reason":"end_turn","usage":{{"input_tokens":5,"cache_creation_input_tokens":0,"cache_read_input_tokens":21000,"output_tokens":{}}}}},"requestId":"req_{session}_{n}b","type":"assistant","uuid":"b{n}","timestamp":"{ts}","cwd":"{cwd}","sessionId":"{session}","version":"2.1.328"}}"#,
        50 + n % 300
    )
}

/// `YYYY-MM-DD` of `days` before today (UTC).
fn day_before(days: i64) -> String {
    let date = time::OffsetDateTime::now_utc().date() - time::Duration::days(days);
    format!("{:04}-{:02}-{:02}", date.year(), date.month() as u8, date.day())
}

/// Writes transcripts of about `bytes` over the last 365 days; returns (files, bytes written).
fn generate(projects: &Path, bytes: u64) -> std::io::Result<(usize, u64)> {
    let pad = "lorem ipsum dolor sit amet ".repeat(40); // ~1 KB
    let sessions_per_project = 50;
    let per_session = bytes / (PROJECTS * sessions_per_project) as u64;
    let (mut files, mut written) = (0, 0);
    for p in 0..PROJECTS {
        let cwd = format!("/home/dev/project{p}");
        let dir = projects.join(format!("-home-dev-project{p}"));
        std::fs::create_dir_all(&dir)?;
        for s in 0..sessions_per_project {
            let session = uuid::Uuid::new_v4().to_string();
            let day = day_before(((p * sessions_per_project + s) % 365) as i64);
            let path = dir.join(format!("{session}.jsonl"));
            let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
            let mut n = 0;
            let mut size = 0u64;
            while size < per_session {
                let mut buf = Vec::with_capacity(8192);
                turn(&mut buf, &session, &cwd, &day, n, &pad)?;
                out.write_all(&buf)?;
                size += buf.len() as u64;
                n += 1;
            }
            out.flush()?;
            files += 1;
            written += size;
        }
    }
    Ok((files, written))
}

pub(crate) async fn usage(setup: &Setup, work: &Path) -> anyhow::Result<Vec<Row>> {
    let target: u64 = if setup.smoke { 20 << 20 } else { 1 << 30 };
    let home = work.join("usage-home");
    let projects = home.join(".claude/projects");
    let gen_projects = projects.clone();
    let (files, bytes) = tokio::task::spawn_blocking(move || generate(&gen_projects, target)).await??;
    let server = Server::opcode_web(&setup.server_bin, &setup.emitter_bin, &home, &work.join("usage-data")).await?;
    let http = reqwest::Client::new();
    let get = |path: String| {
        let http = http.clone();
        let url = format!("http://{}{path}", server.addr);
        async move {
            let began = Instant::now();
            let response = http.get(url).bearer_auth(TOKEN).send().await?;
            anyhow::ensure!(response.status().is_success(), "{path}: {}", response.status());
            let body: serde_json::Value = response.json().await?;
            anyhow::Ok((began.elapsed().as_secs_f64() * 1e3, body))
        }
    };
    let idle = rss_mb(server.pid);
    let (first, report) = get("/api/usage/report?period=all".into()).await?;
    let peak = peak_rss_mb(server.pid);
    let messages = report["data"]["totals"]["messages"].as_u64().unwrap_or(0);
    anyhow::ensure!(messages > 0, "the first report counted nothing: {report}");

    // one new run appended to a session, then the dashboard asks again
    let session = std::fs::read_dir(projects.join("-home-dev-project0"))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .ok_or_else(|| anyhow::anyhow!("no generated transcript"))?;
    let id = session.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
    let pad = "lorem ipsum dolor sit amet ".repeat(40);
    let mut after_run = Vec::new();
    for i in 0..5u64 {
        let mut run = Vec::new();
        for n in 0..5 {
            turn(&mut run, &id, "/home/dev/project0", &day_before(0), 1_000_000 + i * 10 + n, &pad)?;
        }
        std::fs::OpenOptions::new().append(true).open(&session)?.write_all(&run)?;
        let (ms, body) = get("/api/usage/report?period=30d".into()).await?;
        let now = body["data"]["totals"]["messages"].as_u64().unwrap_or(0);
        anyhow::ensure!(now > 0, "the new run was not counted: {body}");
        after_run.push(ms);
    }
    let year = format!("/api/usage/report?from={}&to={}", day_before(364), day_before(0));
    let mut queries = Vec::new();
    for _ in 0..10 {
        queries.push(get(year.clone()).await?.0);
    }
    let db = std::fs::metadata(work.join("usage-data/opcode.db")).map_or(0, |m| m.len());
    drop(server);
    let _ = std::fs::remove_dir_all(&home);
    let mb = bytes as f64 / f64::from(1 << 20);
    let (after_run, query) = (median(after_run), median(queries));
    Ok(vec![
        row(
            &format!("usage: first index of {mb:.0} MB ({files} transcripts, {messages} messages)"),
            "s for the first report",
            format!("{:.2}", first / 1e3),
            None,
            first / 1e3,
            "≤ 10 s (1 GB)",
        ),
        row("", "server RSS MB idle → peak (VmHWM)", format!("{idle:.1} → {peak:.1}"), None, peak, "bounded"),
        row("", "index size MB (opcode.db)", format!("{:.1}", db as f64 / 1e6), None, db as f64 / 1e6, ""),
        row(
            "usage: report after one new run (5 turns appended)",
            "ms (median of 5)",
            format!("{after_run:.1}"),
            None,
            after_run,
            "≤ 100 ms",
        ),
        row(
            "usage: a year's report, index up to date",
            "ms (median of 10)",
            format!("{query:.1}"),
            None,
            query,
            "≤ 50 ms",
        ),
    ])
}
