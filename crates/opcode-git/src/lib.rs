//! The git CLI as a library: status, diffs, stage/unstage, commit, discard, branches, `init`, and
//! snapshots of a working tree for "what did this turn change".
//!
//! Every git child is spawned through `opcode-proc`'s [`ProcessSupervisor`] ([`run_to_completion`]), with
//! a clean environment: `GIT_TERMINAL_PROMPT=0` (never waits for a password), no pager, no editor,
//! `LC_ALL=C` (git's messages are matched in English), `GIT_OPTIONAL_LOCKS=0` (a status never takes the
//! index lock from under claude's own git), `GIT_LITERAL_PATHSPECS=1`, `-c core.quotepath=off`, and the
//! `GIT_DIR`-style variables of the server's own environment removed. Output that names files is read in
//! `-z` form. A user's path is a checked [`RepoPath`] and always follows `--`.
//!
//! **Snapshot invariant:** [`Git::snapshot`] never touches the user's index, HEAD or working tree: it
//! stages everything into a *temporary* index (`GIT_INDEX_FILE`, seeded from a copy of the real index so
//! unchanged files are not re-hashed), writes its tree, and keeps that tree alive from `git gc` with a ref
//! under `refs/opcode/snapshots/` (a parentless commit of the tree: refs to bare trees upset
//! `git log --all`). `git add -A` honours `.gitignore`; ignored files are not in a snapshot.

#![warn(missing_docs)]

mod error;
mod path;
mod status;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use opcode_proc::{run_to_completion, Completed, CompletionLimits, ProcessSpec, ProcessSupervisor};
use serde::Serialize;

pub use error::GitError;
pub use path::{RepoPath, MAX_PATH_BYTES};
pub use status::{parse_porcelain_v2, ChangeKind, FileChange, Status};

/// Largest diff returned; longer ones are cut and marked truncated.
pub const MAX_DIFF_BYTES: usize = 2 * 1024 * 1024;

/// Longest commit message accepted, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// Variables of the server's environment that would point git somewhere else.
const ENV_REMOVED: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
    "GIT_COMMON_DIR",
    "GIT_CEILING_DIRECTORIES",
    "GIT_EXTERNAL_DIFF",
];

/// A repository found from a folder: its top level (where every [`RepoPath`] is relative to).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    /// The working tree's top level.
    pub top: PathBuf,
}

/// A file's diff, unified, as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileDiff {
    /// The file.
    pub path: String,
    /// Staged (index against HEAD) or working (working tree against index).
    pub staged: bool,
    /// The unified diff (`git diff` output, no colour); empty when there is no change.
    pub diff: String,
    /// True when the diff was longer than [`MAX_DIFF_BYTES`] and was cut.
    pub truncated: bool,
}

/// A local branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Branch {
    /// Its short name.
    pub name: String,
    /// Whether it is checked out.
    pub current: bool,
    /// Its upstream's short name, if any.
    pub upstream: Option<String>,
    /// The abbreviated commit it points at.
    pub commit: String,
}

/// A commit just made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommitInfo {
    /// Its full id.
    pub commit: String,
    /// The branch it is on, if any.
    pub branch: Option<String>,
}

/// One file changed between two snapshots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TreeChange {
    /// The path (the new path of a rename).
    pub path: String,
    /// The path it was renamed from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orig_path: Option<String>,
    /// What happened.
    pub kind: ChangeKind,
}

/// The changes between two snapshots: the files and the unified diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TreeDiff {
    /// The files that changed.
    pub files: Vec<TreeChange>,
    /// The unified diff of them all.
    pub diff: String,
    /// True when the diff was longer than [`MAX_DIFF_BYTES`] and was cut.
    pub truncated: bool,
}

/// Runs git. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Git {
    supervisor: Arc<dyn ProcessSupervisor>,
    program: PathBuf,
    timeout: Duration,
}

/// What a git run is: its subcommand name (for errors), argv after the global options, extra env.
struct Call<'a> {
    name: &'static str,
    args: Vec<OsString>,
    env: Vec<(&'a str, OsString)>,
    max_stdout: usize,
}

impl<'a> Call<'a> {
    fn new<I, S>(name: &'static str, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        Call { name, args: args.into_iter().map(Into::into).collect(), env: Vec::new(), max_stdout: 64 * 1024 * 1024 }
    }

    fn paths(mut self, paths: &[RepoPath]) -> Self {
        self.args.push("--".into());
        self.args.extend(paths.iter().map(|p| OsString::from(p.as_str())));
        self
    }

