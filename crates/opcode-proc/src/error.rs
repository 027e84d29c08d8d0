//! Errors of this crate, one enum per operation, each message saying what to do about it.

use std::path::PathBuf;

/// Why a child could not be started. Nothing is left running when this is returned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpawnError {
    /// The program does not exist.
    #[error("cannot start {program}: no such file (check the path, or install it)")]
    NotFound {
        /// The program asked for.
        program: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The program exists but may not be executed.
    #[error("cannot start {program}: permission denied (is it executable?)")]
    PermissionDenied {
        /// The program asked for.
        program: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The working directory does not exist or is not a directory.
    #[error("cannot start {program} in {cwd}: the directory does not exist")]
    BadWorkingDir {
        /// The program asked for.
        program: PathBuf,
        /// The directory asked for.
        cwd: PathBuf,
    },
    /// This supervisor cannot do what was asked (a test double without pseudo-terminals).
    #[error("cannot start {program}: {what} is not supported by this supervisor")]
    Unsupported {
        /// The program asked for.
        program: PathBuf,
        /// What is missing.
        what: &'static str,
    },
    /// Any other OS failure (out of file descriptors, process limit reached, …).
    #[error("cannot start {program}")]
    Io {
        /// The program asked for.
        program: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Why a write to a child's stdin failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StdinError {
    /// The child closed its stdin or exited.
    #[error("the process no longer reads its input (it exited or closed stdin)")]
    Closed(#[source] std::io::Error),
    /// The line contains a newline, which would split it into two messages.
    #[error("a line written to the process must not contain a newline")]
    EmbeddedNewline,
}

/// Why talking to a program on a pseudo-terminal failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PtyError {
    /// The terminal is gone: the program and everything it started have exited.
    #[error("the terminal is closed (its program exited)")]
    Closed(#[source] std::io::Error),
    /// The window size could not be set.
    #[error("cannot resize the terminal")]
    Resize(#[source] std::io::Error),
}
