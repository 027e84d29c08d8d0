//! One session's event log: numbered events, a bounded tail in memory, all of them on disk.
//!
//! Appends assign `seq`, encode the event once (`Bytes`, shared by every viewer), write it to a buffered
//! file and push it on the in-memory tail. The tail holds at most `tail_events` and `tail_bytes`; before an event leaves
//! the tail the file is flushed, so **every event is either in the tail or readable from the file**, and
//! a reader can always get any seq. The file is never fsynced: a crash of the machine can lose the last
//! buffered events of the log, a crash of the server loses the log anyway (logs are per server run).
//!
//! Waiting is done with a `watch` channel of [`LogStatus`]: a watcher can never miss that something was
//! appended, and never has to keep up with every append.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bytes::Bytes;
use opcode_proto::{EventKind, Seq};
use tokio::sync::watch;

use crate::error::LogError;

/// Every `INDEX_EVERY`-th event's file offset is remembered, so a read from any seq seeks close to it.
const INDEX_EVERY: u64 = 256;

/// Limits of one log's in-memory tail; older events are read back from the file.
#[derive(Debug, Clone, Copy)]
pub struct LogConfig {
    /// Events kept in memory at most.
    pub tail_events: usize,
    /// Bytes of events kept in memory at most (the newest event is always kept).
    pub tail_bytes: usize,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { tail_events: 512, tail_bytes: 96 * 1024 }
    }
}

/// Events read from the file per call at least (when that many are there).
const DISK_BATCH: usize = 2048;

/// The log file's write buffer: small, because a thousand sessions each hold one.
const WRITE_BUFFER_BYTES: usize = 16 * 1024;

/// What a watcher needs to know: how many events exist and whether more may come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LogStatus {
    /// The seq the next event will get (= number of events so far).
    pub(crate) next_seq: Seq,
    /// True while a run of the session is live (more events will come).
    pub(crate) live: bool,
}

/// One session's numbered events. See the module doc for the guarantees.
#[derive(Debug)]
pub struct EventLog {
    session_id: String,
    /// The id as a JSON string literal, escaped once for every event.
    session_json: String,
    path: PathBuf,
    config: LogConfig,
    inner: Mutex<LogInner>,
    status: watch::Sender<LogStatus>,
}

#[derive(Debug)]
struct LogInner {
    next_seq: Seq,
    /// The newest events; `tail[0]` has seq `tail_start`.
    tail: VecDeque<Bytes>,
    tail_start: Seq,
    /// Bytes held by `tail`.
    tail_bytes: usize,
    writer: BufWriter<File>,
    /// Bytes written to the writer so far (the offset of the next event).
    written: u64,
    /// Events with seq < `flushed_upto` are readable from the file.
    flushed_upto: Seq,
    /// File offsets of events 0, INDEX_EVERY, 2·INDEX_EVERY, …
    index: Vec<u64>,
}

/// Where the events asked for are.
pub(crate) enum Batch {
    /// Copied from the in-memory tail.
    Ready(Vec<Bytes>),
    /// On disk: read them with [`EventLog::read_file`] (blocking I/O).
    OnDisk {
        /// Offset of the indexed event at or before `from`.
        offset: u64,
        /// Events to skip from `offset` to reach `from`.
        skip: u64,
        /// How many to read.
        count: u64,
    },
}

