//! Restoring a project's files to how they were at a prompt, with the CLI's own file checkpoints.
//!
//! When checkpoints are on (for our runs: [`crate::claude_cli::CHECKPOINTS_ON`]), the CLI writes, for
//! each prompt, a `file-history-snapshot` line in the transcript (`messageId`: the prompt's `uuid`;
//! `snapshot.trackedFileBackups`: for each file it edited so far, the backup of its content at that
//! prompt, `backupFileName: null` when the file did not exist then), updated while the turn edits new
//! files, and keeps the backups in `<claude folder>/file-history/<session id>/`. `claude --resume ID
//! --rewind-files MESSAGE` then restores them.
//!
//! [`preview`] reads the same records to say, before anything is touched, which files a rewind would
//! change and how (a unified diff from what is on disk now to what will be restored, through `similar`);
//! the rewind itself is the CLI's ([`rewind_args`]). Blocking file I/O; bounded: backups and files over
//! [`MAX_DIFF_BYTES`] are listed without a diff, at most [`MAX_FILES`] files are shown.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::claude_store::project_id_for;

/// Files listed in a preview.
pub const MAX_FILES: usize = 200;
/// Larger files get no diff.
pub const MAX_DIFF_BYTES: u64 = 256 * 1024;
/// How long `claude --rewind-files` may take.
pub const REWIND_TIMEOUT: Duration = Duration::from_secs(60);
/// Transcript lines longer than this are not read (a checkpoint line is small).
const MAX_LINE_BYTES: usize = 8 * 1024 * 1024;

/// Why a rewind cannot be previewed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RewindError {
    /// The CLI kept no checkpoint at that prompt.
    #[error("there is no file checkpoint at this message: claude keeps one per prompt only for runs with checkpoints on (runs started by opcode-web have them), so these files cannot be restored from here")]
    NoCheckpoint,
    /// Reading the transcript failed.
    #[error("reading {path} failed")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// What a rewind would do to one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileChange {
    /// The file did not exist at that prompt: it will be deleted.
    Delete,
    /// It exists at that prompt but not now: it will be created again.
    Create,
    /// Its content will change.
    Modify,
}

/// One file a rewind would change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FilePreview {
    /// The file.
    pub path: String,
    /// What happens to it.
    pub change: FileChange,
    /// A unified diff from now to after the rewind (`None` for a binary or large file).
    pub diff: Option<String>,
}

/// What a rewind to a prompt would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RewindPreview {
    /// The prompt's message id.
    pub message_id: String,
    /// The files that differ from their state at the prompt.
    pub files: Vec<FilePreview>,
    /// More files differ than are listed.
    pub truncated: bool,
}

/// The argv (after the program) of `claude --resume ID --rewind-files MESSAGE`.
pub fn rewind_args(session_id: &str, message_id: &str) -> Vec<OsString> {
    ["--resume", session_id, "--rewind-files", message_id].into_iter().map(OsString::from).collect()
}

/// For each file the session's checkpoints track, its backup at `message_id` (`None`: it did not exist
/// then), as the CLI decides it: from that prompt's snapshot; a file the snapshot does not track takes its
/// first backup (version 1, the content before claude first edited it), and without one it did not
/// exist then (a file claude created is deleted).
fn state_at(transcript: &Path, message_id: &str) -> Result<BTreeMap<String, Option<String>>, RewindError> {
    let io = |source| RewindError::Io { path: transcript.to_path_buf(), source };
    let file = std::fs::File::open(transcript).map_err(io)?;
    let mut found = false;
    let mut at_prompt: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut first: BTreeMap<String, Option<String>> = BTreeMap::new();
    for line in BufReader::new(file).split(b'\n') {
        let line = line.map_err(io)?;
        if line.len() > MAX_LINE_BYTES || !line.windows(21).any(|w| w == b"file-history-snapshot") {
            continue;
        }
        let Ok(value) = serde_json::from_slice::<Value>(&line) else { continue };
        let snapshot = &value["snapshot"];
        let id = value["messageId"].as_str().or(snapshot["messageId"].as_str()).unwrap_or_default();
        let Some(backups) = snapshot["trackedFileBackups"].as_object() else { continue };
        found |= id == message_id;
        for (path, backup) in backups {
            let name = backup["backupFileName"].as_str().map(str::to_owned);
            let entry = first.entry(path.clone()).or_insert(None);
            if backup["version"] == 1 {
                *entry = name.clone();
            }
            if id == message_id {
                // an update of the prompt's snapshot is newer: it wins
                at_prompt.insert(path.clone(), name);
            }
        }
    }
    if !found {
        return Err(RewindError::NoCheckpoint);
    }
    for (path, backup) in first {
        at_prompt.entry(path).or_insert(backup);
    }
    Ok(at_prompt)
}

