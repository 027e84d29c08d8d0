//! How events travel in messages: packing a batch into messages (several lines per message, a line too
//! large for one message split into chunks) and reading a message's headers back.
//!
//! Headers: `Opcode-Seq` (the first event's seq), `Opcode-Count` (how many events), and for a chunk of a
//! large line `Opcode-Chunk: i/n` (count 1). The payload is the lines joined by `\n` (no trailing newline),
//! or a chunk's bytes.

use async_nats::HeaderMap;
use bytes::{Bytes, BytesMut};

use crate::NumberedEvent;

/// The first event's seq.
pub(crate) const SEQ: &str = "Opcode-Seq";
/// How many events the message carries.
pub(crate) const COUNT: &str = "Opcode-Count";
/// `i/n`: the message is chunk `i` (from 0) of `n` of one line.
pub(crate) const CHUNK: &str = "Opcode-Chunk";

/// One message to publish.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    pub(crate) first_seq: u64,
    pub(crate) count: u64,
    /// `(index, total)` for a chunk of one line.
    pub(crate) chunk: Option<(u32, u32)>,
    pub(crate) payload: Bytes,
}

impl Outgoing {
    /// The headers of this message (the fencing and id headers are added by the writer).
    pub(crate) fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(SEQ, self.first_seq.to_string().as_str());
        headers.insert(COUNT, self.count.to_string().as_str());
        if let Some((index, total)) = self.chunk {
            headers.insert(CHUNK, format!("{index}/{total}").as_str());
        }
        headers
    }

    /// The chunk index for the message id (0 for a message of whole lines).
    pub(crate) fn chunk_index(&self) -> u32 {
        self.chunk.map_or(0, |(index, _)| index)
    }
}

/// Packs contiguous `events` into messages of at most `max` payload bytes: as many whole lines per message
/// as fit, and a line larger than `max` alone, split into chunks.
pub(crate) fn pack(events: &[NumberedEvent], max: usize) -> Vec<Outgoing> {
    let mut out = Vec::new();
    let mut current: Option<(u64, u64, BytesMut)> = None;
    for event in events {
        let line = &event.line;
        if line.len() > max {
            if let Some((first, count, buf)) = current.take() {
                out.push(Outgoing { first_seq: first, count, chunk: None, payload: buf.freeze() });
            }
            let total = line.len().div_ceil(max);
            for (index, start) in (0..line.len()).step_by(max).enumerate() {
                let end = (start + max).min(line.len());
                out.push(Outgoing {
                    first_seq: event.seq,
                    count: 1,
                    chunk: Some((index as u32, total as u32)),
                    payload: line.slice(start..end),
                });
            }
            continue;
        }
        match &mut current {
            Some((_, count, buf)) if buf.len() + 1 + line.len() <= max => {
                buf.extend_from_slice(b"\n");
                buf.extend_from_slice(line);
                *count += 1;
            }
            _ => {
                if let Some((first, count, buf)) = current.take() {
                    out.push(Outgoing { first_seq: first, count, chunk: None, payload: buf.freeze() });
                }
                current = Some((event.seq, 1, BytesMut::from(&line[..])));
            }
        }
    }
    if let Some((first, count, buf)) = current {
        out.push(Outgoing { first_seq: first, count, chunk: None, payload: buf.freeze() });
    }
    out
}

/// What a stored message says about the events it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) first_seq: u64,
    pub(crate) count: u64,
    pub(crate) chunk: Option<(u32, u32)>,
}

impl Header {
    /// Reads the headers of a message, or says what is wrong with them.
    pub(crate) fn parse(headers: Option<&HeaderMap>) -> Result<Header, String> {
        let headers = headers.ok_or("no headers")?;
        let number = |name: &str| -> Result<u64, String> {
            headers
                .get(name)
                .ok_or_else(|| format!("no {name} header"))?
                .as_str()
                .parse::<u64>()
                .map_err(|_| format!("bad {name} header"))
        };
        let first_seq = number(SEQ)?;
        let count = number(COUNT)?;
        let chunk = match headers.get(CHUNK) {
            None => None,
            Some(value) => {
                let (index, total) = value.as_str().split_once('/').ok_or("bad Opcode-Chunk header")?;
                let index: u32 = index.parse().map_err(|_| "bad Opcode-Chunk header")?;
                let total: u32 = total.parse().map_err(|_| "bad Opcode-Chunk header")?;
                if index >= total || count != 1 {
                    return Err("bad Opcode-Chunk header".into());
                }
                Some((index, total))
            }
        };
        if count == 0 {
            return Err("Opcode-Count is 0".into());
        }
        Ok(Header { first_seq, count, chunk })
    }

    /// The seq the next event after this message has, for a writer continuing the subject: after a
    /// message of whole lines or a line's last chunk, the following seq; after any other chunk, the seq of
    /// that unfinished line (its writer died before finishing it; readers drop it).
    pub(crate) fn next_seq(&self) -> u64 {
        match self.chunk {
            Some((index, total)) if index + 1 < total => self.first_seq,
            _ => self.first_seq + self.count,
        }
    }
}

/// Turns a subject's messages, in stream order, back into events: whole lines as they are, chunks joined.
///
/// A chunk that does not continue the line being assembled drops that line: its writer died before the
/// last chunk, and the next writer wrote that seq again from chunk 0 (or a message of whole lines).
#[derive(Debug, Default)]
pub(crate) struct Assembler {
    /// The line being assembled: its seq, the next chunk index, the chunk count, the bytes so far.
    partial: Option<(u64, u32, u32, BytesMut)>,
}

