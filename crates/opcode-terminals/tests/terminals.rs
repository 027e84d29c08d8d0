//! Terminals by id: type and see, reattach with the screen, several viewers, close kills the session.

use std::sync::Arc;
use std::time::Duration;

use opcode_proc::{PtySize, TokioSupervisor};
use opcode_terminals::{TerminalError, Terminals, TerminalsConfig, Viewer};

const LIMIT: Duration = Duration::from_secs(20);

fn terminals(max: usize) -> (Terminals, tempfile::TempDir) {
    let home = tempfile::tempdir().unwrap();
    let config = TerminalsConfig {
        shell: Some("/bin/sh".into()),
        shell_args: vec!["-i".into()],
        env: vec![("HOME".into(), home.path().into()), ("PS1".into(), "$ ".into())],
        max_terminals: max,
        ..TerminalsConfig::default()
    };
    (Terminals::new(Arc::new(TokioSupervisor::default()), config), home)
}

/// Reads the viewer until `needle` has been seen; returns all it read.
async fn until(viewer: &mut Viewer, needle: &str) -> String {
    let mut seen = String::new();
    tokio::time::timeout(LIMIT, async {
        while !seen.contains(needle) {
            match viewer.next_output().await {
                Some(chunk) => seen.push_str(&String::from_utf8_lossy(&chunk)),
                None => panic!("the viewer ended before {needle:?}: {seen:?}"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {needle:?} in time: {seen:?}"));
    seen
}

#[tokio::test]
async fn type_see_reattach_with_the_screen_and_close_kills_the_session() {
    let (terminals, _home) = terminals(4);
    let project = tempfile::tempdir().unwrap();
    let info = terminals.create(project.path(), PtySize::new(24, 80)).await.unwrap();
    assert_eq!(
        terminals.list(Some(project.path())),
        [info.clone()].map(|mut i| {
            i.viewers = 0;
            i
        })
    );
    let mut first = terminals.attach(&info.id).unwrap();
    let mut second = terminals.attach(&info.id).unwrap();
    assert_eq!(terminals.info(&info.id).unwrap().viewers, 2);
    terminals.input(&info.id, b"pwd; printf '\\033[31mred-%s\\033[0m\\n' $((6*7))\r").await.unwrap();
    let seen = until(&mut first, "red-42").await;
    assert!(seen.contains("\x1b[31mred-42"), "colours pass through: {seen:?}");
    until(&mut second, "red-42").await;
    drop((first, second));

    // a new viewer gets the screen: the folder and the coloured line are on it
    let again = terminals.attach(&info.id).unwrap();
    let snapshot = String::from_utf8_lossy(&again.snapshot()).into_owned();
    assert!(snapshot.contains(&project.path().canonicalize().unwrap().display().to_string()), "{snapshot:?}");
    assert!(snapshot.contains("red-42"), "{snapshot:?}");

    // a job in a process group of its own dies with the terminal too
    let pidfile = project.path().join("job.pid");
    let mut viewer = again;
    terminals
        .input(
            &info.id,
            format!("sleep 1002 & echo $! > {}; echo job-started-$((1+1))\r", pidfile.display()).as_bytes(),
        )
        .await
        .unwrap();
    until(&mut viewer, "job-started-2").await;
    let job: u32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    assert!(opcode_testkit::process_alive(job));
    terminals.close(&info.id).await.unwrap();
    opcode_testkit::assert_all_dead(&[job, info.pid]).await;
    // what the shell wrote before it died may still be on its way; then the viewer ends
    let drained = tokio::time::timeout(LIMIT, async { while viewer.next_output().await.is_some() {} }).await;
    assert!(drained.is_ok(), "the viewer ends");
    assert!(matches!(terminals.attach(&info.id), Err(TerminalError::NotFound(_))));
    assert!(terminals.list(None).is_empty());
}

#[tokio::test]
async fn the_scrollback_comes_before_the_screen_on_attach() {
    let (terminals, _home) = terminals(4);
    let project = tempfile::tempdir().unwrap();
    let info = terminals.create(project.path(), PtySize::new(10, 40)).await.unwrap();
    let mut viewer = terminals.attach(&info.id).unwrap();
    terminals
        .input(&info.id, b"i=0; while [ $i -lt 50 ]; do echo line-$i; i=$((i+1)); done; echo done-$((1+1))\r")
        .await
        .unwrap();
    until(&mut viewer, "done-2").await;
    let snapshot = String::from_utf8_lossy(&terminals.attach(&info.id).unwrap().snapshot()).into_owned();
    let (first, last) = (snapshot.find("line-3\x1b").or(snapshot.find("line-3\r")), snapshot.find("line-49"));
    assert!(first.is_some() && last.is_some() && first < last, "scrollback then screen: {snapshot:?}");
    terminals.shutdown().await;
    assert!(terminals.list(None).is_empty());
}

#[tokio::test]
async fn an_exiting_shell_ends_its_terminal_and_limits_hold() {
    let (terminals, _home) = terminals(1);
    let project = tempfile::tempdir().unwrap();
    let info = terminals.create(project.path(), PtySize::default()).await.unwrap();
    let err = terminals.create(project.path(), PtySize::default()).await.unwrap_err();
    assert!(matches!(err, TerminalError::TooMany(1)), "{err}");
    let err = terminals.create(project.path(), PtySize { rows: 0, cols: 80 }).await.unwrap_err();
    assert!(matches!(err, TerminalError::BadSize { .. }), "{err}");
    let mut viewer = terminals.attach(&info.id).unwrap();
    terminals.input(&info.id, b"exit\r").await.unwrap();
    tokio::time::timeout(LIMIT, async { while viewer.next_output().await.is_some() {} }).await.unwrap();
    opcode_testkit::assert_all_dead(&[info.pid]).await;
    assert!(terminals.list(None).is_empty(), "the ended terminal is no longer listed");
    assert!(matches!(terminals.input(&info.id, b"x").await, Err(TerminalError::NotFound(_))));
}