impl EventLog {
    /// Creates the log file at `path` (truncating it) for session `session_id`.
    pub fn create(session_id: &str, path: PathBuf, config: LogConfig) -> Result<Self, LogError> {
        let err = |action, source| LogError { path: path.clone(), action, source };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| err("create folder", e))?;
        }
        let file = File::create(&path).map_err(|e| err("create", e))?;
        let (status, _) = watch::channel(LogStatus { next_seq: 0, live: false });
        Ok(EventLog {
            session_id: session_id.to_owned(),
            session_json: opcode_proto::event::session_id_json(session_id),
            path,
            config,
            inner: Mutex::new(LogInner {
                next_seq: 0,
                tail: VecDeque::new(),
                tail_start: 0,
                tail_bytes: 0,
                writer: BufWriter::with_capacity(WRITE_BUFFER_BYTES, file),
                written: 0,
                flushed_upto: 0,
                index: Vec::new(),
            }),
            status,
        })
    }

    /// The session this log belongs to.
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// The file holding the log.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one event, assigning the next seq, and wakes every watcher. Returns the seq.
    ///
    /// A failed disk write is logged and the event is still kept in memory and delivered: losing the
    /// durable copy must not stop a run from being watched.
    pub fn append(&self, kind: EventKind) -> Seq {
        self.append_batch(vec![kind]).unwrap_or_default()
    }

    /// Appends events in order under one lock and wakes the watchers once, so that viewers read them as
    /// one batch (one wake-up and one socket write for many lines). Returns the first seq, if any.
    pub fn append_batch(&self, kinds: Vec<EventKind>) -> Option<Seq> {
        if kinds.is_empty() {
            return None;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let first = inner.next_seq;
        for kind in &kinds {
            self.push(&mut inner, kind);
        }
        let next = inner.next_seq;
        drop(inner);
        self.status.send_modify(|s| s.next_seq = next);
        Some(first)
    }

    fn push(&self, inner: &mut LogInner, kind: &EventKind) {
        let seq = inner.next_seq;
        let mut json = opcode_proto::event::encode_event(&self.session_json, seq, kind);
        json.push('\n');
        if seq % INDEX_EVERY == 0 {
            let offset = inner.written;
            inner.index.push(offset);
        }
        if let Err(err) = inner.writer.write_all(json.as_bytes()) {
            tracing::warn!(session_id = %self.session_id, %err, "event log write failed");
        }
        inner.written += json.len() as u64;
        json.pop(); // the frame itself carries no newline
        inner.tail_bytes += json.len();
        inner.tail.push_back(Bytes::from(json));
        inner.next_seq = seq + 1;
        while inner.tail.len() > 1
            && (inner.tail.len() > self.config.tail_events || inner.tail_bytes > self.config.tail_bytes)
        {
            if inner.tail_start >= inner.flushed_upto {
                if let Err(err) = inner.writer.flush() {
                    tracing::warn!(session_id = %self.session_id, %err, "event log flush failed");
                }
                inner.flushed_upto = inner.next_seq;
            }
            if let Some(evicted) = inner.tail.pop_front() {
                inner.tail_bytes -= evicted.len();
            }
            inner.tail_start += 1;
        }
    }

    /// Marks whether a run is live (more events may come); wakes every watcher.
    pub(crate) fn set_live(&self, live: bool) {
        if !live {
            let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            if let Err(err) = inner.writer.flush() {
                tracing::warn!(session_id = %self.session_id, %err, "event log flush failed");
            }
            inner.flushed_upto = inner.next_seq;
        }
        self.status.send_modify(|s| s.live = live);
    }

    /// The number of events so far (the next seq).
    pub fn len(&self) -> Seq {
        self.status.borrow().next_seq
    }

    /// True when no event was appended yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn watch(&self) -> watch::Receiver<LogStatus> {
        self.status.subscribe()
    }

    /// Locates up to `max` events from seq `from` (which must be < next seq).
    pub(crate) fn locate(&self, from: Seq, max: usize) -> Batch {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if from >= inner.tail_start {
            let start = (from - inner.tail_start) as usize;
            return Batch::Ready(inner.tail.iter().skip(start).take(max).cloned().collect());
        }
        let slot = (from / INDEX_EVERY) as usize;
        // a disk read costs a blocking call: take many events at once
        let count = (inner.tail_start - from).min(max.max(DISK_BATCH) as u64);
        Batch::OnDisk { offset: inner.index[slot], skip: from - slot as u64 * INDEX_EVERY, count }
    }

    /// Reads events from the file (blocking; call from a blocking context).
    pub(crate) fn read_file(&self, offset: u64, skip: u64, count: u64) -> Result<Vec<Bytes>, LogError> {
        let err = |action, source| LogError { path: self.path.clone(), action, source };
        let mut file = File::open(&self.path).map_err(|e| err("open", e))?;
        file.seek(SeekFrom::Start(offset)).map_err(|e| err("seek", e))?;
        let mut reader = BufReader::with_capacity(64 * 1024, file);
        let mut events = Vec::with_capacity(count as usize);
        let mut line = Vec::new();
        let mut index = 0;
        while (events.len() as u64) < count {
            line.clear();
            let n = reader.read_until(b'\n', &mut line).map_err(|e| err("read", e))?;
            if n == 0 {
                let eof = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "event missing from log file");
                return Err(err("read", eof));
            }
            if index >= skip {
                if line.last() == Some(&b'\n') {
                    line.pop();
                }
                events.push(Bytes::copy_from_slice(&line));
            }
            index += 1;
        }
        Ok(events)
    }

    /// Every event so far, oldest first (blocking when part of the log is on disk).
    pub fn read_all(&self) -> Result<Vec<Bytes>, LogError> {
        let mut events = Vec::new();
        let end = self.len();
        while (events.len() as u64) < end {
            let from = events.len() as u64;
            match self.locate(from, usize::MAX) {
                Batch::Ready(batch) => events.extend(batch),
                Batch::OnDisk { offset, skip, count } => events.extend(self.read_file(offset, skip, count)?),
            }
        }
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opcode_proto::SessionEvent;

    fn error(i: u64) -> EventKind {
        EventKind::Error { message: format!("e{i}") }
    }

    #[test]
    fn every_event_is_readable_from_memory_or_disk() {
        let dir = tempfile::tempdir().unwrap();
        let config = LogConfig { tail_events: 10, ..LogConfig::default() };
        let log = EventLog::create("s", dir.path().join("s.jsonl"), config).unwrap();
        for i in 0..1000 {
            assert_eq!(log.append(error(i)), i);
        }
        let all = log.read_all().unwrap();
        assert_eq!(all.len(), 1000);
        for (i, bytes) in all.iter().enumerate() {
            let event = SessionEvent::from_json(std::str::from_utf8(bytes).unwrap()).unwrap();
            assert_eq!(event.seq, i as u64);
            assert_eq!(event.kind, error(i as u64));
        }
        // the tail is bounded
        // from disk, everything up to the tail comes in one read (a blocking call is worth many events)
        assert!(matches!(log.locate(500, 5), Batch::OnDisk { count: 490, .. }));
        assert!(matches!(log.locate(995, 100), Batch::Ready(v) if v.len() == 5));
    }
}