impl Assembler {
    /// The events (seq, line) that message `header` + `payload` completes, or what is wrong with it.
    pub(crate) fn push(&mut self, header: Header, payload: &Bytes) -> Result<Vec<(u64, Bytes)>, String> {
        let Some((index, total)) = header.chunk else {
            self.partial = None;
            let lines = split_lines(payload, header.count)
                .ok_or_else(|| format!("{} lines, not {}", payload.split(|b| *b == b'\n').count(), header.count))?;
            return Ok(lines.into_iter().enumerate().map(|(i, line)| (header.first_seq + i as u64, line)).collect());
        };
        let (seq, mut buf) = match self.partial.take() {
            Some((seq, next, t, buf)) if seq == header.first_seq && next == index && t == total => (seq, buf),
            _ if index == 0 => (header.first_seq, BytesMut::new()),
            // the rest of a line whose start this reader never saw (or a dropped one): skip it
            _ => return Ok(Vec::new()),
        };
        buf.extend_from_slice(payload);
        if index + 1 < total {
            self.partial = Some((seq, index + 1, total, buf));
            return Ok(Vec::new());
        }
        Ok(vec![(seq, buf.freeze())])
    }
}

/// Splits a message of whole lines into its `count` lines, or `None` if it holds another number.
fn split_lines(payload: &Bytes, count: u64) -> Option<Vec<Bytes>> {
    let mut lines = Vec::with_capacity(count as usize);
    let mut start = 0;
    for (i, byte) in payload.iter().enumerate() {
        if *byte == b'\n' {
            lines.push(payload.slice(start..i));
            start = i + 1;
        }
    }
    lines.push(payload.slice(start..));
    (lines.len() as u64 == count).then_some(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(lines: &[&str]) -> Vec<NumberedEvent> {
        lines.iter().enumerate().map(|(i, l)| NumberedEvent::new(10 + i as u64, l.to_string())).collect()
    }

    #[test]
    fn lines_are_packed_up_to_the_limit_and_large_ones_chunked() {
        let batch = events(&["aaaa", "bb", "", "cccccccccccc", "d"]);
        let out = pack(&batch, 8);
        type Shape<'a> = (u64, u64, Option<(u32, u32)>, &'a [u8]);
        let shape: Vec<Shape<'_>> = out.iter().map(|m| (m.first_seq, m.count, m.chunk, &m.payload[..])).collect();
        assert_eq!(
            shape,
            vec![
                (10, 3, None, &b"aaaa\nbb\n"[..]),
                (13, 1, Some((0, 2)), &b"cccccccc"[..]),
                (13, 1, Some((1, 2)), &b"cccc"[..]),
                (14, 1, None, &b"d"[..]),
            ]
        );
        assert_eq!(split_lines(&out[0].payload, 3).unwrap(), vec![Bytes::from("aaaa"), "bb".into(), "".into()]);
        assert!(split_lines(&out[0].payload, 2).is_none());
    }

    /// Feeds messages to an assembler; returns the events it completes.
    fn assemble(messages: &[Outgoing]) -> Vec<(u64, Bytes)> {
        let mut assembler = Assembler::default();
        let mut events = Vec::new();
        for message in messages {
            let header = Header::parse(Some(&message.headers())).unwrap();
            events.extend(assembler.push(header, &message.payload).unwrap());
        }
        events
    }

    #[test]
    fn chunks_are_joined_and_a_line_whose_writer_died_is_replaced() {
        let batch = events(&["abcdefghij", "k"]);
        let messages = pack(&batch, 4);
        let whole: Vec<(u64, Bytes)> = batch.iter().map(|e| (e.seq, e.line.clone())).collect();
        assert_eq!(assemble(&messages), whole);
        // the first writer died after chunk 1 of 3; the next wrote seq 10 again, whole, then seq 11
        let mut interrupted = messages[..2].to_vec();
        interrupted.extend(pack(&events(&["new", "k"]), 4));
        assert_eq!(assemble(&interrupted), vec![(10, Bytes::from("new")), (11, Bytes::from("k"))]);
        // … or chunked again from chunk 0
        let mut rewritten = messages[..2].to_vec();
        rewritten.extend(messages.clone());
        assert_eq!(assemble(&rewritten), whole);
        // a reader that starts mid-line skips the rest of it
        assert_eq!(assemble(&messages[1..]), whole[1..]);
        let bad = Header { first_seq: 0, count: 3, chunk: None };
        assert!(Assembler::default().push(bad, &Bytes::from("a\nb")).is_err());
    }

    #[test]
    fn headers_round_trip_and_say_where_a_writer_continues() {
        let out = pack(&events(&["xxxxxxxxxx"]), 4);
        let parsed: Vec<Header> = out.iter().map(|m| Header::parse(Some(&m.headers())).unwrap()).collect();
        assert_eq!(parsed[0], Header { first_seq: 10, count: 1, chunk: Some((0, 3)) });
        assert_eq!(parsed[0].next_seq(), 10, "an unfinished line is written again");
        assert_eq!(parsed[2].next_seq(), 11);
        assert!(Header::parse(None).is_err());
        let mut bad = HeaderMap::new();
        bad.insert(SEQ, "1");
        bad.insert(COUNT, "2");
        bad.insert(CHUNK, "0/2");
        assert!(Header::parse(Some(&bad)).is_err(), "a chunk carries one event");
    }
}
