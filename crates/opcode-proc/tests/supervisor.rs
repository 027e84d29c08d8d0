//! Behaviour of the real supervisor against the misbehaving fake claude.

mod common;

use std::time::Duration;

use common::*;
use opcode_proc::{OutputStream, ProcessEvent, ProcessSpec, ProcessSupervisor, SpawnError, TokioSupervisor};

const LIMIT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn streams_stdout_and_stderr_then_exit_last() {
    let mut child = spawn(fake("hello @stderr=2 @exit=3")).await;
    let events = collect(&mut child, LIMIT).await;
    let stdout: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            ProcessEvent::Line { stream: OutputStream::Stdout, text } => Some(text.clone()),
            _ => None,
        })
        .collect();
    let stderr: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            ProcessEvent::Line { stream: OutputStream::Stderr, text } => Some(text.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(stderr, ["fake stderr 0", "fake stderr 1"]);
    assert!(stdout[0].contains("\"subtype\":\"init\""));
    assert!(stdout.last().unwrap().contains("\"type\":\"result\""));
    assert_eq!(events.last(), Some(&ProcessEvent::Exited(opcode_proc::ExitStatus { code: Some(3), signal: None })));
}

#[tokio::test]
async fn cancel_kills_the_whole_group_including_grandchildren() {
    let pidfile = pidfile("group.pids");
    let mut child = spawn(fake(&format!("x @grandchild @hang @pidfile={}", pidfile.display()))).await;
    next_line(&mut child).await; // running, pidfile written before the first line
    let pids = opcode_testkit::read_pids(&pidfile);
    assert_eq!(pids.len(), 2, "fake and its grandchild");
    assert_eq!(pids[0], child.pid());
    assert!(pids.iter().all(|p| opcode_testkit::process_alive(*p)));

    assert!(child.cancel(Duration::from_secs(5)));
    let events = collect(&mut child, LIMIT).await;
    assert_eq!(events.last(), Some(&ProcessEvent::Exited(opcode_proc::ExitStatus { code: None, signal: Some(15) })));
    assert_all_dead(&pids).await;
}

#[tokio::test]
async fn sigterm_is_escalated_to_sigkill_after_the_grace_period() {
    let mut child = spawn(fake("x @ignore-term")).await;
    next_line(&mut child).await;
    child.cancel(Duration::from_millis(300));
    let events = collect(&mut child, LIMIT).await;
    // SIGTERM was ignored; only the escalation to SIGKILL can have ended it
    assert_eq!(events.last(), Some(&ProcessEvent::Exited(opcode_proc::ExitStatus { code: None, signal: Some(9) })));
}

#[tokio::test]
async fn a_second_cancel_kills_at_once() {
    let mut child = spawn(fake("x @ignore-term")).await;
    next_line(&mut child).await;
    child.cancel(Duration::from_secs(3600));
    child.cancel(Duration::from_secs(3600));
    let events = collect(&mut child, LIMIT).await;
    assert!(matches!(events.last(), Some(ProcessEvent::Exited(s)) if s.signal == Some(9)));
}

#[tokio::test]
async fn dropping_the_handle_kills_the_group() {
    let pidfile = pidfile("drop.pids");
    let mut child = spawn(fake(&format!("x @grandchild @hang @pidfile={}", pidfile.display()))).await;
    next_line(&mut child).await;
    let pids = opcode_testkit::read_pids(&pidfile);
    assert_eq!(pids.len(), 2);
    drop(child);
    assert_all_dead(&pids).await;
}

#[tokio::test]
async fn a_grandchild_holding_stdout_does_not_keep_a_finished_run_open() {
    let pidfile = pidfile("linger.pids");
    let mut child = spawn(fake(&format!("x @grandchild @pidfile={}", pidfile.display()))).await;
    let events = collect(&mut child, LIMIT).await;
    assert!(matches!(events.last(), Some(ProcessEvent::Exited(s)) if s.success()));
    assert_all_dead(&opcode_testkit::read_pids(&pidfile)).await;
}

#[tokio::test]
async fn megabytes_of_stderr_with_idle_stdout_do_not_deadlock() {
    let mut child = spawn(fake("x @stderr-flood=8000000")).await;
    let events = collect(&mut child, LIMIT).await;
    let stderr_lines =
        events.iter().filter(|e| matches!(e, ProcessEvent::Line { stream: OutputStream::Stderr, .. })).count();
    assert!(stderr_lines >= 7800, "got {stderr_lines} stderr lines");
    assert!(matches!(events.last(), Some(ProcessEvent::Exited(s)) if s.success()));
}

#[tokio::test]
async fn long_lines_and_bad_utf8_are_reported_and_reading_goes_on() {
    let spec = fake("x @huge=3000000 @nonjson @badutf8").max_line_bytes(1024 * 1024);
    let mut child = spawn(spec).await;
    let events = collect(&mut child, LIMIT).await;
    let too_long = events.iter().position(|e| matches!(e, ProcessEvent::LineTooLong { len: 3_000_000, .. }));
    let bad =
        events.iter().position(|e| matches!(e, ProcessEvent::InvalidUtf8 { lossy, .. } if lossy.contains('\u{fffd}')));
    let plain =
        events.iter().position(|e| matches!(e, ProcessEvent::Line { text, .. } if text == "this line is not json"));
    let result =
        events.iter().position(|e| matches!(e, ProcessEvent::Line { text, .. } if text.contains("\"result\"")));
    let (too_long, bad, plain, result) = (too_long.unwrap(), bad.unwrap(), plain.unwrap(), result.unwrap());
    assert!(too_long < plain && plain < bad && bad < result, "{events:?}");
}

