//! Why a git operation failed, in words a user can act on; git's own sentence is kept where it has one.

use std::path::PathBuf;

/// Why a git operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GitError {
    /// The folder is not inside a git repository (the UI offers `git init`).
    #[error("{} is not a git repository (initialise one with git init)", dir.display())]
    NotARepository {
        /// The folder asked about.
        dir: PathBuf,
    },
    /// `init` was asked for a folder that already is (inside) a repository.
    #[error("{} is already inside a git repository", dir.display())]
    AlreadyARepository {
        /// The folder asked about.
        dir: PathBuf,
    },
    /// A path given by the user is refused before git sees it.
    #[error("refused path {path:?}: {reason}")]
    BadPath {
        /// The path as given.
        path: String,
        /// Why.
        reason: &'static str,
    },
    /// No branch of that name exists (or the name could be read as an option).
    #[error("no branch named {0:?} (pick one from the branch list)")]
    UnknownBranch(String),
    /// A commit was asked for with nothing staged.
    #[error("nothing is staged: stage the changes to commit first")]
    NothingStaged,
    /// A commit was asked for with an empty message.
    #[error("the commit message is empty: write one")]
    EmptyMessage,
    /// git does not know who is committing.
    #[error(
        "git does not know who you are: set user.name and user.email (git config --global user.name \"…\"; \
         git config --global user.email …): {stderr}"
    )]
    NoIdentity {
        /// What git said.
        stderr: String,
    },
    /// A branch switch was refused because it would overwrite local changes.
    #[error(
        "cannot switch branch: local changes would be overwritten (commit, stash or discard them first): {stderr}"
    )]
    WouldOverwrite {
        /// What git said.
        stderr: String,
    },
    /// The path has nothing to discard.
    #[error("{0:?} has no changes to discard")]
    NothingToDiscard(String),
    /// git ran and refused; its sentence says why.
    #[error("git {command} failed: {stderr}")]
    Failed {
        /// The subcommand (`add`, `commit`, …).
        command: &'static str,
        /// What git said on stderr (or stdout when stderr was empty).
        stderr: String,
    },
    /// git could not be run at all (not installed, timed out).
    #[error("could not run git (is it installed?): {0}")]
    Run(#[from] opcode_proc::CompletionError),
    /// A file operation of ours failed (temporary index, deleting an untracked file).
    #[error("file operation failed: {0}")]
    Io(#[from] std::io::Error),
}
