//! The `opcode` binary, run for real against the fake claude (and an in-process opcode-web for attach).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use opcode_proc::{
    ExitStatus, OutputStream, ProcessEvent, ProcessHandle, ProcessSpec, ProcessSupervisor, TokioSupervisor,
};

const LIMIT: Duration = Duration::from_secs(30);

struct Output {
    stdout: String,
    stderr: String,
    status: ExitStatus,
}

fn opcode(args: &[&str], claude_dir: &Path) -> ProcessSpec {
    ProcessSpec::new(env!("CARGO_BIN_EXE_opcode"))
        .args(args.iter().copied())
        .env("OPCODE_CLAUDE_BIN", opcode_testkit::fake_claude())
        .env("CLAUDE_CONFIG_DIR", claude_dir)
}

async fn finish(mut child: ProcessHandle) -> Output {
    let mut out =
        Output { stdout: String::new(), stderr: String::new(), status: ExitStatus { code: None, signal: None } };
    tokio::time::timeout(LIMIT, async {
        while let Some(event) = child.next_event().await {
            match event {
                ProcessEvent::Line { stream: OutputStream::Stdout, text } => out.stdout += &format!("{text}\n"),
                ProcessEvent::Line { stream: OutputStream::Stderr, text } => out.stderr += &format!("{text}\n"),
                ProcessEvent::Exited(status) => out.status = status,
                _ => {}
            }
        }
    })
    .await
    .expect("opcode finished in time");
    out
}

async fn run(args: &[&str], claude_dir: &Path) -> Output {
    finish(TokioSupervisor::default().spawn(opcode(args, claude_dir)).await.unwrap()).await
}

#[tokio::test]
async fn run_renders_the_stream_and_exits_zero() {
    let claude = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    let dir = project.path().to_str().unwrap();
    let out = run(&["run", "--project", dir, "hello", "world", "@tool", "@stderr=1"], claude.path()).await;
    assert_eq!(out.status.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("Echo: hello world (turn 1)"), "{}", out.stdout);
    assert!(out.stdout.contains("⏺ Bash(echo hi)"), "{}", out.stdout);
    assert!(out.stdout.contains("✓ success"), "result line: {}", out.stdout);
    assert!(out.stderr.contains("error: fake stderr 0"), "{}", out.stderr);

    // --json prints the raw events, numbered
    let out = run(&["run", "--json", "--project", dir, "again"], claude.path()).await;
    let events: Vec<serde_json::Value> = out.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(events[0]["type"], "start");
    assert_eq!(events.last().unwrap()["type"], "completion");
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["seq"], i as u64);
    }

    // continue picks up the latest session
    let out = run(&["run", "--continue", "--project", dir, "third"], claude.path()).await;
    assert!(out.stdout.contains("(turn 2)"), "{}", out.stdout);
}

#[tokio::test]
async fn a_failed_run_exits_one() {
    let claude = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    let out = run(&["run", "--project", project.path().to_str().unwrap(), "x @exit=3"], claude.path()).await;
    assert_eq!(out.status.code, Some(1));
    assert!(out.stdout.contains("run error exit code 3"), "{}", out.stdout);
}

