//! A project's `CLAUDE.md` memory files (and `CLAUDE.local.md`), and the user's `CLAUDE.md` in the Claude
//! folder: found, read, and written in place (they are plain Markdown; claude reads them as they are).
//!
//! Guarantees:
//! - **Confinement.** A project file is named by a path relative to the project (canonical, already
//!   checked against the allowed roots). [`confined`] is the one place that decides whether such a path may
//!   be touched: only `Normal` components (no `..`, no root, no absolute path), a file name of `CLAUDE.md`
//!   or `CLAUDE.local.md`, an existing folder that resolves inside the project, and, when the file exists,
//!   a file that resolves inside the project (a symlink leading out is refused). Nothing is written when a
//!   check fails.
//! - **No silent overwrite.** Every read returns a `version` (a fingerprint of the bytes, or of "no file");
//!   a write must name the version it edits and is refused with [`ClaudeMdError::Changed`] when the file
//!   changed on disk since. A write of a file that does not exist yet (version of "no file") creates it.
//! - **Atomic writes.** A temporary file in the same folder, then a rename: never a half-written file.
//! - **Bounded.** The walk that finds files honours `.gitignore`/`.ignore`, skips `.git` and
//!   `node_modules`, follows no symlink, goes at most [`MAX_DEPTH`] folders deep, looks at most at
//!   [`MAX_VISITED`] entries and returns at most [`MAX_FILES`] files; files are read up to
//!   [`MAX_FILE_BYTES`].
//!
//! Blocking file I/O: call from a blocking context.

use std::path::{Component, Path, PathBuf};

use serde::Serialize;

/// Largest memory file read or written.
pub const MAX_FILE_BYTES: usize = 512 * 1024;
/// How deep the project is walked.
pub const MAX_DEPTH: usize = 8;
/// Entries looked at per walk, at most.
pub const MAX_VISITED: usize = 50_000;
/// Files returned per walk, at most.
pub const MAX_FILES: usize = 200;
/// The file names that are memory files.
pub const NAMES: [&str; 2] = ["CLAUDE.md", "CLAUDE.local.md"];

/// Whose file it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MdScope {
    /// The user's `CLAUDE.md` in the Claude folder: claude reads it in every project.
    User,
    /// A file inside the project.
    Project,
}

/// Which file a request names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MdTarget {
    /// The user's `CLAUDE.md` in the Claude folder.
    User,
    /// A file of the project, relative to it (`CLAUDE.md`, `src/CLAUDE.md`, `.claude/CLAUDE.md`).
    Project(String),
}

/// A memory file found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MdFile {
    /// User or project.
    pub scope: MdScope,
    /// Relative to the project (`/` separated); `CLAUDE.md` for the user's file.
    pub path: String,
    /// Where it is on disk.
    pub absolute: PathBuf,
    /// Whether it exists (the user's file and the project's top `CLAUDE.md` are listed even when absent).
    pub exists: bool,
    /// Its size in bytes (0 when absent).
    pub size: u64,
}

/// A memory file's content with the version a write must name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MdContent {
    /// Which file.
    #[serde(flatten)]
    pub file: MdFile,
    /// Its text (empty when it does not exist).
    pub content: String,
    /// A fingerprint of its bytes (or of its absence).
    pub version: String,
}

/// Why a memory file could not be found, read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClaudeMdError {
    /// The path is not a relative path to a `CLAUDE.md` or `CLAUDE.local.md`.
    #[error("{0:?} is not a memory file path: give a path relative to the project, without `..`, ending in CLAUDE.md or CLAUDE.local.md")]
    BadPath(String),
    /// The folder does not exist (files are created only in existing folders).
    #[error("the folder of {0:?} does not exist in the project")]
    NoFolder(String),
    /// The path leads out of the project (through a symlink).
    #[error("{0} leads out of the project (a symlink?): refused")]
    OutsideProject(PathBuf),
    /// The file changed since it was read.
    #[error("the file changed on disk since you opened it (claude or another device wrote it): reload it, then apply your edit again")]
    Changed,
    /// The file or the new content is too large.
    #[error("{0} is larger than {MAX_FILE_BYTES} bytes")]
    TooLarge(String),
    /// The file is not UTF-8 text.
    #[error("{0} is not UTF-8 text")]
    NotText(PathBuf),
    /// Reading or writing failed.
    #[error("{action} {path} failed")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> ClaudeMdError + 'a {
    move |source| ClaudeMdError::Io { action, path: path.to_path_buf(), source }
}

