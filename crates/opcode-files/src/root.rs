//! [`ProjectRoot`]: the project's folder as a directory handle, and the operations on what is beneath it.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use cap_std::ambient_authority;
use cap_std::fs::{Dir, OpenOptions};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{FilesError, RelPath};

/// Most entries one listing returns (the rest are counted in [`Listing::truncated`]).
pub const MAX_LISTING: usize = 5000;
/// How much of a file decides text or binary.
const SNIFF_BYTES: usize = 8192;

/// The project's folder, opened once. Every path is resolved beneath this handle, so nothing a client
/// names can reach outside the project, however its symlinks point.
#[derive(Debug)]
pub struct ProjectRoot {
    dir: Dir,
    path: PathBuf,
}

/// What a folder entry is (symlinks are described by what they point at, inside the project).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A regular file (or a link to one inside the project).
    File,
    /// A folder (or a link to one inside the project).
    Folder,
    /// A symbolic link that points outside the project, or nowhere: it cannot be opened.
    BrokenLink,
    /// A socket, FIFO or device.
    Other,
}

/// One entry of a folder.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// Its name.
    pub name: String,
    /// Its path relative to the project.
    pub path: String,
    /// What it is.
    pub kind: EntryKind,
    /// True when it is a symbolic link.
    pub symlink: bool,
    /// Size in bytes (files only).
    pub size: Option<u64>,
    /// True when `.gitignore`/`.ignore` rules hide it (only listed when ignored entries are asked for).
    pub ignored: bool,
}

/// One folder's entries: folders first, then files, each by name.
#[derive(Debug, Clone, Serialize)]
pub struct Listing {
    /// The folder, relative to the project (`""`: the project folder).
    pub path: String,
    /// Its entries (at most [`MAX_LISTING`]).
    pub entries: Vec<Entry>,
    /// How many entries were left out over [`MAX_LISTING`].
    pub truncated: usize,
    /// How many ignored entries were hidden.
    pub hidden_ignored: usize,
}

/// A file as the viewer receives it.
#[derive(Debug, Clone, Serialize)]
pub struct FileContent {
    /// Relative to the project.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// The version to send back with a save: a digest of the content.
    pub version: String,
    /// True when the file is not UTF-8 text (a NUL byte or invalid UTF-8): `text` is then absent.
    pub binary: bool,
    /// The text (when not binary).
    pub text: Option<String>,
}

/// The result of a save.
#[derive(Debug, Clone, Serialize)]
pub struct Saved {
    /// Relative to the project.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// The new version.
    pub version: String,
}

/// The version of a content: the first 128 bits of its SHA-256, in hex.
pub(crate) fn version_of(bytes: &[u8]) -> String {
    Sha256::digest(bytes)[..16].iter().map(|b| format!("{b:02x}")).collect()
}

fn is_binary(bytes: &[u8]) -> bool {
    bytes[..bytes.len().min(SNIFF_BYTES)].contains(&0) || std::str::from_utf8(bytes).is_err()
}

impl ProjectRoot {
    /// Opens the project folder `path` (already checked by the caller against the server's project roots).
    pub fn open(path: &Path) -> Result<ProjectRoot, FilesError> {
        let dir = Dir::open_ambient_dir(path, ambient_authority())
            .map_err(|source| FilesError::OpenRoot { path: path.display().to_string(), source })?;
        Ok(ProjectRoot { dir, path: path.to_path_buf() })
    }

    /// The project folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The folder `rel` as a handle beneath the root (refused when it leads out or is not a folder).
    pub(crate) fn folder(&self, rel: &RelPath) -> Result<Dir, FilesError> {
        if rel.is_root() {
            return self.dir.try_clone().map_err(|e| FilesError::io("open", "", e));
        }
        self.dir.open_dir(rel.as_path()).map_err(|e| FilesError::io("open the folder", rel.as_str(), e))
    }

