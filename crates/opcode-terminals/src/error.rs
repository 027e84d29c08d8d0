//! Why a terminal operation failed, in words a user can act on.

/// Errors of [`crate::Terminals`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TerminalError {
    /// No terminal has this id (it was closed, its shell exited, or the server restarted).
    #[error("no terminal {0:?} (it was closed, its shell exited, or the server restarted)")]
    NotFound(String),
    /// The limit on terminals is reached.
    #[error("too many terminals ({0} open): close one first")]
    TooMany(usize),
    /// The window size is out of range.
    #[error("bad terminal size {rows}×{cols}: rows and columns must be between 1 and {max}", max = crate::MAX_SIZE)]
    BadSize {
        /// Rows asked for.
        rows: u16,
        /// Columns asked for.
        cols: u16,
    },
    /// The shell could not be started.
    #[error(transparent)]
    Spawn(#[from] opcode_proc::SpawnError),
    /// The terminal no longer takes input or a new size (its shell is exiting).
    #[error(transparent)]
    Pty(#[from] opcode_proc::PtyError),
}
