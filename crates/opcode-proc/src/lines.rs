//! Line framing of a child's output, written for this crate rather than taken from `tokio_util::codec`.
//!
//! Why by hand: with `FramedRead` + `LinesCodec`, a decoder error (an over-long line) makes the stream
//! yield `None` once, and the obvious `while let Some(line)` loop then stops reading: the pipe fills and
//! the child hangs. Here an over-long line is skipped up to its newline, reported once as
//! [`ProcessEvent::LineTooLong`], and reading simply goes on. Memory per stream is bounded by the maximum
//! line length plus the read buffer.
//!
//! [`LineReader`] is poll-based and keeps all of its state in itself, so it can be driven either by a task
//! of its own ([`read_lines`], for stderr) or inline by the consumer ([`crate::ProcessHandle::next_event`]
//! reads stdout itself: no task hop per batch); a poll dropped half-way loses nothing.

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncBufRead, AsyncRead, BufReader};
use tokio::sync::mpsc;

use crate::event::{OutputStream, ProcessEvent};

/// Per stream; small because a thousand runs each hold two. Longer lines are assembled across reads.
const READ_BUFFER_BYTES: usize = 16 * 1024;

/// Events framed per call of [`LineReader::poll_lines`] at most.
const BATCH_LINES: usize = 64;

/// One output stream of a child, framed into line events.
#[derive(Debug)]
pub(crate) struct LineReader<R> {
    reader: BufReader<R>,
    stream: OutputStream,
    max: usize,
    /// The line assembled so far when it spans reads.
    line: Vec<u8>,
    /// `Some(n)` while skipping an over-long line of which `n` bytes were seen so far.
    skipping: Option<usize>,
    /// The stream ended (end of file or a read error) and its last events were framed.
    done: bool,
    /// Deliver each read as a [`ProcessEvent::Chunk`] instead of framing lines.
    raw: bool,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    pub(crate) fn new(reader: R, stream: OutputStream, max: usize) -> Self {
        LineReader {
            reader: BufReader::with_capacity(READ_BUFFER_BYTES, reader),
            stream,
            max,
            line: Vec::new(),
            skipping: None,
            done: false,
            raw: false,
        }
    }

    /// The same reader delivering raw chunks ([`ProcessEvent::Chunk`]) instead of lines.
    pub(crate) fn raw(mut self) -> Self {
        self.raw = true;
        self
    }

    /// Whether the stream has ended and every event of it was framed.
    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    /// Frames what the stream has ready into `out`, up to 64 events: ready once at least one event was
    /// framed or the stream ended (see [`LineReader::is_done`]); pending, with `cx`'s waker registered,
    /// while no complete line is there. What was framed from data already read goes out before reading
    /// may wait, so a batch never holds a line back.
    pub(crate) fn poll_lines<E: Extend<ProcessEvent>>(&mut self, cx: &mut Context<'_>, out: &mut E) -> Poll<()> {
        let (stream, max) = (self.stream, self.max);
        let mut framed = 0;
        while framed < BATCH_LINES && !self.done {
            if framed > 0 && self.reader.buffer().is_empty() {
                break;
            }
            let buf = match Pin::new(&mut self.reader).poll_fill_buf(cx) {
                Poll::Pending if framed > 0 => break,
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(err)) => {
                    out.extend([ProcessEvent::ReadFailed { stream, message: err.to_string() }]);
                    self.done = true;
                    break;
                }
                Poll::Ready(Ok(buf)) => buf,
            };
            if self.raw {
                if buf.is_empty() {
                    self.done = true;
                    break;
                }
                let bytes = buf.to_vec();
                Pin::new(&mut self.reader).consume(bytes.len());
                out.extend([ProcessEvent::Chunk { stream, bytes }]);
                framed += 1;
                continue;
            }
            if buf.is_empty() {
                let last = match self.skipping {
                    Some(len) => Some(ProcessEvent::LineTooLong { stream, len, max }),
                    None if !self.line.is_empty() => Some(line_event(stream, std::mem::take(&mut self.line))),
                    None => None,
                };
                out.extend(last);
                self.done = true;
                break;
            }
            let (chunk_len, complete) = match memchr::memchr(b'\n', buf) {
                Some(i) => (i, true),
                None => (buf.len(), false),
            };
            // the common case: a whole line inside the read buffer, copied once into its own exact allocation
            let whole = (complete && self.skipping.is_none() && self.line.is_empty() && chunk_len <= max)
                .then(|| buf[..chunk_len].to_vec());
            if whole.is_none() {
                match self.skipping.as_mut() {
                    Some(seen) => *seen += chunk_len,
                    None if self.line.len() + chunk_len > max => {
                        self.skipping = Some(self.line.len() + chunk_len);
                        self.line = Vec::new(); // give the memory back
                    }
                    None => self.line.extend_from_slice(&buf[..chunk_len]),
                }
            }
            Pin::new(&mut self.reader).consume(chunk_len + usize::from(complete));
            if !complete {
                continue;
            }
            let event = match (whole, self.skipping.take()) {
                (Some(bytes), _) => line_event(stream, bytes),
                (None, Some(len)) => ProcessEvent::LineTooLong { stream, len, max },
                (None, None) => line_event(stream, std::mem::take(&mut self.line)),
            };
            out.extend([event]);
            framed += 1;
        }
        Poll::Ready(())
    }
}

