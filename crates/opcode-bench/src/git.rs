//! The `git` scenario: a generated repository of 100,000 files (1,000 with `--smoke`), committed, then a
//! few files changed and a few new ones; measured: `GET /api/git/status` on the real server over loopback,
//! and the working-tree snapshot taken before each prompt (`opcode_git::Git::snapshot`, in-process).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::ensure;
use opcode_proc::{run_to_completion, CompletionLimits, ProcessSpec, TokioSupervisor};

use crate::client::{median, Server, TOKEN};

/// Runs git in `dir` (through the supervisor), failing with its stderr.
async fn git(dir: &Path, args: &[&str]) -> anyhow::Result<()> {
    let spec = ProcessSpec::new("git")
        .cwd(dir)
        .args(["-c", "user.name=bench", "-c", "user.email=bench@localhost"])
        .args(args.iter().copied());
    let limits = CompletionLimits { timeout: std::time::Duration::from_secs(1800), ..CompletionLimits::default() };
    let done = run_to_completion(&TokioSupervisor::default(), spec, limits).await?;
    ensure!(done.status.success(), "git {args:?}: {}", done.stderr_text());
    Ok(())
}

/// The rows of the scenario.
pub(crate) async fn scenario(server: &Server, work: &Path, smoke: bool) -> anyhow::Result<Vec<super::scenarios::Row>> {
    let files: usize = if smoke { 1_000 } else { 100_000 };
    let repo = work.join("git-repo");
    let per_dir = 100;
    {
        let repo = repo.clone();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            for d in 0..files.div_ceil(per_dir) {
                let dir = repo.join(format!("dir{d:04}"));
                std::fs::create_dir_all(&dir)?;
                for f in 0..per_dir.min(files - d * per_dir) {
                    std::fs::write(dir.join(format!("file{f:03}.txt")), format!("file {d}/{f}\n"))?;
                }
            }
            Ok(())
        })
        .await??;
    }
    git(&repo, &["init", "-q"]).await?;
    git(&repo, &["add", "-A"]).await?;
    git(&repo, &["commit", "-q", "-m", "generated"]).await?;
    for i in 0..10 {
        std::fs::write(repo.join(format!("dir{i:04}/file000.txt")), "changed\n")?;
        std::fs::write(repo.join(format!("new{i}.txt")), "new\n")?;
    }

    let http = reqwest::Client::new();
    let url = format!("http://{}/api/git/status?project_path={}", server.addr, repo.display());
    let mut times = Vec::new();
    for i in 0..6 {
        let began = Instant::now();
        let response = http.get(&url).bearer_auth(TOKEN).send().await?;
        ensure!(response.status().is_success(), "status: {}", response.status());
        let body: serde_json::Value = response.json().await?;
        let elapsed = began.elapsed().as_secs_f64() * 1e3;
        ensure!(body["data"]["unstaged"].as_array().map(Vec::len) == Some(10), "unexpected status: {body}");
        if i > 0 {
            times.push(elapsed); // the first one warms the page cache
        }
    }
    let status = median(times);

    let git = opcode_git::Git::new(Arc::new(TokioSupervisor::default()));
    let mut snapshots = Vec::new();
    for i in 0..4 {
        let began = Instant::now();
        git.snapshot(&repo).await?;
        if i > 0 {
            snapshots.push(began.elapsed().as_secs_f64() * 1e3);
        }
    }
    let snapshot = median(snapshots);
    let scenario = format!("git repository of {files} files, 10 changed, 10 new");
    Ok(vec![
        super::scenarios::row(
            &scenario,
            "ms per GET /api/git/status (median of 5)",
            format!("{status:.1}"),
            None,
            status,
            "≤ 500 ms",
        ),
        super::scenarios::row(
            "",
            "ms per working-tree snapshot (before each prompt; median of 3)",
            format!("{snapshot:.1}"),
            None,
            snapshot,
            "",
        ),
    ])
}
