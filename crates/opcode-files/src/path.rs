//! [`RelPath`]: a path inside the project as the client names it, checked as text before anything opens it.

use std::path::{Path, PathBuf};

use crate::FilesError;

/// Longest name of one path component, in bytes (Linux `NAME_MAX`).
const MAX_NAME: usize = 255;
/// Longest relative path, in bytes (Linux `PATH_MAX`).
const MAX_PATH: usize = 4096;

/// A relative path made only of normal names: no NUL byte, no `..`, not absolute, every name at most 255
/// bytes and the whole at most 4096. `""` or `"."` is the project folder itself. Holding one does not mean
/// the path stays inside the project once symlinks are followed: [`crate::ProjectRoot`] resolves it beneath
/// its handle for that.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelPath {
    text: String,
}

impl RelPath {
    /// Checks `text` (`a/b/c.txt`, `/`-separated; `.` components and repeated or trailing `/` are dropped).
    pub fn new(text: &str) -> Result<RelPath, FilesError> {
        let bad = |reason| Err(FilesError::BadPath { path: text.chars().take(200).collect(), reason });
        if text.contains('\0') {
            return bad("it contains a NUL byte");
        }
        if text.len() > MAX_PATH {
            return bad("it is longer than 4096 bytes");
        }
        if text.starts_with('/') {
            return bad("it is absolute; give a path relative to the project folder");
        }
        let mut names = Vec::new();
        for name in text.split('/') {
            match name {
                "" | "." => {}
                ".." => return bad("it contains `..`; paths stay inside the project"),
                name if name.len() > MAX_NAME => return bad("a name in it is longer than 255 bytes"),
                name => names.push(name),
            }
        }
        Ok(RelPath { text: names.join("/") })
    }

    /// Checks `name` as a single name to create inside a folder (no `/`).
    pub fn name(name: &str) -> Result<&str, FilesError> {
        let bad = |reason| Err(FilesError::BadPath { path: name.chars().take(200).collect(), reason });
        if name.contains('/') {
            return bad("a file name cannot contain `/`");
        }
        match RelPath::new(name)?.text.as_str() {
            "" => bad("the name is empty"),
            _ => Ok(name),
        }
    }

    /// The normalised text (`""` for the project folder).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True for the project folder itself.
    pub fn is_root(&self) -> bool {
        self.text.is_empty()
    }

    /// The path for cap-std (`.` for the project folder).
    pub(crate) fn as_path(&self) -> &Path {
        if self.text.is_empty() {
            Path::new(".")
        } else {
            Path::new(&self.text)
        }
    }

    /// The folder holding this path and the last name; `None` for the project folder.
    pub(crate) fn split(&self) -> Option<(RelPath, &str)> {
        if self.text.is_empty() {
            return None;
        }
        Some(match self.text.rsplit_once('/') {
            Some((parent, name)) => (RelPath { text: parent.to_owned() }, name),
            None => (RelPath { text: String::new() }, self.text.as_str()),
        })
    }

    /// `self/name` (`name` already checked).
    pub(crate) fn join(&self, name: &str) -> RelPath {
        if self.text.is_empty() {
            RelPath { text: name.to_owned() }
        } else {
            RelPath { text: format!("{}/{name}", self.text) }
        }
    }

    /// The path beneath `root` on disk (for walkers, which only read; writes go through the handle).
    pub(crate) fn under(&self, root: &Path) -> PathBuf {
        if self.text.is_empty() {
            root.to_path_buf()
        } else {
            root.join(&self.text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: Result<&str, &str>) {
        match (RelPath::new(input), expect) {
            (Ok(p), Ok(want)) => assert_eq!(p.as_str(), want, "{input:?}"),
            (Err(e), Err(want)) => assert!(e.to_string().contains(want), "{input:?}: {e}"),
            (got, want) => panic!("{input:?}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn normal_paths_are_normalised() {
        check("", Ok(""));
        check(".", Ok(""));
        check("a/b.txt", Ok("a/b.txt"));
        check("./a//b/", Ok("a/b"));
        check("a\\b", Ok("a\\b"));
        check("..a/b..", Ok("..a/b.."));
    }

    #[test]
    fn escapes_and_bad_text_are_refused() {
        check("..", Err("`..`"));
        check("a/../../etc", Err("`..`"));
        check("/etc/passwd", Err("absolute"));
        check("a\0b", Err("NUL"));
        check(&"x".repeat(256), Err("longer than 255"));
        check(&"ab/".repeat(1400), Err("longer than 4096"));
    }

    #[test]
    fn single_names() {
        assert_eq!(RelPath::name("a.txt").unwrap(), "a.txt");
        assert!(RelPath::name("a/b").is_err());
        assert!(RelPath::name("").is_err());
        assert!(RelPath::name("..").is_err());
        assert!(RelPath::name(".").is_err());
    }

    #[test]
    fn split_and_join() {
        let p = RelPath::new("a/b/c").unwrap();
        let (parent, name) = p.split().unwrap();
        assert_eq!((parent.as_str(), name), ("a/b", "c"));
        assert_eq!(parent.join(name), p);
        assert!(RelPath::new("").unwrap().split().is_none());
        let top = RelPath::new("top").unwrap();
        let (parent, name) = top.split().unwrap();
        assert_eq!((parent.as_str(), name), ("", "top"));
    }
}
