//! [`ClusterRuns`]: the sessions layer's [`Runs`] on a cluster, for a replica: starts and commands go to
//! workers through [`ClusterClient`], events are read from the bus. A worker's refusal comes back as the
//! `Refused` variant of the same error a server on its own returns, with the worker's message.
//!
//! A replica reads each session's new events from the bus once, whatever the number of its viewers: the
//! first viewer of a session starts its *tail* (one bus reader from the session's end, broadcast to the
//! session's viewers), each viewer catches up from the stream on its own (by single gets, with no consumer
//! unless the catch-up is long) and then takes the tail's events; the tail stops when its last viewer goes.
//! Ten thousand viewers of ten sessions are ten bus consumers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use opcode_bus::{Bus, BusError, NumberedEvent};
use opcode_proto::cluster::{ForkPoint, Prompted, Refusal, WorkerCommand, WorkerReply};
use opcode_proto::control::{PermissionDecision, SettingsChange};
use opcode_proto::{ClaudeRequest, ImageAttachment, Seq, ValidRequest};
use opcode_sessions::notable::NotableEvent;
use opcode_sessions::{
    CancelError, ControlError, EventBatches, EventsError, PromptOutcome, RunSummary, Runs, StartError, StartedRun,
};
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
    tails: Arc<Tails>,
}

impl ClusterRuns {
    /// Runs through `client`, listening to the workers' notable events from now on (the subscription is
    /// in place when this returns).
    pub async fn open(client: ClusterClient) -> Result<ClusterRuns, ClusterError> {
        let notable = crate::notable::listen(client.bus()).await?;
        Ok(ClusterRuns { client, notable, tails: Arc::default() })
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
        let events = self.tails.follow(&bus, session_id, from).await.ready_chunks(BATCH);
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
                            if matches!(*err, opcode_bus::BusError::Unreachable { .. }) {
                                // the viewer is told, and may come back once the bus is
                                let frame = opcode_proto::event::bus_unreachable_json(&err.to_string(), &session);
                                batch.push(Bytes::from(frame));
                            }
                            return (!batch.is_empty()).then_some((batch, (events, true)));
                        }
                    }
                }
                // boxed: a viewer's stream, held while it idles, must not carry the bus requests' futures
                let end = completed && (one_run || Box::pin(run_is_over(&bus, &session)).await);
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

/// What a tail broadcasts: the session's next event, or the error that ended the tail's reader.
type TailItem = Result<NumberedEvent, Arc<BusError>>;

/// Events a tail keeps for viewers that fall behind; one further behind catches up from the stream.
const TAIL_BUFFER: usize = 1024;

/// The replica's session tails, by session id, alive while a viewer holds them.
#[derive(Debug, Default)]
struct Tails {
    live: Mutex<HashMap<String, Weak<Tail>>>,
}

/// One session's tail: a task that reads the session's events from the bus from where they were when it
/// started and broadcasts them. The task holds the only sender (its end closes the channel); the tail keeps
/// a receiver to subscribe viewers from. Dropping the tail (its last viewer went) stops the task.
#[derive(Debug)]
struct Tail {
    events: broadcast::Receiver<TailItem>,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for Tail {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Tails {
    /// The live tail of `session`, started if there is none (or its reader ended).
    async fn tail(&self, bus: &Bus, session: &str) -> Result<Arc<Tail>, BusError> {
        let running = |live: &HashMap<String, Weak<Tail>>| {
            live.get(session).and_then(Weak::upgrade).filter(|tail| !tail.reader.is_finished())
        };
        if let Some(tail) = running(&self.live.lock().unwrap_or_else(|e| e.into_inner())) {
            return Ok(tail);
        }
        let len = bus.session_len(session).await?;
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tail) = running(&live) {
            return Ok(tail); // another viewer started it meanwhile
        }
        let (tx, events) = broadcast::channel(TAIL_BUFFER);
        let mut read = Box::pin(bus.read(session, len.checked_sub(1)));
        let reader = tokio::spawn(async move {
            while let Some(item) = read.next().await {
                let failed = item.is_err();
                let _ = tx.send(item.map_err(Arc::new));
                if failed {
                    return;
                }
            }
        });
        let tail = Arc::new(Tail { events, reader });
        live.retain(|_, tail| tail.strong_count() > 0);
        live.insert(session.to_owned(), Arc::downgrade(&tail));
        Ok(tail)
    }

    /// `session`'s events from seq `from` on, in order, each once, until dropped: a catch-up from the
    /// stream, then the session's shared tail (a viewer that falls behind the tail, or sees a gap, catches
    /// up from the stream again). Without a tail (the bus cannot tell where the session ends), a reader of
    /// the viewer's own.
    async fn follow(&self, bus: &Bus, session: &str, from: Seq) -> BoxStream<'static, TailItem> {
        let tail = match self.tail(bus, session).await {
            Ok(tail) => tail,
            Err(err) => {
                tracing::debug!(session_id = %session, %err, "no shared tail, reading on its own");
                return bus.read(session, from.checked_sub(1)).map_err(Arc::new).boxed();
            }
        };
        // subscribed before the catch-up reads where the stream ends: nothing falls between the two
        let follower = Follower {
            events: tail.events.resubscribe(),
            _tail: tail,
            catch_up: Some(bus.read_to_end(session, from.checked_sub(1)).boxed()),
            bus: bus.clone(),
            session: session.to_owned(),
            next: from,
            ended: false,
        };
        futures::stream::unfold(follower, |mut follower| async move {
            let item = follower.next().await?;
            Some((item, follower))
        })
        .boxed()
    }
}

/// One viewer's place in a session: its catch-up from the stream, then the tail's events.
struct Follower {
    events: broadcast::Receiver<TailItem>,
    /// Keeps the tail running while this viewer follows it.
    _tail: Arc<Tail>,
    catch_up: Option<BoxStream<'static, Result<NumberedEvent, BusError>>>,
    bus: Bus,
    session: String,
    /// The seq of the next event to deliver.
    next: Seq,
    /// An error was delivered: nothing follows it.
    ended: bool,
}

impl Follower {
    async fn next(&mut self) -> Option<TailItem> {
        if self.ended {
            return None;
        }
        loop {
            let item = match &mut self.catch_up {
                Some(catch_up) => match catch_up.next().await {
                    Some(item) => item.map_err(Arc::new),
                    None => {
                        self.catch_up = None;
                        continue;
                    }
                },
                None => match self.events.recv().await {
                    Ok(item) => item,
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::debug!(session_id = %self.session, missed, "a viewer fell behind its tail, catching up");
                        self.catch_up_from_stream();
                        continue;
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
            };
            match item {
                Ok(event) if event.seq < self.next => {}
                Ok(event) if event.seq == self.next || self.catch_up.is_some() => {
                    self.next = event.seq + 1;
                    return Some(Ok(event));
                }
                // the tail is ahead of what this viewer has: what lies between is in the stream
                Ok(_) => self.catch_up_from_stream(),
                Err(err) => {
                    self.ended = true;
                    return Some(Err(err));
                }
            }
        }
    }

    fn catch_up_from_stream(&mut self) {
        self.catch_up = Some(self.bus.read_to_end(&self.session, self.next.checked_sub(1)).boxed());
    }
}
