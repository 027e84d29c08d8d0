//! The caller's side of a supervised child: its events, a cloneable control, and its stdin.

use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::ChildStdin;
use tokio::sync::mpsc;

use crate::error::StdinError;
use crate::event::ProcessEvent;

/// A request to the task that owns the child.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Control {
    /// SIGTERM the group, SIGKILL it after the grace period (at once if the grace is zero or a
    /// cancel was already sent: a second cancel escalates).
    Cancel(Duration),
}

/// A cheap, cloneable way to stop a child. When the [`ProcessHandle`] and every `ProcessControl` of a
/// child are dropped, its whole process group is killed.
#[derive(Debug, Clone)]
pub struct ProcessControl {
    pid: u32,
    tx: mpsc::UnboundedSender<Control>,
}

impl ProcessControl {
    pub(crate) fn new(pid: u32, tx: mpsc::UnboundedSender<Control>) -> Self {
        ProcessControl { pid, tx }
    }

    /// The child's pid, which is also its process group id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Asks the child's whole process group to stop: SIGTERM now, SIGKILL once `grace` has passed
    /// without the child exiting. A zero grace, or a second cancel, sends SIGKILL at once.
    ///
    /// Returns at once (the owning task does the waiting); watch for [`ProcessEvent::Exited`].
    /// Returns `false` if the child has already been reaped.
    pub fn cancel(&self, grace: Duration) -> bool {
        self.tx.send(Control::Cancel(grace)).is_ok()
    }

    /// Kills the whole group at once (SIGKILL).
    pub fn kill(&self) -> bool {
        self.cancel(Duration::ZERO)
    }
}

/// A running child: the stream of its [`ProcessEvent`]s and the means to stop it.
///
/// Dropping the handle kills the child's process group unless a [`ProcessControl`] clone is still held.
#[derive(Debug)]
pub struct ProcessHandle {
    control: ProcessControl,
    events: mpsc::Receiver<Vec<ProcessEvent>>,
    /// Events of the last batch not returned yet.
    ready: std::collections::VecDeque<ProcessEvent>,
    stdin: Option<StdinWriter>,
}

impl ProcessHandle {
    pub(crate) fn new(
        control: ProcessControl,
        events: mpsc::Receiver<Vec<ProcessEvent>>,
        stdin: Option<StdinWriter>,
    ) -> Self {
        ProcessHandle { control, events, ready: Default::default(), stdin }
    }

    /// The child's pid (and process group id).
    pub fn pid(&self) -> u32 {
        self.control.pid
    }

    /// A cloneable control to cancel the child from elsewhere.
    pub fn control(&self) -> ProcessControl {
        self.control.clone()
    }

    /// See [`ProcessControl::cancel`].
    pub fn cancel(&self, grace: Duration) -> bool {
        self.control.cancel(grace)
    }

    /// The next event; `None` after [`ProcessEvent::Exited`] has been returned.
    ///
    /// Not reading slows the child down (its pipes fill) rather than buffering without bound.
    pub async fn next_event(&mut self) -> Option<ProcessEvent> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Some(event);
            }
            self.ready.extend(self.events.recv().await?);
        }
    }

    /// Takes the writer of the child's stdin, if the spec asked for one ([`crate::ProcessSpec::with_stdin`]).
    pub fn take_stdin(&mut self) -> Option<StdinWriter> {
        self.stdin.take()
    }
}

/// Writes newline-framed messages to a child's stdin, in order; each write waits until the pipe takes it.
#[derive(Debug)]
pub struct StdinWriter {
    stdin: ChildStdin,
}

impl StdinWriter {
    pub(crate) fn new(stdin: ChildStdin) -> Self {
        StdinWriter { stdin }
    }

    /// Writes `line` and a newline, and flushes. Waits while the child is not reading (backpressure).
    pub async fn write_line(&mut self, line: &str) -> Result<(), StdinError> {
        if line.contains('\n') {
            return Err(StdinError::EmbeddedNewline);
        }
        let mut framed = Vec::with_capacity(line.len() + 1);
        framed.extend_from_slice(line.as_bytes());
        framed.push(b'\n');
        self.stdin.write_all(&framed).await.map_err(StdinError::Closed)?;
        self.stdin.flush().await.map_err(StdinError::Closed)
    }
}
