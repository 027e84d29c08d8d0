//! What to run: plain data with public fields and a builder, so callers can add options without breaking.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// The grace period between SIGTERM and SIGKILL used when a caller has no opinion.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(3);

/// The longest line delivered by default (claude's lines can carry whole files).
pub const DEFAULT_MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// A child process to start. Build with [`ProcessSpec::new`] and the chaining methods.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    /// The program: a path, or a name looked up in `PATH`.
    pub program: PathBuf,
    /// Arguments, passed as argv (never through a shell).
    pub args: Vec<OsString>,
    /// Working directory; the parent's when `None`.
    pub cwd: Option<PathBuf>,
    /// Variables set for the child, on top of the parent's environment.
    pub env: Vec<(OsString, OsString)>,
    /// Variables removed from the child's environment.
    pub env_remove: Vec<OsString>,
    /// Whether the child gets a pipe on stdin ([`crate::ProcessHandle::take_stdin`]); `/dev/null` otherwise.
    pub stdin: bool,
    /// Longest line delivered; longer lines become [`crate::ProcessEvent::LineTooLong`].
    pub max_line_bytes: usize,
    /// Stderr events buffered between its reader and the consumer before reading pauses (stdout is read
    /// by the consumer itself, one read of the pipe at a time).
    pub event_buffer: usize,
    /// Deliver output as raw [`crate::ProcessEvent::Chunk`]s instead of framing lines (for binary or
    /// NUL-separated output, where lines, `\r` and UTF-8 mean nothing).
    pub raw_output: bool,
    /// The child is killed (SIGKILL) when the spawning process dies, even by `kill -9` (Linux's parent-death
    /// signal; see [`ProcessSpec::die_with_parent`]). Off by default: a child then outlives a crash of its
    /// parent.
    pub die_with_parent: bool,
}

impl ProcessSpec {
    /// A spec for `program` with no arguments and default limits.
    pub fn new(program: impl Into<PathBuf>) -> Self {
        ProcessSpec {
            program: program.into(),
            args: Vec::new(),
            cwd: None,
            env: Vec::new(),
            env_remove: Vec::new(),
            stdin: false,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            event_buffer: 256,
            raw_output: false,
            die_with_parent: false,
        }
    }

    /// Appends one argument.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Appends arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets the working directory.
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Sets an environment variable for the child.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Removes an environment variable from the child's environment.
    pub fn env_remove(mut self, key: impl Into<OsString>) -> Self {
        self.env_remove.push(key.into());
        self
    }

    /// Gives the child a stdin pipe.
    pub fn with_stdin(mut self) -> Self {
        self.stdin = true;
        self
    }

    /// Sets the longest line delivered.
    pub fn max_line_bytes(mut self, max: usize) -> Self {
        self.max_line_bytes = max.max(1);
        self
    }

    /// Delivers stdout and stderr as raw chunks ([`crate::ProcessEvent::Chunk`]), not as lines.
    pub fn raw_output(mut self) -> Self {
        self.raw_output = true;
        self
    }

    /// Kills the child with SIGKILL when this process dies, however it dies (`kill -9` included), so a
    /// crashed worker leaves no orphan claude behind. Linux delivers the signal when the *thread* that
    /// spawned the child ends, so spawn from a thread that lives as long as the process (a runtime's worker
    /// thread, not a blocking-pool thread). Only the child itself gets the signal; its own children lose
    /// their pipes with it.
    pub fn die_with_parent(mut self) -> Self {
        self.die_with_parent = true;
        self
    }

    /// Sets how many stderr events may wait for the consumer before reading stderr pauses.
    pub fn event_buffer(mut self, events: usize) -> Self {
        self.event_buffer = events.max(1);
        self
    }
}