fn small_text(path: &Path) -> Option<Option<String>> {
    match std::fs::metadata(path) {
        Err(_) => Some(None),
        Ok(meta) if meta.len() > MAX_DIFF_BYTES => None,
        Ok(_) => std::fs::read(path).ok().and_then(|b| String::from_utf8(b).ok()).map(Some),
    }
}

/// Which of the project's files a rewind of session `session_id` to prompt `message_id` would change,
/// with diffs; [`RewindError::NoCheckpoint`] when the CLI kept no checkpoint there. `claude_dir` is the
/// Claude folder, `project` the session's project (canonical). Reads only.
pub fn preview(
    claude_dir: &Path,
    project: &Path,
    session_id: &str,
    message_id: &str,
) -> Result<RewindPreview, RewindError> {
    let transcript = claude_dir.join("projects").join(project_id_for(project)).join(format!("{session_id}.jsonl"));
    let backups = claude_dir.join("file-history").join(session_id);
    let mut files = Vec::new();
    let mut truncated = false;
    for (path, backup) in state_at(&transcript, message_id)? {
        let absolute = if Path::new(&path).is_absolute() { PathBuf::from(&path) } else { project.join(&path) };
        let now = small_text(&absolute);
        let then = match &backup {
            None => Some(None),
            Some(name) => small_text(&backups.join(name)),
        };
        let exists_now = absolute.exists();
        let change = match (&backup, exists_now) {
            (None, false) => continue,
            (None, true) => FileChange::Delete,
            (Some(_), false) => FileChange::Create,
            (Some(_), true) => FileChange::Modify,
        };
        let diff = match (now, then) {
            (Some(now), Some(then)) => {
                let (now, then) = (now.unwrap_or_default(), then.unwrap_or_default());
                if now == then && change == FileChange::Modify {
                    continue;
                }
                let diff = similar::TextDiff::from_lines(&now, &then);
                Some(
                    diff.unified_diff()
                        .context_radius(3)
                        .header(&format!("{path} (now)"), &format!("{path} (restored)"))
                        .to_string(),
                )
            }
            _ => None,
        };
        if files.len() == MAX_FILES {
            truncated = true;
            break;
        }
        files.push(FilePreview { path, change, diff });
    }
    Ok(RewindPreview { message_id: message_id.to_owned(), files, truncated })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_preview_diffs_what_is_on_disk_against_the_checkpoint() {
        let claude = tempfile::tempdir().unwrap();
        let project = tempfile::tempdir().unwrap();
        let session = "11111111-1111-4111-8111-111111111111";
        let folder = claude.path().join("projects").join(project_id_for(project.path()));
        std::fs::create_dir_all(&folder).unwrap();
        let backups = claude.path().join("file-history").join(session);
        std::fs::create_dir_all(&backups).unwrap();
        std::fs::write(backups.join("abc@v2"), "one\n").unwrap();
        let notes = project.path().join("notes.txt").display().to_string();
        let made = project.path().join("made.txt").display().to_string();
        let snapshot = |id: &str, files: Value| json!({"type":"file-history-snapshot","messageId":id,"snapshot":{"messageId":id,"trackedFileBackups":files}});
        let lines = [
            // as the genuine CLI writes them in print mode: the file made in turn 1 is first tracked at u2
            snapshot("u1", json!({})),
            snapshot("u2", json!({ notes.clone(): {"backupFileName": "abc@v2", "version": 2} })),
            snapshot("u3", json!({ made.clone(): {"backupFileName": null, "version": 1} })),
        ];
        std::fs::write(
            folder.join(format!("{session}.jsonl")),
            lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
        )
        .unwrap();
        std::fs::write(&notes, "two\n").unwrap();
        std::fs::write(&made, "new\n").unwrap();

        let at_two = preview(claude.path(), project.path(), session, "u2").unwrap();
        let changes: Vec<_> = at_two.files.iter().map(|f| (f.path.as_str(), f.change.clone())).collect();
        assert_eq!(changes, [(made.as_str(), FileChange::Delete), (notes.as_str(), FileChange::Modify)]);
        let diff = at_two.files[1].diff.as_deref().unwrap();
        assert!(diff.contains("-two") && diff.contains("+one"), "{diff}");
        let at_one = preview(claude.path(), project.path(), session, "u1").unwrap();
        assert!(at_one.files.iter().all(|f| f.change == FileChange::Delete), "{at_one:?}");
        assert!(matches!(preview(claude.path(), project.path(), session, "nope"), Err(RewindError::NoCheckpoint)));
    }
}