    fn env(mut self, key: &'a str, value: impl Into<OsString>) -> Self {
        self.env.push((key, value.into()));
        self
    }
}

impl Git {
    /// Runs the `git` found in `PATH` through `supervisor`.
    pub fn new(supervisor: Arc<dyn ProcessSupervisor>) -> Self {
        Git { supervisor, program: PathBuf::from("git"), timeout: Duration::from_secs(120) }
    }

    /// Uses `program` instead of `git` from `PATH`.
    pub fn with_program(mut self, program: impl Into<PathBuf>) -> Self {
        self.program = program.into();
        self
    }

    fn spec(&self, dir: &Path, call: &Call<'_>) -> ProcessSpec {
        let mut spec = ProcessSpec::new(&self.program)
            .cwd(dir)
            .args(["--no-pager", "-c", "core.quotepath=off", "-c", "color.ui=false", "-c", "core.fsmonitor=false"])
            .args(call.args.iter().cloned())
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_PAGER", "cat")
            .env("PAGER", "cat")
            .env("GIT_EDITOR", "true")
            .env("GIT_OPTIONAL_LOCKS", "0")
            .env("GIT_LITERAL_PATHSPECS", "1")
            .env("LC_ALL", "C")
            .env("LANGUAGE", "C");
        for key in ENV_REMOVED {
            spec = spec.env_remove(key);
        }
        for (key, value) in &call.env {
            spec = spec.env(key, value.clone());
        }
        spec
    }

    /// Runs `call` in `dir`; any exit is returned (the caller reads the status).
    async fn run_any(&self, dir: &Path, call: &Call<'_>) -> Result<Completed, GitError> {
        let limits = CompletionLimits { max_stdout: call.max_stdout, max_stderr: 64 * 1024, timeout: self.timeout };
        let done = run_to_completion(self.supervisor.as_ref(), self.spec(dir, call), limits).await?;
        tracing::debug!(command = call.name, status = %done.status, "git ran");
        Ok(done)
    }

    /// Runs `call` in `dir`; a non-zero exit is [`GitError::Failed`] (or `NotARepository`).
    async fn run(&self, dir: &Path, call: Call<'_>) -> Result<Completed, GitError> {
        let done = self.run_any(dir, &call).await?;
        if done.status.success() {
            return Ok(done);
        }
        Err(failure(dir, call.name, &done))
    }

    /// The repository `dir` is in.
    pub async fn repo(&self, dir: &Path) -> Result<Repo, GitError> {
        let done = self.run(dir, Call::new("rev-parse", ["rev-parse", "--show-toplevel"])).await?;
        let top = String::from_utf8_lossy(&done.stdout).trim_end_matches('\n').to_owned();
        if top.is_empty() {
            // a bare repository or a .git folder has no working tree
            return Err(GitError::NotARepository { dir: dir.to_path_buf() });
        }
        Ok(Repo { top: PathBuf::from(top) })
    }

    /// The working tree's status (branch, ahead/behind, staged, unstaged, untracked, conflicted files).
    #[tracing::instrument(skip(self), level = "debug")]
    pub async fn status(&self, dir: &Path) -> Result<Status, GitError> {
        let repo = self.repo(dir).await?;
        let call = Call::new("status", ["status", "--porcelain=v2", "-z", "--branch", "--untracked-files=all"]);
        let done = self.run(&repo.top, call).await?;
        Ok(parse_porcelain_v2(&done.stdout))
    }

    /// The unified diff of `path`: staged (index against HEAD) or working (working tree against index;
    /// an untracked file is shown as wholly added).
    pub async fn diff_file(&self, dir: &Path, path: &RepoPath, staged: bool) -> Result<FileDiff, GitError> {
        let repo = self.repo(dir).await?;
        let mut args = vec!["diff", "--no-color", "--no-ext-diff", "--no-textconv"];
        if staged {
            args.push("--cached");
        }
        let call = Call { max_stdout: MAX_DIFF_BYTES, ..Call::new("diff", args).paths(std::slice::from_ref(path)) };
        let mut done = self.run(&repo.top, call).await?;
        if done.stdout.is_empty() && !staged && self.is_untracked(&repo, path).await? {
            let args = ["diff", "--no-color", "--no-ext-diff", "--no-index", "--", "/dev/null", path.as_str()];
            let call = Call { max_stdout: MAX_DIFF_BYTES, ..Call::new("diff", args) };
            // --no-index exits 1 when the files differ
            done = self.run_any(&repo.top, &call).await?;
            if done.status.code != Some(1) && !done.status.success() {
                return Err(failure(&repo.top, "diff", &done));
            }
        }
        Ok(FileDiff {
            path: path.to_string(),
            staged,
            diff: String::from_utf8_lossy(&done.stdout).into_owned(),
            truncated: done.stdout_truncated,
        })
    }

