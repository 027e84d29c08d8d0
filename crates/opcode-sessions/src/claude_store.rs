//! Reads Claude's own files: `$CLAUDE_CONFIG_DIR` or `$HOME/.claude`, folder `projects/<project id>/`
//! holding one `<session id>.jsonl` transcript per session. The project id is the project's path with
//! every character other than ASCII letters and digits replaced by `-`.
//!
//! Everything here must stay fast with thousands of sessions and transcripts of hundreds of MB: listings
//! read directory entries and at most the first 64 KiB of a transcript; history is paged backwards from a
//! byte offset and never reads more than the page it returns (plus one chunk).
//! All functions block (std::fs); async callers run them on a blocking thread.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::Serialize;
use serde_json::Value;

use crate::error::StoreError;

/// How much of a transcript's head is read to describe it.
const HEAD_BYTES: u64 = 64 * 1024;
/// First chunk read when paging backwards; doubles while a line does not fit.
const CHUNK_BYTES: u64 = 64 * 1024;

/// Claude's configuration folder.
#[derive(Debug, Clone)]
pub struct ClaudeStore {
    root: PathBuf,
}

/// A project as `/api/projects` lists it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ProjectInfo {
    /// The folder name under `projects/`.
    pub id: String,
    /// The project directory (from a transcript's `cwd`, else decoded from the id).
    pub path: String,
    /// Session ids, newest first.
    pub sessions: Vec<String>,
    /// Unix seconds the folder was created (or modified, where creation is unknown).
    pub created_at: u64,
    /// Unix seconds of the newest transcript's last change.
    pub most_recent_session: Option<u64>,
}

/// A session as `/api/projects/{id}/sessions` lists it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SessionInfo {
    /// The session id.
    pub id: String,
    /// The project id.
    pub project_id: String,
    /// The project directory.
    pub project_path: String,
    /// Unix seconds of the transcript's last change.
    pub created_at: u64,
    /// The first user prompt, if found in the head of the transcript.
    pub first_message: Option<String>,
    /// The timestamp of that prompt.
    pub message_timestamp: Option<String>,
}

/// One page of a transcript, newest page first when paging.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HistoryPage {
    /// Transcript lines, oldest first within the page.
    pub messages: Vec<Value>,
    /// Byte offset to pass as `before` for the previous page; `None` at the start of the file.
    pub next_before: Option<u64>,
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            StoreError::NotFound(path.display().to_string())
        } else {
            StoreError::Io { path: path.to_path_buf(), source }
        }
    }
}

fn unix_secs(time: std::io::Result<std::time::SystemTime>) -> u64 {
    time.ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map(|d| d.as_secs()).unwrap_or(0)
}

/// Claude's folder name for a project directory.
pub fn project_id_for(path: &Path) -> String {
    path.to_string_lossy().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect()
}

fn check_project_id(id: &str) -> Result<(), StoreError> {
    let ok = !id.is_empty() && id.len() <= 255 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(StoreError::BadProjectId(id.to_owned()))
    }
}

fn check_session_id(id: &str) -> Result<(), StoreError> {
    uuid::Uuid::parse_str(id).map(|_| ()).map_err(|_| StoreError::BadSessionId(id.to_owned()))
}

/// The transcripts of a project folder with their modification times, newest first.
fn transcripts(folder: &Path) -> Result<Vec<(String, u64)>, StoreError> {
    let mut list: Vec<(String, u64)> = std::fs::read_dir(folder)
        .map_err(io_err(folder))?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let id = name.strip_suffix(".jsonl")?;
            uuid::Uuid::parse_str(id).ok()?;
            let modified = unix_secs(entry.metadata().and_then(|m| m.modified()));
            Some((id.to_owned(), modified))
        })
        .collect();
    list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(list)
}

