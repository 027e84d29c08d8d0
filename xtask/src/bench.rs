//! `cargo xtask bench [--smoke]`: builds opcode-web, the bench emitter and the bench driver, runs every
//! scenario against opcode-web and the floor, and (unless `--smoke`) records the table in
//! `docs/benchmarks.md` with the command and the machine. `--smoke` uses debug builds and tiny sizes: it
//! proves the bench works, in CI, and asserts no figure.

use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::util;

pub(crate) fn bench(smoke: bool) -> Result<()> {
    let root = util::root();
    let profile = if smoke { "debug" } else { "release" };
    let mut build = util::cmd("cargo");
    build.args(["build", "--workspace", "--bins"]).current_dir(&root);
    if !smoke {
        build.arg("--release");
    }
    util::run(&mut build)?;
    let bin = |name: &str| root.join("target").join(profile).join(name);
    let mut run = Command::new(bin("opcode-bench"));
    run.arg("run").arg("--server-bin").arg(bin("opcode-web")).arg("--emitter-bin").arg(bin("bench-emitter"));
    if smoke {
        run.arg("--smoke");
    }
    eprintln!("$ {run:?}");
    let output = run.output().context("run opcode-bench")?;
    if !output.status.success() {
        bail!("opcode-bench failed ({}):\n{}", output.status, String::from_utf8_lossy(&output.stderr));
    }
    let table = String::from_utf8_lossy(&output.stdout).into_owned();
    println!("{table}");
    if smoke {
        println!("bench smoke run: every scenario ran (tiny sizes, debug build; figures not meaningful)");
        return Ok(());
    }
    let uname = Command::new("uname")
        .arg("-srm")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_default();
    let date = Command::new("date")
        .arg("-u")
        .arg("+%Y-%m-%d %H:%M UTC")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let doc = format!(
        "# Benchmarks\n\nProduced by `cargo xtask bench` (release build) on {date}: {} cores, {cpu}, {uname}. \
         The machine is shared and noisy: absolute figures drift between runs, ratios to the floor hold better.\n\n\
         The floor is a minimal relay on the same crates (`crates/opcode-bench/src/floor.rs`): child stdout line → \
         WebSocket frame, nothing else. Throughput figures are medians of 3 runs.\n\n{table}\n{}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        NOTES
    );
    std::fs::write(root.join("docs/benchmarks.md"), doc)?;
    eprintln!("wrote docs/benchmarks.md");
    Ok(())
}

const NOTES: &str = "## Notes\n\nSee the closing note of the benchmark issue for the targets not met, by how much, \
and where the remaining cost goes.\n";
