//! Request and reply on plain subjects, outside the events stream: a service subscribes (alone, or in a
//! queue group where each request reaches one member) and answers each request once; a requester waits
//! for the answer within the request timeout. Used for commands from replicas to workers.

use async_nats::{Client, Subject};
use bytes::Bytes;
use futures::{Stream, StreamExt};

use crate::error::valid_id;
use crate::{Bus, BusError};

/// A request a service received, with where to send the answer.
#[derive(Debug)]
pub struct Request {
    payload: Bytes,
    reply: Option<Subject>,
    client: Client,
}

impl Request {
    /// The request's bytes.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// Sends the answer (a request sent without a reply subject is answered by nothing).
    pub async fn respond(self, answer: Bytes) -> Result<(), BusError> {
        let Some(reply) = self.reply else { return Ok(()) };
        self.client.publish(reply, answer).await.map_err(|e| BusError::nats("answer a request", e))?;
        self.client.flush().await.map_err(|e| BusError::nats("answer a request", e))
    }
}

impl Bus {
    /// The requests sent to `subject`; with a `queue`, each request reaches one of the services in that
    /// queue group. The stream lasts as long as the connection (the client re-subscribes after a reconnect).
    pub async fn serve(
        &self,
        subject: &str,
        queue: Option<&str>,
    ) -> Result<impl Stream<Item = Request> + Send + 'static, BusError> {
        let client = self.shared.js.client();
        let subscriber = match queue {
            Some(queue) => client.queue_subscribe(subject.to_owned(), queue.to_owned()).await,
            None => client.subscribe(subject.to_owned()).await,
        }
        .map_err(|e| BusError::nats(format!("serve {subject}"), e))?;
        // the subscription is in place on the server before anyone is told the service runs
        client.flush().await.map_err(|e| BusError::nats(format!("serve {subject}"), e))?;
        Ok(subscriber.map(move |message| Request {
            payload: message.payload,
            reply: message.reply,
            client: client.clone(),
        }))
    }

    /// Sends `payload` to `subject` and waits for one answer, within the request timeout:
    /// [`BusError::NoResponders`] at once when nobody serves the subject, [`BusError::TimedOut`] when nobody
    /// answered in time; [`BusError::Unreachable`] within `BusConfig::reconnect_wait` while the connection to
    /// NATS is lost.
    pub async fn request(&self, subject: &str, payload: Bytes) -> Result<Bytes, BusError> {
        use async_nats::RequestErrorKind;
        self.wait_connected().await?;
        let client = self.shared.js.client();
        match client.request(subject.to_owned(), payload).await {
            Ok(message) => Ok(message.payload),
            Err(err) => Err(match err.kind() {
                RequestErrorKind::NoResponders => BusError::NoResponders { subject: subject.to_owned() },
                RequestErrorKind::TimedOut => {
                    BusError::TimedOut { subject: subject.to_owned(), waited: self.shared.config.request_timeout }
                }
                _ => BusError::nats(format!("request on {subject}"), err),
            }),
        }
    }

    /// Publishes `payload` on the plain subject `subject` for whoever listens now ([`Bus::serve`] without
    /// a queue): at most once, never stored, never answered. Waits only for the client's buffer.
    pub async fn announce(&self, subject: &str, payload: Bytes) -> Result<(), BusError> {
        let client = self.shared.js.client();
        client
            .publish(subject.to_owned(), payload)
            .await
            .map_err(|e| BusError::nats(format!("announce on {subject}"), e))
    }

    /// The worker that owns `session`'s run, if it has one ([`BusError::Unreachable`] at once while the
    /// connection to NATS is lost, as [`Bus::request`]).
    pub async fn run_owner(&self, session: &str) -> Result<Option<String>, BusError> {
        if !valid_id(session) {
            return Err(BusError::InvalidSession(session.to_owned()));
        }
        self.wait_connected().await?;
        let value = self.shared.runs.get(session).await.map_err(|e| BusError::nats("read a run's owner", e))?;
        Ok(value.map(|v| String::from_utf8_lossy(&v).into_owned()))
    }
}