/// Reads the head of a transcript line by line (at most [`HEAD_BYTES`]) until `visit` returns true.
fn scan_head(path: &Path, mut visit: impl FnMut(&Value) -> bool) {
    let Ok(file) = File::open(path) else { return };
    let reader = BufReader::new(file.take(HEAD_BYTES));
    for line in reader.lines() {
        let Ok(line) = line else { return };
        if let Ok(value) = serde_json::from_str::<Value>(&line) {
            if visit(&value) {
                return;
            }
        }
    }
}

/// The first real user prompt of a message value, if it is one.
fn user_prompt(value: &Value) -> Option<String> {
    if value.get("type")?.as_str()? != "user" {
        return None;
    }
    let content = value.get("message")?.get("content")?;
    let text = match content {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks.iter().find_map(|b| b.get("text")?.as_str().map(str::to_owned))?,
        _ => return None,
    };
    (!text.starts_with('<') && !text.trim().is_empty()).then_some(text)
}

impl ClaudeStore {
    /// The store at `root` (a `.claude` folder).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        ClaudeStore { root: root.into() }
    }

    /// `$CLAUDE_CONFIG_DIR`, else `$HOME/.claude`.
    pub fn from_env() -> Self {
        let root = match std::env::var_os("CLAUDE_CONFIG_DIR") {
            Some(dir) => PathBuf::from(dir),
            None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".claude"),
        };
        ClaudeStore { root }
    }

    /// The folder read.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn projects_dir(&self) -> PathBuf {
        self.root.join("projects")
    }

    fn project_dir(&self, project_id: &str) -> Result<PathBuf, StoreError> {
        check_project_id(project_id)?;
        Ok(self.projects_dir().join(project_id))
    }

    /// The transcript file of a session (ids checked; the file may not exist).
    pub fn transcript_path(&self, project_id: &str, session_id: &str) -> Result<PathBuf, StoreError> {
        check_session_id(session_id)?;
        Ok(self.project_dir(project_id)?.join(format!("{session_id}.jsonl")))
    }

    /// The project's directory: the `cwd` of its newest transcript, else the id decoded (`-` → `/`).
    fn project_path(&self, folder: &Path, id: &str, sessions: &[(String, u64)]) -> String {
        let mut cwd = None;
        if let Some((session, _)) = sessions.first() {
            scan_head(&folder.join(format!("{session}.jsonl")), |v| {
                cwd = v.get("cwd").and_then(Value::as_str).map(str::to_owned);
                cwd.is_some()
            });
        }
        cwd.unwrap_or_else(|| id.replace('-', "/"))
    }

    /// Every project, most recently used first. A missing `projects` folder is an empty list.
    pub fn projects(&self) -> Result<Vec<ProjectInfo>, StoreError> {
        let dir = self.projects_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(&dir)(e)),
        };
        let mut projects = Vec::new();
        for entry in entries.filter_map(Result::ok) {
            let Ok(id) = entry.file_name().into_string() else { continue };
            if check_project_id(&id).is_err() || !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let folder = entry.path();
            let sessions = transcripts(&folder).unwrap_or_default();
            let metadata = entry.metadata().ok();
            let created_at =
                unix_secs(metadata.as_ref().map_or_else(
                    || Err(std::io::Error::other("no metadata")),
                    |m| m.created().or_else(|_| m.modified()),
                ));
            projects.push(ProjectInfo {
                path: self.project_path(&folder, &id, &sessions),
                most_recent_session: sessions.first().map(|s| s.1),
                sessions: sessions.into_iter().map(|s| s.0).collect(),
                created_at,
                id,
            });
        }
        projects.sort_by(|a, b| {
            b.most_recent_session.unwrap_or(b.created_at).cmp(&a.most_recent_session.unwrap_or(a.created_at))
        });
        Ok(projects)
    }

    /// The sessions of a project, newest first.
    pub fn sessions(&self, project_id: &str) -> Result<Vec<SessionInfo>, StoreError> {
        let folder = self.project_dir(project_id)?;
        let list = transcripts(&folder)?;
        let project_path = self.project_path(&folder, project_id, &list);
        Ok(list
            .into_iter()
            .map(|(id, modified)| {
                let mut first = None;
                scan_head(&folder.join(format!("{id}.jsonl")), |v| {
                    first = user_prompt(v)
                        .map(|text| (text, v.get("timestamp").and_then(Value::as_str).map(str::to_owned)));
                    first.is_some()
                });
                let (first_message, message_timestamp) = first.map_or((None, None), |(m, t)| (Some(m), t));
                SessionInfo {
                    id,
                    project_id: project_id.to_owned(),
                    project_path: project_path.clone(),
                    created_at: modified,
                    first_message,
                    message_timestamp,
                }
            })
            .collect())
    }

    /// The latest session of the project at `project_dir` (by transcript modification time).
    pub fn latest_session_for(&self, project_dir: &Path) -> Option<String> {
        let folder = self.projects_dir().join(project_id_for(project_dir));
        transcripts(&folder).ok()?.into_iter().next().map(|(id, _)| id)
    }

    /// Every line of a transcript, oldest first: the seed's `load_session_history` (the whole file, each
    /// line as JSON, a line that is not JSON as a string). Use [`ClaudeStore::history_page`] where the
    /// transcript may be large.
    pub fn history(&self, project_id: &str, session_id: &str) -> Result<Vec<Value>, StoreError> {
        let path = self.transcript_path(project_id, session_id)?;
        let file = File::open(&path).map_err(io_err(&path))?;
        let mut messages = Vec::new();
        for line in BufReader::new(file).split(b'\n') {
            let line = line.map_err(io_err(&path))?;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            messages.push(
                serde_json::from_slice(&line)
                    .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&line).into_owned())),
            );
        }
        Ok(messages)
    }

    /// Up to `limit` transcript lines ending before byte `before` (default: the end), oldest first.
    /// Reads backwards in chunks: the cost is the page, not the file.
    pub fn history_page(
        &self,
        project_id: &str,
        session_id: &str,
        before: Option<u64>,
        limit: usize,
    ) -> Result<HistoryPage, StoreError> {
        let path = self.transcript_path(project_id, session_id)?;
        let mut file = File::open(&path).map_err(io_err(&path))?;
        let size = file.metadata().map_err(io_err(&path))?.len();
        let end = before.unwrap_or(size).min(size);
        if end < size && end > 0 {
            let mut byte = [0u8; 1];
            file.seek(SeekFrom::Start(end - 1)).map_err(io_err(&path))?;
            file.read_exact(&mut byte).map_err(io_err(&path))?;
            if byte[0] != b'\n' {
                return Err(StoreError::BadCursor(end));
            }
        }
        let (lines, first_offset) = read_lines_backwards(&mut file, end, limit.max(1)).map_err(io_err(&path))?;
        let messages = lines
            .iter()
            .rev()
            .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
            .map(|l| {
                serde_json::from_slice(l).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(l).into_owned()))
            })
            .collect();
        Ok(HistoryPage { messages, next_before: (first_offset > 0).then_some(first_offset) })
    }
}