#[tokio::test]
async fn a_long_line_within_the_limit_arrives_whole() {
    let mut child = spawn(fake("x @huge=20000000")).await; // default limit is 16 MiB... 20 MB is over it
    let events = collect(&mut child, LIMIT).await;
    assert!(events
        .iter()
        .any(|e| matches!(e, ProcessEvent::LineTooLong { len: 20_000_000, max, .. } if *max == 16 * 1024 * 1024)));
    let mut child = spawn(fake("x @huge=10000000")).await;
    let events = collect(&mut child, LIMIT).await;
    assert!(events.iter().any(|e| matches!(e, ProcessEvent::Line { text, .. } if text.len() == 10_000_000)));
}

#[tokio::test]
async fn the_last_line_without_newline_is_delivered() {
    let mut child = spawn(fake("x @no-newline")).await;
    let events = collect(&mut child, LIMIT).await;
    let last_line = events.iter().rev().find_map(|e| match e {
        ProcessEvent::Line { text, .. } => Some(text.clone()),
        _ => None,
    });
    assert!(last_line.unwrap().contains("\"type\":\"result\""));
}

#[tokio::test]
async fn a_slow_consumer_slows_the_child_instead_of_buffering() {
    // 20 000 lines of ~1 KiB: 20 MB the child would write in well under a second if nothing pushed back
    let mut child = spawn(fake("x @flood=20000").event_buffer(16)).await;
    next_line(&mut child).await;
    tokio::time::sleep(Duration::from_millis(700)).await; // the consumer is slow: it reads nothing
    let io = std::fs::read_to_string(format!("/proc/{}/io", child.pid())).expect("child still running");
    let written: u64 = io
        .lines()
        .find_map(|l| l.strip_prefix("wchar: "))
        .and_then(|v| v.trim().parse().ok())
        .expect("wchar in /proc/pid/io");
    assert!(written < 2_000_000, "child wrote {written} bytes while nobody read: not bounded");
    let events = collect(&mut child, LIMIT).await;
    assert!(events.len() > 20_000);
}

#[tokio::test]
async fn spawn_errors_say_what_is_wrong() {
    let supervisor = TokioSupervisor::default();
    let err = supervisor.spawn(ProcessSpec::new("/nonexistent/claude")).await.unwrap_err();
    assert!(matches!(err, SpawnError::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("/nonexistent/claude"));
    let err = supervisor.spawn(fake("x").cwd("/nonexistent-dir")).await.unwrap_err();
    assert!(matches!(err, SpawnError::BadWorkingDir { .. }), "{err:?}");
}

#[tokio::test]
async fn stdin_lines_reach_the_child_in_order() {
    let mut child = spawn(ProcessSpec::new("cat").with_stdin()).await;
    let mut stdin = child.take_stdin().expect("stdin pipe");
    for i in 0..100 {
        stdin.write_line(&format!("line {i}")).await.unwrap();
    }
    assert!(stdin.write_line("a\nb").await.is_err());
    drop(stdin);
    let events = collect(&mut child, LIMIT).await;
    let lines: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            ProcessEvent::Line { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(lines, (0..100).map(|i| format!("line {i}")).collect::<Vec<_>>());
}

#[test]
fn a_runtime_that_shuts_down_takes_its_children_with_it() {
    let pidfile = pidfile("runtime.pids");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let handle = runtime.block_on(async {
        let mut child = spawn(fake(&format!("x @grandchild @hang @pidfile={}", pidfile.display()))).await;
        next_line(&mut child).await;
        child
    });
    let pids = opcode_testkit::read_pids(&pidfile);
    assert_eq!(pids.len(), 2);
    // the handle outlives the runtime: only the owning task's drop can kill the group now
    drop(runtime);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while pids.iter().any(|p| opcode_testkit::process_alive(*p)) {
        assert!(std::time::Instant::now() < deadline, "{pids:?} outlived the runtime");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(handle);
}

#[tokio::test]
async fn next_event_is_cancel_safe_no_line_is_lost_when_its_future_is_dropped() {
    let mut child = spawn(ProcessSpec::new("seq").args(["1", "50000"])).await;
    let mut lines = Vec::new();
    let mut last = None;
    tokio::time::timeout(LIMIT, async {
        loop {
            // a future polled once and dropped when not ready, as `select!` and timeouts do
            match futures::FutureExt::now_or_never(child.next_event()) {
                Some(Some(ProcessEvent::Line { text, .. })) => lines.push(text),
                Some(Some(other)) => last = Some(other),
                Some(None) => break,
                None => tokio::task::yield_now().await,
            }
        }
    })
    .await
    .expect("seq finished in time");
    assert_eq!(lines.len(), 50_000);
    assert!(lines.iter().enumerate().all(|(i, l)| *l == (i + 1).to_string()), "lines out of order or altered");
    assert!(matches!(last, Some(ProcessEvent::Exited(s)) if s.success()));
}

#[tokio::test]
async fn a_child_kept_by_its_control_has_its_stdout_drained_when_the_handle_is_dropped() {
    // 2 MB of stdout, far more than a pipe holds: `seq` completes (and the marker appears) only if the
    // output is still read once the handle is gone, neither blocking on a full pipe nor dying of SIGPIPE
    let marker = pidfile("drained.marker");
    let script = format!("seq 1 300000 && touch {}", marker.display());
    let child = spawn(ProcessSpec::new("sh").arg("-c").arg(script)).await;
    let (pid, _control) = (child.pid(), child.control());
    drop(child);
    assert_all_dead(&[pid]).await;
    assert!(marker.exists(), "the child's output was not drained to its end");
}
