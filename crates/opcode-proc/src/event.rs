//! What a supervised child reports: lines, framing problems, and its exit.

use std::fmt;

/// Which output stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutputStream {
    /// The child's standard output.
    Stdout,
    /// The child's standard error.
    Stderr,
}

/// One thing that happened to a supervised child. [`ProcessEvent::Exited`] is always the last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessEvent {
    /// A complete line (without its `\n` or `\r\n`); a last line without newline is delivered too.
    Line {
        /// Where it came from.
        stream: OutputStream,
        /// The line, valid UTF-8.
        text: String,
    },
    /// A line that was not valid UTF-8; `lossy` has the bad bytes replaced by U+FFFD.
    InvalidUtf8 {
        /// Where it came from.
        stream: OutputStream,
        /// The line with invalid sequences replaced.
        lossy: String,
    },
    /// A line longer than the configured maximum; its bytes were discarded and reading went on.
    LineTooLong {
        /// Where it came from.
        stream: OutputStream,
        /// How long the line was, in bytes.
        len: usize,
        /// The maximum in force.
        max: usize,
    },
    /// Raw bytes as they came from the pipe, unframed: only for a child spawned with
    /// [`crate::ProcessSpec::raw_output`] (which then gets no `Line`, `InvalidUtf8` or `LineTooLong`).
    Chunk {
        /// Where they came from.
        stream: OutputStream,
        /// The bytes, at most one read of the pipe (16 KiB).
        bytes: Vec<u8>,
    },
    /// Reading a stream failed (rare: the pipe broke); that stream ends here.
    ReadFailed {
        /// Which stream.
        stream: OutputStream,
        /// The OS error, as text.
        message: String,
    },
    /// The child exited and every line before its exit has been delivered.
    Exited(ExitStatus),
}

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitStatus {
    /// The exit code, when it exited by itself.
    pub code: Option<i32>,
    /// The signal that killed it, if one did.
    pub signal: Option<i32>,
}

impl ExitStatus {
    /// True for exit code 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.code, self.signal) {
            (Some(code), _) => write!(f, "exit code {code}"),
            (None, Some(sig)) => write!(f, "killed by signal {sig}"),
            (None, None) => write!(f, "unknown exit"),
        }
    }
}