    /// The folder holding `rel` and its last name; refused for the project folder itself (`doing` says what
    /// was attempted, for the message).
    fn parent_of<'a>(&self, rel: &'a RelPath, doing: &'static str) -> Result<(Dir, &'a str), FilesError> {
        let (parent, name) = rel.split().ok_or(FilesError::Root(doing))?;
        Ok((self.folder(&parent)?, name))
    }

    /// Lists the folder `rel`. Entries that ignore rules hide are left out unless `show_ignored` (they
    /// are then marked); `.git` counts as ignored.
    pub fn list(&self, rel: &RelPath, show_ignored: bool) -> Result<Listing, FilesError> {
        let dir = self.folder(rel)?;
        let visible = self.unignored_names(rel);
        let mut entries = Vec::new();
        let mut hidden_ignored = 0;
        let read = dir.entries().map_err(|e| FilesError::io("list", rel.as_str(), e))?;
        for entry in read {
            let entry = entry.map_err(|e| FilesError::io("list", rel.as_str(), e))?;
            let Ok(name) = entry.file_name().into_string() else { continue };
            let ignored = name == ".git" || !visible.contains(&name);
            if ignored && !show_ignored {
                hidden_ignored += 1;
                continue;
            }
            let file_type = entry.file_type().map_err(|e| FilesError::io("list", rel.as_str(), e))?;
            let symlink = file_type.is_symlink();
            let meta = if symlink { self.dir.metadata(rel.join(&name).as_path()).ok() } else { entry.metadata().ok() };
            let kind = match &meta {
                None => EntryKind::BrokenLink,
                Some(m) if m.is_dir() => EntryKind::Folder,
                Some(m) if m.is_file() => EntryKind::File,
                Some(_) => EntryKind::Other,
            };
            let size = meta.filter(|m| m.is_file()).map(|m| m.len());
            entries.push(Entry { path: rel.join(&name).as_str().to_owned(), name, kind, symlink, size, ignored });
        }
        entries.sort_by(|a, b| (a.kind != EntryKind::Folder, &a.name).cmp(&(b.kind != EntryKind::Folder, &b.name)));
        let truncated = entries.len().saturating_sub(MAX_LISTING);
        entries.truncate(MAX_LISTING);
        Ok(Listing { path: rel.as_str().to_owned(), entries, truncated, hidden_ignored })
    }

    /// The names in folder `rel` that ignore rules leave visible (the walker only reads names; nothing is
    /// opened through this path).
    fn unignored_names(&self, rel: &RelPath) -> HashSet<String> {
        let mut names = HashSet::new();
        for entry in crate::search::walker(&rel.under(&self.path), false).max_depth(Some(1)).build().flatten() {
            if entry.depth() == 1 {
                names.insert(entry.file_name().to_string_lossy().into_owned());
            }
        }
        names
    }

    /// Reads the file `rel` for the viewer: text up to `limit` bytes; a binary file of any size is
    /// described (size, `binary: true`) without its content; a text file over `limit` is refused.
    pub fn read(&self, rel: &RelPath, limit: u64) -> Result<FileContent, FilesError> {
        let path = rel.as_str();
        let mut file = self.dir.open(rel.as_path()).map_err(|e| FilesError::io("open", path, e))?;
        let meta = file.metadata().map_err(|e| FilesError::io("read", path, e))?;
        if meta.is_dir() {
            return Err(FilesError::IsFolder(path.to_owned()));
        }
        let size = meta.len();
        if size > limit {
            let mut head = Vec::with_capacity(SNIFF_BYTES);
            (&mut file).take(SNIFF_BYTES as u64).read_to_end(&mut head).map_err(|e| FilesError::io("read", path, e))?;
            // only the head: a cut in a multi-byte character is not binary
            let binary = head.contains(&0) || std::str::from_utf8(&head).is_err_and(|e| e.error_len().is_some());
            if binary {
                return Ok(FileContent { path: path.to_owned(), size, version: String::new(), binary, text: None });
            }
            return Err(FilesError::TooLarge {
                path: path.to_owned(),
                size,
                limit,
                what: "viewing and editing; download it instead",
            });
        }
        let mut bytes = Vec::with_capacity(size as usize);
        file.take(limit + 1).read_to_end(&mut bytes).map_err(|e| FilesError::io("read", path, e))?;
        if bytes.len() as u64 > limit {
            return Err(FilesError::TooLarge {
                path: path.to_owned(),
                size: bytes.len() as u64,
                limit,
                what: "viewing and editing (it grew while being read); download it instead",
            });
        }
        let version = version_of(&bytes);
        let size = bytes.len() as u64;
        if is_binary(&bytes) {
            return Ok(FileContent { path: path.to_owned(), size, version, binary: true, text: None });
        }
        let text = String::from_utf8(bytes).ok();
        Ok(FileContent { path: path.to_owned(), size, version, binary: false, text })
    }

    /// Replaces the file `rel` with `content`, if its content on disk is still the one of `version` (else
    /// [`FilesError::Changed`]). Written to a temporary file beside it and renamed over it, so a reader
    /// sees the old or the new content, never half; the file's permissions are kept.
    pub fn save(&self, rel: &RelPath, content: &[u8], version: &str, limit: u64) -> Result<Saved, FilesError> {
        let path = rel.as_str();
        if content.len() as u64 > limit {
            return Err(FilesError::TooLarge {
                path: path.to_owned(),
                size: content.len() as u64,
                limit,
                what: "saving from the editor",
            });
        }
        let (dir, name) = self.parent_of(rel, "saved")?;
        let meta = dir.symlink_metadata(name).map_err(|e| FilesError::io("save", path, e))?;
        if meta.is_symlink() {
            // a link out of the project is refused as such; one inside names the file to open instead
            // (opening resolves the link beneath the project, as reading does; metadata may not)
            dir.open(name).map_err(|e| FilesError::io("save", path, e))?;
            return Err(FilesError::NotPossible {
                path: path.to_owned(),
                reason: "it is a symbolic link; open the file it points to",
            });
        }
        if meta.is_dir() {
            return Err(FilesError::IsFolder(path.to_owned()));
        }
        let mut current = Vec::new();
        dir.open(name)
            .and_then(|f| f.take(limit + 1).read_to_end(&mut current))
            .map_err(|e| FilesError::io("read", path, e))?;
        if version_of(&current) != version {
            return Err(FilesError::Changed(path.to_owned()));
        }
        write_atomically(&dir, name, path, content, Some(meta.permissions()))?;
        Ok(Saved { path: path.to_owned(), size: content.len() as u64, version: version_of(content) })
    }

    /// Creates the empty file `rel`; refused when something is already there.
    pub fn create_file(&self, rel: &RelPath) -> Result<(), FilesError> {
        let (dir, name) = self.parent_of(rel, "created")?;
        dir.open_with(name, OpenOptions::new().write(true).create_new(true))
            .map(drop)
            .map_err(|e| FilesError::io("create", rel.as_str(), e))
    }

    /// Creates the folder `rel` (its parent must exist); refused when something is already there.
    pub fn create_folder(&self, rel: &RelPath) -> Result<(), FilesError> {
        let (dir, name) = self.parent_of(rel, "created")?;
        dir.create_dir(name).map_err(|e| FilesError::io("create the folder", rel.as_str(), e))
    }

    /// Renames or moves `from` to `to` (both inside the project); refused when `to` exists.
    pub fn rename(&self, from: &RelPath, to: &RelPath) -> Result<(), FilesError> {
        let (from_dir, from_name) = self.parent_of(from, "renamed")?;
        let (to_dir, to_name) = self.parent_of(to, "replaced")?;
        from_dir.symlink_metadata(from_name).map_err(|e| FilesError::io("rename", from.as_str(), e))?;
        if to_dir.symlink_metadata(to_name).is_ok() {
            return Err(FilesError::AlreadyExists(to.as_str().to_owned()));
        }
        from_dir.rename(from_name, &to_dir, to_name).map_err(|e| FilesError::io("rename", from.as_str(), e))
    }

    /// Deletes `rel`: a file, a symbolic link (not what it points to), or a folder with everything in it.
    pub fn delete(&self, rel: &RelPath) -> Result<(), FilesError> {
        let (dir, name) = self.parent_of(rel, "deleted")?;
        let meta = dir.symlink_metadata(name).map_err(|e| FilesError::io("delete", rel.as_str(), e))?;
        let done = if meta.is_dir() { dir.remove_dir_all(name) } else { dir.remove_file(name) };
        done.map_err(|e| FilesError::io("delete", rel.as_str(), e))
    }

    /// Opens the file `rel` for download: the file and its size.
    pub fn open_file(&self, rel: &RelPath) -> Result<(std::fs::File, u64), FilesError> {
        let file = self.dir.open(rel.as_path()).map_err(|e| FilesError::io("open", rel.as_str(), e))?;
        let meta = file.metadata().map_err(|e| FilesError::io("open", rel.as_str(), e))?;
        if meta.is_dir() {
            return Err(FilesError::IsFolder(rel.as_str().to_owned()));
        }
        Ok((file.into_std(), meta.len()))
    }

    /// Checks that `rel` is a folder inside the project (for a download's name before it streams).
    pub fn check_folder(&self, rel: &RelPath) -> Result<(), FilesError> {
        self.folder(rel).map(drop)
    }
}

/// Writes `content` to a fresh temporary file in `dir` and renames it over `name`.
pub(crate) fn write_atomically(
    dir: &Dir,
    name: &str,
    path: &str,
    content: &[u8],
    permissions: Option<cap_std::fs::Permissions>,
) -> Result<(), FilesError> {
    let tmp = temp_name(name);
    let written = (|| {
        let mut file = dir.open_with(&tmp, OpenOptions::new().write(true).create_new(true))?;
        file.write_all(content)?;
        if let Some(permissions) = permissions {
            file.set_permissions(permissions)?;
        }
        file.sync_all()?;
        dir.rename(&tmp, dir, name)
    })();
    written.map_err(|e| {
        let _ = dir.remove_file(&tmp);
        FilesError::io("save", path, e)
    })
}

/// A hidden temporary name beside `name` that no one else picks.
pub(crate) fn temp_name(name: &str) -> String {
    let stem: String = name.chars().take(64).collect();
    format!(".{stem}.opcode-{}.tmp", uuid::Uuid::new_v4().simple())
}
