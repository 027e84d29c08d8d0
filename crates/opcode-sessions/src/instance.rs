//! This server's own folder of event logs, `<data_dir>/logs/<instance id>/`, held with an exclusive file
//! lock (`.lock`) for as long as the server runs. Several servers may share a data dir: a folder whose
//! lock can be taken belongs to a server that is gone (whatever the platform: no `/proc`, no pids), and
//! the next server to start adopts its logs.
//!
//! Blocking file work throughout: run it on a blocking thread.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::OpenError;

/// The lock file inside an instance folder.
const LOCK_FILE: &str = ".lock";

/// This server's log folder, locked until [`Instance::release`] or drop.
#[derive(Debug)]
pub(crate) struct Instance {
    pub(crate) id: String,
    pub(crate) dir: PathBuf,
    /// Held open (and so locked) while the server runs.
    lock: std::sync::Mutex<Option<File>>,
}

/// A folder of a server that is gone, locked by us while its logs are moved.
#[derive(Debug)]
pub(crate) struct Orphan {
    pub(crate) id: String,
    pub(crate) dir: PathBuf,
    _lock: File,
}

fn data_err(path: &Path) -> impl Fn(std::io::Error) -> OpenError + '_ {
    move |source| OpenError::DataDir { path: path.to_path_buf(), source }
}

impl Instance {
    /// Creates and locks a new instance folder under `logs_root`.
    pub(crate) fn create(logs_root: &Path) -> Result<Instance, OpenError> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let dir = logs_root.join(&id);
        std::fs::create_dir_all(&dir).map_err(data_err(&dir))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = File::create(&lock_path).map_err(data_err(&lock_path))?;
        lock.try_lock().map_err(|e| data_err(&lock_path)(std::io::Error::other(e.to_string())))?;
        Ok(Instance { id, dir, lock: std::sync::Mutex::new(Some(lock)) })
    }

    /// Lets go of the folder (at shutdown, once every log is written): the next server may adopt it.
    pub(crate) fn release(&self) {
        self.lock.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    /// The log file of `session_id`.
    pub(crate) fn log_path(&self, session_id: &str) -> PathBuf {
        self.dir.join(format!("{session_id}.jsonl"))
    }

    /// The folders under `logs_root` of servers that are gone (their lock is free), locked by us now.
    /// Folders of running servers are left alone.
    pub(crate) fn orphans(&self, logs_root: &Path) -> Vec<Orphan> {
        let Ok(entries) = std::fs::read_dir(logs_root) else { return Vec::new() };
        let mut orphans = Vec::new();
        for entry in entries.flatten() {
            let dir = entry.path();
            let Some(id) = entry.file_name().to_str().map(str::to_owned) else { continue };
            if id == self.id || !dir.is_dir() {
                continue;
            }
            // a folder of an older version has no lock file: creating one and locking it is just as good
            let Ok(lock) =
                std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(dir.join(LOCK_FILE))
            else {
                continue;
            };
            if lock.try_lock().is_ok() {
                orphans.push(Orphan { id, dir, _lock: lock });
            }
        }
        orphans
    }

    /// Moves the log of `session_id` from `orphan`'s folder into ours. Returns false if it is missing.
    pub(crate) fn take_log(&self, orphan: &Orphan, session_id: &str) -> bool {
        std::fs::rename(orphan.dir.join(format!("{session_id}.jsonl")), self.log_path(session_id)).is_ok()
    }
}

impl Orphan {
    /// Removes the folder and whatever is left in it (logs no remembered run points to).
    pub(crate) fn remove(self) {
        if let Err(err) = std::fs::remove_dir_all(&self.dir) {
            tracing::warn!(dir = %self.dir.display(), %err, "could not remove the log folder of a server that is gone");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_locked_folder_is_not_an_orphan_and_a_released_one_is() {
        let root = tempfile::tempdir().unwrap();
        let me = Instance::create(root.path()).unwrap();
        let other = Instance::create(root.path()).unwrap();
        std::fs::create_dir(root.path().join("1234-abcd")).unwrap(); // an older version's folder
        let found: Vec<String> = me.orphans(root.path()).into_iter().map(|o| o.id).collect();
        assert_eq!(found, ["1234-abcd"]);
        let other_id = other.id.clone();
        drop(other); // the server is gone: its lock is released
        let mut found: Vec<String> = me.orphans(root.path()).into_iter().map(|o| o.id).collect();
        found.sort();
        let mut expected = vec!["1234-abcd".to_owned(), other_id];
        expected.sort();
        assert_eq!(found, expected);
    }
}
