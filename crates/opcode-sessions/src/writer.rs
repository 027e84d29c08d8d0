//! The disk writer: one thread of the registry that does every event log's file writes, so no append
//! blocks an async worker thread and no viewer ever waits on a write or a flush.
//!
//! Appends hand it encoded frames in seq order (they are sent under the log's lock). It writes whatever is
//! queued, flushes once the queue is empty (or every [`FLUSH_EVERY`] operations under a steady stream), and
//! then tells each log how far its file is complete ([`EventLog::made_durable`]): those events become
//! visible to viewers and may leave the in-memory tail. So whatever a viewer has seen is in the kernel's
//! hands and survives a `kill -9` of the server.
//! A log's file is open only between its first write and its `Close` (the end of a run): a finished run
//! holds no file descriptor.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::sync::mpsc;
use std::sync::Arc;

use opcode_proto::Seq;

use crate::log::EventLog;

/// The log file's write buffer.
const WRITE_BUFFER_BYTES: usize = 16 * 1024;

/// Operations handled at most before the files written are flushed, when the queue never empties.
const FLUSH_EVERY: usize = 64;

/// Work for the writer thread.
#[derive(Debug)]
pub(crate) enum WriteOp {
    /// Create (or empty) the log's file and keep it open.
    Create { log: Arc<EventLog> },
    /// Append these bytes (whole frames, each ending in a newline); afterwards the file holds every event
    /// before `upto`.
    Append { log: Arc<EventLog>, bytes: Vec<u8>, upto: Seq },
    /// Flush and close the log's file (its run ended); it is reopened by the next append.
    Close { log: Arc<EventLog> },
    /// Everything queued before this is written and flushed: then reply.
    Barrier(tokio::sync::oneshot::Sender<()>),
}

/// The sending side of the writer thread. Cheap to clone. The thread ends when every sender is gone.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    tx: mpsc::Sender<WriteOp>,
}

impl Writer {
    /// Starts the writer thread.
    pub(crate) fn start() -> Writer {
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("opcode-log-writer".into())
            .spawn(move || run(rx))
            .expect("the OS lets us start a thread");
        Writer { tx }
    }

    /// Queues `op`; never blocks. Work sent after the thread ended is dropped (only at process exit).
    pub(crate) fn send(&self, op: WriteOp) {
        let _ = self.tx.send(op);
    }

    /// Waits until everything queued so far is written and flushed.
    pub(crate) async fn barrier(&self) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(WriteOp::Barrier(tx));
        let _ = rx.await;
    }
}

struct OpenFile {
    writer: BufWriter<File>,
    log: Arc<EventLog>,
    /// Events before this are in the file once it is flushed.
    upto: Seq,
    dirty: bool,
}

fn key(log: &Arc<EventLog>) -> usize {
    Arc::as_ptr(log) as usize
}

fn open(path: &std::path::Path, truncate: bool) -> std::io::Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = OpenOptions::new().create(true).append(true).open(path)?;
    if truncate {
        file.set_len(0)?;
    }
    Ok(file)
}

fn flush(file: &mut OpenFile) {
    if let Err(err) = file.writer.flush() {
        tracing::warn!(session_id = %file.log.session_id(), %err, "event log flush failed");
    }
    file.dirty = false;
    file.log.made_durable(file.upto);
}

fn run(rx: mpsc::Receiver<WriteOp>) {
    let mut files: HashMap<usize, OpenFile> = HashMap::new();
    let mut barriers = Vec::new();
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        let mut handled = 0;
        while let Some(op) = next.take() {
            handled += 1;
            if handled % FLUSH_EVERY == 0 {
                for file in files.values_mut().filter(|f| f.dirty) {
                    flush(file);
                }
            }
            match op {
                WriteOp::Create { log } => match open(log.path(), true) {
                    Ok(f) => {
                        let writer = BufWriter::with_capacity(WRITE_BUFFER_BYTES, f);
                        files.insert(key(&log), OpenFile { writer, log, upto: 0, dirty: false });
                    }
                    Err(err) => tracing::warn!(session_id = %log.session_id(), %err, "event log create failed"),
                },
                WriteOp::Append { log, bytes, upto } => {
                    let file = match files.entry(key(&log)) {
                        std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                        std::collections::hash_map::Entry::Vacant(e) => match open(log.path(), false) {
                            Ok(f) => e.insert(OpenFile {
                                writer: BufWriter::with_capacity(WRITE_BUFFER_BYTES, f),
                                log: log.clone(),
                                upto,
                                dirty: false,
                            }),
                            Err(err) => {
                                tracing::warn!(session_id = %log.session_id(), %err, "event log open failed");
                                // the events stay in memory; a reader of the lost part gets an error
                                log.made_durable(upto);
                                next = rx.try_recv().ok();
                                continue;
                            }
                        },
                    };
                    if let Err(err) = file.writer.write_all(&bytes) {
                        tracing::warn!(session_id = %log.session_id(), %err, "event log write failed");
                    }
                    file.upto = upto;
                    file.dirty = true;
                }
                WriteOp::Close { log } => {
                    if let Some(mut file) = files.remove(&key(&log)) {
                        flush(&mut file);
                    }
                    log.file_closed();
                }
                WriteOp::Barrier(reply) => barriers.push(reply),
            }
            next = rx.try_recv().ok();
        }
        // the queue is empty: make what was written readable, then answer the barriers
        for file in files.values_mut().filter(|f| f.dirty) {
            flush(file);
        }
        for reply in barriers.drain(..) {
            let _ = reply.send(());
        }
    }
}