#[tokio::test]
async fn ctrl_c_cancels_the_whole_run_and_exits_130() {
    let claude = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    let pidfile = project.path().join("pids");
    let prompt = format!("x @hang @grandchild @pidfile={}", pidfile.display());
    let mut child = TokioSupervisor::default()
        .spawn(opcode(&["run", "--project", project.path().to_str().unwrap(), &prompt], claude.path()))
        .await
        .unwrap();
    // wait for claude's init line: it runs and has written its pids
    loop {
        match tokio::time::timeout(LIMIT, child.next_event()).await.unwrap() {
            Some(ProcessEvent::Line { text, .. }) if text.starts_with("· claude") => break,
            Some(ProcessEvent::Exited(s)) => panic!("exited early: {s}"),
            None => panic!("ended"),
            _ => {}
        }
    }
    let pids = opcode_testkit::read_pids(&pidfile);
    assert_eq!(pids.len(), 2);
    let opcode_pid = nix::unistd::Pid::from_raw(child.pid() as i32);
    nix::sys::signal::kill(opcode_pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let out = finish(child).await;
    assert_eq!(out.status.code, Some(130), "{}", out.stdout);
    assert!(out.stdout.contains("✗ cancelled"));
    opcode_testkit::assert_all_dead(&pids).await;
}

#[tokio::test]
async fn projects_sessions_and_history_read_claudes_files() {
    let claude = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    let dir = project.path().to_str().unwrap();
    let first = run(&["run", "--json", "--project", dir, "remember", "me"], claude.path()).await;
    let session = serde_json::from_str::<serde_json::Value>(first.stdout.lines().next().unwrap()).unwrap()
        ["session_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let projects = run(&["projects"], claude.path()).await;
    let canonical = std::fs::canonicalize(project.path()).unwrap();
    assert!(projects.stdout.contains(&canonical.display().to_string()), "{}", projects.stdout);
    let sessions = run(&["sessions", dir], claude.path()).await;
    assert!(sessions.stdout.contains(&format!("{session}  remember me")), "{}", sessions.stdout);
    let history = run(&["history", &session], claude.path()).await;
    assert!(history.stdout.contains("user: remember me"), "{}", history.stdout);
    assert!(history.stdout.contains("assistant: Echo: remember me (turn 1)"), "{}", history.stdout);
    let missing = run(&["history", "00000000-0000-4000-8000-000000000000"], claude.path()).await;
    assert_eq!(missing.status.code, Some(1));
    assert!(missing.stderr.contains("no transcript"), "{}", missing.stderr);
}

#[tokio::test]
async fn attach_follows_a_run_on_a_server() {
    use opcode_sessions::{RegistryConfig, SessionRegistry};
    let data = tempfile::tempdir().unwrap();
    let claude = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    let config = RegistryConfig::new(opcode_testkit::fake_claude(), data.path().to_path_buf());
    let registry = SessionRegistry::open(config, Arc::new(TokioSupervisor::default())).await.unwrap();
    let state = opcode_web::AppState::open(
        registry.clone(),
        opcode_sessions::claude_store::ClaudeStore::new(claude.path()),
        "tok",
    )
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(opcode_web::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    let request = opcode_proto::ClaudeRequest {
        command_type: "execute".into(),
        project_path: project.path().display().to_string(),
        prompt: "watch me @lines=5 @delay=20".into(),
        model: None,
        session_id: None,
        include_partial_messages: false,
        live: false,
        permission_mode: None,
        images: Vec::new(),
        run_options: None,
    };
    let run_started = registry.start_run(request.validate().unwrap()).await.unwrap();
    let out = run(&["attach", "--server", &url, "--token", "tok", &run_started.session_id], claude.path()).await;
    assert_eq!(out.status.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("line 4"), "{}", out.stdout);
    assert!(out.stdout.contains("■ run success"), "{}", out.stdout);
    let wrong = run(&["attach", "--server", &url, "--token", "nope", &run_started.session_id], claude.path()).await;
    assert_eq!(wrong.status.code, Some(1));
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn every_command_has_help_and_bad_usage_exits_two() {
    let claude = tempfile::tempdir().unwrap();
    for command in [
        &["--help"][..],
        &["run", "--help"],
        &["projects", "--help"],
        &["sessions", "--help"],
        &["history", "--help"],
        &["attach", "--help"],
    ] {
        let out = run(command, claude.path()).await;
        assert_eq!(out.status.code, Some(0), "{command:?}");
        assert!(out.stdout.contains("Usage"), "{command:?}: {}", out.stdout);
    }
    assert!(run(&["--help"], claude.path()).await.stdout.contains("130"), "exit codes documented");
    assert_eq!(run(&["run"], claude.path()).await.status.code, Some(2));
    assert_eq!(run(&["frobnicate"], claude.path()).await.status.code, Some(2));
}
