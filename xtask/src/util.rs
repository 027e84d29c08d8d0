//! Small helpers to run commands and find things, with errors that say what to install.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The workspace root (the parent of `xtask/`).
pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace root").to_path_buf()
}

/// A command, echoed when run.
pub(crate) fn cmd(program: &str) -> Command {
    Command::new(program)
}

/// Runs `command`, failing with its command line if it fails.
pub(crate) fn run(command: &mut Command) -> Result<()> {
    eprintln!("$ {command:?}");
    let status = command.status().with_context(|| format!("could not start {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed: {status}");
    }
    Ok(())
}

/// Fails with `hint` unless `program` is on PATH.
pub(crate) fn need(program: &str, hint: &str) -> Result<()> {
    if which(program).is_none() {
        bail!("{program} not found on PATH: {hint}");
    }
    Ok(())
}

/// The first `program` on PATH.
pub(crate) fn which(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(program)).find(|p| p.is_file())
}

/// Makes sure Debian's chromium is installed (installing it with apt-get when running as root).
pub(crate) fn ensure_chromium() -> Result<()> {
    if Path::new("/usr/bin/chromium").exists() {
        return Ok(());
    }
    let is_root = Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0")).unwrap_or(false);
    if !is_root {
        bail!("/usr/bin/chromium is missing: install Debian's chromium (sudo apt-get install chromium)");
    }
    run(cmd("apt-get").arg("update").arg("-qq"))?;
    run(cmd("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends", "chromium"])
        .env("DEBIAN_FRONTEND", "noninteractive"))
}
