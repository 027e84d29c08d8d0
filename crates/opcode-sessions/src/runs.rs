//! [`Runs`]: what a server asks of its runs (start, steer, cancel, watch), whoever carries them out. The
//! [`SessionRegistry`] does it on this machine; a cluster's client (`opcode-cluster`) does it through
//! workers on other machines, with the same errors, so the server's routes are written once.

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;
use opcode_proto::control::{PermissionDecision, SettingsChange};
use opcode_proto::{ImageAttachment, Seq, ValidRequest};

use crate::error::{CancelError, ControlError, EventsError, StartError};
use crate::live::PromptOutcome;
use crate::notable::NotableEvent;
use crate::registry::{RunSummary, SessionRegistry, StartedRun};
use crate::subscription::Subscription;

/// A session's events in batches (encoded JSON frames in seq order, no gap, no repeat); the stream ends
/// when no more will come (or after the followed run's completion).
pub type EventBatches = BoxStream<'static, Vec<Bytes>>;

/// The operations on runs a server exposes. Every method has the meaning and the errors of the
/// [`SessionRegistry`] method of the same name.
#[async_trait]
pub trait Runs: Send + Sync + std::fmt::Debug {
    /// Starts a run ([`SessionRegistry::start_run`]).
    async fn start_run(&self, request: ValidRequest) -> Result<StartedRun, StartError>;
    /// Starts a new session copied from session `from` up to its message `at`, running `request`
    /// ([`SessionRegistry::start_fork`]).
    async fn start_fork(&self, request: ValidRequest, from: &str, at: &str) -> Result<StartedRun, StartError>;
    /// Cancels the session's run ([`SessionRegistry::cancel`]).
    async fn cancel_run(&self, session_id: &str) -> Result<(), CancelError>;
    /// A prompt for a live session ([`SessionRegistry::send_prompt_with_images`]).
    async fn send_prompt(
        &self,
        session_id: &str,
        prompt: &str,
        client_id: Option<&str>,
        images: Vec<ImageAttachment>,
    ) -> Result<PromptOutcome, ControlError>;
    /// Edits a queued prompt ([`SessionRegistry::edit_queued`]).
    async fn edit_queued(&self, session_id: &str, client_id: &str, prompt: &str) -> Result<(), ControlError>;
    /// Takes a prompt out of the queue ([`SessionRegistry::unqueue`]).
    async fn unqueue(&self, session_id: &str, client_id: &str) -> Result<(), ControlError>;
    /// Answers a permission request ([`SessionRegistry::answer_permission`]).
    async fn answer_permission(
        &self,
        session_id: &str,
        request_id: &str,
        decision: PermissionDecision,
    ) -> Result<(), ControlError>;
    /// Interrupts the live session's turn ([`SessionRegistry::interrupt`]).
    async fn interrupt(&self, session_id: &str) -> Result<(), ControlError>;
    /// Changes a live session's model or mode ([`SessionRegistry::change_settings`]).
    async fn change_settings(&self, session_id: &str, change: SettingsChange) -> Result<(), ControlError>;
    /// Ends a live session ([`SessionRegistry::end_live`]).
    async fn end_live(&self, session_id: &str) -> Result<(), ControlError>;
    /// The session's events from seq `from` on; with `one_run`, only up to the next `completion`. `None`
    /// for an unknown session.
    async fn events(&self, session_id: &str, from: Seq, one_run: bool) -> Option<EventBatches>;
    /// Every event of the session so far ([`SessionRegistry::events_so_far`]); `None` for an unknown
    /// session.
    async fn events_so_far(&self, session_id: &str) -> Option<Result<Vec<Bytes>, EventsError>>;
    /// The known sessions with their latest run, newest first ([`SessionRegistry::list`]).
    async fn list(&self) -> Vec<RunSummary>;
    /// Listens to the notable events of every session from now on, wherever its run is
    /// ([`SessionRegistry::notable_events`]; see [`crate::notable`]).
    fn notable_events(&self) -> tokio::sync::broadcast::Receiver<NotableEvent>;
    /// Why runs cannot be reached now, found out within a short wait (a cluster's replica whose bus is
    /// unreachable); `None` when they can, always for the registry. Routes answer `503` with it (sockets
    /// close with 4503) instead of waiting for timeouts.
    async fn unavailable(&self) -> Option<String> {
        None
    }
}

/// A subscription as a stream of batches; a log read failure ends it (after a warning).
pub fn subscription_batches(subscription: Subscription) -> EventBatches {
    futures::stream::unfold(Some(subscription), |sub| async move {
        let mut sub = sub?;
        match sub.next_batch().await {
            Ok(Some(batch)) => Some((batch, Some(sub))),
            Ok(None) => None,
            Err(err) => {
                tracing::warn!(session_id = sub.session_id(), %err, "reading the event log failed");
                None
            }
        }
    })
    .boxed()
}

#[async_trait]
impl Runs for SessionRegistry {
    async fn start_run(&self, request: ValidRequest) -> Result<StartedRun, StartError> {
        SessionRegistry::start_run(self, request).await
    }

    async fn start_fork(&self, request: ValidRequest, from: &str, at: &str) -> Result<StartedRun, StartError> {
        SessionRegistry::start_fork(self, request, from, at).await
    }

    async fn cancel_run(&self, session_id: &str) -> Result<(), CancelError> {
        self.cancel(session_id)
    }

    async fn send_prompt(
        &self,
        session_id: &str,
        prompt: &str,
        client_id: Option<&str>,
        images: Vec<ImageAttachment>,
    ) -> Result<PromptOutcome, ControlError> {
        self.send_prompt_with_images(session_id, prompt, client_id, images).await
    }

    async fn edit_queued(&self, session_id: &str, client_id: &str, prompt: &str) -> Result<(), ControlError> {
        SessionRegistry::edit_queued(self, session_id, client_id, prompt).await
    }

    async fn unqueue(&self, session_id: &str, client_id: &str) -> Result<(), ControlError> {
        SessionRegistry::unqueue(self, session_id, client_id).await
    }

    async fn answer_permission(
        &self,
        session_id: &str,
        request_id: &str,
        decision: PermissionDecision,
    ) -> Result<(), ControlError> {
        SessionRegistry::answer_permission(self, session_id, request_id, decision).await
    }

    async fn interrupt(&self, session_id: &str) -> Result<(), ControlError> {
        SessionRegistry::interrupt(self, session_id).await
    }

    async fn change_settings(&self, session_id: &str, change: SettingsChange) -> Result<(), ControlError> {
        SessionRegistry::change_settings(self, session_id, change).await
    }

    async fn end_live(&self, session_id: &str) -> Result<(), ControlError> {
        SessionRegistry::end_live(self, session_id).await
    }

    async fn list(&self) -> Vec<RunSummary> {
        SessionRegistry::list(self).await
    }

    fn notable_events(&self) -> tokio::sync::broadcast::Receiver<NotableEvent> {
        SessionRegistry::notable_events(self)
    }

    async fn events_so_far(&self, session_id: &str) -> Option<Result<Vec<Bytes>, EventsError>> {
        Some(SessionRegistry::events_so_far(self, session_id).await?.map_err(EventsError::from))
    }

    async fn events(&self, session_id: &str, from: Seq, one_run: bool) -> Option<EventBatches> {
        let subscription = self.subscribe(session_id, from).await?;
        Some(subscription_batches(if one_run { subscription.until_completion() } else { subscription }))
    }
}
