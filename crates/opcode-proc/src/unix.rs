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
use crate::pty::{PtyHandle, PtySize};
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
        check_cwd(&spec)?;
        let mut command = command(&spec);
        command
            .stdin(if spec.stdin { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
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
        let owner = own_child(child, pid, Reach::Group, control_rx, event_tx, stderr);
        tokio::spawn(tracing::Instrument::instrument(owner, span));
        Ok(ProcessHandle::new(ProcessControl::new(pid, control_tx), stdout, event_rx, stdin))
    }

    async fn spawn_pty(&self, spec: ProcessSpec, size: PtySize) -> Result<PtyHandle, SpawnError> {
        check_cwd(&spec)?;
        let io = |source: std::io::Error| SpawnError::Io { program: spec.program.clone(), source };
        let (pty, pts) = pty_process::open().map_err(|err| io(crate::pty::io_error(err)))?;
        pty.resize(pty_process::Size::new(size.rows, size.cols)).map_err(|err| io(crate::pty::io_error(err)))?;
        // no process_group(0): std applies it before pre_exec, and setsid (pty-process's pre_exec) fails
        // in a group leader; setsid makes the child its own session and group leader anyway
        let command = pty_process::Command::from(command(&spec));
        // `spawn` takes the pts by value and drops our copy of it, so the output ends when the session does
        let child = command.spawn(pts).map_err(|err| classify(&spec, crate::pty::io_error(err)))?;
        let Some(pid) = child.id() else {
            return Err(io(std::io::Error::other("no pid")));
        };
        let span = tracing::debug_span!("pty", pid);
        tracing::debug!(parent: &span, program = %spec.program.display(), rows = size.rows, cols = size.cols, "spawned on a pty");
        let (event_tx, event_rx) = mpsc::channel(1);
        let (control_tx, control_rx) = mpsc::unbounded_channel();
        let owner = own_child(child, pid, Reach::Session, control_rx, event_tx, None);
        tokio::spawn(tracing::Instrument::instrument(owner, span));
        let (read, write) = pty.into_split();
        Ok(PtyHandle::new(ProcessControl::new(pid, control_tx), read, write, event_rx))
    }
}

fn check_cwd(spec: &ProcessSpec) -> Result<(), SpawnError> {
    match &spec.cwd {
        Some(cwd) if !cwd.is_dir() => {
            Err(SpawnError::BadWorkingDir { program: spec.program.clone(), cwd: cwd.clone() })
        }
        _ => Ok(()),
    }
}

/// The command of `spec` (program, arguments, folder, environment), not killed on drop: the group or
/// session kill is the owning task's job.
fn command(spec: &ProcessSpec) -> tokio::process::Command {
    #[allow(clippy::disallowed_methods)] // the one place that spawns
    let mut command = tokio::process::Command::new(&spec.program);
    command.args(&spec.args).kill_on_drop(false);
    if let Some(cwd) = &spec.cwd {
        command.current_dir(cwd);
    }
    for key in &spec.env_remove {
        command.env_remove(key);
    }
    for (key, value) in &spec.env {
        command.env(key, value);
    }
    if spec.die_with_parent {
        die_with_parent(&mut command);
    }
    command
}

/// Arranges for the child to get SIGKILL when this process dies (`PR_SET_PDEATHSIG`, set in the child
/// between fork and exec). The one `unsafe` of the project: registering a `pre_exec` hook.
#[allow(unsafe_code)]
fn die_with_parent(command: &mut tokio::process::Command) {
    let parent = std::process::id();
    // SAFETY: the hook runs in the forked child before exec, where only async-signal-safe work is allowed.
    // It makes two system calls, prctl(2) and getppid(2), compares integers and returns an error built from
    // a raw errno (no allocation, no lock, no access to the parent's other threads' state). If the parent
    // died between fork and prctl, the child was already reparented: it then refuses to exec, so no orphan
    // starts.
    unsafe {
        command.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)?;
            if u32::try_from(nix::unistd::getppid().as_raw()).ok() != Some(parent) {
                return Err(std::io::Error::from(nix::errno::Errno::ESRCH));
            }
            Ok(())
        });
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

