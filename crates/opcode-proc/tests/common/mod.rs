//! Helpers shared by opcode-proc's integration tests.
#![allow(dead_code, unused_imports)]

use std::path::PathBuf;
use std::time::Duration;

use opcode_proc::{ProcessEvent, ProcessHandle, ProcessSpec, ProcessSupervisor, TokioSupervisor};

/// A spec that runs fake-claude with `prompt` (directives included).
pub(crate) fn fake(prompt: &str) -> ProcessSpec {
    ProcessSpec::new(opcode_testkit::fake_claude())
        .args(["-p", prompt, "--output-format", "stream-json", "--verbose"])
        .env("HOME", std::env::temp_dir().join("opcode-proc-tests-home"))
}

pub(crate) async fn spawn(spec: ProcessSpec) -> ProcessHandle {
    TokioSupervisor::default().spawn(spec).await.expect("spawn fake-claude")
}

/// Every event until `Exited`, failing the test rather than hanging past `limit`.
pub(crate) async fn collect(handle: &mut ProcessHandle, limit: Duration) -> Vec<ProcessEvent> {
    let mut events = Vec::new();
    tokio::time::timeout(limit, async {
        while let Some(event) = handle.next_event().await {
            events.push(event);
        }
    })
    .await
    .unwrap_or_else(|_| panic!("child did not finish within {limit:?}; got {} events", events.len()));
    events
}

/// Waits for the next stdout line.
pub(crate) async fn next_line(handle: &mut ProcessHandle) -> String {
    loop {
        match tokio::time::timeout(Duration::from_secs(20), handle.next_event()).await.expect("a line in time") {
            Some(ProcessEvent::Line { text, .. }) => return text,
            Some(_) => continue,
            None => panic!("child ended before printing a line"),
        }
    }
}

pub(crate) use opcode_testkit::assert_all_dead;

pub(crate) fn pidfile(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("opcode-proc-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}