/// The version of a file's bytes (`None`: no file), as the permission rules use it.
pub(crate) fn version_of(bytes: Option<&[u8]>) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

/// The components of `relative` if it is a plain relative path (only `Normal` components, no NUL).
pub fn plain_relative(relative: &str) -> Option<Vec<&str>> {
    if relative.is_empty() || relative.contains('\0') || relative.contains('\\') {
        return None;
    }
    let path = Path::new(relative);
    let mut parts = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => parts.push(part.to_str()?),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!parts.is_empty()).then_some(parts)
}

/// Where `relative` really is inside `project` (canonical), or why it may not be touched: see the module
/// documentation. The one confinement check of this module.
pub fn confined(project: &Path, relative: &str) -> Result<PathBuf, ClaudeMdError> {
    let bad = || ClaudeMdError::BadPath(relative.to_owned());
    let parts = plain_relative(relative).ok_or_else(bad)?;
    let name = *parts.last().ok_or_else(bad)?;
    if !NAMES.contains(&name) {
        return Err(bad());
    }
    let joined = parts.iter().fold(project.to_path_buf(), |path, part| path.join(part));
    let folder = joined.parent().expect("a joined path has a parent");
    let real_folder = std::fs::canonicalize(folder).map_err(|_| ClaudeMdError::NoFolder(relative.to_owned()))?;
    if !real_folder.starts_with(project) || !real_folder.is_dir() {
        return Err(ClaudeMdError::OutsideProject(joined));
    }
    let file = real_folder.join(name);
    match std::fs::symlink_metadata(&file) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(file),
        Err(e) => Err(io("inspect", &file)(e)),
        Ok(_) => match std::fs::canonicalize(&file) {
            Ok(real) if real.starts_with(project) && real.is_file() => Ok(real),
            _ => Err(ClaudeMdError::OutsideProject(joined)),
        },
    }
}

fn relative_name(project: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(project).unwrap_or(path);
    relative.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

fn described(scope: MdScope, path: String, absolute: PathBuf) -> MdFile {
    let meta = std::fs::metadata(&absolute).ok().filter(|m| m.is_file());
    MdFile { scope, path, exists: meta.is_some(), size: meta.map_or(0, |m| m.len()), absolute }
}

/// The memory files: the user's (in `claude_dir`, listed even when absent), the project's top `CLAUDE.md`
/// (listed even when absent, so it can be created), then every other `CLAUDE.md` / `CLAUDE.local.md` of
/// `project` (canonical), shallowest first.
pub fn find(project: &Path, claude_dir: &Path) -> Vec<MdFile> {
    let mut files = vec![
        described(MdScope::User, "CLAUDE.md".to_owned(), claude_dir.join("CLAUDE.md")),
        described(MdScope::Project, "CLAUDE.md".to_owned(), project.join("CLAUDE.md")),
    ];
    let mut found = Vec::new();
    let walker = ignore::WalkBuilder::new(project)
        .hidden(false)
        .follow_links(false)
        .require_git(false)
        .max_depth(Some(MAX_DEPTH))
        .filter_entry(|entry| {
            let name = entry.file_name();
            !(entry.file_type().is_some_and(|t| t.is_dir()) && (name == ".git" || name == "node_modules"))
        })
        .build();
    for entry in walker.take(MAX_VISITED).filter_map(Result::ok) {
        if found.len() >= MAX_FILES {
            break;
        }
        let is_file = entry.file_type().is_some_and(|t| t.is_file());
        let name = entry.file_name().to_string_lossy();
        if is_file && NAMES.contains(&name.as_ref()) && entry.path() != project.join("CLAUDE.md") {
            found.push(entry.into_path());
        }
    }
    found.sort_by_key(|p| (p.components().count(), p.clone()));
    files.extend(found.into_iter().map(|p| described(MdScope::Project, relative_name(project, &p), p)));
    files
}

fn locate(project: Option<&Path>, claude_dir: &Path, target: &MdTarget) -> Result<MdFile, ClaudeMdError> {
    match (target, project) {
        (MdTarget::User, _) => Ok(described(MdScope::User, "CLAUDE.md".to_owned(), claude_dir.join("CLAUDE.md"))),
        (MdTarget::Project(relative), Some(project)) => {
            let absolute = confined(project, relative)?;
            Ok(described(MdScope::Project, relative_name(project, &project.join(relative)), absolute))
        }
        (MdTarget::Project(relative), None) => Err(ClaudeMdError::BadPath(relative.clone())),
    }
}

fn read_bytes(file: &Path) -> Result<Option<Vec<u8>>, ClaudeMdError> {
    match std::fs::metadata(file) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io("read", file)(e)),
        Ok(meta) if meta.len() > MAX_FILE_BYTES as u64 => Err(ClaudeMdError::TooLarge(file.display().to_string())),
        Ok(_) => std::fs::read(file).map(Some).map_err(io("read", file)),
    }
}

