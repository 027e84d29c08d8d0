//! Programs on a pseudo-terminal: a real terminal, resize, Ctrl-C, and the whole session dies with it.

mod common;

use std::time::Duration;

use common::*;
use opcode_proc::{ProcessSpec, ProcessSupervisor, PtyHandle, PtyOutput, PtySize, TokioSupervisor};

async fn pty(spec: ProcessSpec, size: PtySize) -> PtyHandle {
    TokioSupervisor::default().spawn_pty(spec, size).await.expect("spawn on a pty")
}

fn sh(script: &str) -> ProcessSpec {
    ProcessSpec::new("/bin/sh").arg("-c").arg(script).env("TERM", "xterm-256color")
}

/// Reads until the output so far contains `needle`; returns everything read.
async fn read_until(output: &mut PtyOutput, seen: &mut String, needle: &str) {
    tokio::time::timeout(LIMIT, async {
        while !seen.contains(needle) {
            match output.read_chunk().await {
                Some(chunk) => seen.push_str(&String::from_utf8_lossy(&chunk)),
                None => panic!("output ended before {needle:?}; got {seen:?}"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {needle:?} within {LIMIT:?}; got {seen:?}"));
}

/// Everything until the output ends.
async fn read_to_end(output: &mut PtyOutput) -> String {
    let mut all = String::new();
    tokio::time::timeout(LIMIT, async {
        while let Some(chunk) = output.read_chunk().await {
            all.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .unwrap_or_else(|_| panic!("output did not end within {LIMIT:?}; got {all:?}"));
    all
}

const LIMIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn the_child_is_on_a_terminal_of_the_size_asked_and_in_a_session_of_its_own() {
    let handle = pty(sh("tty; stty size; tput colors; ps -o pid=,sid=,pgid= -p $$"), PtySize::new(33, 101)).await;
    let pid = handle.pid();
    let (_control, mut output, _input, mut exit) = handle.into_parts();
    let all = read_to_end(&mut output).await;
    assert!(all.contains("/dev/pts/"), "tty names a pts: {all:?}");
    assert!(all.contains("33 101"), "stty size: {all:?}");
    assert!(all.contains("256"), "xterm-256color has 256 colours: {all:?}");
    let ids: Vec<u32> = all.lines().last().unwrap().split_whitespace().map(|n| n.parse().unwrap()).collect();
    assert_eq!(ids, [pid, pid, pid], "pid, session and group are the child's");
    assert!(exit.wait().await.success());
}

#[tokio::test]
async fn a_resize_is_seen_by_the_child() {
    let handle =
        pty(sh("trap 'stty size' WINCH; echo ready; while :; do sleep 0.05; done"), PtySize::new(24, 80)).await;
    let (control, mut output, input, mut exit) = handle.into_parts();
    let mut seen = String::new();
    read_until(&mut output, &mut seen, "ready").await;
    input.resize(PtySize::new(50, 132)).unwrap();
    read_until(&mut output, &mut seen, "50 132").await;
    control.kill();
    assert_eq!(exit.wait().await.signal, Some(9));
}

#[tokio::test]
async fn ctrl_c_interrupts_the_foreground_job_of_an_interactive_shell() {
    let handle = pty(ProcessSpec::new("/bin/sh").arg("-i").env("PS1", "$ "), PtySize::default()).await;
    let shell = handle.pid();
    let (control, mut output, mut input, mut exit) = handle.into_parts();
    let mut seen = String::new();
    input.write(b"sleep 1001; echo not-interrupted\r").await.unwrap();
    read_until(&mut output, &mut seen, "not-interrupted").await; // the echo of the line
    let sleeper = eventually_in_session(shell, "sleep 1001").await;
    input.write(&[0x03]).await.unwrap();
    opcode_testkit::assert_all_dead(&[sleeper]).await;
    // the shell lives on and takes the next line
    input.write(b"echo alive-$((40+2))\r").await.unwrap();
    read_until(&mut output, &mut seen, "alive-42").await;
    assert!(!seen.contains("not-interrupted\r\nnot-interrupted"), "the interrupted line went on: {seen:?}");
    input.write(b"exit\r").await.unwrap();
    assert!(exit.wait().await.success());
    drop(control);
}

/// A job the shell put in a process group of its own (`set -m`), which a group kill alone would miss.
fn session_with_a_background_job(pidfile: &std::path::Path) -> ProcessSpec {
    sh(&format!(
        "set -m; sleep 1000 & echo $! > {}; echo $$ >> {}; echo started; wait",
        pidfile.display(),
        pidfile.display()
    ))
}

#[tokio::test]
async fn killing_it_kills_the_whole_session_even_jobs_in_other_groups() {
    let pidfile = pidfile("pty-kill.pids");
    let handle = pty(session_with_a_background_job(&pidfile), PtySize::default()).await;
    let (control, mut output, _input, mut exit) = handle.into_parts();
    let mut seen = String::new();
    read_until(&mut output, &mut seen, "started").await;
    let pids = opcode_testkit::read_pids(&pidfile);
    assert_eq!(pids.len(), 2, "the job and the shell");
    assert_ne!(
        nix::unistd::getpgid(Some(nix::unistd::Pid::from_raw(pids[0] as i32))).unwrap().as_raw() as u32,
        pids[1]
    );
    control.kill();
    assert_eq!(exit.wait().await.signal, Some(9));
    assert_all_dead(&pids).await;
    assert_eq!(read_to_end(&mut output).await, "", "output ends once the session is gone");
}

#[tokio::test]
async fn dropping_every_part_kills_the_session() {
    let pidfile = pidfile("pty-drop.pids");
    let handle = pty(session_with_a_background_job(&pidfile), PtySize::default()).await;
    let (control, mut output, input, exit) = handle.into_parts();
    let mut seen = String::new();
    read_until(&mut output, &mut seen, "started").await;
    let pids = opcode_testkit::read_pids(&pidfile);
    drop((control, output, input, exit));
    assert_all_dead(&pids).await;
}

#[tokio::test]
async fn a_shell_that_exits_takes_the_rest_of_its_session_with_it() {
    let pidfile = pidfile("pty-exit.pids");
    let script = format!("set -m; sleep 1000 & echo $! > {}; echo $$ >> {}", pidfile.display(), pidfile.display());
    let handle = pty(sh(&script), PtySize::default()).await;
    let (_control, mut output, _input, mut exit) = handle.into_parts();
    assert!(exit.wait().await.success());
    read_to_end(&mut output).await;
    assert_all_dead(&opcode_testkit::read_pids(&pidfile)).await;
}

#[test]
fn a_runtime_that_shuts_down_takes_its_terminals_with_it() {
    let pidfile = pidfile("pty-runtime.pids");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let parts = runtime.block_on(async {
        let handle = pty(session_with_a_background_job(&pidfile), PtySize::default()).await;
        let (control, mut output, input, exit) = handle.into_parts();
        let mut seen = String::new();
        read_until(&mut output, &mut seen, "started").await;
        (control, output, input, exit)
    });
    let pids = opcode_testkit::read_pids(&pidfile);
    drop(runtime);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while pids.iter().any(|p| opcode_testkit::process_alive(*p)) {
        assert!(std::time::Instant::now() < deadline, "{pids:?} outlived the runtime");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(parts);
}

#[tokio::test]
async fn a_reader_that_stops_reading_stops_the_program() {
    // the program writes as fast as it can; nobody reads: it must block, not fill our memory
    let pidfile = pidfile("pty-flood.pids");
    let handle = pty(sh(&format!("echo $$ > {}; exec yes", pidfile.display())), PtySize::default()).await;
    let (control, mut output, _input, mut exit) = handle.into_parts();
    let first = tokio::time::timeout(LIMIT, output.read_chunk()).await.unwrap().unwrap();
    assert!(first.len() <= opcode_proc::pty::MAX_CHUNK_BYTES);
    let pid = opcode_testkit::read_pids(&pidfile)[0];
    // `yes` ends up blocked in its write, the terminal buffer full: what it wrote stops growing
    let written = || {
        let io = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap();
        io.lines().find_map(|l| l.strip_prefix("wchar: ")).unwrap().parse::<u64>().unwrap()
    };
    let deadline = tokio::time::Instant::now() + LIMIT;
    let mut before = written();
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = written();
        if now == before {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "yes never blocked ({now} bytes written)");
        before = now;
    }
    assert!(before < 16 * 1024 * 1024, "{before} bytes went somewhere");
    control.kill();
    exit.wait().await;
}

#[tokio::test]
async fn spawn_errors_say_what_is_wrong() {
    let supervisor = TokioSupervisor::default();
    let err = supervisor.spawn_pty(ProcessSpec::new("/no/such/shell"), PtySize::default()).await.unwrap_err();
    assert!(err.to_string().contains("no such file"), "{err}");
    let err =
        supervisor.spawn_pty(ProcessSpec::new("/bin/sh").cwd("/no/such/dir"), PtySize::default()).await.unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
}

/// The pid of the process of session `sid` whose command line is `cmdline` (words joined by spaces),
/// once there is one.
async fn eventually_in_session(sid: u32, cmdline: &str) -> u32 {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let found = opcode_testkit::pids_with_arg("sleep").into_iter().find(|pid| {
            let in_session = nix::unistd::getsid(Some(nix::unistd::Pid::from_raw(*pid as i32)))
                .is_ok_and(|s| s.as_raw() as u32 == sid);
            in_session
                && std::fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).replace('\0', " ").trim_end() == cmdline)
        });
        if let Some(pid) = found {
            return pid;
        }
        assert!(tokio::time::Instant::now() < deadline, "no process {cmdline:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