/// What a stop reaches: the child's process group, or its whole session (a PTY's child is a session
/// leader, and an interactive shell puts each job in a group of its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    Group,
    Session,
}

/// Sends `signal` to the group `pid` leads and, for [`Reach::Session`], to every process of the session
/// it leads (found in `/proc`; blocking but cheap, and only for PTYs). A SIGKILL to a session is repeated
/// until none of it is left (a process forking while it is killed), a few rounds at most.
fn signal_reach(pid: u32, reach: Reach, signal: Signal) {
    signal_group(pid, signal);
    if reach == Reach::Group {
        return;
    }
    for _ in 0..8 {
        let members = session_members(pid);
        if members.is_empty() {
            return;
        }
        for member in members {
            match nix::sys::signal::kill(member, signal) {
                Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
                Err(err) => {
                    tracing::warn!(sid = pid, pid = member.as_raw(), %err, "could not signal a process of the session")
                }
            }
        }
        if signal != Signal::SIGKILL {
            return;
        }
    }
}

/// The live processes of session `sid` (not zombies: those are only waiting for their parent).
fn session_members(sid: u32) -> Vec<Pid> {
    let Ok(sid) = i32::try_from(sid) else { return Vec::new() };
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .map(Pid::from_raw)
        .filter(|pid| nix::unistd::getsid(Some(*pid)).is_ok_and(|s| s.as_raw() == sid))
        .filter(|pid| !is_zombie(*pid))
        .collect()
}

fn is_zombie(pid: Pid) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next().map(|s| s == "Z")))
        .unwrap_or(false)
}

/// Signals off the async threads (a session's stop reads `/proc`).
async fn signal_off_thread(pid: u32, reach: Reach, signal: Signal) {
    match reach {
        Reach::Group => signal_group(pid, signal),
        Reach::Session => {
            let _ = tokio::task::spawn_blocking(move || signal_reach(pid, reach, signal)).await;
        }
    }
}

/// Kills the group (or session) if the owning task is dropped before its child was reaped: a runtime
/// that shuts down drops its tasks without running them to completion, and no child may outlive that.
struct GroupGuard {
    pgid: u32,
    reach: Reach,
    armed: bool,
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if self.armed {
            signal_reach(self.pgid, self.reach, Signal::SIGKILL);
        }
    }
}

/// Owns the child until it is reaped; then kills what is left of its group, waits for the stderr reader
/// to deliver every line, and sends `Exited` last (the handle holds it back until stdout has ended too).
async fn own_child(
    mut child: Child,
    pid: u32,
    reach: Reach,
    mut controls: mpsc::UnboundedReceiver<Control>,
    events: mpsc::Sender<Vec<ProcessEvent>>,
    stderr: Option<JoinHandle<()>>,
) {
    let mut guard = GroupGuard { pgid: pid, reach, armed: true };
    let mut term_sent = false;
    let mut kill_at: Option<Instant> = None;
    let mut controls_open = true;
    let status = loop {
        tokio::select! {
            status = child.wait() => break status,
            control = controls.recv(), if controls_open => match control {
                Some(Control::Cancel(grace)) if !term_sent && !grace.is_zero() => {
                    signal_off_thread(pid, reach, Signal::SIGTERM).await;
                    term_sent = true;
                    kill_at = Some(Instant::now() + grace);
                }
                Some(Control::Cancel(_)) => {
                    signal_off_thread(pid, reach, Signal::SIGKILL).await;
                    kill_at = None;
                }
                None => {
                    // every handle is gone: nobody can stop this child any more, so stop it now
                    controls_open = false;
                    signal_off_thread(pid, reach, Signal::SIGKILL).await;
                }
            },
            () = sleep_until(kill_at.unwrap_or_else(Instant::now)), if kill_at.is_some() => {
                tracing::debug!(pid, "grace period over, killing the group");
                signal_off_thread(pid, reach, Signal::SIGKILL).await;
                kill_at = None;
            }
        }
    };
    // Nothing of the group may outlive the child: grandchildren still holding a pipe die here.
    signal_off_thread(pid, reach, Signal::SIGKILL).await;
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
