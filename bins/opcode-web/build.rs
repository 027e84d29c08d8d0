//! Builds the browser UI (`frontend/`, Vite) into `$OUT_DIR/ui`, which `src/ui.rs` embeds in the binary.
//!
//! The bundle is rebuilt whenever a frontend source changes, so the server never serves a stale UI. With
//! `OPCODE_SKIP_UI=1` (for quick Rust-only iterations) a placeholder page that says so is embedded instead.
#![allow(clippy::disallowed_methods)] // a build script runs npm directly

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let frontend = manifest.join("../../frontend");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("ui");
    println!("cargo:rerun-if-env-changed=OPCODE_SKIP_UI");
    for item in ["src", "public", "index.html", "package.json", "package-lock.json", "vite.config.ts", "tsconfig.json"]
    {
        println!("cargo:rerun-if-changed={}", frontend.join(item).display());
    }
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let skip = std::env::var("OPCODE_SKIP_UI").is_ok_and(|v| v == "1");
    if skip || !frontend.join("package.json").exists() {
        let why = if skip { "OPCODE_SKIP_UI=1 was set when this server was built" } else { "frontend/ is missing" };
        std::fs::write(
            out.join("index.html"),
            format!("<!doctype html><meta charset=utf-8><title>opcode-web</title><h1>UI not built</h1><p>{why}. Rebuild without it: <code>cargo run -p opcode-web</code>.</p>"),
        )
        .unwrap();
        return;
    }
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    if Command::new(npm).arg("--version").output().is_err() {
        panic!("building the UI needs Node.js and npm (Node 20+), and `npm` was not found on PATH. Install them (Debian: apt-get install nodejs npm), or set OPCODE_SKIP_UI=1 to build the server without its UI.");
    }
    if needs_install(&frontend) {
        run(Command::new(npm).args(["ci", "--no-audit", "--no-fund", "--loglevel=error"]).current_dir(&frontend));
    }
    run(Command::new(npm)
        .args(["run", "build", "--", "--outDir"])
        .arg(&out)
        .arg("--emptyOutDir")
        .current_dir(&frontend));
}

/// `npm ci` is needed when node_modules is missing or older than the lock file.
fn needs_install(frontend: &Path) -> bool {
    let modified = |p: PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (modified(frontend.join("node_modules/.package-lock.json")), modified(frontend.join("package-lock.json"))) {
        (Some(installed), Some(lock)) => installed < lock,
        _ => true,
    }
}

fn run(command: &mut Command) {
    let status = command.status().unwrap_or_else(|e| panic!("could not run {command:?}: {e}"));
    assert!(status.success(), "{command:?} failed ({status}); see its output above");
}