/// Reads `reader` to its end, sending its events to `tx` in batches: one channel message (and at most one
/// wake-up of the consumer) per read of the pipe rather than per line. When `tx` is closed (nobody
/// listens) the output is still drained, so the child never blocks on a full pipe.
pub(crate) async fn read_lines<R>(mut lines: LineReader<R>, tx: mpsc::Sender<Vec<ProcessEvent>>)
where
    R: AsyncRead + Unpin,
{
    let mut listening = true;
    while !lines.is_done() {
        let mut batch = Vec::new();
        poll_fn(|cx| lines.poll_lines(cx, &mut batch)).await;
        if listening && !batch.is_empty() && tx.send(batch).await.is_err() {
            listening = false;
        }
    }
}

/// Reads what is left of a stream nobody reads any more, so the child never blocks on a full pipe.
pub(crate) async fn drain<R: AsyncRead + Unpin>(mut lines: LineReader<R>) {
    let mut scratch = Vec::new();
    while !lines.is_done() {
        poll_fn(|cx| lines.poll_lines(cx, &mut scratch)).await;
        scratch.clear();
    }
}

fn line_event(stream: OutputStream, mut bytes: Vec<u8>) -> ProcessEvent {
    if bytes.last() == Some(&b'\r') {
        bytes.pop();
    }
    match String::from_utf8(bytes) {
        Ok(text) => ProcessEvent::Line { stream, text },
        Err(err) => ProcessEvent::InvalidUtf8 { stream, lossy: String::from_utf8_lossy(err.as_bytes()).into_owned() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn frame(input: &[u8], max: usize) -> Vec<ProcessEvent> {
        let (tx, mut rx) = mpsc::channel(64);
        read_lines(LineReader::new(input, OutputStream::Stdout, max), tx).await;
        let mut out = Vec::new();
        while let Some(batch) = rx.recv().await {
            out.extend(batch);
        }
        out
    }

    fn line(text: &str) -> ProcessEvent {
        ProcessEvent::Line { stream: OutputStream::Stdout, text: text.into() }
    }

    #[tokio::test]
    async fn frames_lines_and_keeps_the_last_unterminated_one() {
        assert_eq!(frame(b"a\r\nbb\n\nccc", 10).await, vec![line("a"), line("bb"), line(""), line("ccc")]);
    }

    #[tokio::test]
    async fn skips_an_over_long_line_and_goes_on() {
        let events = frame(b"ok\n0123456789abc\nafter\n", 10).await;
        assert_eq!(
            events,
            vec![
                line("ok"),
                ProcessEvent::LineTooLong { stream: OutputStream::Stdout, len: 13, max: 10 },
                line("after")
            ]
        );
    }

    #[tokio::test]
    async fn reports_invalid_utf8_with_a_lossy_copy() {
        let events = frame(b"a\xffb\nok\n", 10).await;
        assert_eq!(
            events,
            vec![ProcessEvent::InvalidUtf8 { stream: OutputStream::Stdout, lossy: "a\u{fffd}b".into() }, line("ok")]
        );
    }

    #[tokio::test]
    async fn raw_mode_delivers_the_bytes_unframed() {
        let input = b"a\0b\r\n\xff";
        let (tx, mut rx) = mpsc::channel(64);
        read_lines(LineReader::new(&input[..], OutputStream::Stdout, 1).raw(), tx).await;
        let mut bytes = Vec::new();
        while let Some(batch) = rx.recv().await {
            for event in batch {
                match event {
                    ProcessEvent::Chunk { bytes: chunk, .. } => bytes.extend(chunk),
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
        assert_eq!(bytes, input);
    }

    #[tokio::test]
    async fn batches_hold_at_most_64_events_and_nothing_is_lost_across_them() {
        let input: Vec<u8> = (0..200).flat_map(|i| format!("line {i}\n").into_bytes()).collect();
        let mut lines = LineReader::new(&input[..], OutputStream::Stdout, 100);
        let mut all = Vec::new();
        while !lines.is_done() {
            let mut batch = Vec::new();
            poll_fn(|cx| lines.poll_lines(cx, &mut batch)).await;
            assert!(batch.len() <= 64, "{}", batch.len());
            all.extend(batch);
        }
        assert_eq!(all, (0..200).map(|i| line(&format!("line {i}"))).collect::<Vec<_>>());
    }
}
