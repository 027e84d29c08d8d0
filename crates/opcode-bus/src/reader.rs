//! Reading a session's events: replay from any seq, then follow live, through an ordered consumer that is
//! re-created from the last stream sequence delivered whenever it is lost.
//!
//! A catch-up ([`Bus::read_to_end`]) reads its first [`DIRECT_GETS`] messages with one get each and takes a
//! consumer only for a longer rest: NATS keeps a consumer for a while after its last pull and a stream
//! allows a bounded number of them, so ten thousand viewers joining short sessions must not each make one.

use std::time::Duration;

use async_nats::jetstream::consumer::{pull::OrderedConfig, DeliverPolicy};
use async_nats::jetstream::stream::{DirectGetErrorKind, LastRawMessageErrorKind};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use tokio::sync::mpsc;

use crate::wire::{Assembler, Header};
use crate::{Bus, BusError, NumberedEvent};

/// Events the reader task may have ready before the consumer of the stream takes them.
const READ_AHEAD: usize = 1024;

/// Messages a catch-up reads with single gets before it takes a consumer for the rest of the session.
const DIRECT_GETS: usize = 64;

impl Bus {
    /// Every event of `session` with seq > `since` (all of them for `None`), in order, each exactly once,
    /// then every new event as it is published, until the returned stream is dropped.
    ///
    /// Guarantees: no gap and no duplicate — seqs go up by one from the first delivered; a chunked line is
    /// delivered whole; a line whose writer died mid-chunks is skipped (the next writer writes that seq
    /// again). If the consumer is lost (a stream leader change, a reconnect, missed heartbeats) it is
    /// re-created from the stream sequence after the last one delivered. Events the stream's limits have
    /// discarded end the stream with [`BusError::Truncated`]; a message this crate did not write ends it with
    /// [`BusError::Corrupt`]; a connection to NATS lost for `BusConfig::unreachable_after` ends it with
    /// [`BusError::Unreachable`] (a shorter outage is bridged: the reader carries on where it was).
    pub fn read(
        &self,
        session: &str,
        since: Option<u64>,
    ) -> impl Stream<Item = Result<NumberedEvent, BusError>> + Send + 'static {
        self.read_inner(session, since, false)
    }

    /// Like [`Bus::read`], but the stream ends after the last event stored when it is called (a catch-up,
    /// e.g. to rebuild a log or to check a session's contents in tests).
    pub fn read_to_end(
        &self,
        session: &str,
        since: Option<u64>,
    ) -> impl Stream<Item = Result<NumberedEvent, BusError>> + Send + 'static {
        self.read_inner(session, since, true)
    }

    fn read_inner(
        &self,
        session: &str,
        since: Option<u64>,
        to_end: bool,
    ) -> impl Stream<Item = Result<NumberedEvent, BusError>> + Send + 'static {
        let (tx, rx) = mpsc::channel(READ_AHEAD);
        let reader = Reader {
            bus: self.clone(),
            session: session.to_owned(),
            next: since.map_or(0, |s| s.saturating_add(1)),
            first: true,
            last_stream_seq: 0,
            assembler: Assembler::default(),
            tx,
        };
        let span = tracing::debug_span!("read", session = %session, ?since);
        tokio::spawn(tracing::Instrument::instrument(reader.run(to_end), span));
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) })
    }
}

/// The task behind one [`Bus::read`].
struct Reader {
    bus: Bus,
    session: String,
    /// The seq of the next event to deliver.
    next: u64,
    /// Nothing delivered yet (the first event may be later than `next` only if it was discarded).
    first: bool,
    /// The stream sequence of the last message handled (0: none).
    last_stream_seq: u64,
    assembler: Assembler,
    tx: mpsc::Sender<Result<NumberedEvent, BusError>>,
}

/// What handling one message led to.
enum Flow {
    Continue,
    Stop,
}

/// Where a catch-up by single gets left off.
enum Direct {
    /// It reached the end it was reading to, or its consumer went: the read is over.
    Over,
    /// The rest (more than [`DIRECT_GETS`] messages, or a get that failed) is for a consumer.
    Rest,
}

