//! [`ClusterRuns`]: the sessions layer's [`Runs`] on a cluster, for a replica: starts and commands go to
//! workers through [`ClusterClient`], events are read from the bus. A worker's refusal comes back as the
//! `Refused` variant of the same error a server on its own returns, with the worker's message.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use opcode_proto::cluster::{ForkPoint, Prompted, Refusal, WorkerCommand, WorkerReply};
use opcode_proto::control::{PermissionDecision, SettingsChange};
use opcode_proto::{ClaudeRequest, ImageAttachment, Seq, ValidRequest};
use opcode_sessions::{
    CancelError, ControlError, EventBatches, EventsError, PromptOutcome, RunSummary, Runs, StartError, StartedRun,
};

use opcode_sessions::notable::NotableEvent;
use tokio::sync::broadcast;

use crate::{ClusterClient, ClusterError};

/// Events delivered to a viewer per batch at most.
const BATCH: usize = 128;

/// How long a viewer that saw a `completion` waits for the run's claim to go (its worker releases it
/// right after forwarding the completion) before the stream ends anyway.
const CLAIM_GRACE: Duration = Duration::from_secs(3);

/// [`Runs`] through the cluster. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ClusterRuns {
    client: ClusterClient,
    /// The workers' notable events, as this replica hears them.
    notable: broadcast::Sender<NotableEvent>,
}

impl ClusterRuns {
    /// Runs through `client`, listening to the workers' notable events from now on (the subscription is
    /// in place when this returns).
    pub async fn open(client: ClusterClient) -> Result<ClusterRuns, ClusterError> {
        let notable = crate::notable::listen(client.bus()).await?;
        Ok(ClusterRuns { client, notable })
    }

    /// The client, for what is not a run operation (the running list).
    pub fn client(&self) -> &ClusterClient {
        &self.client
    }

    /// Whether the cluster knows the session (it has events, or a run claimed); `None` when the bus cannot
    /// tell (or the id is not one).
    async fn known(&self, session_id: &str) -> Option<bool> {
        let bus = self.client.bus();
        Some(bus.session_len(session_id).await.ok()? > 0 || bus.run_owner(session_id).await.ok()?.is_some())
    }

    /// Starts a run (a fork's with `fork`) on some worker.
    async fn start(&self, request: ValidRequest, fork: Option<ForkPoint>) -> Result<StartedRun, StartError> {
        let request = ClaudeRequest::from(request);
        let started = match fork {
            Some(fork) => self.client.start_fork(request, fork).await,
            None => self.client.start(request).await,
        };
        match started {
            Ok(WorkerReply::Started { session_id, first_seq, .. }) => Ok(StartedRun { session_id, first_seq }),
            Ok(other) => {
                let (refusal, message) = refusal_of(other);
                Err(StartError::Refused { refusal, message })
            }
            Err(err) => Err(StartError::Refused { refusal: Refusal::Unavailable, message: err.to_string() }),
        }
    }

    async fn command(&self, command: WorkerCommand) -> Result<WorkerReply, (Refusal, String)> {
        self.client.command(command).await.map_err(unavailable)
    }

    async fn done(&self, command: WorkerCommand) -> Result<(), ControlError> {
        match self.command(command).await {
            Ok(WorkerReply::Done) => Ok(()),
            Ok(other) => Err(control_refused(refusal_of(other))),
            Err(refused) => Err(control_refused(refused)),
        }
    }
}

fn unavailable(err: ClusterError) -> (Refusal, String) {
    (Refusal::Unavailable, err.to_string())
}

fn refusal_of(reply: WorkerReply) -> (Refusal, String) {
    match reply {
        WorkerReply::Refused { refusal, message } => (refusal, message),
        other => (Refusal::Unavailable, format!("a worker answered with {other:?}, which does not fit the command")),
    }
}

fn control_refused((refusal, message): (Refusal, String)) -> ControlError {
    ControlError::Refused { refusal, message }
}

#[async_trait]
impl Runs for ClusterRuns {
    async fn start_run(&self, request: ValidRequest) -> Result<StartedRun, StartError> {
        self.start(request, None).await
    }

    async fn start_fork(&self, request: ValidRequest, from: &str, at: &str) -> Result<StartedRun, StartError> {
        self.start(request, Some(ForkPoint { from: from.to_owned(), at: at.to_owned() })).await
    }

    fn notable_events(&self) -> broadcast::Receiver<NotableEvent> {
        self.notable.subscribe()
    }

    async fn cancel_run(&self, session_id: &str) -> Result<(), CancelError> {
        match self.command(WorkerCommand::Cancel { session_id: session_id.to_owned() }).await {
            Ok(WorkerReply::Done) => Ok(()),
            Ok(other) => {
                let (refusal, message) = refusal_of(other);
                Err(CancelError::Refused { refusal, message })
            }
            Err((refusal, message)) => Err(CancelError::Refused { refusal, message }),
        }
    }

