//! Running a short-lived child to its end and collecting what it wrote: the call a tool (git, a version
//! probe, `claude mcp …`) makes when it wants the whole output, not a stream.
//!
//! The output is collected raw ([`crate::ProcessSpec::raw_output`]): NUL-separated or binary output
//! survives byte for byte. Each stream is kept up to its cap; what comes beyond is read and dropped (so
//! the child never blocks on a full pipe) and reported as truncated. A child that outlives the timeout
//! has its whole group killed and is reported as such; nothing is ever left running.

use std::time::Duration;

use crate::error::SpawnError;
use crate::event::{ExitStatus, OutputStream, ProcessEvent};
use crate::spec::ProcessSpec;
use crate::ProcessSupervisor;

/// How much of a child's output to keep, and how long it may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompletionLimits {
    /// Bytes of stdout kept; the rest is drained and dropped.
    pub max_stdout: usize,
    /// Bytes of stderr kept; the rest is drained and dropped.
    pub max_stderr: usize,
    /// Longest the child may run before its group is killed.
    pub timeout: Duration,
}

impl Default for CompletionLimits {
    /// 16 MiB of stdout, 64 KiB of stderr, 60 seconds.
    fn default() -> Self {
        CompletionLimits { max_stdout: 16 * 1024 * 1024, max_stderr: 64 * 1024, timeout: Duration::from_secs(60) }
    }
}

/// What a child that ran to its end wrote, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completed {
    /// Its stdout, byte for byte, up to [`CompletionLimits::max_stdout`].
    pub stdout: Vec<u8>,
    /// Its stderr, byte for byte, up to [`CompletionLimits::max_stderr`].
    pub stderr: Vec<u8>,
    /// True when stdout was longer than its cap (the kept part is its beginning).
    pub stdout_truncated: bool,
    /// True when stderr was longer than its cap.
    pub stderr_truncated: bool,
    /// How it exited.
    pub status: ExitStatus,
}

impl Completed {
    /// It exited by itself with code 0.
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// Stdout as text (invalid UTF-8 replaced), trimmed.
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).trim().to_owned()
    }

    /// Stdout then stderr as text, each trimmed, the empty ones left out: what to show a person.
    pub fn output(&self) -> String {
        [self.stdout_text(), self.stderr_text()].into_iter().filter(|p| !p.is_empty()).collect::<Vec<_>>().join("\n")
    }

    /// Stderr as text (invalid UTF-8 replaced), trimmed: the sentence a tool printed when it failed.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).trim().to_owned()
    }
}

/// Why [`run_to_completion`] has no [`Completed`] to give.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CompletionError {
    /// The child could not be started.
    #[error(transparent)]
    Spawn(#[from] SpawnError),
    /// It was still running when the timeout passed; its whole group was killed.
    #[error("{program} did not finish within {timeout:?} and was stopped")]
    TimedOut {
        /// The program.
        program: std::path::PathBuf,
        /// The limit in force.
        timeout: Duration,
    },
    /// Reading one of its pipes failed.
    #[error("reading the output of {program} failed: {message}")]
    Read {
        /// The program.
        program: std::path::PathBuf,
        /// The OS error, as text.
        message: String,
    },
}

/// Spawns `spec` through `supervisor` with raw output, waits for it to exit, and returns its output (each
/// stream capped) and exit status. A non-zero exit is not an error here: the caller reads `status`.
pub async fn run_to_completion(
    supervisor: &dyn ProcessSupervisor,
    spec: ProcessSpec,
    limits: CompletionLimits,
) -> Result<Completed, CompletionError> {
    let program = spec.program.clone();
    let mut child = supervisor.spawn(spec.raw_output()).await?;
    let mut done = Completed {
        stdout: Vec::new(),
        stderr: Vec::new(),
        stdout_truncated: false,
        stderr_truncated: false,
        status: ExitStatus { code: None, signal: None },
    };
    let mut read_error = None;
    let read = async {
        while let Some(event) = child.next_event().await {
            match event {
                ProcessEvent::Chunk { stream, bytes } => {
                    let (buf, truncated, cap) = match stream {
                        OutputStream::Stdout => (&mut done.stdout, &mut done.stdout_truncated, limits.max_stdout),
                        OutputStream::Stderr => (&mut done.stderr, &mut done.stderr_truncated, limits.max_stderr),
                    };
                    let room = cap.saturating_sub(buf.len());
                    if bytes.len() > room {
                        *truncated = true;
                    }
                    buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
                }
                ProcessEvent::ReadFailed { message, .. } => read_error = Some(message),
                ProcessEvent::Exited(status) => done.status = status,
                // raw output is never framed into lines
                ProcessEvent::Line { .. } | ProcessEvent::InvalidUtf8 { .. } | ProcessEvent::LineTooLong { .. } => {}
            }
        }
    };
    if tokio::time::timeout(limits.timeout, read).await.is_err() {
        // dropping the handle kills the whole group
        return Err(CompletionError::TimedOut { program, timeout: limits.timeout });
    }
    match read_error {
        Some(message) => Err(CompletionError::Read { program, message }),
        None => Ok(done),
    }
}
