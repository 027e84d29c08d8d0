//! Paths a user names (to stage, diff, discard): checked before git sees them.
//!
//! A [`RepoPath`] is relative to the repository's top level, has no `..`, `.` or empty component, no NUL,
//! does not start with `-` or `:` (so neither an option nor pathspec magic), and does not reach into
//! `.git`. Git additionally runs with `GIT_LITERAL_PATHSPECS=1` and every path comes after `--`.

use crate::GitError;

/// Longest path accepted, in bytes.
pub const MAX_PATH_BYTES: usize = 4096;

/// A checked path relative to the repository's top level (always `/`-separated).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct RepoPath(String);

impl RepoPath {
    /// Checks `path`; see the module's rules.
    pub fn parse(path: &str) -> Result<RepoPath, GitError> {
        let bad = |reason| Err(GitError::BadPath { path: path.to_owned(), reason });
        if path.is_empty() {
            return bad("empty");
        }
        if path.len() > MAX_PATH_BYTES {
            return bad("too long");
        }
        if path.contains('\0') {
            return bad("contains a NUL byte");
        }
        if path.starts_with('/') || path.starts_with('\\') {
            return bad("absolute; give a path relative to the repository");
        }
        if path.starts_with('-') {
            return bad("starts with '-' and could be read as an option");
        }
        if path.starts_with(':') {
            return bad("starts with ':' (pathspec magic)");
        }
        for part in path.split('/') {
            match part {
                "" => return bad("has an empty component"),
                "." | ".." => return bad("has a '.' or '..' component and could leave the repository"),
                p if p.eq_ignore_ascii_case(".git") => return bad("reaches into .git"),
                _ => {}
            }
        }
        Ok(RepoPath(path.to_owned()))
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RepoPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_paths_pass() {
        for ok in ["a", "src/main.rs", "dir with space/ü.txt", "a/.gitignore", ".env"] {
            assert_eq!(RepoPath::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn dangerous_paths_are_refused() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a/./b",
            "a//b",
            "-x",
            "--force",
            ":(glob)*",
            ".git/config",
            "a\0b",
        ] {
            assert!(matches!(RepoPath::parse(bad), Err(GitError::BadPath { .. })), "{bad:?}");
        }
        assert!(RepoPath::parse(&"a".repeat(MAX_PATH_BYTES + 1)).is_err());
    }
}
