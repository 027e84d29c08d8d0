//! One session's event log: numbered events, a bounded tail in memory, all of them on disk.
//!
//! Appends assign `seq`, encode the event once (`Bytes`, shared by every viewer), push it on the in-memory
//! tail and hand the frame to the registry's disk writer thread (`writer.rs`), in seq order. The tail
//! holds at most `tail_events` and `tail_bytes` of events, except that an event leaves it only once the
//! writer reports it durable in the file, so **every event is either in the tail or readable from the
//! file**, and a reader can always get any seq. No file I/O happens under the log's lock: viewers never
//! wait on a write or a flush.
//!
//! When a run ends the file is closed and the tail dropped: a finished log holds no file descriptor and
//! only its offset index in memory (one number per 256 events); readers open the file for each read.
//! A log can be reopened from its file ([`EventLog::open_existing`], after a restart) with the same seqs.
//! The file is never fsynced: a crash of the machine can lose the last buffered events of the log; a
//! half-written last line is cut off when the log is reopened.
//!
//! Waiting is done with a `watch` channel of [`LogStatus`]: a watcher can never miss that something was
//! appended, and never has to keep up with every append.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use opcode_proto::{EventKind, Seq};
use tokio::sync::watch;

use crate::error::LogError;
use crate::writer::{WriteOp, Writer};

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

/// What a watcher needs to know: how many events it may read and whether more may come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LogStatus {
    /// Events before this seq are visible: written to the file (so they survive the server's death, and
    /// a viewer never sees an event that a restart could give to another event's seq).
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
    writer: Writer,
}

#[derive(Debug)]
struct LogInner {
    next_seq: Seq,
    /// The newest events; `tail[0]` has seq `tail_start`.
    tail: VecDeque<Bytes>,
    tail_start: Seq,
    /// Bytes held by `tail`.
    tail_bytes: usize,
    /// Bytes handed to the writer so far (the file offset of the next event).
    written: u64,
    /// Events with seq < `durable_upto` are readable from the file.
    durable_upto: Seq,
    /// True while a run may append (the tail is kept); false once the run ended.
    live: bool,
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
    /// A new, empty log for session `session_id` whose file is `path` (created, or emptied, on the writer
    /// thread).
    pub(crate) fn create(session_id: &str, path: PathBuf, config: LogConfig, writer: Writer) -> Arc<Self> {
        let log = Arc::new(Self::with_contents(session_id, path, config, writer.clone(), Contents::default()));
        writer.send(WriteOp::Create { log: log.clone() });
        log
    }

    fn with_contents(session_id: &str, path: PathBuf, config: LogConfig, writer: Writer, contents: Contents) -> Self {
        let (status, _) = watch::channel(LogStatus { next_seq: contents.events, live: false });
        EventLog {
            session_id: session_id.to_owned(),
            session_json: opcode_proto::event::session_id_json(session_id),
            path,
            config,
            inner: Mutex::new(LogInner {
                next_seq: contents.events,
                tail: VecDeque::new(),
                tail_start: contents.events,
                tail_bytes: 0,
                written: contents.bytes,
                durable_upto: contents.events,
                live: false,
                index: contents.index,
            }),
            status,
            writer,
        }
    }