    async fn is_untracked(&self, repo: &Repo, path: &RepoPath) -> Result<bool, GitError> {
        let call = Call::new("status", ["status", "--porcelain=v2", "-z", "--untracked-files=all"])
            .paths(std::slice::from_ref(path));
        let done = self.run(&repo.top, call).await?;
        Ok(parse_porcelain_v2(&done.stdout).untracked.iter().any(|p| p == path.as_str()))
    }

    /// Stages `paths` (new, changed and deleted files alike).
    pub async fn stage(&self, dir: &Path, paths: &[RepoPath]) -> Result<(), GitError> {
        let repo = self.repo(dir).await?;
        self.run(&repo.top, Call::new("add", ["add", "-A"]).paths(paths)).await?;
        Ok(())
    }

    /// Unstages `paths`: the index goes back to HEAD for them (to nothing before the first commit); the
    /// working tree is untouched.
    pub async fn unstage(&self, dir: &Path, paths: &[RepoPath]) -> Result<(), GitError> {
        let repo = self.repo(dir).await?;
        let call = if self.head(&repo).await?.is_some() {
            Call::new("restore", ["restore", "--staged"])
        } else {
            Call::new("rm", ["rm", "--cached", "-r", "-q", "--ignore-unmatch"])
        };
        self.run(&repo.top, call.paths(paths)).await?;
        Ok(())
    }

    async fn head(&self, repo: &Repo) -> Result<Option<String>, GitError> {
        let done = self.run_any(&repo.top, &Call::new("rev-parse", ["rev-parse", "-q", "--verify", "HEAD"])).await?;
        Ok(done.status.success().then(|| String::from_utf8_lossy(&done.stdout).trim().to_owned()))
    }

    /// Commits what is staged with `message`. Refuses an empty message, an empty index
    /// ([`GitError::NothingStaged`]) and an unknown identity ([`GitError::NoIdentity`]) before git runs.
    pub async fn commit(&self, dir: &Path, message: &str) -> Result<CommitInfo, GitError> {
        if message.trim().is_empty() {
            return Err(GitError::EmptyMessage);
        }
        if message.len() > MAX_MESSAGE_BYTES || message.contains('\0') {
            return Err(GitError::Failed {
                command: "commit",
                stderr: format!("the message must be text of at most {MAX_MESSAGE_BYTES} bytes"),
            });
        }
        let repo = self.repo(dir).await?;
        let staged = self.run_any(&repo.top, &Call::new("diff", ["diff", "--cached", "--quiet"])).await?;
        if staged.status.success() {
            return Err(GitError::NothingStaged);
        }
        let ident = self.run_any(&repo.top, &Call::new("var", ["var", "GIT_COMMITTER_IDENT"])).await?;
        if !ident.status.success() {
            return Err(GitError::NoIdentity { stderr: ident.stderr_text() });
        }
        let mut message_arg = OsString::from("--message=");
        message_arg.push(message);
        let done =
            self.run_any(&repo.top, &Call::new("commit", [OsString::from("commit"), "-q".into(), message_arg])).await?;
        if !done.status.success() {
            let said = done.stderr_text();
            if said.contains("Please tell me who you are") || said.contains("empty ident") {
                return Err(GitError::NoIdentity { stderr: said });
            }
            return Err(failure(&repo.top, "commit", &done));
        }
        let status = self.status(&repo.top).await?;
        Ok(CommitInfo { commit: status.head.unwrap_or_default(), branch: status.branch })
    }

