//! The tokio + nix supervisor: process groups, signals to the group, TERM→KILL escalation, reaping.
//!
//! One task owns each `Child` and `select!`s between "the child exited", "a control arrived" and "the
//! grace period ran out", so a graceful stop arms a timer instead of sleeping and further controls (a
//! second cancel escalates) are served while it waits. `kill_on_drop` is deliberately off: it would kill
//! only the direct child; the group kill is this task's job.

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;

use async_trait::async_trait;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::process::Child;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{sleep_until, Instant};

use crate::error::SpawnError;
use crate::event::{ExitStatus, OutputStream, ProcessEvent};
use crate::handle::{Control, ProcessControl, ProcessHandle, StdinWriter};
use crate::lines::{read_lines, LineReader};
use crate::spec::ProcessSpec;
use crate::ProcessSupervisor;

/// The real supervisor: spawns with tokio, each child in its own process group (Unix only).
#[derive(Debug, Default, Clone)]
pub struct TokioSupervisor {
    _private: (),
}

#[async_trait]
impl ProcessSupervisor for TokioSupervisor {
    async fn spawn(&self, spec: ProcessSpec) -> Result<ProcessHandle, SpawnError> {
        if let Some(cwd) = &spec.cwd {
            if !cwd.is_dir() {
                return Err(SpawnError::BadWorkingDir { program: spec.program.clone(), cwd: cwd.clone() });
            }
        }
        #[allow(clippy::disallowed_methods)] // the one place that spawns
        let mut command = tokio::process::Command::new(&spec.program);
        command
            .args(&spec.args)
            .stdin(if spec.stdin { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(false);
        if let Some(cwd) = &spec.cwd {
            command.current_dir(cwd);
        }
        for key in &spec.env_remove {
            command.env_remove(key);
        }
        for (key, value) in &spec.env {
            command.env(key, value);
        }
        let mut child = command.spawn().map_err(|source| classify(&spec, source))?;
        let Some(pid) = child.id() else {
            // cannot happen for a child that was just spawned and not yet awaited
            return Err(SpawnError::Io { program: spec.program, source: std::io::Error::other("no pid") });
        };
        let span = tracing::debug_span!("child", pid);
        tracing::debug!(parent: &span, program = %spec.program.display(), "spawned");

        // The consumer reads stdout itself (`ProcessHandle::next_event`: no task hop per batch); stderr has a
        // task of its own, so the two are read concurrently. The channel carries stderr's batches of up to 64
        // lines, then the exit; its capacity keeps about `event_buffer` lines.
        let Some(stdout) = child.stdout.take() else {
            // cannot happen: stdout is piped above; nothing may be left running on error
            signal_group(pid, Signal::SIGKILL);
            return Err(SpawnError::Io { program: spec.program, source: std::io::Error::other("no stdout pipe") });
        };
        let stdout = LineReader::new(stdout, OutputStream::Stdout, spec.max_line_bytes);
        let stdout = if spec.raw_output { stdout.raw() } else { stdout };
        let (event_tx, event_rx) = mpsc::channel(spec.event_buffer.div_ceil(64).max(2));
        // The stderr reader opts out of tokio's cooperative budget: it stops when the pipe is empty or the
        // bounded channel is full, so a turn is bounded anyway, and under many busy tasks (viewers) a reader
        // that yielded every 128 lines would hold the child back.
        let stderr = child.stderr.take().map(|err| {
            let lines = LineReader::new(err, OutputStream::Stderr, spec.max_line_bytes);
            let lines = if spec.raw_output { lines.raw() } else { lines };
            let reader = read_lines(lines, event_tx.clone());
            tokio::spawn(tokio::task::unconstrained(reader))
        });
        let stdin = child.stdin.take().map(StdinWriter::new);
        let (control_tx, control_rx) = mpsc::unbounded_channel();
        tokio::spawn(tracing::Instrument::instrument(own_child(child, pid, control_rx, event_tx, stderr), span));
        Ok(ProcessHandle::new(ProcessControl::new(pid, control_tx), stdout, event_rx, stdin))
    }
}

fn classify(spec: &ProcessSpec, source: std::io::Error) -> SpawnError {
    let program = spec.program.clone();
    match source.kind() {
        std::io::ErrorKind::NotFound => SpawnError::NotFound { program, source },
        std::io::ErrorKind::PermissionDenied => SpawnError::PermissionDenied { program, source },
        _ => SpawnError::Io { program, source },
    }
}

/// Sends `signal` to the whole process group `pgid`. A group that is already gone is not an error.
fn signal_group(pgid: u32, signal: Signal) {
    let Ok(raw) = i32::try_from(pgid) else { return };
    match killpg(Pid::from_raw(raw), signal) {
        Ok(()) => tracing::debug!(pgid, ?signal, "signalled group"),
        Err(nix::errno::Errno::ESRCH) => {}
        Err(err) => tracing::warn!(pgid, ?signal, %err, "could not signal process group"),
    }
}

/// Kills the group if the owning task is dropped before its child was reaped: a runtime that shuts down
/// drops its tasks without running them to completion, and no child may outlive that.
struct GroupGuard {
    pgid: u32,
    armed: bool,
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if self.armed {
            signal_group(self.pgid, Signal::SIGKILL);
        }
    }
}

/// Owns the child until it is reaped; then kills what is left of its group, waits for the stderr reader
/// to deliver every line, and sends `Exited` last (the handle holds it back until stdout has ended too).
async fn own_child(
    mut child: Child,
    pid: u32,
    mut controls: mpsc::UnboundedReceiver<Control>,
    events: mpsc::Sender<Vec<ProcessEvent>>,
    stderr: Option<JoinHandle<()>>,
) {
    let mut guard = GroupGuard { pgid: pid, armed: true };
    let mut term_sent = false;
    let mut kill_at: Option<Instant> = None;
    let mut controls_open = true;
    let status = loop {
        tokio::select! {
            status = child.wait() => break status,
            control = controls.recv(), if controls_open => match control {
                Some(Control::Cancel(grace)) if !term_sent && !grace.is_zero() => {
                    signal_group(pid, Signal::SIGTERM);
                    term_sent = true;
                    kill_at = Some(Instant::now() + grace);
                }
                Some(Control::Cancel(_)) => {
                    signal_group(pid, Signal::SIGKILL);
                    kill_at = None;
                }
                None => {
                    // every handle is gone: nobody can stop this child any more, so stop it now
                    controls_open = false;
                    signal_group(pid, Signal::SIGKILL);
                }
            },
            () = sleep_until(kill_at.unwrap_or_else(Instant::now)), if kill_at.is_some() => {
                tracing::debug!(pid, "grace period over, killing the group");
                signal_group(pid, Signal::SIGKILL);
                kill_at = None;
            }
        }
    };
    // Nothing of the group may outlive the child: grandchildren still holding a pipe die here.
    signal_group(pid, Signal::SIGKILL);
    guard.armed = false;
    if let Some(stderr) = stderr {
        let _ = stderr.await;
    }
    let status = match status {
        Ok(status) => ExitStatus { code: status.code(), signal: status.signal() },
        Err(err) => {
            tracing::warn!(pid, %err, "waiting for the child failed");
            ExitStatus { code: None, signal: None }
        }
    };
    tracing::debug!(pid, %status, "reaped");
    let _ = events.send(vec![ProcessEvent::Exited(status)]).await;
}
