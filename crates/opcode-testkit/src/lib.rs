//! Test fixtures shared by the workspace's tests.
//!
//! - [`fake_claude`]: the path of the `fake-claude` binary (built on first use), a stand-in for the
//!   genuine CLI that prints realistic stream-json and misbehaves on demand. Its behaviour is driven by
//!   directives in the prompt (documented in `src/bin/fake_claude.rs`), so tests that go through the web
//!   server can choose it per run.
//! - [`fake_mcp_server`]: an MCP stdio server that lists an `echo` tool (`--fail`: one that does not start).
//! - [`mock_api`]: a mock of the Anthropic Messages API for running the genuine CLI offline.
//! - [`nats`]: a real NATS server (JetStream) or a 3-node cluster on loopback, for the bus tests.
//! - [`transcripts`]: Claude transcript lines derived from one the genuine CLI wrote.
//! - [`project_dir_name`]: how Claude names a project's folder under `~/.claude/projects`.
#![allow(missing_docs)]

pub mod mock_api;
pub mod nats;
pub mod transcripts;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The path of the built `fake-claude` binary. Builds it with cargo the first time if it is missing
/// (an integration test of another package gets no `CARGO_BIN_EXE_fake-claude`).
pub fn fake_claude() -> PathBuf {
    workspace_bin("fake-claude", "opcode-testkit")
}

/// The path of the built `fake-mcp-server` binary (an MCP stdio server with an `echo` tool).
pub fn fake_mcp_server() -> PathBuf {
    workspace_bin("fake-mcp-server", "opcode-testkit")
}

/// The path of binary `bin` of workspace package `package`, built once per test process.
///
/// It builds every workspace binary (`cargo build --workspace --bins`), the same command `cargo xtask
/// test` runs first, so that dependencies are compiled once with one feature set and this is a no-op there.
pub fn workspace_bin(bin: &str, package: &str) -> PathBuf {
    static BUILT: OnceLock<std::sync::Mutex<Vec<String>>> = OnceLock::new();
    let path = target_dir().join(bin);
    let built = BUILT.get_or_init(Default::default);
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    if !built.iter().any(|b| b == bin) {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        #[allow(clippy::disallowed_methods)]
        let status = std::process::Command::new(cargo)
            .args(["build", "--quiet", "--workspace", "--bins"])
            .status()
            .expect("run cargo to build a test binary");
        assert!(status.success(), "building {bin} (package {package}) failed");
        built.push(bin.to_owned());
    }
    path
}

/// `target/debug` (or whichever profile dir the running test executable lives in).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // target/debug/deps/test-hash → target/debug
    let mut dir = exe.parent().expect("exe dir").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir
}

/// Claude's folder name for a project directory: every character other than ASCII letters and digits
/// becomes `-` (`/home/dev/project` → `-home-dev-project`).
pub fn project_dir_name(project: &Path) -> String {
    project.to_string_lossy().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect()
}

/// Whether process `pid` still exists (a zombie counts as gone).
pub fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            // state is the field after the parenthesised command name
            let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next());
            !matches!(state, Some("Z") | Some("X") | None)
        }
        Err(_) => false,
    }
}

/// Reads pids (one per line) written by fake-claude's `@pidfile=` directive.
pub fn read_pids(pidfile: &Path) -> Vec<u32> {
    std::fs::read_to_string(pidfile).unwrap_or_default().lines().filter_map(|l| l.trim().parse().ok()).collect()
}

/// Waits until fake-claude has written its pid(s) to `pidfile` (`@pidfile=`) and returns them, failing after
/// 30 s. Another process's file write has no event to await, so this polls (every 20 ms).
pub async fn wait_for_pids(pidfile: &Path) -> Vec<u32> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let pids = read_pids(pidfile);
        if !pids.is_empty() {
            return pids;
        }
        assert!(tokio::time::Instant::now() < deadline, "no pid was written to {}", pidfile.display());
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Waits until none of `pids` is alive, failing after 10 s. A foreign process's death has no event to
/// await, so this polls (every 20 ms).
pub async fn assert_all_dead(pids: &[u32]) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while pids.iter().any(|p| process_alive(*p)) {
        assert!(tokio::time::Instant::now() < deadline, "processes still alive: {pids:?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Pids of the processes whose command line contains `needle` (e.g. a session id passed to claude).
pub fn pids_with_arg(needle: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
        })
        .collect()
}