    async fn send_prompt(
        &self,
        session_id: &str,
        prompt: &str,
        client_id: Option<&str>,
        images: Vec<ImageAttachment>,
    ) -> Result<PromptOutcome, ControlError> {
        let command = WorkerCommand::Prompt {
            session_id: session_id.to_owned(),
            prompt: prompt.to_owned(),
            client_id: client_id.map(str::to_owned),
            images,
        };
        match self.command(command).await {
            Ok(WorkerReply::Prompted { prompted }) => Ok(match prompted {
                Prompted::Sent => PromptOutcome::Sent,
                Prompted::Queued => PromptOutcome::Queued,
                Prompted::Duplicate => PromptOutcome::Duplicate,
            }),
            Ok(other) => Err(control_refused(refusal_of(other))),
            Err(refused) => Err(control_refused(refused)),
        }
    }

    async fn edit_queued(&self, session_id: &str, client_id: &str, prompt: &str) -> Result<(), ControlError> {
        self.done(WorkerCommand::EditQueued {
            session_id: session_id.to_owned(),
            client_id: client_id.to_owned(),
            prompt: prompt.to_owned(),
        })
        .await
    }

    async fn unqueue(&self, session_id: &str, client_id: &str) -> Result<(), ControlError> {
        self.done(WorkerCommand::Unqueue { session_id: session_id.to_owned(), client_id: client_id.to_owned() }).await
    }

    async fn answer_permission(
        &self,
        session_id: &str,
        request_id: &str,
        decision: PermissionDecision,
    ) -> Result<(), ControlError> {
        self.done(WorkerCommand::Answer {
            session_id: session_id.to_owned(),
            request_id: request_id.to_owned(),
            decision,
        })
        .await
    }

    async fn interrupt(&self, session_id: &str) -> Result<(), ControlError> {
        self.done(WorkerCommand::Interrupt { session_id: session_id.to_owned() }).await
    }

    async fn change_settings(&self, session_id: &str, change: SettingsChange) -> Result<(), ControlError> {
        self.done(WorkerCommand::Settings { session_id: session_id.to_owned(), change }).await
    }

    async fn end_live(&self, session_id: &str) -> Result<(), ControlError> {
        self.done(WorkerCommand::End { session_id: session_id.to_owned() }).await
    }

    async fn list(&self) -> Vec<RunSummary> {
        let lists = match self.client.list().await {
            Ok(lists) => lists,
            Err(err) => {
                tracing::warn!(%err, "could not list the cluster's runs");
                return Vec::new();
            }
        };
        let mut runs: Vec<RunSummary> =
            lists.into_iter().flat_map(|(_, runs)| runs).filter_map(|run| serde_json::from_value(run).ok()).collect();
        runs.sort_by_key(|run| std::cmp::Reverse(run.started_at));
        runs
    }

    async fn unavailable(&self) -> Option<String> {
        self.client.bus().wait_connected().await.err().map(|err| err.to_string())
    }

    async fn events_so_far(&self, session_id: &str) -> Option<Result<Vec<Bytes>, EventsError>> {
        if !self.known(session_id).await? {
            return None;
        }
        let events = self.client.bus().read_to_end(session_id, None).map_ok(|event| event.line).try_collect().await;
        Some(events.map_err(|err: opcode_bus::BusError| EventsError::Cluster {
            session_id: session_id.to_owned(),
            message: err.to_string(),
        }))
    }

    async fn events(&self, session_id: &str, from: Seq, one_run: bool) -> Option<EventBatches> {
        if !self.known(session_id).await? {
            return None;
        }
        let bus = self.client.bus().clone();
        let session = session_id.to_owned();
        let events = bus.read(session_id, from.checked_sub(1)).ready_chunks(BATCH);
        // the stream's state: the events, and whether it has delivered its end
        let stream = futures::stream::unfold((Box::pin(events), false), move |(mut events, ended)| {
            let (bus, session) = (bus.clone(), session.clone());
            async move {
                if ended {
                    return None;
                }
                let chunk = events.next().await?;
                let mut batch = Vec::with_capacity(chunk.len());
                let mut completed = false;
                for event in chunk {
                    match event {
                        Ok(event) => {
                            completed = event.line.starts_with(COMPLETION);
                            batch.push(event.line);
                            if completed && one_run {
                                break;
                            }
                        }
                        Err(err) => {
                            tracing::warn!(session_id = %session, %err, "reading the session's events from the bus failed");
                            if matches!(err, opcode_bus::BusError::Unreachable { .. }) {
                                // the viewer is told, and may come back once the bus is
                                let frame = opcode_proto::event::bus_unreachable_json(&err.to_string(), &session);
                                batch.push(Bytes::from(frame));
                            }
                            return (!batch.is_empty()).then_some((batch, (events, true)));
                        }
                    }
                }
                let end = completed && (one_run || run_is_over(&bus, &session).await);
                Some((batch, (events, end)))
            }
        });
        Some(stream.boxed())
    }
}

/// How every `completion` event's line begins.
const COMPLETION: &[u8] = b"{\"type\":\"completion\"";

/// After a `completion`: whether the session's run is over (its claim released), waiting a little for the
/// worker to release it. A new run started meanwhile keeps the stream going.
async fn run_is_over(bus: &opcode_bus::Bus, session: &str) -> bool {
    let deadline = tokio::time::Instant::now() + CLAIM_GRACE;
    let mut pause = Duration::from_millis(10);
    loop {
        match bus.run_owner(session).await {
            Ok(None) => return true,
            Ok(Some(_)) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(200));
            }
            // still claimed after the grace (a next run), or the bus cannot tell: keep following
            _ => return false,
        }
    }
}
