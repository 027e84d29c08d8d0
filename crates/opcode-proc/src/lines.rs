//! Line framing of a child's output, written for this crate rather than taken from `tokio_util::codec`.
//!
//! Why by hand: with `FramedRead` + `LinesCodec`, a decoder error (an over-long line) makes the stream
//! yield `None` once, and the obvious `while let Some(line)` loop then stops reading: the pipe fills and
//! the child hangs. Here an over-long line is skipped up to its newline, reported once as
//! [`ProcessEvent::LineTooLong`], and reading simply goes on. Memory per stream is bounded by the maximum
//! line length plus the read buffer.

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::mpsc;

use crate::event::{OutputStream, ProcessEvent};

/// Per stream; small because a thousand runs each hold two. Longer lines are assembled across reads.
const READ_BUFFER_BYTES: usize = 16 * 1024;

/// Reads `reader` to its end, sending one event per line to `tx`. When `tx` is closed (nobody listens)
/// the output is still drained, so the child never blocks on a full pipe.
pub(crate) async fn read_lines<R>(reader: R, stream: OutputStream, max: usize, tx: mpsc::Sender<Vec<ProcessEvent>>)
where
    R: AsyncRead + Unpin,
{
    let mut out = Batcher { tx, pending: Vec::new(), listening: true };
    let mut reader = BufReader::with_capacity(READ_BUFFER_BYTES, reader);
    let mut line: Vec<u8> = Vec::new();
    // Some(n) while skipping an over-long line of which n bytes were seen so far.
    let mut skipping: Option<usize> = None;
    loop {
        // what was framed from the data already read goes out as one batch before reading may wait
        if reader.buffer().is_empty() {
            out.flush().await;
        }
        let buf = match reader.fill_buf().await {
            Ok(buf) => buf,
            Err(err) => {
                out.push(ProcessEvent::ReadFailed { stream, message: err.to_string() }).await;
                out.flush().await;
                return;
            }
        };
        if buf.is_empty() {
            let last = match skipping {
                Some(len) => Some(ProcessEvent::LineTooLong { stream, len, max }),
                None if !line.is_empty() => Some(line_event(stream, std::mem::take(&mut line))),
                None => None,
            };
            if let Some(event) = last {
                out.push(event).await;
            }
            out.flush().await;
            return;
        }
        let (chunk_len, complete) = match memchr::memchr(b'\n', buf) {
            Some(i) => (i, true),
            None => (buf.len(), false),
        };
        // the common case: a whole line inside the read buffer, copied once into its own exact allocation
        let whole =
            (complete && skipping.is_none() && line.is_empty() && chunk_len <= max).then(|| buf[..chunk_len].to_vec());
        if whole.is_none() {
            match skipping.as_mut() {
                Some(seen) => *seen += chunk_len,
                None if line.len() + chunk_len > max => {
                    skipping = Some(line.len() + chunk_len);
                    line = Vec::new(); // give the memory back
                }
                None => line.extend_from_slice(&buf[..chunk_len]),
            }
        }
        reader.consume(chunk_len + usize::from(complete));
        if !complete {
            continue;
        }
        let event = match (whole, skipping.take()) {
            (Some(bytes), _) => line_event(stream, bytes),
            (None, Some(len)) => ProcessEvent::LineTooLong { stream, len, max },
            (None, None) => line_event(stream, std::mem::take(&mut line)),
        };
        out.push(event).await;
    }
}

/// Lines going out in batches: one channel message (and at most one wake-up of the consumer) per read of
/// the pipe rather than per line.
struct Batcher {
    tx: mpsc::Sender<Vec<ProcessEvent>>,
    pending: Vec<ProcessEvent>,
    /// False once the consumer is gone: lines are then dropped, and the pipe is still drained.
    listening: bool,
}

/// Lines per batch at most.
const BATCH_LINES: usize = 64;

impl Batcher {
    async fn push(&mut self, event: ProcessEvent) {
        if self.listening {
            self.pending.push(event);
            if self.pending.len() >= BATCH_LINES {
                self.flush().await;
            }
        }
    }

    async fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.pending);
        if self.listening && self.tx.send(batch).await.is_err() {
            self.listening = false;
        }
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
        read_lines(input, OutputStream::Stdout, max, tx).await;
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
}
