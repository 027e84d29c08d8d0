//! [`SessionWriter`]: the fenced, batched, de-duplicated publisher of one session's events.

use std::time::Duration;

use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::stream::LastRawMessageErrorKind;
use tokio::time::Instant;

use crate::wire::{pack, Header, Outgoing};
use crate::{Bus, BusError, NumberedEvent};

/// Publishes one session's events, continuing where the subject stands.
///
/// Guarantees:
/// - **fenced**: every message carries the stream sequence of the last message this writer saw on the
///   subject as the expected last subject sequence, so if another writer published in between (or this
///   writer's view is stale) the server stores nothing and [`SessionWriter::publish`] returns
///   [`BusError::Fenced`]; the writer then refuses every later batch. Seqs on the subject therefore never
///   have a gap or a duplicate, whichever writer wins;
/// - **de-duplicated**: every message carries a `Nats-Msg-Id` made of the session, this writer's random id,
///   the first event seq, the event count and the chunk index; a retry after a lost ack (same id, same expected sequence)
///   is not stored twice: the server refuses it (its expected sequence is stale now) and the writer finds
///   its id on the subject's last message, or the server de-duplicates it by id within the stream's
///   duplicate window. The writer's own id keeps a second writer's message with the same seq from being
///   taken for ours;
/// - **acknowledged**: `publish` returns only when every message of the batch is stored (acks awaited,
///   one message in flight per session, so each knows the sequence its predecessor got);
/// - **contiguous**: a batch must start at [`SessionWriter::next_seq`] and be numbered without holes.
#[derive(Debug)]
pub struct SessionWriter {
    bus: Bus,
    session: String,
    subject: String,
    /// This writer's random id, part of each message id.
    id: String,
    /// The stream sequence of the last message on the subject this writer knows of (0: none).
    last_subject_seq: u64,
    next_seq: u64,
    fenced: bool,
    /// The last message sent and the expected sequence it was sent with (for [`SessionWriter::resend_last`]).
    last_sent: Option<(Outgoing, u64)>,
}

impl Bus {
    /// A writer for `session` that continues after the last event stored on its subject (a resumed session
    /// keeps its numbering on any machine). Reads the subject's last message once.
    #[tracing::instrument(skip(self), fields(session = %session))]
    pub async fn writer(&self, session: &str) -> Result<SessionWriter, BusError> {
        let (subject, last_subject_seq, next_seq) = self.subject_tail(session).await?;
        tracing::debug!(last_subject_seq, next_seq, "writer opened");
        Ok(SessionWriter {
            bus: self.clone(),
            session: session.to_owned(),
            subject,
            id: uuid::Uuid::new_v4().simple().to_string(),
            last_subject_seq,
            next_seq,
            fenced: false,
            last_sent: None,
        })
    }

    /// The number of events of `session` on the bus (its next seq; 0 for a session never published;
    /// [`BusError::Unreachable`] soon while the connection to NATS is lost, as [`Bus::request`]).
    pub async fn session_len(&self, session: &str) -> Result<u64, BusError> {
        self.wait_connected().await?;
        Ok(self.subject_tail(session).await?.2)
    }

    /// The session's subject, the stream sequence of its last message (0: none) and its next event seq.
    async fn subject_tail(&self, session: &str) -> Result<(String, u64, u64), BusError> {
        let subject = self.session_subject(session)?;
        let (last_subject_seq, next_seq) = match self.shared.stream.get_last_raw_message_by_subject(&subject).await {
            Ok(message) => {
                let header = Header::parse(Some(&message.headers)).map_err(|detail| BusError::Corrupt {
                    session: session.to_owned(),
                    stream_seq: message.sequence,
                    detail,
                })?;
                (message.sequence, header.next_seq())
            }
            Err(err) if err.kind() == LastRawMessageErrorKind::NoMessageFound => (0, 0),
            Err(err) => return Err(BusError::nats(format!("last message of session {session}"), err)),
        };
        Ok((subject, last_subject_seq, next_seq))
    }
}

impl SessionWriter {
    /// The session written to.
    pub fn session(&self) -> &str {
        &self.session
    }

    /// The seq the next published event must have.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Whether this writer has been fenced out (it publishes nothing more).
    pub fn is_fenced(&self) -> bool {
        self.fenced
    }

