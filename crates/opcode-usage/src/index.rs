//! The incremental refresh: find Claude's transcripts, read only what was appended since the last
//! refresh, and hand the store batches of messages with each file's new read position.
//!
//! Per file, from what the store remembers (size, mtime, inode, the offset after the last complete line,
//! the first bytes and the bytes before that offset):
//! - unchanged size and mtime: not opened;
//! - a new inode, a size below the offset, or first/last bytes that differ: the file was replaced or
//!   rewritten: what it held is forgotten and it is read from the start;
//! - otherwise it is read from the offset.
//!
//! Reading streams the file through a fixed buffer and stops before a last line without its newline (a
//! line the CLI is still writing): that line is read next time. Memory is bounded by the buffer, the
//! longest line (lines over [`MAX_LINE`] are skipped) and one batch of messages.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use opcode_store::{Store, UsageBatch, UsageFile, UsageMessage};

use crate::transcript::{LineReader, Message, Seen};
use crate::UsageError;

/// Longest line read; longer ones (a pasted image, say) carry no usage worth the memory and are skipped.
pub(crate) const MAX_LINE: usize = 64 * 1024 * 1024;
/// Messages handed to the store per transaction.
const BATCH: usize = 4096;
/// First bytes remembered of a file.
const HEAD: usize = 256;
/// Bytes remembered before the read offset.
const TAIL: usize = 64;
/// Read buffer.
const BUFFER: usize = 256 * 1024;

/// What one refresh did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RefreshStats {
    /// Transcript files found.
    pub files: usize,
    /// Files read (new, grown, or re-read from the start).
    pub files_read: usize,
    /// Files re-read from the start because they shrank or were replaced or rewritten.
    pub files_reset: usize,
    /// Files the index forgot because they are gone.
    pub files_gone: usize,
    /// Bytes read.
    pub bytes_read: u64,
    /// Assistant messages read (before de-duplication).
    pub messages: u64,
}

/// The transcripts under `projects` with their project folder: `projects/<id>/**/*.jsonl`.
fn transcripts(projects: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for entry in walkdir::WalkDir::new(projects).min_depth(2).max_depth(4).into_iter().filter_map(Result::ok) {
        if !entry.file_type().is_file() || entry.path().extension().is_none_or(|e| e != "jsonl") {
            continue;
        }
        let Ok(relative) = entry.path().strip_prefix(projects) else { continue };
        let Some(project) = relative.components().next().and_then(|c| c.as_os_str().to_str()) else { continue };
        let (Some(path), project) = (entry.path().to_str(), project.to_owned()) else { continue };
        found.push((path.to_owned(), project));
    }
    found
}

fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    meta.mtime().saturating_mul(1_000_000_000).saturating_add(meta.mtime_nsec())
}

fn read_at(file: &mut File, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0; len];
    file.seek(SeekFrom::Start(offset))?;
    let mut filled = 0;
    while filled < len {
        match file.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    buf.truncate(filled);
    Ok(buf)
}

/// Whether the bytes the index remembers are still where they were.
fn same_content(file: &mut File, known: &UsageFile) -> std::io::Result<bool> {
    if read_at(file, 0, known.head.len())? != known.head {
        return Ok(false);
    }
    let start = known.indexed_bytes - known.tail.len() as u64;
    Ok(read_at(file, start, known.tail.len())? == known.tail)
}

/// Refreshes the index from every transcript under `projects`, then the rollup of what changed.
pub(crate) fn refresh(store: &Store, projects: &Path) -> Result<RefreshStats, UsageError> {
    let mut known: HashMap<String, UsageFile> = store.usage_files()?.into_iter().map(|f| (f.path.clone(), f)).collect();
    let found = transcripts(projects);
    let mut stats = RefreshStats { files: found.len(), ..RefreshStats::default() };
    let reader = LineReader::new();
    let mut buffer = Vec::new();
    for (path, project) in found {
        let previous = known.remove(&path);
        if let Err(err) = refresh_file(store, &reader, &path, &project, previous, &mut stats, &mut buffer) {
            match err {
                UsageError::Io { .. } => tracing::debug!(%err, "transcript skipped this time"),
                other => return Err(other),
            }
        }
    }
    let gone: Vec<String> = known.into_keys().collect();
    stats.files_gone = gone.len();
    if !gone.is_empty() {
        store.usage_forget(&gone)?;
    }
    store.usage_finish()?;
    Ok(stats)
}

fn io(path: &str) -> impl FnOnce(std::io::Error) -> UsageError + '_ {
    move |source| UsageError::Io { path: path.into(), source }
}

