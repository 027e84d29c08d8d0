//! A finished run costs no file descriptor and a small, bounded amount of memory: 1,000 runs leave the
//! process's fds where they started (± 8) and its memory flat. Alone in its test binary, so that no other
//! test's sockets and pipes are counted.

mod common;

use common::*;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

async fn run_many(f: &Fixture, n: usize) {
    let mut workers = tokio::task::JoinSet::new();
    let per_worker = n / 4;
    for w in 0..4 {
        let registry = f.registry.clone();
        let request = f.request("execute", &format!("worker {w} @lines=5"), None);
        workers.spawn(async move {
            for _ in 0..per_worker {
                let mut request = request.clone();
                request.session_id = Some(uuid::Uuid::new_v4());
                let run = registry.start_run(request).await.unwrap();
                drain(registry.subscribe(&run.session_id, 0).await.unwrap()).await;
            }
        });
    }
    while let Some(done) = workers.join_next().await {
        done.unwrap();
    }
    f.registry.flushed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_finished_runs_leave_fds_and_memory_flat() {
    let f = fixture(|c| c.max_finished_in_memory = 64).await;
    // warm up: the runtime's and the allocator's own growth is not the runs'
    run_many(&f, 100).await;
    let (fds_before, rss_before) = (open_fds(), rss_kib());
    run_many(&f, 1000).await;
    let (fds_after, rss_after) = (open_fds(), rss_kib());
    assert_eq!(f.registry.list().await.len(), 1100);
    assert!(f.registry.loaded() <= 64, "{} sessions loaded", f.registry.loaded());
    assert!(fds_after.abs_diff(fds_before) <= 8, "fds {fds_before} → {fds_after}");
    assert!(rss_after <= rss_before + 8 * 1024, "RSS {rss_before} KiB → {rss_after} KiB");
    eprintln!("fds {fds_before} → {fds_after}, RSS {rss_before} KiB → {rss_after} KiB");
}
