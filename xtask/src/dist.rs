//! `cargo xtask dist`: the release tarball `<target dir>/dist/opcode-<version>-<target>.tar.gz` holding the
//! binaries (the UI is embedded in `opcode-web` by its build script; `opcode-worker` and a NATS config for a
//! cluster), README, LICENSE and SHA256SUMS.
//! `--check` then unpacks it into an empty folder and proves the server starts and serves its UI from there.
//! The target dir is cargo's (`CARGO_TARGET_DIR` included, see [`util::target_dir`]), never assumed.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

use crate::util;

fn host_target() -> Result<String> {
    let output = Command::new("rustc").arg("-vV").output().context("run rustc -vV")?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.lines().find_map(|l| l.strip_prefix("host: ")).map(str::to_owned).context("no host line in rustc -vV")
}

/// Builds the tarball and returns its path.
pub(crate) fn dist(check: bool) -> Result<()> {
    let root = util::root();
    util::need("npm", "the UI is built with Node.js 20+ and npm")?;
    // every workspace binary, as `cargo xtask bench` builds them: one feature set, one release build
    util::run(util::cmd("cargo").args(["build", "--release", "--workspace", "--bins"]).current_dir(&root))?;
    let version = env!("CARGO_PKG_VERSION");
    let name = format!("opcode-{version}-{}", host_target()?);
    let target = util::target_dir(&root)?;
    let out_dir = target.join("dist");
    std::fs::create_dir_all(&out_dir)?;
    let release = target.join("release");
    let files: Vec<(PathBuf, &str, u32)> = vec![
        (release.join("opcode-web"), "opcode-web", 0o755),
        (release.join("opcode"), "opcode", 0o755),
        (release.join("opcode-worker"), "opcode-worker", 0o755),
        (root.join("deploy/nats-server.conf"), "nats-server.conf", 0o644),
        (root.join("README.md"), "README.md", 0o644),
        (root.join("LICENSE"), "LICENSE", 0o644),
    ];
    let mut sums = String::new();
    for (path, file_name, _) in &files {
        let bytes = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
        sums.push_str(&format!("{:x}  {file_name}\n", Sha256::digest(&bytes)));
    }
    let tarball = out_dir.join(format!("{name}.tar.gz"));
    let encoder = flate2::write::GzEncoder::new(std::fs::File::create(&tarball)?, flate2::Compression::default());
    let mut archive = tar::Builder::new(encoder);
    for (path, file_name, mode) in &files {
        let bytes = std::fs::read(path)?;
        append(&mut archive, &format!("{name}/{file_name}"), &bytes, *mode)?;
    }
    append(&mut archive, &format!("{name}/SHA256SUMS"), sums.as_bytes(), 0o644)?;
    archive.into_inner()?.finish()?.flush()?;
    eprintln!("wrote {}", tarball.display());
    if check {
        check_tarball(&tarball, &name)?;
    }
    Ok(())
}

fn append<W: Write>(archive: &mut tar::Builder<W>, path: &str, bytes: &[u8], mode: u32) -> Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(mode);
    header.set_mtime(0);
    header.set_cksum();
    archive.append_data(&mut header, path, bytes)?;
    Ok(())
}

/// Unpacks into an empty folder, starts the server from there with nothing else around, and fetches the
/// UI and the health endpoint.
fn check_tarball(tarball: &Path, name: &str) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("opcode-dist-check-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    tar::Archive::new(flate2::read::GzDecoder::new(std::fs::File::open(tarball)?)).unpack(&dir)?;
    let unpacked = dir.join(name);
    let mut server = Command::new(unpacked.join("opcode-web"))
        .args(["--port", "0", "--token", "dist-check", "--data-dir"])
        .arg(dir.join("data"))
        .current_dir(&dir)
        .env("HOME", &dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("start the unpacked opcode-web")?;
    let result = (|| -> Result<()> {
        let stdout = server.stdout.take().context("server stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let deadline = Instant::now() + Duration::from_secs(20);
        let url = loop {
            let line = lines.next().context("server exited before listening")??;
            if let Some(url) = line.split("listening on ").nth(1) {
                break url.trim().to_owned();
            }
            if Instant::now() > deadline {
                bail!("server did not start");
            }
        };
        let addr = url.trim_start_matches("http://");
        let index = http_get(addr, "/")?;
        if !index.contains("<div id=\"root\"") && !index.contains("id=\"root\"") {
            bail!("the unpacked server does not serve the UI:\n{index}");
        }
        let health = http_get(addr, "/api/health")?;
        if !health.contains("\"status\":\"ok\"") {
            bail!("health check failed: {health}");
        }
        eprintln!("dist check: the unpacked opcode-web serves its UI and /api/health from an empty folder");
        Ok(())
    })();
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// A minimal HTTP/1.0 GET (the check needs no client library).
fn http_get(addr: &str, path: &str) -> Result<String> {
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}