/// The content of `target` (a project file needs `project`, canonical). A file that does not exist
/// reads as empty, with the version a write that creates it must name.
pub fn read(project: Option<&Path>, claude_dir: &Path, target: &MdTarget) -> Result<MdContent, ClaudeMdError> {
    let file = locate(project, claude_dir, target)?;
    let bytes = read_bytes(&file.absolute)?;
    let content = match &bytes {
        None => String::new(),
        Some(bytes) => String::from_utf8(bytes.clone()).map_err(|_| ClaudeMdError::NotText(file.absolute.clone()))?,
    };
    Ok(MdContent { version: version_of(bytes.as_deref()), content, file })
}

/// Writes `content` to `target` if it is still at `version` (see the module documentation); returns what
/// is now on disk. The user's file's folder is created when missing; a project file's folder must exist.
pub fn write(
    project: Option<&Path>,
    claude_dir: &Path,
    target: &MdTarget,
    content: &str,
    version: &str,
) -> Result<MdContent, ClaudeMdError> {
    if content.len() > MAX_FILE_BYTES {
        return Err(ClaudeMdError::TooLarge("the new content".to_owned()));
    }
    let file = locate(project, claude_dir, target)?;
    let bytes = read_bytes(&file.absolute)?;
    if version_of(bytes.as_deref()) != version {
        return Err(ClaudeMdError::Changed);
    }
    let dir = file.absolute.parent().expect("a memory file has a folder").to_path_buf();
    if *target == MdTarget::User {
        std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
    }
    let mut temp = tempfile::NamedTempFile::new_in(&dir).map_err(io("create a temporary file in", &dir))?;
    std::io::Write::write_all(&mut temp, content.as_bytes()).map_err(io("write", &file.absolute))?;
    if let Ok(meta) = std::fs::metadata(&file.absolute) {
        // keep the file's mode (a rename would give it the temporary file's 0600)
        let _ = std::fs::set_permissions(temp.path(), meta.permissions());
    } else {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(temp.path(), std::fs::Permissions::from_mode(0o644));
    }
    temp.persist(&file.absolute).map_err(|e| io("replace", &file.absolute)(e.error))?;
    read(project, claude_dir, target)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dirs() -> (tempfile::TempDir, PathBuf, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let project = std::fs::canonicalize(dir.path()).unwrap();
        (dir, project, tempfile::tempdir().unwrap())
    }

    #[test]
    fn finds_every_memory_file_and_honours_gitignore() {
        let (_d, project, claude) = dirs();
        for dir in ["src/deep", ".claude", "node_modules/x", "ignored"] {
            std::fs::create_dir_all(project.join(dir)).unwrap();
        }
        for file in [
            "src/CLAUDE.md",
            "src/deep/CLAUDE.local.md",
            ".claude/CLAUDE.md",
            "node_modules/x/CLAUDE.md",
            "ignored/CLAUDE.md",
        ] {
            std::fs::write(project.join(file), "x").unwrap();
        }
        std::fs::write(project.join(".gitignore"), "ignored/\n").unwrap();
        let files = find(&project, claude.path());
        let names: Vec<_> = files.iter().map(|f| (f.scope, f.path.as_str(), f.exists)).collect();
        assert_eq!(
            names,
            [
                (MdScope::User, "CLAUDE.md", false),
                (MdScope::Project, "CLAUDE.md", false),
                (MdScope::Project, ".claude/CLAUDE.md", true),
                (MdScope::Project, "src/CLAUDE.md", true),
                (MdScope::Project, "src/deep/CLAUDE.local.md", true),
            ]
        );
    }

    #[test]
    fn reads_creates_and_refuses_a_stale_write() {
        let (_d, project, claude) = dirs();
        let target = MdTarget::Project("CLAUDE.md".into());
        let empty = read(Some(&project), claude.path(), &target).unwrap();
        assert!(!empty.file.exists && empty.content.is_empty());
        let written = write(Some(&project), claude.path(), &target, "# Rules\n", &empty.version).unwrap();
        assert_eq!(std::fs::read_to_string(project.join("CLAUDE.md")).unwrap(), "# Rules\n");
        assert!(written.file.exists);
        std::fs::write(project.join("CLAUDE.md"), "changed by claude\n").unwrap();
        let stale = write(Some(&project), claude.path(), &target, "mine\n", &written.version);
        assert!(matches!(stale, Err(ClaudeMdError::Changed)));
        assert_eq!(std::fs::read_to_string(project.join("CLAUDE.md")).unwrap(), "changed by claude\n");
        let user = read(None, claude.path(), &MdTarget::User).unwrap();
        write(None, claude.path(), &MdTarget::User, "Be brief.\n", &user.version).unwrap();
        assert_eq!(std::fs::read_to_string(claude.path().join("CLAUDE.md")).unwrap(), "Be brief.\n");
    }

    #[test]
    fn paths_that_escape_or_are_not_memory_files_are_refused() {
        let (_d, project, claude) = dirs();
        let (_o, outside, _c) = dirs();
        std::fs::write(outside.join("CLAUDE.md"), "outside").unwrap();
        std::os::unix::fs::symlink(&outside, project.join("link")).unwrap();
        std::os::unix::fs::symlink(outside.join("CLAUDE.md"), project.join("CLAUDE.local.md")).unwrap();
        let outside_abs = format!("{}/CLAUDE.md", outside.display());
        for bad in ["../CLAUDE.md", "a/../../CLAUDE.md", &outside_abs, "notes.md", "", "src\\CLAUDE.md"] {
            let err = confined(&project, bad).unwrap_err();
            assert!(matches!(err, ClaudeMdError::BadPath(_)), "{bad:?}: {err}");
        }
        for escaping in ["link/CLAUDE.md", "CLAUDE.local.md"] {
            let err = confined(&project, escaping).unwrap_err();
            assert!(matches!(err, ClaudeMdError::OutsideProject(_)), "{escaping:?}: {err}");
            let target = MdTarget::Project(escaping.into());
            let version = version_of(Some(b"outside"));
            assert!(write(Some(&project), claude.path(), &target, "pwned", &version).is_err());
        }
        assert!(matches!(confined(&project, "missing/CLAUDE.md"), Err(ClaudeMdError::NoFolder(_))));
        assert_eq!(std::fs::read_to_string(outside.join("CLAUDE.md")).unwrap(), "outside");
    }
}
