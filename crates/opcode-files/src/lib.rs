//! The files of one project, for opcode-web's Files pane: every path a client names is confined beneath the
//! project's directory handle.
//!
//! A [`ProjectRoot`] opens the project's folder once as a `cap_std::fs::Dir`; every operation (list, read,
//! save, create, rename, delete, upload, archive) resolves the client's [`RelPath`] beneath that handle
//! (`openat2(RESOLVE_BENEATH)` on Linux, component-by-component resolution elsewhere), so `..`, absolute
//! paths and symlinks that lead out are refused by the kernel at the moment of use: there is no
//! check-then-use window for a write to escape through. Names are checked as text first ([`RelPath`]: NUL
//! bytes, over-long names, `..`, absolute paths).
//!
//! Walking (listing's ignore marks, [`search`](ProjectRoot::search), archives) uses the `ignore` crate:
//! `.gitignore`/`.ignore` rules apply unless asked otherwise, `.git` is never listed as content, and
//! symlinks are never followed. Name search ranks paths with `nucleo-matcher`.
//!
//! Everything here is synchronous file I/O: callers on an async runtime run it with `spawn_blocking`.

mod archive;
mod error;
mod path;
mod root;
mod search;
mod upload;

pub use archive::ArchiveSummary;
pub use error::FilesError;
pub use path::RelPath;
pub use root::{Entry, EntryKind, FileContent, Listing, ProjectRoot, Saved, MAX_LISTING};
pub use search::{SearchHit, SearchResult, MAX_SCANNED};
pub use upload::{StagedFile, Upload};

/// The largest file the viewer opens and the editor saves: 2 MiB.
pub const MAX_EDIT_BYTES: u64 = 2 * 1024 * 1024;