    /// Discards the working-tree changes of `path`: a tracked file is restored from the index (`git
    /// restore`); an untracked file is deleted. Anything else is [`GitError::NothingToDiscard`].
    pub async fn discard(&self, dir: &Path, path: &RepoPath) -> Result<(), GitError> {
        let repo = self.repo(dir).await?;
        let call = Call::new("status", ["status", "--porcelain=v2", "-z", "--untracked-files=all"])
            .paths(std::slice::from_ref(path));
        let status = parse_porcelain_v2(&self.run(&repo.top, call).await?.stdout);
        if status.untracked.iter().any(|p| p == path.as_str()) {
            let file = repo.top.join(path.as_str());
            let top = repo.top.clone();
            return tokio::task::spawn_blocking(move || remove_inside(&top, &file))
                .await
                .map_err(|e| GitError::Io(std::io::Error::other(e)))?;
        }
        if status.unstaged.iter().any(|c| c.path == path.as_str()) {
            self.run(&repo.top, Call::new("restore", ["restore"]).paths(std::slice::from_ref(path))).await?;
            return Ok(());
        }
        Err(GitError::NothingToDiscard(path.to_string()))
    }

    /// The local branches, the current one marked.
    pub async fn branches(&self, dir: &Path) -> Result<Vec<Branch>, GitError> {
        let repo = self.repo(dir).await?;
        let format = "--format=%(refname:short)%00%(HEAD)%00%(upstream:short)%00%(objectname:short)";
        let call = Call::new("for-each-ref", ["for-each-ref", format, "refs/heads"]);
        let done = self.run(&repo.top, call).await?;
        let text = String::from_utf8_lossy(&done.stdout);
        Ok(text
            .lines()
            .filter_map(|line| {
                let mut f = line.split('\0');
                let (name, head, upstream, commit) = (f.next()?, f.next()?, f.next()?, f.next()?);
                Some(Branch {
                    name: name.to_owned(),
                    current: head == "*",
                    upstream: (!upstream.is_empty()).then(|| upstream.to_owned()),
                    commit: commit.to_owned(),
                })
            })
            .collect())
    }

    /// Switches to the local branch `name`. Refuses a name that is not a local branch; when git refuses
    /// because local changes would be overwritten, that is [`GitError::WouldOverwrite`].
    pub async fn switch(&self, dir: &Path, name: &str) -> Result<(), GitError> {
        if name.starts_with('-') || !self.branches(dir).await?.iter().any(|b| b.name == name) {
            return Err(GitError::UnknownBranch(name.to_owned()));
        }
        let repo = self.repo(dir).await?;
        let done = self.run_any(&repo.top, &Call::new("switch", ["switch", "--no-guess", "-q", name])).await?;
        if done.status.success() {
            return Ok(());
        }
        let said = done.stderr_text();
        if said.contains("would be overwritten") || said.contains("commit your changes or stash them") {
            return Err(GitError::WouldOverwrite { stderr: said });
        }
        Err(failure(&repo.top, "switch", &done))
    }

    /// Makes `dir` a new repository (`git init`). Refuses a folder already inside one.
    pub async fn init(&self, dir: &Path) -> Result<(), GitError> {
        match self.repo(dir).await {
            Ok(_) => return Err(GitError::AlreadyARepository { dir: dir.to_path_buf() }),
            Err(GitError::NotARepository { .. }) => {}
            Err(other) => return Err(other),
        }
        self.run(dir, Call::new("init", ["init", "-q"])).await?;
        Ok(())
    }

    /// Snapshots the working tree of the repository `dir` is in, as git would stage it all (`.gitignore`
    /// honoured), and returns the tree id. Never touches the user's index, HEAD or files (see the crate's
    /// snapshot invariant); the tree is kept from `gc` by a ref under `refs/opcode/snapshots/`.
    #[tracing::instrument(skip(self), level = "debug")]
    pub async fn snapshot(&self, dir: &Path) -> Result<String, GitError> {
        let repo = self.repo(dir).await?;
        let index = self.run(&repo.top, Call::new("rev-parse", ["rev-parse", "--git-path", "index"])).await?;
        let real_index = repo.top.join(String::from_utf8_lossy(&index.stdout).trim_end_matches('\n'));
        let temp = tempfile::Builder::new().prefix("opcode-snapshot-").tempdir()?;
        let temp_index = temp.path().join("index");
        {
            let (from, to) = (real_index.clone(), temp_index.clone());
            // seeding from the real index lets git skip re-hashing files whose stat data is unchanged
            tokio::task::spawn_blocking(move || match std::fs::copy(&from, &to) {
                Ok(_) => Ok(()),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(err) => Err(err),
            })
            .await
            .map_err(|e| GitError::Io(std::io::Error::other(e)))??;
        }
        let with_index = |call: Call<'static>| call.env("GIT_INDEX_FILE", temp_index.clone().into_os_string());
        self.run(&repo.top, with_index(Call::new("add", ["add", "-A", "--", "."]))).await?;
        let tree = self.run(&repo.top, with_index(Call::new("write-tree", ["write-tree"]))).await?;
        let tree = String::from_utf8_lossy(&tree.stdout).trim().to_owned();
        let commit = Call::new("commit-tree", ["commit-tree", tree.as_str(), "-m", "opcode snapshot"])
            .env("GIT_AUTHOR_NAME", "opcode")
            .env("GIT_AUTHOR_EMAIL", "opcode@localhost")
            .env("GIT_COMMITTER_NAME", "opcode")
            .env("GIT_COMMITTER_EMAIL", "opcode@localhost");
        let commit = self.run(&repo.top, commit).await?;
        let commit = String::from_utf8_lossy(&commit.stdout).trim().to_owned();
        let reference = format!("refs/opcode/snapshots/{tree}");
        self.run(&repo.top, Call::new("update-ref", ["update-ref", reference.as_str(), commit.as_str()])).await?;
        Ok(tree)
    }