    /// Publishes `batch` (contiguous events from [`SessionWriter::next_seq`]), packed several lines per
    /// message, and returns once all of it is stored. While NATS does not answer (a leader election, a
    /// reconnect) each message is sent again with the same id and expected sequence every
    /// `BusConfig::ack_timeout` (or sooner, after an error) for up to `BusConfig::publish_timeout`, then
    /// [`BusError::Unavailable`]; once the connection has been lost for `BusConfig::unreachable_after`,
    /// [`BusError::Unreachable`] at once. [`BusError::Fenced`] if another writer
    /// got in first. On any error, events before the failing message may be stored and the writer's
    /// [`SessionWriter::next_seq`] says how far it got.
    #[tracing::instrument(skip_all, fields(session = %self.session, first = batch.first().map(|e| e.seq), events = batch.len()))]
    pub async fn publish(&mut self, batch: &[NumberedEvent]) -> Result<(), BusError> {
        if self.fenced {
            return Err(BusError::Fenced { session: self.session.clone() });
        }
        for (i, event) in batch.iter().enumerate() {
            let expected = self.next_seq + i as u64;
            if event.seq != expected {
                return Err(BusError::NotContiguous { session: self.session.clone(), expected, got: event.seq });
            }
            if event.line.contains(&b'\n') {
                return Err(BusError::LineWithNewline { session: self.session.clone(), seq: event.seq });
            }
        }
        for message in pack(batch, self.bus.max_payload) {
            let expected = self.last_subject_seq;
            let (stored, _) = self.send(&message, expected).await?;
            self.last_subject_seq = stored;
            if message.chunk.is_none_or(|(index, total)| index + 1 == total) {
                self.next_seq = message.first_seq + message.count;
            }
            self.last_sent = Some((message, expected));
        }
        Ok(())
    }

    /// Sends the last message again exactly as before (same message id, same expected sequence), as a
    /// retry after a lost ack does. Returns whether it was recognised as already stored (by its id, as the
    /// subject's last message or by the server's de-duplication); the stream is unchanged either way. For tests of the retry path.
    #[doc(hidden)]
    pub async fn resend_last(&mut self) -> Result<bool, BusError> {
        let Some((message, expected)) = self.last_sent.clone() else { return Ok(false) };
        let (stored, duplicate) = self.send(&message, expected).await?;
        Ok(duplicate && stored == self.last_subject_seq)
    }

    /// The stream sequence of the subject's last message if it is the message with id `id`.
    async fn stored_last(&self, id: &str) -> Result<Option<u64>, BusError> {
        match self.bus.shared.stream.get_last_raw_message_by_subject(&self.subject).await {
            Ok(message) => {
                let last_id = message.headers.get(async_nats::header::NATS_MESSAGE_ID).map(|v| v.as_str());
                Ok((last_id == Some(id)).then_some(message.sequence))
            }
            Err(err) if err.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(None),
            Err(err) => Err(BusError::nats(format!("last message of session {}", self.session), err)),
        }
    }

    /// Publishes one message fenced on `expected`, retrying while NATS does not answer; returns the stream
    /// sequence it is stored at and whether the server had it already.
    async fn send(&mut self, message: &Outgoing, expected: u64) -> Result<(u64, bool), BusError> {
        // the count is part of the id: a retry that packs differently is a different message, never
        // taken for the one stored
        let id =
            format!("{}.{}.{}+{}.{}", self.session, self.id, message.first_seq, message.count, message.chunk_index());
        let timeout = self.bus.shared.config.publish_timeout;
        let deadline = Instant::now() + timeout;
        let mut backoff = Duration::from_millis(50);
        loop {
            let publish = PublishMessage::build()
                .payload(message.payload.clone())
                .headers(message.headers())
                .message_id(&id)
                .expected_last_subject_sequence(expected);
            let attempt = async {
                match self.bus.shared.js.send_publish(self.subject.clone(), publish).await {
                    Ok(ack) => tokio::time::timeout(self.bus.shared.config.ack_timeout, ack).await.ok(),
                    Err(err) => Some(Err(err)),
                }
            };
            let result = tokio::select! {
                result = attempt => result,
                err = self.bus.unreachable_for_too_long() => return Err(err),
            };
            let err = match result {
                // no ack in time (a stream leader that died with the message, an election): send it again
                None => {
                    tracing::debug!("publish not acknowledged in time, retrying with the same message id");
                    if Instant::now() >= deadline {
                        return Err(BusError::Unavailable {
                            session: self.session.clone(),
                            waited: timeout,
                            detail: format!("no ack within {:?}", self.bus.shared.config.ack_timeout),
                        });
                    }
                    continue;
                }
                Some(result) => result,
            };
            let err = match err {
                Ok(ack) => {
                    if ack.duplicate {
                        tracing::debug!(seq = ack.sequence, "publish de-duplicated (a retry)");
                    }
                    return Ok((ack.sequence, ack.duplicate));
                }
                Err(err) => err,
            };
            match err.kind() {
                PublishErrorKind::WrongLastSequence => {
                    // A retry of a message that was stored (its ack lost) lands here too: the server checks
                    // the expected sequence before the message id. It is ours if it is the subject's last.
                    if let Some(stored) = self.stored_last(&id).await? {
                        tracing::debug!(seq = stored, "the message was stored before (a retry after a lost ack)");
                        return Ok((stored, true));
                    }
                    tracing::warn!(expected, "fenced: the subject moved on without this writer");
                    self.fenced = true;
                    return Err(BusError::Fenced { session: self.session.clone() });
                }
                PublishErrorKind::MaxPayloadExceeded => {
                    return Err(BusError::nats("publish (message larger than the server's max_payload)", err));
                }
                _ => {}
            }
            if Instant::now() + backoff > deadline {
                return Err(BusError::Unavailable {
                    session: self.session.clone(),
                    waited: timeout,
                    detail: err.to_string(),
                });
            }
            tracing::debug!(%err, "publish not acknowledged, retrying with the same message id");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(1));
        }
    }
}