fn refresh_file(
    store: &Store,
    reader: &LineReader,
    path: &str,
    project: &str,
    previous: Option<UsageFile>,
    stats: &mut RefreshStats,
    line: &mut Vec<u8>,
) -> Result<(), UsageError> {
    // an unchanged file is not even opened
    let meta = std::fs::metadata(path).map_err(io(path))?;
    let (size, mtime, inode) = (meta.len(), mtime_ns(&meta), meta.ino());
    if previous.as_ref().is_some_and(|known| known.size == size && known.mtime_ns == mtime && known.inode == inode) {
        return Ok(());
    }
    let mut file = File::open(path).map_err(io(path))?;
    let inode = file.metadata().map_err(io(path))?.ino(); // the file opened, should it have been replaced since
    let mut reset = false;
    let mut state = match previous {
        Some(known)
            if known.inode == inode
                && size >= known.indexed_bytes
                && same_content(&mut file, &known).map_err(io(path))? =>
        {
            known
        }
        previous => {
            reset = previous.is_some();
            let stem = Path::new(path).file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
            UsageFile {
                path: path.to_owned(),
                project_id: project.to_owned(),
                project_path: None,
                session_id: stem,
                size: 0,
                mtime_ns: 0,
                inode,
                indexed_bytes: 0,
                head: Vec::new(),
                tail: Vec::new(),
                cli_cost: None,
            }
        }
    };
    stats.files_read += 1;
    stats.files_reset += usize::from(reset);
    state.inode = inode;
    state.mtime_ns = mtime;
    let session_from_name = state.session_id.len() == 36;

    file.seek(SeekFrom::Start(state.indexed_bytes)).map_err(io(path))?;
    let mut input = BufReader::with_capacity(BUFFER, file);
    let start = state.indexed_bytes;
    let mut offset = start; // after the last complete line
    let mut pending = 0u64; // bytes of the line being read
    let mut oversized = false;
    let mut messages: Vec<UsageMessage> = Vec::new();
    line.clear();
    loop {
        let chunk = input.fill_buf().map_err(io(path))?;
        if chunk.is_empty() {
            break; // end of file: a line without its newline waits for next time
        }
        let (take, complete) = match memchr::memchr(b'\n', chunk) {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let position = offset + pending;
        if position < HEAD as u64 && state.head.len() as u64 == position {
            state.head.extend_from_slice(&chunk[..(HEAD - position as usize).min(take)]);
        }
        if !oversized && line.len() + take > MAX_LINE {
            oversized = true;
            *line = Vec::new();
        }
        if !oversized {
            line.extend_from_slice(&chunk[..take]);
        }
        pending += take as u64;
        input.consume(take);
        if !complete {
            continue;
        }
        if oversized {
            state.tail = b"\n".to_vec();
        } else {
            state.tail = line[line.len().saturating_sub(TAIL)..].to_vec();
            let text = &line[..line.len() - 1];
            if state.project_path.is_none() {
                state.project_path = reader.cwd(text);
            }
            match reader.read(text) {
                Seen::Message(m) => {
                    stats.messages += 1;
                    if !session_from_name {
                        if let Some(session) = &m.session_id {
                            state.session_id.clone_from(session);
                        }
                    }
                    messages.push(stored(m, &state.session_id));
                }
                Seen::CliCost(cost) => state.cli_cost = Some(cost),
                Seen::Nothing => {}
            }
        }
        offset += pending;
        pending = 0;
        oversized = false;
        line.clear();
        if messages.len() >= BATCH {
            state.indexed_bytes = offset;
            state.size = offset;
            store.usage_apply(&[UsageBatch { file: &state, reset, messages: &messages }])?;
            reset = false;
            messages.clear();
        }
    }
    let consumed = offset + pending;
    stats.bytes_read += consumed - start;
    state.indexed_bytes = offset;
    // the size seen: what was read, partial line included, so only a change after it reads again
    state.size = consumed.max(size);
    if line.capacity() > BUFFER {
        *line = Vec::new(); // give a huge line's memory back
    }
    store.usage_apply(&[UsageBatch { file: &state, reset, messages: &messages }])?;
    Ok(())
}

fn stored(m: Message, file_session: &str) -> UsageMessage {
    let cost = m.cost_usd.unwrap_or_else(|| {
        crate::pricing::cost(&m.model, m.input_tokens, m.output_tokens, m.cache_creation_tokens, m.cache_read_tokens)
            .unwrap_or(0.0)
    });
    UsageMessage {
        // without a message id a line cannot be matched with its copies: it is its own key
        message_id: m.message_id.or(m.uuid).unwrap_or_default(),
        request_id: m.request_id.unwrap_or_default(),
        session_id: m.session_id.unwrap_or_else(|| file_session.to_owned()),
        model: m.model,
        ts_ms: m.ts_ms,
        day: m.day,
        input_tokens: m.input_tokens,
        output_tokens: m.output_tokens,
        cache_creation_tokens: m.cache_creation_tokens,
        cache_read_tokens: m.cache_read_tokens,
        cost,
    }
}
