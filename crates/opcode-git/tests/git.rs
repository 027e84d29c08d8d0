//! The git operations against real repositories in temp dirs, through the real supervisor.

use std::path::Path;
use std::sync::Arc;

use opcode_git::{ChangeKind, Git, GitError, RepoPath};
use opcode_proc::{run_to_completion, CompletionLimits, ProcessSpec, TokioSupervisor};

fn git() -> Git {
    Git::new(Arc::new(TokioSupervisor::default()))
}

/// Runs a git command in `dir` for the test's set-up (through the supervisor too), failing on error.
async fn sh_git(dir: &Path, args: &[&str]) -> String {
    let spec = ProcessSpec::new("git")
        .cwd(dir)
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.invalid"])
        .args(args.iter().copied())
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1");
    let done = run_to_completion(&TokioSupervisor::default(), spec, CompletionLimits::default()).await.unwrap();
    assert!(done.status.success(), "git {args:?}: {}", done.stderr_text());
    String::from_utf8(done.stdout).unwrap()
}

/// A repository with one commit (a.txt, b.txt) and a local identity.
async fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    sh_git(d, &["init", "-q", "-b", "main"]).await;
    sh_git(d, &["config", "user.name", "Test"]).await;
    sh_git(d, &["config", "user.email", "test@example.invalid"]).await;
    std::fs::write(d.join("a.txt"), "one\n").unwrap();
    std::fs::write(d.join("b.txt"), "bee\n").unwrap();
    sh_git(d, &["add", "-A"]).await;
    sh_git(d, &["commit", "-q", "-m", "first"]).await;
    dir
}

fn p(path: &str) -> RepoPath {
    RepoPath::parse(path).unwrap()
}

#[tokio::test]
async fn status_groups_staged_unstaged_and_untracked() {
    let dir = repo().await;
    let d = dir.path();
    std::fs::write(d.join("a.txt"), "two\n").unwrap();
    std::fs::write(d.join("b.txt"), "bee bee\n").unwrap();
    std::fs::create_dir(d.join("new dir")).unwrap();
    std::fs::write(d.join("new dir/ü -x.txt"), "x\n").unwrap();
    sh_git(d, &["add", "b.txt"]).await;
    let status = git().status(d).await.unwrap();
    assert_eq!(status.branch.as_deref(), Some("main"));
    assert!(status.head.is_some());
    assert_eq!(status.staged.len(), 1);
    assert_eq!(status.staged[0].path, "b.txt");
    assert_eq!(status.unstaged[0].path, "a.txt");
    assert_eq!(status.unstaged[0].kind, ChangeKind::Modified);
    assert_eq!(status.untracked, ["new dir/ü -x.txt"]);
}

#[tokio::test]
async fn a_folder_outside_any_repository_is_not_a_repository_until_init() {
    let dir = tempfile::tempdir().unwrap();
    let err = git().status(dir.path()).await.unwrap_err();
    assert!(matches!(err, GitError::NotARepository { .. }), "{err}");
    git().init(dir.path()).await.unwrap();
    assert!(git().status(dir.path()).await.unwrap().is_clean());
    assert!(matches!(git().init(dir.path()).await, Err(GitError::AlreadyARepository { .. })));
}

#[tokio::test]
async fn diffs_of_working_staged_and_untracked_files() {
    let dir = repo().await;
    let d = dir.path();
    std::fs::write(d.join("a.txt"), "two\n").unwrap();
    std::fs::write(d.join("new.txt"), "fresh\n").unwrap();
    let working = git().diff_file(d, &p("a.txt"), false).await.unwrap();
    assert!(working.diff.contains("-one\n+two\n"), "{}", working.diff);
    assert!(git().diff_file(d, &p("a.txt"), true).await.unwrap().diff.is_empty());
    let untracked = git().diff_file(d, &p("new.txt"), false).await.unwrap();
    assert!(untracked.diff.contains("+fresh"), "{}", untracked.diff);
    git().stage(d, &[p("a.txt")]).await.unwrap();
    assert!(git().diff_file(d, &p("a.txt"), true).await.unwrap().diff.contains("+two"));
}

#[tokio::test]
async fn stage_unstage_and_commit() {
    let dir = repo().await;
    let d = dir.path();
    assert!(matches!(git().commit(d, "nothing").await, Err(GitError::NothingStaged)));
    std::fs::write(d.join("a.txt"), "two\n").unwrap();
    std::fs::remove_file(d.join("b.txt")).unwrap();
    git().stage(d, &[p("a.txt"), p("b.txt")]).await.unwrap();
    let status = git().status(d).await.unwrap();
    assert_eq!(status.staged.len(), 2);
    assert!(status.staged.iter().any(|c| c.path == "b.txt" && c.kind == ChangeKind::Deleted));
    git().unstage(d, &[p("b.txt")]).await.unwrap();
    let status = git().status(d).await.unwrap();
    assert_eq!(status.staged.len(), 1);
    assert_eq!(status.unstaged[0].path, "b.txt");
    assert!(matches!(git().commit(d, "  \n").await, Err(GitError::EmptyMessage)));
    let info = git().commit(d, "-m second\n\nbody").await.unwrap();
    assert_eq!(info.branch.as_deref(), Some("main"));
    assert_eq!(sh_git(d, &["log", "-1", "--format=%s"]).await.trim(), "-m second");
    assert_eq!(git().status(d).await.unwrap().unstaged.len(), 1);
}

#[tokio::test]
async fn unstage_works_before_the_first_commit() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    sh_git(d, &["init", "-q"]).await;
    std::fs::write(d.join("x"), "x").unwrap();
    git().stage(d, &[p("x")]).await.unwrap();
    assert_eq!(git().status(d).await.unwrap().staged.len(), 1);
    git().unstage(d, &[p("x")]).await.unwrap();
    assert_eq!(git().status(d).await.unwrap().untracked, ["x"]);
}