    /// The changes from snapshot `before` to snapshot `after` (tree ids from [`Git::snapshot`]).
    pub async fn diff_trees(&self, dir: &Path, before: &str, after: &str) -> Result<TreeDiff, GitError> {
        for id in [before, after] {
            if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(GitError::Failed { command: "diff", stderr: format!("{id:?} is not a tree id") });
            }
        }
        let repo = self.repo(dir).await?;
        let names = Call::new("diff", ["diff", "--no-ext-diff", "-M", "--name-status", "-z", before, after]);
        let names = self.run(&repo.top, names).await?;
        let full = Call::new("diff", ["diff", "--no-color", "--no-ext-diff", "--no-textconv", "-M", before, after]);
        let full = self.run(&repo.top, Call { max_stdout: MAX_DIFF_BYTES, ..full }).await?;
        Ok(TreeDiff {
            files: parse_name_status(&names.stdout),
            diff: String::from_utf8_lossy(&full.stdout).into_owned(),
            truncated: full.stdout_truncated,
        })
    }
}

/// `git diff --name-status -z` → changes.
fn parse_name_status(out: &[u8]) -> Vec<TreeChange> {
    let mut fields = out.split(|b| *b == 0).map(|f| String::from_utf8_lossy(f).into_owned());
    let mut changes = Vec::new();
    while let Some(status) = fields.next() {
        let Some(kind) = status.bytes().next().and_then(ChangeKind::from_letter) else { continue };
        let first = fields.next().unwrap_or_default();
        let change = match kind {
            ChangeKind::Renamed | ChangeKind::Copied => {
                TreeChange { path: fields.next().unwrap_or_default(), orig_path: Some(first), kind }
            }
            _ => TreeChange { path: first, orig_path: None, kind },
        };
        changes.push(change);
    }
    changes
}

/// Deletes `file`, after checking that its real parent folder is inside `top` (no symlinked folder leads
/// out of the repository).
fn remove_inside(top: &Path, file: &Path) -> Result<(), GitError> {
    let top = top.canonicalize()?;
    let parent = file.parent().unwrap_or(file).canonicalize()?;
    if !parent.starts_with(&top) {
        return Err(GitError::BadPath { path: file.display().to_string(), reason: "leads outside the repository" });
    }
    std::fs::remove_file(parent.join(file.file_name().unwrap_or_default()))?;
    Ok(())
}

/// The error for a git run that exited non-zero.
fn failure(dir: &Path, command: &'static str, done: &Completed) -> GitError {
    let mut said = done.stderr_text();
    if said.contains("not a git repository") {
        return GitError::NotARepository { dir: dir.to_path_buf() };
    }
    if said.is_empty() {
        said = String::from_utf8_lossy(&done.stdout).trim().to_owned();
    }
    if said.is_empty() {
        said = format!("ended with {}", done.status);
    }
    GitError::Failed { command, stderr: said }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_status_reads_renames_and_plain_changes() {
        let changes = parse_name_status(b"M\0a.rs\0R100\0old.rs\0new.rs\0A\0b c.txt\0D\0gone\0");
        assert_eq!(changes.len(), 4);
        assert_eq!(
            changes[1],
            TreeChange { path: "new.rs".into(), orig_path: Some("old.rs".into()), kind: ChangeKind::Renamed }
        );
        assert_eq!(changes[2].path, "b c.txt");
        assert_eq!(changes[3].kind, ChangeKind::Deleted);
    }
}
