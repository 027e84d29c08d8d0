//! `git status --porcelain=v2 -z --branch` parsed into what a Git pane shows.

use serde::Serialize;

/// What happened to a file, on one side (index or working tree). Closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// New file.
    Added,
    /// Contents changed.
    Modified,
    /// Removed.
    Deleted,
    /// Moved (from `orig_path`).
    Renamed,
    /// Copied (from `orig_path`).
    Copied,
    /// File type changed (file ↔ symlink ↔ submodule).
    TypeChanged,
}

impl ChangeKind {
    /// The kind for a porcelain status letter; `None` for `.` (unchanged) and letters without a meaning here.
    pub fn from_letter(letter: u8) -> Option<ChangeKind> {
        Some(match letter {
            b'A' => ChangeKind::Added,
            b'M' => ChangeKind::Modified,
            b'D' => ChangeKind::Deleted,
            b'R' => ChangeKind::Renamed,
            b'C' => ChangeKind::Copied,
            b'T' => ChangeKind::TypeChanged,
            _ => return None,
        })
    }
}

/// One changed file on one side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileChange {
    /// Path relative to the repository's top level.
    pub path: String,
    /// The path it was renamed or copied from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orig_path: Option<String>,
    /// What happened.
    pub kind: ChangeKind,
}

/// The working tree's state: branch and files, grouped as a Git pane shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Status {
    /// The current branch; `None` when HEAD is detached.
    pub branch: Option<String>,
    /// The commit HEAD points at; `None` before the first commit.
    pub head: Option<String>,
    /// The upstream branch, if one is set.
    pub upstream: Option<String>,
    /// Commits ahead of the upstream.
    pub ahead: u32,
    /// Commits behind the upstream.
    pub behind: u32,
    /// Changes in the index (what a commit would record).
    pub staged: Vec<FileChange>,
    /// Changes in the working tree not staged.
    pub unstaged: Vec<FileChange>,
    /// Files git does not track (and does not ignore).
    pub untracked: Vec<String>,
    /// Files with merge conflicts.
    pub conflicted: Vec<String>,
}

impl Status {
    /// True when nothing is staged, changed, untracked or conflicted.
    pub fn is_clean(&self) -> bool {
        self.staged.is_empty() && self.unstaged.is_empty() && self.untracked.is_empty() && self.conflicted.is_empty()
    }
}

/// Parses porcelain v2 `-z` output (with `--branch`). Unknown record types are skipped (a newer git).
pub fn parse_porcelain_v2(out: &[u8]) -> Status {
    let mut status = Status::default();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let mut records = out.split(|b| *b == 0).filter(|r| !r.is_empty());
    while let Some(record) = records.next() {
        match record.first() {
            Some(b'#') => branch_header(&mut status, &text(record)),
            Some(b'1') => {
                // 1 XY sub mH mI mW hH hI path
                let fields: Vec<&[u8]> = record.splitn(9, |b| *b == b' ').collect();
                if let (Some(xy), Some(path)) = (fields.get(1), fields.get(8)) {
                    push_sides(&mut status, xy, text(path), None);
                }
            }
            Some(b'2') => {
                // 2 XY sub mH mI mW hH hI Xscore path NUL origPath
                let fields: Vec<&[u8]> = record.splitn(10, |b| *b == b' ').collect();
                let orig = records.next().map(text);
                if let (Some(xy), Some(path)) = (fields.get(1), fields.get(9)) {
                    push_sides(&mut status, xy, text(path), orig);
                }
            }
            Some(b'u') => {
                // u XY sub m1 m2 m3 mW h1 h2 h3 path
                let fields: Vec<&[u8]> = record.splitn(11, |b| *b == b' ').collect();
                if let Some(path) = fields.get(10) {
                    status.conflicted.push(text(path));
                }
            }
            Some(b'?') => status.untracked.push(text(record.get(2..).unwrap_or_default())),
            _ => {}
        }
    }
    status
}

fn branch_header(status: &mut Status, line: &str) {
    let mut words = line.split(' ').skip(1);
    match (words.next(), words.next()) {
        (Some("branch.oid"), Some(oid)) if oid != "(initial)" => status.head = Some(oid.to_owned()),
        (Some("branch.head"), Some(head)) if head != "(detached)" => status.branch = Some(head.to_owned()),
        (Some("branch.upstream"), Some(up)) => status.upstream = Some(up.to_owned()),
        (Some("branch.ab"), Some(ahead)) => {
            status.ahead = ahead.trim_start_matches('+').parse().unwrap_or(0);
            status.behind = words.next().map_or(0, |b| b.trim_start_matches('-').parse().unwrap_or(0));
        }
        _ => {}
    }
}

fn push_sides(status: &mut Status, xy: &[u8], path: String, orig_path: Option<String>) {
    let [x, y] = [xy.first().copied().unwrap_or(b'.'), xy.get(1).copied().unwrap_or(b'.')];
    if let Some(kind) = ChangeKind::from_letter(x) {
        status.staged.push(FileChange { path: path.clone(), orig_path: orig_path.clone(), kind });
    }
    if let Some(kind) = ChangeKind::from_letter(y) {
        // the working tree side of a rename is a plain change of the new path
        let (kind, orig_path) = match kind {
            ChangeKind::Renamed | ChangeKind::Copied => (ChangeKind::Modified, None),
            other => (other, orig_path.filter(|_| false)),
        };
        status.unstaged.push(FileChange { path, orig_path, kind });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_branch_files_renames_conflicts_and_untracked() {
        let out = b"# branch.oid 1234abcd\0# branch.head main\0# branch.upstream origin/main\0# branch.ab +2 -1\0\
1 M. N... 100644 100644 100644 aaa bbb staged.rs\0\
1 .M N... 100644 100644 100644 aaa aaa dir/changed file.rs\0\
1 MD N... 100644 100644 000000 aaa bbb both.rs\0\
2 R. N... 100644 100644 100644 aaa aaa R100 new name.rs\0old name.rs\0\
u UU N... 100644 100644 100644 100644 a b c conflict.rs\0\
? new\nline.txt\0";
        let s = parse_porcelain_v2(out);
        assert_eq!(s.branch.as_deref(), Some("main"));
        assert_eq!(s.head.as_deref(), Some("1234abcd"));
        assert_eq!(s.upstream.as_deref(), Some("origin/main"));
        assert_eq!((s.ahead, s.behind), (2, 1));
        let staged: Vec<_> = s.staged.iter().map(|c| (c.path.as_str(), c.kind)).collect();
        assert_eq!(
            staged,
            [
                ("staged.rs", ChangeKind::Modified),
                ("both.rs", ChangeKind::Modified),
                ("new name.rs", ChangeKind::Renamed)
            ]
        );
        assert_eq!(s.staged[2].orig_path.as_deref(), Some("old name.rs"));
        let unstaged: Vec<_> = s.unstaged.iter().map(|c| (c.path.as_str(), c.kind)).collect();
        assert_eq!(unstaged, [("dir/changed file.rs", ChangeKind::Modified), ("both.rs", ChangeKind::Deleted)]);
        assert_eq!(s.conflicted, ["conflict.rs"]);
        assert_eq!(s.untracked, ["new\nline.txt"]);
        assert!(!s.is_clean());
    }

    #[test]
    fn an_initial_detached_state_has_no_head_or_branch() {
        let s = parse_porcelain_v2(b"# branch.oid (initial)\0# branch.head (detached)\0");
        assert_eq!((s.head, s.branch), (None, None));
    }
}
