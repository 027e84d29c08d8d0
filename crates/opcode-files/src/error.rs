//! What can go wrong with a project's files, in sentences a user can act on.

use std::io;

/// Why a file operation was refused or failed. Every message names the path (relative to the project)
/// and says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FilesError {
    /// The path text is not acceptable (NUL byte, `..`, absolute, over-long name, empty name).
    #[error("path {path:?} is refused: {reason}")]
    BadPath {
        /// The path as given (lossy).
        path: String,
        /// Why.
        reason: &'static str,
    },
    /// Resolving the path would leave the project (a symlink pointing out of it).
    #[error("{0:?} leads outside the project (a symbolic link pointing out of it); only files inside the project can be used")]
    OutsideProject(String),
    /// Nothing at that path.
    #[error("{0:?} does not exist in the project; reload the folder")]
    NotFound(String),
    /// Something is already there.
    #[error("{0:?} already exists; pick another name or delete it first")]
    AlreadyExists(String),
    /// The file changed on disk since the client opened it.
    #[error("{0:?} changed on disk since it was opened; reload it to see the new version (copy your edits first), then save again")]
    Changed(String),
    /// The file or request is over a size limit.
    #[error("{path:?} is {size} bytes, over the {limit}-byte limit for {what}")]
    TooLarge {
        /// The path concerned.
        path: String,
        /// Its size (or the size reached).
        size: u64,
        /// The limit.
        limit: u64,
        /// What the limit is for, and what to do instead.
        what: &'static str,
    },
    /// A folder where a file is needed.
    #[error("{0:?} is a folder, not a file")]
    IsFolder(String),
    /// A file where a folder is needed.
    #[error("{0:?} is not a folder")]
    NotFolder(String),
    /// The operation cannot apply to the project's own folder.
    #[error("the project folder itself cannot be {0}; name something inside it")]
    Root(&'static str),
    /// The operation is not possible for this path (e.g. moving a folder into itself, saving through a link).
    #[error("{path:?}: {reason}")]
    NotPossible {
        /// The path concerned.
        path: String,
        /// Why.
        reason: &'static str,
    },
    /// The project folder could not be opened.
    #[error("could not open the project folder {path:?}; check that it exists and is readable")]
    OpenRoot {
        /// The folder.
        path: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Any other I/O failure.
    #[error("could not {action} {path:?}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path concerned.
        path: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

impl FilesError {
    /// Maps an I/O error from an operation on `path` to the variant a user can act on.
    pub(crate) fn io(action: &'static str, path: &str, source: io::Error) -> FilesError {
        let path = path.to_owned();
        match source.kind() {
            io::ErrorKind::NotFound => FilesError::NotFound(path),
            io::ErrorKind::AlreadyExists => FilesError::AlreadyExists(path),
            io::ErrorKind::NotADirectory => FilesError::NotFolder(path),
            io::ErrorKind::IsADirectory => FilesError::IsFolder(path),
            io::ErrorKind::DirectoryNotEmpty => {
                FilesError::NotPossible { path, reason: "the target is a folder that is not empty" }
            }
            io::ErrorKind::InvalidInput => {
                FilesError::NotPossible { path, reason: "not possible here (a folder cannot move into itself)" }
            }
            // cap-std's "a path led outside of the filesystem" (EXDEV from openat2 RESOLVE_BENEATH, or its
            // manual resolver), and ELOOP for links that point at themselves
            io::ErrorKind::PermissionDenied if source.to_string().contains("outside of the filesystem") => {
                FilesError::OutsideProject(path)
            }
            _ if source.raw_os_error() == Some(40) => FilesError::OutsideProject(path),
            _ => FilesError::Io { action, path, source },
        }
    }
}