    /// Reopens the log of an earlier run from its file (blocking: it reads the whole file once to count
    /// the events and index them). A half-written last line (the server died mid-write) is cut off.
    pub(crate) fn open_existing(
        session_id: &str,
        path: PathBuf,
        config: LogConfig,
        writer: Writer,
    ) -> Result<Self, LogError> {
        let contents = Contents::scan(&path)?;
        Ok(Self::with_contents(session_id, path, config, writer, contents))
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
    pub fn append(self: &Arc<Self>, kind: EventKind) -> Seq {
        self.append_batch(vec![kind]).unwrap_or_default()
    }

    /// Appends events in order under one lock and wakes the watchers once, so that viewers read them as
    /// one batch (one wake-up and one socket write for many lines). Returns the first seq, if any.
    pub fn append_batch(self: &Arc<Self>, kinds: Vec<EventKind>) -> Option<Seq> {
        if kinds.is_empty() {
            return None;
        }
        let mut inner = self.lock();
        let first = inner.next_seq;
        let mut bytes = Vec::new();
        for kind in &kinds {
            self.push(&mut inner, kind, &mut bytes);
        }
        let next = inner.next_seq;
        // sent under the lock, so the writer receives every log's frames in seq order; the watchers are
        // woken by the writer once the frames are in the file
        self.writer.send(WriteOp::Append { log: self.clone(), bytes, upto: next });
        drop(inner);
        Some(first)
    }

    /// Appends events that were numbered and encoded elsewhere (another machine's log of the same session,
    /// read back from a stream), so that this log continues their numbering. `first` must be the next seq
    /// of this log; otherwise nothing is appended and the seq this log expects is returned as the error.
    /// Watchers are woken once the events are in the file, as for [`EventLog::append_batch`].
    pub fn append_numbered(self: &Arc<Self>, first: Seq, lines: Vec<Bytes>) -> Result<(), Seq> {
        let mut inner = self.lock();
        if first != inner.next_seq {
            return Err(inner.next_seq);
        }
        if lines.is_empty() {
            return Ok(());
        }
        let mut bytes = Vec::new();
        for line in lines {
            self.push_encoded(&mut inner, line, &mut bytes);
        }
        let next = inner.next_seq;
        self.writer.send(WriteOp::Append { log: self.clone(), bytes, upto: next });
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LogInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, inner: &mut LogInner, kind: &EventKind, bytes: &mut Vec<u8>) {
        let json = opcode_proto::event::encode_event(&self.session_json, inner.next_seq, kind);
        self.push_encoded(inner, Bytes::from(json), bytes);
    }

    /// Pushes one encoded event (whose seq is `inner.next_seq`) on the tail and onto the bytes for the file.
    fn push_encoded(&self, inner: &mut LogInner, json: Bytes, bytes: &mut Vec<u8>) {
        let seq = inner.next_seq;
        if seq.is_multiple_of(INDEX_EVERY) {
            let offset = inner.written;
            inner.index.push(offset);
        }
        bytes.extend_from_slice(&json);
        bytes.push(b'\n');
        inner.written += json.len() as u64 + 1;
        inner.tail_bytes += json.len();
        inner.tail.push_back(json);
        inner.next_seq = seq + 1;
        self.trim_tail(inner);
    }

    /// Drops the oldest events of the tail while it is over its bounds (or all of it once the run ended),
    /// but never an event that is not yet durable in the file.
    fn trim_tail(&self, inner: &mut LogInner) {
        let keep = if inner.live { 1 } else { 0 };
        while inner.tail.len() > keep
            && inner.tail_start < inner.durable_upto
            && (!inner.live || inner.tail.len() > self.config.tail_events || inner.tail_bytes > self.config.tail_bytes)
        {
            if let Some(evicted) = inner.tail.pop_front() {
                inner.tail_bytes -= evicted.len();
            }
            inner.tail_start += 1;
        }
        if inner.tail.is_empty() && !inner.live {
            inner.tail = VecDeque::new(); // give the memory back
        }
    }

    /// Called by the writer: the file now holds every event before `upto`; they become visible.
    pub(crate) fn made_durable(&self, upto: Seq) {
        let mut inner = self.lock();
        inner.durable_upto = inner.durable_upto.max(upto);
        self.trim_tail(&mut inner);
        let visible = inner.durable_upto;
        drop(inner);
        self.status.send_if_modified(|s| {
            let grew = s.next_seq < visible;
            s.next_seq = s.next_seq.max(visible);
            grew
        });
    }

    /// Called by the writer once the file is flushed and closed: unless a new run began meanwhile,
    /// watchers learn that no more events will come.
    pub(crate) fn file_closed(&self) {
        let mut inner = self.lock();
        self.trim_tail(&mut inner);
        let live = inner.live;
        drop(inner);
        if !live {
            self.status.send_modify(|s| s.live = false);
        }
    }

    /// Marks whether a run is live (more events may come). Going live wakes every watcher at once; the
    /// end of a run reaches them through the writer, after the run's last events are in the file, which
    /// is then closed and the in-memory tail let go.
    pub(crate) fn set_live(self: &Arc<Self>, live: bool) {
        self.lock().live = live;
        if live {
            self.status.send_modify(|s| s.live = true);
        } else {
            self.writer.send(WriteOp::Close { log: self.clone() });
        }
    }

    /// Events held in memory (for tests of the memory bound).
    pub fn tail_len(&self) -> usize {
        self.lock().tail.len()
    }

    /// The number of events so far (the next seq), visible or not yet.
    pub fn len(&self) -> Seq {
        self.lock().next_seq
    }

    /// The number of events viewers may read (those in the file).
    pub fn visible_len(&self) -> Seq {
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
        let inner = self.lock();
        if from >= inner.tail_start {
            let start = (from - inner.tail_start) as usize;
            let visible = inner.durable_upto.saturating_sub(from) as usize;
            return Batch::Ready(inner.tail.iter().skip(start).take(max.min(visible)).cloned().collect());
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

    /// Every visible event so far, oldest first (blocking when part of the log is on disk).
    pub fn read_all(&self) -> Result<Vec<Bytes>, LogError> {
        let mut events = Vec::new();
        let end = self.visible_len();
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

/// What a log file holds, as found by reading it through.
#[derive(Debug, Default)]
struct Contents {
    events: Seq,
    bytes: u64,
    index: Vec<u64>,
}

impl Contents {
    /// Counts and indexes the complete lines of `path`; cuts off a half-written last line.
    fn scan(path: &Path) -> Result<Contents, LogError> {
        let err = |action, source| LogError { path: path.to_path_buf(), action, source };
        let file = File::open(path).map_err(|e| err("open", e))?;
        let mut reader = BufReader::with_capacity(64 * 1024, file);
        let mut contents = Contents::default();
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = reader.read_until(b'\n', &mut line).map_err(|e| err("read", e))?;
            if n == 0 {
                break;
            }
            if line.last() != Some(&b'\n') {
                tracing::warn!(path = %path.display(), "event log ends in a half-written line: cutting it off");
                let file = std::fs::OpenOptions::new().write(true).open(path).map_err(|e| err("open", e))?;
                file.set_len(contents.bytes).map_err(|e| err("truncate", e))?;
                break;
            }
            if contents.events.is_multiple_of(INDEX_EVERY) {
                contents.index.push(contents.bytes);
            }
            contents.events += 1;
            contents.bytes += n as u64;
        }
        Ok(contents)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opcode_proto::SessionEvent;

    fn error(i: u64) -> EventKind {
        EventKind::Error { message: format!("e{i}") }
    }

    use std::io::Write;

    #[tokio::test]
    async fn every_event_is_readable_from_memory_or_disk() {
        let dir = tempfile::tempdir().unwrap();
        let config = LogConfig { tail_events: 10, ..LogConfig::default() };
        let writer = Writer::start();
        let path = dir.path().join("s.jsonl");
        std::fs::write(&path, "stale\n").unwrap();
        let log = EventLog::create("s", path.clone(), config, writer.clone());
        log.set_live(true);
        for i in 0..1000 {
            assert_eq!(log.append(error(i)), i);
        }
        writer.barrier().await;
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

        // the run ends: the tail goes, everything is still readable, and the log reopens with the same seqs
        log.set_live(false);
        writer.barrier().await;
        assert_eq!(log.tail_len(), 0);
        assert_eq!(log.read_all().unwrap(), all);
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"{\"half").unwrap();
        let reopened = Arc::new(EventLog::open_existing("s", path, config, writer.clone()).unwrap());
        assert_eq!(reopened.len(), 1000);
        assert_eq!(reopened.read_all().unwrap(), all);
        reopened.set_live(true);
        assert_eq!(reopened.append(error(1000)), 1000);
        writer.barrier().await;
        reopened.set_live(false);
        writer.barrier().await;
        let again = reopened.read_all().unwrap();
        assert_eq!(again[..1000], all[..]);
        assert!(std::str::from_utf8(&again[1000]).unwrap().contains("\"seq\":1000"));
    }
}