#[tokio::test]
async fn a_commit_without_identity_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let home = tempfile::tempdir().unwrap();
    sh_git(d, &["init", "-q"]).await;
    std::fs::write(d.join("x"), "x").unwrap();
    git().stage(d, &[p("x")]).await.unwrap();
    // no identity anywhere: an empty global config, no system config, no EMAIL
    let spec_git = Git::new(Arc::new(TokioSupervisor::default())).with_program(env_wrapper(home.path()));
    let err = spec_git.commit(d, "first").await.unwrap_err();
    assert!(matches!(err, GitError::NoIdentity { .. }), "{err}");
    assert!(err.to_string().contains("user.email"), "{err}");
}

/// A script that runs git with no identity configured or guessable.
fn env_wrapper(home: &Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let script = home.join("git-no-ident");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nexport HOME={0} GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1\nunset EMAIL GIT_AUTHOR_NAME \
             GIT_AUTHOR_EMAIL GIT_COMMITTER_NAME GIT_COMMITTER_EMAIL\nexec git -c user.useConfigOnly=true \"$@\"\n",
            home.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

#[tokio::test]
async fn discard_restores_tracked_and_deletes_untracked_files() {
    let dir = repo().await;
    let d = dir.path();
    std::fs::write(d.join("a.txt"), "changed\n").unwrap();
    std::fs::write(d.join("scratch.txt"), "junk\n").unwrap();
    git().discard(d, &p("a.txt")).await.unwrap();
    assert_eq!(std::fs::read_to_string(d.join("a.txt")).unwrap(), "one\n");
    git().discard(d, &p("scratch.txt")).await.unwrap();
    assert!(!d.join("scratch.txt").exists());
    assert!(matches!(git().discard(d, &p("b.txt")).await, Err(GitError::NothingToDiscard(_))));
    assert!(git().status(d).await.unwrap().is_clean());
}

#[tokio::test]
async fn branches_and_a_switch_refused_by_a_dirty_tree() {
    let dir = repo().await;
    let d = dir.path();
    sh_git(d, &["branch", "other"]).await;
    sh_git(d, &["switch", "-q", "other"]).await;
    std::fs::write(d.join("a.txt"), "on other\n").unwrap();
    sh_git(d, &["commit", "-q", "-am", "other"]).await;
    sh_git(d, &["switch", "-q", "main"]).await;
    let branches = git().branches(d).await.unwrap();
    let names: Vec<_> = branches.iter().map(|b| (b.name.as_str(), b.current)).collect();
    assert_eq!(names, [("main", true), ("other", false)]);
    std::fs::write(d.join("a.txt"), "dirty\n").unwrap();
    let err = git().switch(d, "other").await.unwrap_err();
    assert!(matches!(err, GitError::WouldOverwrite { .. }), "{err}");
    assert!(err.to_string().contains("a.txt"), "{err}");
    assert!(matches!(git().switch(d, "--orphan").await, Err(GitError::UnknownBranch(_))));
    assert!(matches!(git().switch(d, "nope").await, Err(GitError::UnknownBranch(_))));
    git().discard(d, &p("a.txt")).await.unwrap();
    git().switch(d, "other").await.unwrap();
    assert_eq!(git().status(d).await.unwrap().branch.as_deref(), Some("other"));
}

#[tokio::test]
async fn snapshots_see_uncommitted_changes_and_leave_index_and_head_alone() {
    let dir = repo().await;
    let d = dir.path();
    std::fs::write(d.join(".gitignore"), "ignored/\n").unwrap();
    std::fs::write(d.join("b.txt"), "staged\n").unwrap();
    sh_git(d, &["add", "b.txt", ".gitignore"]).await;
    let index_before = std::fs::read(d.join(".git/index")).unwrap();
    let head_before = sh_git(d, &["rev-parse", "HEAD"]).await;
    let status_before = git().status(d).await.unwrap();

    let before = git().snapshot(d).await.unwrap();
    std::fs::write(d.join("a.txt"), "changed by the turn\n").unwrap();
    std::fs::write(d.join("made.txt"), "new file\n").unwrap();
    std::fs::create_dir(d.join("ignored")).unwrap();
    std::fs::write(d.join("ignored/junk"), "junk\n").unwrap();
    let after = git().snapshot(d).await.unwrap();

    assert_eq!(std::fs::read(d.join(".git/index")).unwrap(), index_before, "the user's index is untouched");
    assert_eq!(sh_git(d, &["rev-parse", "HEAD"]).await, head_before);
    let mut status_after = git().status(d).await.unwrap();
    status_after.unstaged.retain(|c| c.path != "a.txt");
    status_after.untracked.retain(|p| p != "made.txt");
    assert_eq!(status_after, status_before);

    let diff = git().diff_trees(d, &before, &after).await.unwrap();
    let files: Vec<_> = diff.files.iter().map(|f| (f.path.as_str(), f.kind)).collect();
    assert_eq!(files, [("a.txt", ChangeKind::Modified), ("made.txt", ChangeKind::Added)]);
    assert!(diff.diff.contains("+changed by the turn"));
    assert!(!diff.diff.contains("junk"));
    // kept from gc by a ref
    let refs = sh_git(d, &["for-each-ref", "--format=%(refname)", "refs/opcode/"]).await;
    assert!(refs.contains(&before) && refs.contains(&after), "{refs}");
    sh_git(d, &["gc", "-q", "--prune=now"]).await;
    assert!(git().diff_trees(d, &before, &after).await.is_ok());
    assert!(git().diff_trees(d, "--output=x", &after).await.is_err());
}