impl Reader {
    async fn run(mut self, to_end: bool) {
        let subject = match self.bus.session_subject(&self.session) {
            Ok(subject) => subject,
            Err(err) => {
                let _ = self.tx.send(Err(err)).await;
                return;
            }
        };
        // the end of a catch-up: the subject's last stream sequence now
        let end = if to_end {
            match self.bus.shared.stream.get_last_raw_message_by_subject(&subject).await {
                Ok(message) => Some(message.sequence),
                Err(err) if err.kind() == LastRawMessageErrorKind::NoMessageFound => return,
                Err(err) => {
                    let _ = self.tx.send(Err(BusError::nats("last message of the session", err))).await;
                    return;
                }
            }
        } else {
            None
        };
        if self.next > 0 {
            match self.seek(&subject).await {
                Ok(start) => self.last_stream_seq = start.saturating_sub(1),
                Err(err) => {
                    let _ = self.tx.send(Err(err)).await;
                    return;
                }
            }
        }
        if let Some(end) = end {
            if let Direct::Over = self.catch_up_by_gets(&subject, end).await {
                return;
            }
        }
        let mut connects = self.bus.connects.clone();
        let mut elections = self.bus.elections.clone();
        let mut backoff = Duration::from_millis(50);
        loop {
            connects.borrow_and_update();
            elections.borrow_and_update();
            if end.is_some_and(|end| self.last_stream_seq >= end) {
                return; // a catch-up that starts (or resumes) past its end
            }
            let deliver_policy = match self.last_stream_seq {
                0 => DeliverPolicy::All,
                seq => DeliverPolicy::ByStartSequence { start_sequence: seq + 1 },
            };
            let config = OrderedConfig { filter_subject: subject.clone(), deliver_policy, ..Default::default() };
            let create = async {
                match self.bus.shared.stream.create_consumer(config).await {
                    Ok(consumer) => consumer.messages().await.map_err(|e| e.to_string()),
                    Err(err) => Err(err.to_string()),
                }
            };
            let messages = tokio::select! {
                () = self.tx.closed() => return,
                err = self.bus.unreachable_for_too_long() => {
                    self.fail(err).await;
                    return;
                }
                messages = create => messages,
            };
            let mut messages = match messages {
                Ok(messages) => messages,
                Err(err) => {
                    tracing::debug!(%err, "could not create the ordered consumer, retrying");
                    tokio::select! {
                        () = self.tx.closed() => return,
                        err = self.bus.unreachable_for_too_long() => {
                            self.fail(err).await;
                            return;
                        }
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                    continue;
                }
            };
            loop {
                let message = tokio::select! {
                    () = self.tx.closed() => return,
                    err = self.bus.unreachable_for_too_long() => {
                        self.fail(err).await;
                        return;
                    }
                    Ok(()) = connects.changed() => {
                        tracing::debug!(last = self.last_stream_seq, "reconnected, re-creating the consumer");
                        break;
                    }
                    Ok(()) = elections.changed() => {
                        tracing::debug!(last = self.last_stream_seq, "a new stream leader, re-creating the consumer");
                        break;
                    }
                    message = messages.next() => message,
                };
                match message {
                    Some(Ok(message)) => {
                        backoff = Duration::from_millis(50);
                        let stream_seq = match message.info() {
                            Ok(info) => info.stream_sequence,
                            Err(err) => {
                                tracing::debug!(%err, "message without info, re-creating the consumer");
                                break;
                            }
                        };
                        if stream_seq <= self.last_stream_seq {
                            continue;
                        }
                        match self.handle(stream_seq, message.headers.as_ref(), &message.payload).await {
                            Flow::Continue => {}
                            Flow::Stop => return,
                        }
                        self.last_stream_seq = stream_seq;
                        if end.is_some_and(|end| stream_seq >= end) {
                            return;
                        }
                    }
                    Some(Err(err)) => {
                        tracing::debug!(%err, last = self.last_stream_seq, "ordered consumer lost, re-creating it");
                        break;
                    }
                    None => {
                        tracing::debug!(last = self.last_stream_seq, "ordered consumer ended, re-creating it");
                        break;
                    }
                }
            }
            tokio::select! {
                () = self.tx.closed() => return,
                err = self.bus.unreachable_for_too_long() => {
                    self.fail(err).await;
                    return;
                }
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }

    /// Reads the subject's messages after `self.last_stream_seq` up to `end` one get at a time, at most
    /// [`DIRECT_GETS`] of them, creating no consumer. A direct get may be answered by a replica of the
    /// stream that lags behind its leader; a message the replica does not have yet is asked of the leader.
    async fn catch_up_by_gets(&mut self, subject: &str, end: u64) -> Direct {
        for _ in 0..DIRECT_GETS {
            if self.last_stream_seq >= end {
                return Direct::Over;
            }
            let from = self.last_stream_seq + 1;
            let message = match self.bus.shared.stream.direct_get_next_for_subject(subject, Some(from)).await {
                Ok(message) => message,
                Err(err) if err.kind() == DirectGetErrorKind::NotFound => {
                    let leader =
                        self.bus.shared.stream.raw_message_builder().sequence(from).next_by_subject(subject.to_owned());
                    match leader.send().await {
                        Ok(message) => message,
                        Err(err) if err.kind() == LastRawMessageErrorKind::NoMessageFound => return Direct::Over,
                        Err(err) => {
                            tracing::debug!(%err, from, "a get from the stream's leader failed, reading on with a consumer");
                            return Direct::Rest;
                        }
                    }
                }
                Err(err) => {
                    tracing::debug!(%err, from, "a direct get failed, reading on with a consumer");
                    return Direct::Rest;
                }
            };
            if let Flow::Stop = self.handle(message.sequence, Some(&message.headers), &message.payload).await {
                return Direct::Over;
            }
            self.last_stream_seq = message.sequence;
        }
        if self.last_stream_seq >= end {
            Direct::Over
        } else {
            Direct::Rest
        }
    }

    /// The stream sequence to start reading at for event `self.next`: the subject's first message whose
    /// events reach it (so a reconnecting viewer does not replay the whole session), found by a binary
    /// search over stream sequences with "next message of the subject from sequence s" requests. After
    /// the subject's end if it has no such event yet; 1 if it is empty.
    async fn seek(&self, subject: &str) -> Result<u64, BusError> {
        let want = self.next;
        let err = |e: &dyn std::fmt::Display| BusError::nats(format!("find seq {want} of session {}", self.session), e);
        let reaches = |message: &async_nats::jetstream::message::StreamMessage| -> Result<bool, BusError> {
            let header = Header::parse(Some(&message.headers)).map_err(|detail| BusError::Corrupt {
                session: self.session.clone(),
                stream_seq: message.sequence,
                detail,
            })?;
            Ok(header.first_seq + header.count > want)
        };
        let last = match self.bus.shared.stream.get_last_raw_message_by_subject(subject).await {
            Ok(last) => last,
            Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => return Ok(1),
            Err(e) => return Err(err(&e)),
        };
        if !reaches(&last)? {
            return Ok(last.sequence + 1);
        }
        // the first subject message at or after `lo` that reaches `want` is at or before `best`
        let (mut best, mut lo, mut hi) = (last.sequence, 1, last.sequence - 1);
        while lo <= hi {
            let mid = lo + (hi - lo) / 2;
            let message = self
                .bus
                .shared
                .stream
                .raw_message_builder()
                .sequence(mid)
                .next_by_subject(subject.to_owned())
                .send()
                .await
                .map_err(|e| err(&e))?;
            if reaches(&message)? {
                best = best.min(message.sequence);
                hi = mid - 1;
            } else {
                lo = message.sequence + 1;
            }
        }
        Ok(best)
    }

    /// Delivers the events of one message that come after what was delivered.
    async fn handle(&mut self, stream_seq: u64, headers: Option<&async_nats::HeaderMap>, payload: &Bytes) -> Flow {
        let events = match Header::parse(headers).and_then(|header| self.assembler.push(header, payload)) {
            Ok(events) => events,
            Err(detail) => {
                let err = BusError::Corrupt { session: self.session.clone(), stream_seq, detail };
                return self.fail(err).await;
            }
        };
        for (seq, line) in events {
            if let Flow::Stop = self.deliver(seq, line).await {
                return Flow::Stop;
            }
        }
        Flow::Continue
    }

    /// Sends event `seq` if it is the next one; skips it if already delivered; fails on a hole.
    async fn deliver(&mut self, seq: u64, line: Bytes) -> Flow {
        if seq < self.next {
            return Flow::Continue;
        }
        if seq > self.next {
            let err = BusError::Truncated { session: self.session.clone(), wanted: self.next, first_available: seq };
            if !self.first {
                tracing::error!(expected = self.next, got = seq, "a hole in the session's events");
            }
            return self.fail(err).await;
        }
        self.first = false;
        self.next += 1;
        match self.tx.send(Ok(NumberedEvent { seq, line })).await {
            Ok(()) => Flow::Continue,
            Err(_) => Flow::Stop,
        }
    }

    async fn fail(&mut self, err: BusError) -> Flow {
        let _ = self.tx.send(Err(err)).await;
        Flow::Stop
    }
}
