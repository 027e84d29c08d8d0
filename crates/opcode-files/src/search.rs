//! Fuzzy search by name across the project: the `ignore` crate walks (in parallel, symlinks not
//! followed, `.git` pruned), `nucleo-matcher` ranks the relative paths.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use ignore::{WalkBuilder, WalkState};
use nucleo_matcher::pattern::{CaseMatching, Normalization, Pattern};
use nucleo_matcher::{Config, Matcher};
use serde::Serialize;

use crate::{FilesError, ProjectRoot};

/// Most paths one search looks at (bounds its memory on a huge tree); the result says when it stopped.
pub const MAX_SCANNED: usize = 1_000_000;

/// One file that matches.
#[derive(Debug, Clone, Serialize)]
pub struct SearchHit {
    /// Relative to the project.
    pub path: String,
    /// The matcher's score (higher is better).
    pub score: u32,
}

/// The best matches, best first.
#[derive(Debug, Clone, Serialize)]
pub struct SearchResult {
    /// At most the limit asked for.
    pub hits: Vec<SearchHit>,
    /// How many files were looked at.
    pub scanned: usize,
    /// True when the walk stopped at [`MAX_SCANNED`].
    pub truncated: bool,
}

/// A walker over `path` with our rules: dotfiles shown, `.git` pruned, symlinks not followed, and ignore
/// files (`.gitignore` even outside a git repository, `.ignore`, git's excludes) applied unless `all`.
pub(crate) fn walker(path: &Path, all: bool) -> WalkBuilder {
    let mut builder = WalkBuilder::new(path);
    builder
        .hidden(false)
        .follow_links(false)
        .require_git(false)
        .git_ignore(!all)
        .git_global(!all)
        .git_exclude(!all)
        .ignore(!all)
        .parents(!all)
        .filter_entry(|e| e.file_name() != ".git");
    builder
}

impl ProjectRoot {
    /// The files whose relative path best matches `query` (fuzzy, smart case), at most `limit`, best first.
    /// Ignored files are searched only when `include_ignored`.
    pub fn search(&self, query: &str, limit: usize, include_ignored: bool) -> Result<SearchResult, FilesError> {
        if query.contains('\0') {
            return Err(FilesError::BadPath {
                path: query.replace('\0', "\\0"),
                reason: "the query contains a NUL byte",
            });
        }
        let root = self.path().to_path_buf();
        let found = Mutex::new(Vec::new());
        let scanned = AtomicUsize::new(0);
        walker(&root, include_ignored).threads(2).build_parallel().run(|| {
            let root = &root;
            let found = &found;
            let scanned = &scanned;
            Box::new(move |entry| {
                let Ok(entry) = entry else { return WalkState::Continue };
                if !entry.file_type().is_some_and(|t| t.is_file() || t.is_symlink()) {
                    return WalkState::Continue;
                }
                if scanned.fetch_add(1, Ordering::Relaxed) >= MAX_SCANNED {
                    return WalkState::Quit;
                }
                if let Some(rel) = entry.path().strip_prefix(root).ok().and_then(|p| p.to_str()) {
                    found.lock().unwrap_or_else(|e| e.into_inner()).push(rel.to_owned());
                }
                WalkState::Continue
            })
        });
        let paths = found.into_inner().unwrap_or_else(|e| e.into_inner());
        let scanned_count = scanned.into_inner();
        let pattern = Pattern::parse(query, CaseMatching::Smart, Normalization::Smart);
        let mut matcher = Matcher::new(Config::DEFAULT.match_paths());
        let mut ranked = pattern.match_list(paths.iter(), &mut matcher);
        // equal scores: shorter paths, then by name, so results are stable
        ranked.sort_by(|(a, sa), (b, sb)| sb.cmp(sa).then(a.len().cmp(&b.len())).then(a.cmp(b)));
        let hits =
            ranked.into_iter().take(limit).map(|(path, score)| SearchHit { path: path.clone(), score }).collect();
        Ok(SearchResult { hits, scanned: scanned_count.min(MAX_SCANNED), truncated: scanned_count > MAX_SCANNED })
    }
}
