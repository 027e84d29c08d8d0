//! `run_to_completion`: raw output byte for byte, caps, exit status, timeouts that leave nothing behind.

use std::time::Duration;

use opcode_proc::{run_to_completion, CompletionError, CompletionLimits, ProcessSpec, TokioSupervisor};

fn sh(script: &str) -> ProcessSpec {
    ProcessSpec::new("sh").arg("-c").arg(script)
}

#[tokio::test]
async fn collects_raw_stdout_stderr_and_the_exit_status() {
    let done = run_to_completion(
        &TokioSupervisor::default(),
        sh(r"printf 'a\000b\r\n\377'; printf 'bad thing\n' >&2; exit 4"),
        CompletionLimits::default(),
    )
    .await
    .unwrap();
    assert_eq!(done.stdout, b"a\0b\r\n\xff");
    assert_eq!(done.stderr_text(), "bad thing");
    assert_eq!(done.status.code, Some(4));
    assert!(!done.stdout_truncated && !done.stderr_truncated);
}

#[tokio::test]
async fn output_beyond_the_cap_is_drained_and_reported() {
    let limits = CompletionLimits { max_stdout: 1000, max_stderr: 10, ..CompletionLimits::default() };
    // 1 MB through a 64 KiB pipe: the child would block if the rest were not drained
    let done = run_to_completion(
        &TokioSupervisor::default(),
        sh("head -c 1000000 /dev/zero; head -c 100 /dev/zero >&2"),
        limits,
    )
    .await
    .unwrap();
    assert_eq!(done.stdout.len(), 1000);
    assert!(done.stdout_truncated);
    assert_eq!(done.stderr.len(), 10);
    assert!(done.stderr_truncated);
    assert!(done.status.success());
}

#[tokio::test]
async fn a_child_past_its_timeout_is_killed_with_its_group() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pids");
    let script = format!("sleep 600 & echo $! > {0}; echo $$ >> {0}; wait", pidfile.display());
    let limits = CompletionLimits { timeout: Duration::from_millis(500), ..CompletionLimits::default() };
    let err = run_to_completion(&TokioSupervisor::default(), sh(&script), limits).await.unwrap_err();
    assert!(matches!(err, CompletionError::TimedOut { .. }), "{err}");
    let pids = opcode_testkit::read_pids(&pidfile);
    assert_eq!(pids.len(), 2);
    opcode_testkit::assert_all_dead(&pids).await;
}

#[tokio::test]
async fn a_missing_program_is_a_spawn_error() {
    let err = run_to_completion(
        &TokioSupervisor::default(),
        ProcessSpec::new("/nonexistent/opcode-no-such-tool"),
        CompletionLimits::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, CompletionError::Spawn(_)), "{err}");
}
