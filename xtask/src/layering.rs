//! The crate layering, checked from `cargo metadata`: which crate may depend on what.
//!
//! `opcode-proto` does no I/O (no tokio, no HTTP); `opcode-proc` knows neither HTTP nor sessions;
//! `opcode-sessions` knows nothing of HTTP, WebSockets or Web Push; `opcode-tls` knows no sockets;
//! `opcode-push` is only an HTTP client; `opcode-terminals` knows no HTTP; `opcode-git` only runs git through
//! `opcode-proc`; `opcode-files` is synchronous file work below HTTP; `opcode-usage` is synchronous files
//! and SQLite. Only the binaries may use axum. `opcode-bus` is the one crate that talks to NATS (no other
//! crate may depend on `async-nats`, not even for tests) and knows nothing of HTTP or sessions.

use std::path::Path;

use anyhow::{bail, Context, Result};

/// (crate, dependencies it must not have, why)
const RULES: &[(&str, &[&str], &str)] = &[
    ("opcode-proto", &["tokio", "axum", "hyper", "opcode-proc", "opcode-sessions", "futures"], "wire types do no I/O"),
    (
        "opcode-proc",
        &["axum", "hyper", "tower", "tower-http", "opcode-sessions", "opcode-proto"],
        "the supervisor knows nothing of HTTP or sessions",
    ),
    (
        "opcode-sessions",
        &["axum", "hyper", "tower", "tower-http", "tokio-tungstenite", "reqwest", "web-push-native", "opcode-push"],
        "sessions know nothing of HTTP or push; notable events are announced on a channel",
    ),
    (
        "opcode-terminals",
        &["axum", "hyper", "tower", "tower-http", "tokio-tungstenite", "opcode-sessions", "opcode-proto"],
        "terminals are PTYs of the supervisor; their routes and sockets stay in the binary",
    ),
    (
        "opcode-push",
        &["axum", "tower", "tower-http", "tokio-tungstenite", "opcode-proc"],
        "push is a client of push services; its routes and sockets stay in the binary",
    ),
    (
        "opcode-store",
        &["tokio", "axum", "hyper", "opcode-proc", "opcode-sessions"],
        "the store is plain synchronous SQLite, below the sessions",
    ),
    (
        "opcode-git",
        &["axum", "hyper", "tower", "tower-http", "opcode-sessions", "opcode-store", "opcode-proto", "opcode-push"],
        "git is a capability below the sessions and the store: it runs git through the supervisor and knows no HTTP",
    ),
    (
        "opcode-access",
        &["tokio", "axum", "hyper", "tower", "tower-http", "opcode-proc", "opcode-sessions", "opcode-push", "opcode-bus"],
        "who may come in is decided without HTTP, sessions or NATS; the binary adapts it to requests, sockets and the bus",
    ),
    (
        "opcode-usage",
        &["tokio", "axum", "hyper", "tower", "opcode-proc", "opcode-sessions"],
        "usage analytics read transcripts and the store synchronously; the binary owns threads and HTTP",
    ),
    (
        "opcode-agents",
        &["axum", "hyper", "tower", "tower-http", "tokio-tungstenite", "reqwest", "opcode-proc", "opcode-push"],
        "agents are definitions and runs through the registry; routes stay in the binary, spawns in the supervisor",
    ),
    (
        "opcode-tls",
        &["tokio", "axum", "hyper", "tower", "opcode-proc", "opcode-sessions", "opcode-store"],
        "certificates are synchronous files and crypto; the binaries own sockets and HTTP",
    ),
    (
        "opcode-files",
        &["tokio", "axum", "hyper", "tower", "tower-http", "opcode-proc", "opcode-sessions", "opcode-store"],
        "a project's files are synchronous, confined file work; the binary owns HTTP and runs it on the blocking pool",
    ),
    (
        "opcode-bus",
        &[
            "axum",
            "hyper",
            "tower",
            "tower-http",
            "tokio-tungstenite",
            "opcode-sessions",
            "opcode-proto",
            "opcode-proc",
        ],
        "the bus moves numbered opaque lines through NATS; it knows nothing of HTTP, claude or sessions",
    ),
    (
        "opcode-cluster",
        &["axum", "hyper", "tower", "tower-http", "tokio-tungstenite", "opcode-store", "opcode-push"],
        "workers and the replicas' client steer runs through the bus and the registry; HTTP stays in the binaries",
    ),
];

/// Dependencies only one crate may have (of any kind): (dependency, the crate that owns it, why).
const OWNED: &[(&str, &str, &str)] =
    &[("async-nats", "opcode-bus", "opcode-bus is the only crate that talks to NATS; use its API instead")];

/// Fails if any crate has a normal (non-dev) dependency its layer forbids.
pub(crate) fn check(root: &Path) -> Result<()> {
    let output = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(root)
        .output()
        .context("run cargo metadata")?;
    let meta: serde_json::Value = serde_json::from_slice(&output.stdout).context("parse cargo metadata")?;
    let problems = problems(&meta);
    if !problems.is_empty() {
        bail!("layering violated:\n{}", problems.join("\n"));
    }
    Ok(())
}

/// What in `cargo metadata`'s JSON breaks a rule, one line per offence.
fn problems(meta: &serde_json::Value) -> Vec<String> {
    let mut problems = Vec::new();
    for package in meta["packages"].as_array().into_iter().flatten() {
        let name = package["name"].as_str().unwrap_or_default();
        for dep in package["dependencies"].as_array().into_iter().flatten() {
            let dep_name = dep["name"].as_str().unwrap_or_default();
            if let Some((_, owner, why)) = OWNED.iter().find(|(d, owner, _)| *d == dep_name && *owner != name) {
                problems.push(format!("{name} depends on {dep_name}, which only {owner} may: {why}"));
            }
        }
        let Some((_, forbidden, why)) = RULES.iter().find(|(n, _, _)| *n == name) else { continue };
        for dep in package["dependencies"].as_array().into_iter().flatten() {
            let dep_name = dep["name"].as_str().unwrap_or_default();
            if dep["kind"].is_null() && forbidden.contains(&dep_name) {
                problems.push(format!("{name} depends on {dep_name}, but {why}"));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_opcode_bus_may_depend_on_async_nats_even_for_tests() {
        let meta = |package: &str, kind: serde_json::Value| serde_json::json!({"packages": [{"name": package, "dependencies": [{"name": "async-nats", "kind": kind}]}]});
        assert!(super::problems(&meta("opcode-bus", serde_json::Value::Null)).is_empty());
        let found = super::problems(&meta("opcode-web", "dev".into()));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("only opcode-bus may"), "{found:?}");
    }

    #[test]
    fn crates_respect_their_layer() {
        super::check(&crate::util::root()).unwrap();
    }
}
