//! The caller's side of a supervised child: its events, a cloneable control, and its stdin.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::{ChildStdin, ChildStdout};
use tokio::sync::mpsc;

use crate::error::StdinError;
use crate::event::{ExitStatus, ProcessEvent};
use crate::lines::{drain, LineReader};

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
/// The handle reads the child's stdout itself, inside [`ProcessHandle::next_event`] (a line reaches the
/// consumer with no task in between); stderr is read by a task of its own into a bounded channel, and the
/// exit status comes from the task that owns the child. Dropping the handle kills the child's process
/// group unless a [`ProcessControl`] clone is still held (what is left of stdout is then drained).
#[derive(Debug)]
pub struct ProcessHandle {
    control: ProcessControl,
    /// The child's stdout, framed here; `None` only once the handle is being dropped.
    stdout: Option<LineReader<ChildStdout>>,
    /// Batches of stderr events, then the exit (from the owning task).
    events: mpsc::Receiver<Vec<ProcessEvent>>,
    /// False once `events` has closed.
    events_open: bool,
    /// The exit, held back until stdout has ended, so it comes after every line.
    exit: Option<ExitStatus>,
    /// Events framed or received and not returned yet.
    ready: VecDeque<ProcessEvent>,
    /// `Exited` was returned: only `None` from now on.
    finished: bool,
    stdin: Option<StdinWriter>,
}

impl ProcessHandle {
    pub(crate) fn new(
        control: ProcessControl,
        stdout: LineReader<ChildStdout>,
        events: mpsc::Receiver<Vec<ProcessEvent>>,
        stdin: Option<StdinWriter>,
    ) -> Self {
        ProcessHandle {
            control,
            stdout: Some(stdout),
            events,
            events_open: true,
            exit: None,
            ready: VecDeque::new(),
            finished: false,
            stdin,
        }
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
    /// Reads the child's stdout pipe itself, so not reading slows the child down (its pipes fill) rather
    /// than buffering without bound. Cancel-safe: dropping the future (a `select!`, a timeout) loses no
    /// event.
    pub async fn next_event(&mut self) -> Option<ProcessEvent> {
        poll_fn(|cx| self.poll_next_event(cx)).await
    }

    fn poll_next_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<ProcessEvent>> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Poll::Ready(Some(event));
            }
            if self.finished {
                return Poll::Ready(None);
            }
            let stdout = self.stdout.as_mut().filter(|s| !s.is_done());
            if stdout.is_none() {
                if let Some(status) = self.exit.take() {
                    self.finished = true;
                    return Poll::Ready(Some(ProcessEvent::Exited(status)));
                }
                if !self.events_open {
                    // the owning task vanished without an exit (it cannot, short of a panic)
                    self.finished = true;
                    return Poll::Ready(None);
                }
            }
            // one stderr batch and one read of stdout per turn: neither stream can starve the other
            let mut progress = false;
            if self.events_open {
                match self.events.poll_recv(cx) {
                    Poll::Ready(Some(batch)) => {
                        for event in batch {
                            match event {
                                ProcessEvent::Exited(status) => self.exit = Some(status),
                                other => self.ready.push_back(other),
                            }
                        }
                        progress = true;
                    }
                    Poll::Ready(None) => {
                        self.events_open = false;
                        progress = true;
                    }
                    Poll::Pending => {}
                }
            }
            if let Some(stdout) = stdout {
                progress |= stdout.poll_lines(cx, &mut self.ready).is_ready();
            }
            if !progress {
                return Poll::Pending;
            }
        }
    }

    /// Takes the writer of the child's stdin, if the spec asked for one ([`crate::ProcessSpec::with_stdin`]).
    pub fn take_stdin(&mut self) -> Option<StdinWriter> {
        self.stdin.take()
    }
}

impl Drop for ProcessHandle {
    fn drop(&mut self) {
        // a child kept alive by a control clone must not block on a stdout pipe nobody reads
        if let Some(stdout) = self.stdout.take().filter(|s| !s.is_done()) {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(drain(stdout));
            }
        }
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
