//! `bench-emitter`: a fast, realistic stand-in for claude in benchmarks, used as `--claude-bin`.
//!
//! The prompt (the argument after `--`, as claude takes it) carries the parameters: `count=N size=BYTES rate=PER_SECOND hang`. It prints a
//! `system/init` line, then N `assistant` lines of about BYTES bytes, each carrying its write time
//! (`"t"`, unix nanoseconds) and index (`"i"`), at RATE lines per second (0 = as fast as possible, written
//! through a 64 KiB buffer), then a `result` line. `hang` keeps it running after the lines. On SIGTERM it
//! prints `{"type":"system","subtype":"sigterm","t":…}` with the time the signal arrived, and exits.

use std::io::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn now_ns() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let prompt = args.iter().position(|a| a == "--").and_then(|i| args.get(i + 1)).cloned().unwrap_or_default();
    let session = value("--session-id").or_else(|| value("--resume")).unwrap_or_else(|| "bench".into());
    let param = |key: &str| {
        prompt.split_whitespace().find_map(|w| w.strip_prefix(&format!("{key}="))?.parse::<u64>().ok()).unwrap_or(0)
    };
    let (count, size, rate) = (param("count"), param("size").max(120), param("rate"));
    let hang = prompt.split_whitespace().any(|w| w == "hang");

    // the signal's arrival time is taken on a thread that does nothing else
    let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGTERM]).expect("signal handler");
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            let t = now_ns();
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{{\"type\":\"system\",\"subtype\":\"sigterm\",\"t\":{t}}}");
            let _ = out.flush();
            std::process::exit(143);
        }
    });

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, stdout.lock());
    let _ = writeln!(out, "{{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":\"{session}\",\"model\":\"bench\",\"cwd\":\"/\",\"tools\":[]}}");
    let _ = out.flush();
    let head = format!("{{\"type\":\"assistant\",\"session_id\":\"{session}\",\"message\":{{\"role\":\"assistant\",\"content\":[{{\"type\":\"text\",\"text\":\"");
    let start = Instant::now();
    let mut line = String::with_capacity(size as usize + 64);
    for i in 0..count {
        if let Some(offset) = (i * 1_000_000_000).checked_div(rate) {
            let due = start + Duration::from_nanos(offset);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        line.clear();
        line.push_str(&head);
        let tail = format!("\"}}]}},\"i\":{i},\"t\":{}}}", now_ns());
        let pad = (size as usize).saturating_sub(head.len() + tail.len());
        line.extend(std::iter::repeat_n('x', pad));
        line.push_str(&tail);
        line.push('\n');
        if out.write_all(line.as_bytes()).is_err() {
            std::process::exit(141);
        }
        if rate > 0 && out.flush().is_err() {
            std::process::exit(141);
        }
    }
    let _ = writeln!(out, "{{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"session_id\":\"{session}\",\"num_turns\":1,\"duration_ms\":{}}}", start.elapsed().as_millis());
    let _ = out.flush();
    drop(out);
    if hang {
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
}
