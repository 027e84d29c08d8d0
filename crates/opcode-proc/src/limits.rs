//! The process's own resource limits: a server that holds a socket per viewer and pipes per child, or a
//! bench that opens thousands of sockets, needs more open files than the usual soft limit of 1024.

use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// Raises this process's soft limit of open files to its hard limit. Returns the soft limit before and
/// after (equal when it was at the hard limit already); an error when the limit cannot be read or set.
pub fn raise_open_file_limit() -> std::io::Result<(u64, u64)> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
    }
    Ok((soft, hard.max(soft)))
}
