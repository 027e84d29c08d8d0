//! What a process group costs right now: how many of its processes live, their CPU time and resident
//! memory, read from Linux's `/proc` (blocking but cheap: call it off the async threads when polled often).

use std::path::Path;

/// The resources of one process group, summed over its live members.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GroupUsage {
    /// Live (not zombie) processes in the group.
    pub processes: u32,
    /// User + system CPU time consumed so far, in seconds.
    pub cpu_seconds: f64,
    /// Resident memory, in bytes.
    pub rss_bytes: u64,
}

/// The usage of process group `pgid`; `processes == 0` when none of it is alive (or on systems without
/// `/proc`).
pub fn group_usage(pgid: u32) -> GroupUsage {
    let mut usage = GroupUsage::default();
    let Ok(entries) = std::fs::read_dir("/proc") else { return usage };
    let ticks = clock_ticks_per_second();
    let page = page_size();
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let Some(stat) = read_stat(&Path::new("/proc").join(pid.to_string()).join("stat")) else { continue };
        if stat.pgrp != pgid || matches!(stat.state, 'Z' | 'X') {
            continue;
        }
        usage.processes += 1;
        usage.cpu_seconds += (stat.utime + stat.stime) as f64 / ticks;
        usage.rss_bytes += stat.rss_pages.max(0) as u64 * page;
    }
    usage
}

struct Stat {
    state: char,
    pgrp: u32,
    utime: u64,
    stime: u64,
    rss_pages: i64,
}

/// Parses `/proc/<pid>/stat`; the command name may contain spaces and parentheses, so fields are counted
/// from the last `)`.
fn read_stat(path: &Path) -> Option<Stat> {
    let text = std::fs::read_to_string(path).ok()?;
    let rest = text.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state); field N is fields[N - 3]
    Some(Stat {
        state: fields.first()?.chars().next()?,
        pgrp: fields.get(5 - 3)?.parse().ok()?,
        utime: fields.get(14 - 3)?.parse().ok()?,
        stime: fields.get(15 - 3)?.parse().ok()?,
        rss_pages: fields.get(24 - 3)?.parse().ok()?,
    })
}

fn clock_ticks_per_second() -> f64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).ok().flatten().filter(|t| *t > 0).unwrap_or(100) as f64
}

fn page_size() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE).ok().flatten().filter(|p| *p > 0).unwrap_or(4096) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_own_group_is_alive_and_uses_memory_and_an_unused_group_nothing() {
        let own = nix::unistd::getpgrp().as_raw() as u32;
        let usage = group_usage(own);
        assert!(usage.processes >= 1, "{usage:?}");
        assert!(usage.rss_bytes > 1024 * 1024, "{usage:?}");
        assert_eq!(group_usage(u32::MAX - 1), GroupUsage::default());
    }
}
