//! Programs on a pseudo-terminal: a shell a person types into, `top`, `vim`, colours.
//!
//! [`crate::TokioSupervisor::spawn_pty`] opens a PTY (the `pty-process` crate: the master with
//! `O_NOCTTY | O_CLOEXEC`, the child made a session leader with the PTY as its controlling terminal), so
//! the child's session id and process group id are its pid. It is owned like any child: one task holds
//! it, a [`ProcessControl`] stops it, and every stop reaches the whole *session*, not only the group — an
//! interactive shell puts each job in a process group of its own, and those die with the terminal too.
//!
//! The parts of a [`PtyHandle`]:
//! - [`PtyOutput`]: what the program writes, read by the consumer itself in chunks of at most
//!   [`MAX_CHUNK_BYTES`]; nothing reads ahead, so a consumer that stops reading stops the program (the
//!   kernel's PTY buffer fills) instead of growing memory. On Linux the master reads `EIO` once every
//!   holder of the terminal is gone: that is the end of the output, reported as `None`;
//! - [`PtyInput`]: keystrokes in (raw bytes: `0x03` is Ctrl-C, delivered as SIGINT by the terminal's line
//!   discipline to the foreground job) and the window size (`TIOCSWINSZ`, seen by the child as SIGWINCH);
//! - [`PtyExit`]: the exit status, an event of its own (the output may end before or after it);
//! - [`ProcessControl`]: cancel or kill; when the handle's control and every clone are dropped, the
//!   session is killed.

use std::io;

use bytes::{Bytes, BytesMut};
use futures::FutureExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::error::PtyError;
use crate::event::{ExitStatus, ProcessEvent};
use crate::handle::ProcessControl;

/// The most one [`PtyOutput::read_chunk`] returns: what is ready at once is gathered up to this size.
pub const MAX_CHUNK_BYTES: usize = 64 * 1024;

/// The size of a terminal window, in character cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PtySize {
    /// Lines.
    pub rows: u16,
    /// Columns.
    pub cols: u16,
}

impl PtySize {
    /// A size of `rows` × `cols`, each at least 1.
    pub fn new(rows: u16, cols: u16) -> Self {
        PtySize { rows: rows.max(1), cols: cols.max(1) }
    }
}

impl Default for PtySize {
    /// The classic 24 × 80.
    fn default() -> Self {
        PtySize { rows: 24, cols: 80 }
    }
}

/// A program running on a PTY; see the module documentation. Split it with [`PtyHandle::into_parts`].
#[derive(Debug)]
pub struct PtyHandle {
    control: ProcessControl,
    output: PtyOutput,
    input: PtyInput,
    exit: PtyExit,
}

impl PtyHandle {
    pub(crate) fn new(
        control: ProcessControl,
        read: pty_process::OwnedReadPty,
        write: pty_process::OwnedWritePty,
        exit: mpsc::Receiver<Vec<ProcessEvent>>,
    ) -> Self {
        PtyHandle {
            control,
            output: PtyOutput { pty: read, buf: BytesMut::new(), ended: false },
            input: PtyInput { pty: write },
            exit: PtyExit { events: exit, status: None },
        }
    }

    /// The program's pid, which is also its session id and process group id.
    pub fn pid(&self) -> u32 {
        self.control.pid()
    }

    /// The control, the output, the input and the exit, to be used from different tasks. Dropping the
    /// control (and every clone of it) kills the program's whole session.
    pub fn into_parts(self) -> (ProcessControl, PtyOutput, PtyInput, PtyExit) {
        (self.control, self.output, self.input, self.exit)
    }
}

/// What the program writes to its terminal; see [`PtyOutput::read_chunk`].
#[derive(Debug)]
pub struct PtyOutput {
    pty: pty_process::OwnedReadPty,
    buf: BytesMut,
    ended: bool,
}

impl PtyOutput {
    /// The next bytes the program wrote (at most [`MAX_CHUNK_BYTES`]); `None` once nothing holds the
    /// terminal any more (the program and everything it started are gone).
    ///
    /// Reads the PTY itself: while nobody calls this, the program blocks on its next write. Cancel-safe:
    /// a dropped future loses no byte.
    pub async fn read_chunk(&mut self) -> Option<Bytes> {
        if self.ended {
            return None;
        }
        self.buf.reserve(MAX_CHUNK_BYTES);
        match self.pty.read_buf(&mut self.buf).await {
            Ok(0) => return self.end(),
            Ok(_) => {}
            Err(err) => return self.fail(err),
        }
        // gather what is ready at once, so a fast writer makes few large chunks
        while self.buf.len() < MAX_CHUNK_BYTES {
            let room = MAX_CHUNK_BYTES - self.buf.len();
            let mut more = (&mut self.pty).take(room as u64);
            match more.read_buf(&mut self.buf).now_or_never() {
                Some(Ok(n)) if n > 0 => {}
                _ => break,
            }
        }
        Some(self.buf.split().freeze())
    }

    fn end(&mut self) -> Option<Bytes> {
        self.ended = true;
        None
    }

    fn fail(&mut self, err: io::Error) -> Option<Bytes> {
        // EIO: the last holder of the terminal closed it (Linux reports that instead of EOF)
        if err.raw_os_error() != Some(nix::errno::Errno::EIO as i32) {
            tracing::warn!(%err, "reading the terminal failed");
        }
        self.end()
    }
}

/// Keystrokes and window size for the program.
#[derive(Debug)]
pub struct PtyInput {
    pty: pty_process::OwnedWritePty,
}

impl PtyInput {
    /// Writes `bytes` as typed (`\r` is Enter, `0x03` Ctrl-C). Waits while the terminal's input buffer
    /// is full (the program does not read).
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), PtyError> {
        self.pty.write_all(bytes).await.map_err(PtyError::Closed)?;
        self.pty.flush().await.map_err(PtyError::Closed)
    }

    /// Sets the window size; the foreground job gets SIGWINCH.
    pub fn resize(&self, size: PtySize) -> Result<(), PtyError> {
        self.pty.resize(pty_process::Size::new(size.rows, size.cols)).map_err(|err| PtyError::Resize(io_error(err)))
    }
}

/// The program's exit, once it is reaped.
#[derive(Debug)]
pub struct PtyExit {
    events: mpsc::Receiver<Vec<ProcessEvent>>,
    status: Option<ExitStatus>,
}

impl PtyExit {
    /// Waits until the program has exited and been reaped, and everything else in its session has been
    /// killed. Returns the same status on every call.
    pub async fn wait(&mut self) -> ExitStatus {
        while self.status.is_none() {
            match self.events.recv().await {
                Some(batch) => {
                    for event in batch {
                        if let ProcessEvent::Exited(status) = event {
                            self.status = Some(status);
                        }
                    }
                }
                // the owning task vanished without an exit (it cannot, short of a panic)
                None => self.status = Some(ExitStatus { code: None, signal: None }),
            }
        }
        self.status.unwrap_or(ExitStatus { code: None, signal: None })
    }
}

/// `pty-process`'s error as the OS error it carries.
pub(crate) fn io_error(err: pty_process::Error) -> io::Error {
    match err {
        pty_process::Error::Io(err) => err,
        pty_process::Error::Rustix(errno) => io::Error::from_raw_os_error(errno.raw_os_error()),
        other => io::Error::other(other.to_string()),
    }
}
