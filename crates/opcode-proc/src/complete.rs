//! Running a short-lived child to completion and collecting what it printed, with a cap and a deadline
//! (`claude mcp add …`, `claude --version`, a tool's one-shot command).
//!
//! Guarantees: the child is spawned through the given [`ProcessSupervisor`] like any other (own process
//! group, reaped); at most `max_lines` lines of each stream are kept (the rest are counted and dropped,
//! so a chatty child cannot grow memory); when `timeout` passes first, the whole group is killed (the
//! handle is dropped) and [`Completed::timed_out`] says so.

use std::time::Duration;

use crate::{ExitStatus, OutputStream, ProcessEvent, ProcessSpec, ProcessSupervisor, SpawnError};

/// What a child printed before it ended (or before it was killed at the deadline).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completed {
    /// How it ended; `None` when it was killed at the deadline.
    pub status: Option<ExitStatus>,
    /// The first lines of stdout (framing problems are noted as text).
    pub stdout: Vec<String>,
    /// The first lines of stderr.
    pub stderr: Vec<String>,
    /// Lines dropped beyond the cap, both streams together.
    pub dropped_lines: usize,
    /// The deadline passed before it ended: its process group was killed.
    pub timed_out: bool,
}

impl Completed {
    /// It exited by itself with code 0.
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    /// stdout then stderr, trimmed, as one text (what to show a person).
    pub fn output(&self) -> String {
        let parts = [self.stdout.join("\n"), self.stderr.join("\n")];
        parts.iter().map(|p| p.trim()).filter(|p| !p.is_empty()).collect::<Vec<_>>().join("\n")
    }
}

/// Spawns `spec` through `supervisor` and collects its output until it exits or `timeout` passes (then
/// its process group is killed). Keeps at most `max_lines` lines per stream.
pub async fn run_to_completion(
    supervisor: &dyn ProcessSupervisor,
    spec: ProcessSpec,
    timeout: Duration,
    max_lines: usize,
) -> Result<Completed, SpawnError> {
    let mut child = supervisor.spawn(spec).await?;
    let mut done =
        Completed { status: None, stdout: Vec::new(), stderr: Vec::new(), dropped_lines: 0, timed_out: false };
    let read = async {
        while let Some(event) = child.next_event().await {
            let (stream, text) = match event {
                ProcessEvent::Line { stream, text } => (stream, text),
                ProcessEvent::InvalidUtf8 { stream, lossy } => (stream, lossy),
                ProcessEvent::LineTooLong { stream, len, .. } => (stream, format!("[a line of {len} bytes was cut]")),
                ProcessEvent::ReadFailed { .. } => continue,
                ProcessEvent::Exited(status) => {
                    done.status = Some(status);
                    continue;
                }
            };
            let lines = if stream == OutputStream::Stdout { &mut done.stdout } else { &mut done.stderr };
            if lines.len() < max_lines {
                lines.push(text);
            } else {
                done.dropped_lines += 1;
            }
        }
    };
    if tokio::time::timeout(timeout, read).await.is_err() {
        done.timed_out = true;
        done.status = None;
    }
    // dropping the handle kills what is left of the group
    drop(child);
    Ok(done)
}
