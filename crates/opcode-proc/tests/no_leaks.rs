//! 500 spawns leave no zombie and no file descriptor behind. Alone in its test binary, so no other test's
//! children are counted.

mod common;

use std::time::Duration;

use common::*;
use opcode_proc::ProcessEvent;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn zombie_children() -> Vec<u32> {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
            let Some((_, rest)) = stat.rsplit_once(')') else { return false };
            let fields: Vec<_> = rest.split_whitespace().collect();
            fields.first() == Some(&"Z") && fields.get(1) == Some(&me.as_str())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_spawns_leave_no_zombies_and_no_fds() {
    // warm up: the runtime's own fds (signal pipe, reaper) are opened on first use
    let mut first = spawn(fake("warm")).await;
    collect(&mut first, Duration::from_secs(30)).await;
    drop(first);
    let fds_before = open_fds();

    let mut batch = tokio::task::JoinSet::new();
    for i in 0..500 {
        batch.spawn(async move {
            let prompt = if i % 5 == 0 { "x @hang".to_owned() } else { format!("run {i}") };
            let mut child = spawn(fake(&prompt)).await;
            if i % 5 == 0 {
                next_line(&mut child).await;
                child.cancel(Duration::from_millis(100));
            }
            let events = collect(&mut child, Duration::from_secs(60)).await;
            assert!(matches!(events.last(), Some(ProcessEvent::Exited(_))));
        });
        if batch.len() >= 8 {
            batch.join_next().await.unwrap().unwrap();
        }
    }
    while let Some(r) = batch.join_next().await {
        r.unwrap();
    }
    assert_eq!(zombie_children(), Vec::<u32>::new(), "zombies left");
    assert_eq!(open_fds(), fds_before, "file descriptors leaked");
}
