//! Spawning, streaming, stderr capture and killing of child processes.
//!
//! This crate knows nothing of HTTP or sessions; any Rust tool that runs a chatty child (claude, a
//! compiler, a test runner) can embed it. Ownership: [`ProcessSupervisor::spawn`] → [`ProcessHandle`]
//! (events + [`ProcessControl`]) ← one owning task per child, which holds the `Child` and is the only
//! code that signals it.
//!
//! Guarantees, each tested in `tests/`:
//! - the child leads its own process group; cancel sends SIGTERM to the whole group, waits the grace
//!   period, then SIGKILLs the group, so grandchildren die too; dropping every handle kills the group;
//! - every child is reaped, and nothing of its group survives its exit;
//! - stdout and stderr are read concurrently into a bounded flow: stdout by the consumer itself, inside
//!   [`ProcessHandle::next_event`] (no task between the pipe and the consumer), stderr by a task of its
//!   own into a bounded channel; a slow consumer slows the child (pipes fill) instead of growing memory,
//!   and neither stream can starve the other;
//! - lines are framed up to a maximum length; an over-long line or invalid UTF-8 becomes an event of its
//!   own and reading goes on; a last line without a newline is delivered;
//! - [`ProcessEvent::Exited`] is the last event, after every line;
//! - [`run_to_completion`] runs a short-lived child to its end and returns its raw output (each stream
//!   capped, the rest drained) and exit status, killing its group if it outlives a timeout.
//!
//! ```
//! use opcode_proc::{OutputStream, ProcessEvent, ProcessSpec, ProcessSupervisor, TokioSupervisor};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), opcode_proc::SpawnError> {
//! let supervisor = TokioSupervisor::default();
//! let mut child = supervisor.spawn(ProcessSpec::new("sh").arg("-c").arg("echo hi; echo oops >&2")).await?;
//! let mut lines = Vec::new();
//! while let Some(event) = child.next_event().await {
//!     match event {
//!         ProcessEvent::Line { stream, text } => lines.push((stream, text)),
//!         ProcessEvent::Exited(status) => assert!(status.success()),
//!         other => println!("{other:?}"),
//!     }
//! }
//! assert!(lines.contains(&(OutputStream::Stdout, "hi".to_owned())));
//! assert!(lines.contains(&(OutputStream::Stderr, "oops".to_owned())));
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod complete;
mod error;
mod event;
mod handle;
mod limits;
mod lines;
#[path = "unix.rs"]
mod os;
pub mod pty;
mod shutdown;
mod spec;
mod usage;

pub use complete::{run_to_completion, Completed, CompletionError, CompletionLimits};
pub use error::{PtyError, SpawnError, StdinError};
pub use event::{ExitStatus, OutputStream, ProcessEvent};
pub use handle::{ProcessControl, ProcessHandle, StdinWriter};
pub use limits::raise_open_file_limit;
pub use os::TokioSupervisor;
pub use pty::{PtyExit, PtyHandle, PtyInput, PtyOutput, PtySize};
pub use shutdown::shutdown_signal;
pub use spec::{ProcessSpec, DEFAULT_GRACE, DEFAULT_MAX_LINE_BYTES};
pub use usage::{group_usage, GroupUsage};

/// Starts supervised child processes. The seam between the layers above and the operating system: the
/// sessions layer holds an `Arc<dyn ProcessSupervisor>`, tests may substitute their own.
#[async_trait::async_trait]
pub trait ProcessSupervisor: Send + Sync + std::fmt::Debug {
    /// Spawns `spec` in a new process group and starts streaming its output.
    ///
    /// On success the child is running and owned by the returned handle: dropping the handle (and every
    /// [`ProcessControl`] cloned from it) kills the whole group. On error nothing is left running.
    async fn spawn(&self, spec: ProcessSpec) -> Result<ProcessHandle, SpawnError>;

    /// Spawns `spec` on a new pseudo-terminal of `size` (see [`pty`]): the child leads a new session
    /// with the terminal as its controlling terminal; its stdin, stdout and stderr are the terminal
    /// (`spec.stdin`, `max_line_bytes` and `event_buffer` do not apply).
    ///
    /// Owned like [`ProcessSupervisor::spawn`]'s children, but every stop reaches the child's whole
    /// session (each job of an interactive shell is a process group of its own). On error nothing is
    /// left running. The default refuses with [`SpawnError::Unsupported`].
    async fn spawn_pty(&self, spec: ProcessSpec, size: PtySize) -> Result<PtyHandle, SpawnError> {
        let _ = size;
        Err(SpawnError::Unsupported { program: spec.program, what: "a pseudo-terminal" })
    }
}