/// Reads up to `limit` lines that end at or before `end`, newest first, and the offset where the oldest
/// returned line starts.
fn read_lines_backwards(file: &mut File, end: u64, limit: usize) -> std::io::Result<(Vec<Vec<u8>>, u64)> {
    // buf holds file[buf_start .. cur_end]; cur_end is where the next (older) line ends
    let mut buf: Vec<u8> = Vec::new();
    let mut buf_start = end;
    let mut cur_end = end;
    let mut lines = Vec::new();
    let mut chunk = CHUNK_BYTES;
    while lines.len() < limit && cur_end > 0 {
        // the line ending at cur_end excludes its own terminating newline
        let content_end =
            if cur_end > buf_start && buf[(cur_end - buf_start - 1) as usize] == b'\n' { cur_end - 1 } else { cur_end };
        let search = &buf[..(content_end - buf_start) as usize];
        match memchr::memrchr(b'\n', search) {
            Some(i) => {
                let line_start = buf_start + i as u64 + 1;
                lines.push(buf[(line_start - buf_start) as usize..(content_end - buf_start) as usize].to_vec());
                cur_end = line_start;
                buf.truncate((cur_end - buf_start) as usize);
            }
            None if buf_start == 0 => {
                lines.push(buf[..(content_end - buf_start) as usize].to_vec());
                cur_end = 0;
            }
            None => {
                let new_start = buf_start.saturating_sub(chunk);
                let mut older = vec![0u8; (buf_start - new_start) as usize];
                file.seek(SeekFrom::Start(new_start))?;
                file.read_exact(&mut older)?;
                older.extend_from_slice(&buf);
                buf = older;
                buf_start = new_start;
                chunk = chunk.saturating_mul(2);
            }
        }
    }
    Ok((lines, cur_end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with(lines: &[&str]) -> (tempfile::TempDir, ClaudeStore, String) {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("projects/-p");
        std::fs::create_dir_all(&folder).unwrap();
        let id = "11111111-2222-4333-8444-555555555555".to_owned();
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(folder.join(format!("{id}.jsonl")), text).unwrap();
        let store = ClaudeStore::new(dir.path());
        (dir, store, id)
    }

    #[test]
    fn pages_backwards_without_gaps_or_overlap() {
        let lines: Vec<String> =
            (0..1000).map(|i| format!("{{\"n\":{i},\"pad\":\"{}\"}}", "x".repeat(i % 300))).collect();
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let (_dir, store, id) = store_with(&refs);
        let mut seen = Vec::new();
        let mut before = None;
        loop {
            let page = store.history_page("-p", &id, before, 77).unwrap();
            let ns: Vec<u64> = page.messages.iter().map(|m| m["n"].as_u64().unwrap()).collect();
            seen.splice(0..0, ns);
            match page.next_before {
                Some(b) => before = Some(b),
                None => break,
            }
        }
        assert_eq!(seen, (0..1000).collect::<Vec<u64>>());
    }

    #[test]
    fn the_whole_history_is_every_line_in_order() {
        let (_dir, store, id) = store_with(&[r#"{"n":0}"#, "", "not json", r#"{"n":2}"#]);
        let all = store.history("-p", &id).unwrap();
        assert_eq!(all, vec![serde_json::json!({"n":0}), Value::String("not json".into()), serde_json::json!({"n":2})]);
        assert!(matches!(store.history("-p", "11111111-2222-4333-8444-000000000000"), Err(StoreError::NotFound(_))));
        assert!(matches!(store.history("..", &id), Err(StoreError::BadProjectId(_))));
    }

    #[test]
    fn refuses_ids_that_could_escape_the_folder() {
        let (_dir, store, id) = store_with(&["{}"]);
        assert!(matches!(store.history_page("..", &id, None, 10), Err(StoreError::BadProjectId(_))));
        assert!(matches!(store.history_page("-p", "../x", None, 10), Err(StoreError::BadSessionId(_))));
        assert!(matches!(store.sessions("a/b"), Err(StoreError::BadProjectId(_))));
        assert!(matches!(store.history_page("-p", &id, Some(1), 10), Err(StoreError::BadCursor(1))));
    }

    #[test]
    fn lists_projects_and_sessions_with_their_first_prompt() {
        let (_dir, store, id) = store_with(&[
            r#"{"type":"queue-operation"}"#,
            r#"{"type":"user","message":{"role":"user","content":"say hello"},"cwd":"/home/dev/p","timestamp":"t1"}"#,
        ]);
        let projects = store.projects().unwrap();
        assert_eq!(projects.len(), 1);
        assert_eq!(projects[0].path, "/home/dev/p");
        assert_eq!(projects[0].sessions, vec![id.clone()]);
        let sessions = store.sessions("-p").unwrap();
        assert_eq!(sessions[0].first_message.as_deref(), Some("say hello"));
        assert_eq!(sessions[0].message_timestamp.as_deref(), Some("t1"));
    }
}
