//! A worker: the lease, the commands it serves, the runs it owns.
//!
//! A start claims the session's run on the bus first (at most one worker owns a session's run), brings
//! the worker's log of the session up to the bus (a session that ran on another worker continues its
//! numbering), opens the session's fenced writer, then starts the run and its forward task. The run's
//! claim is released once its completion is on the bus. Losing the lease cancels every run the worker
//! owns: another worker may take them over, and the bus refuses whatever this one publishes late.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use opcode_bus::{Bus, BusError, RunClaim, WorkerLease};
use opcode_proto::cluster::{ForkPoint, Prompted, Refusal, WorkerCard, WorkerCommand, WorkerReply};
use opcode_proto::CommandType;
use opcode_sessions::{CancelError, ControlError, PromptOutcome, SessionRegistry, StartError};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::forward::{forward, Forwarded, Forwarder, FORWARD_BATCH};
use crate::{reaper, subjects, ClusterError};

/// Events imported per batch when a worker's log of a session is brought up to the bus.
const IMPORT_BATCH: usize = 1024;

/// Settings of a worker.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The worker's id on the bus (unique among live workers: a second worker with the same id is refused
    /// while the first holds its lease).
    pub id: String,
}

/// A running worker. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Worker {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    id: String,
    bus: Bus,
    registry: SessionRegistry,
    forwarder: Arc<Forwarder>,
    /// The lease, until the worker gives it back at shutdown.
    lease: Mutex<Option<WorkerLease>>,
    /// Whether the lease is lost.
    lost: tokio::sync::watch::Receiver<bool>,
    /// Sessions whose run this worker owns (claimed on the bus and started here).
    owned: Mutex<HashSet<String>>,
    tasks: TaskTracker,
    stop: CancellationToken,
}

impl Worker {
    /// Takes the worker's lease and starts serving: starts from the queue every worker shares, commands
    /// for this worker's runs, and the ending of runs whose worker died. `registry` must have been opened
    /// with `forwarder` as its [`opcode_sessions::RegistryConfig::sink`].
    pub async fn start(
        bus: Bus,
        registry: SessionRegistry,
        forwarder: Arc<Forwarder>,
        config: WorkerConfig,
    ) -> Result<Worker, ClusterError> {
        let card = WorkerCard {
            project_roots: registry.config().project_roots.iter().map(|r| r.display().to_string()).collect(),
            max_sessions: Some(registry.config().max_running),
        };
        let card = Bytes::from(serde_json::to_vec(&card).unwrap_or_default());
        let lease = bus.acquire_worker_lease_with(&config.id, card).await?;
        let starts = bus.serve(subjects::START, Some(subjects::WORKERS_QUEUE)).await?;
        let commands = bus.serve(&subjects::worker(&config.id), None).await?;
        let worker = Worker {
            inner: Arc::new(Inner {
                id: config.id.clone(),
                bus,
                registry,
                forwarder,
                lost: lease.lost_signal(),
                lease: Mutex::new(Some(lease)),
                owned: Mutex::new(HashSet::new()),
                tasks: TaskTracker::new(),
                stop: CancellationToken::new(),
            }),
        };
        let span = tracing::info_span!("worker", worker = %config.id);
        worker.inner.tasks.spawn(worker.clone().serve(starts).instrument(span.clone()));
        worker.inner.tasks.spawn(worker.clone().serve(commands).instrument(span.clone()));
        worker.inner.tasks.spawn(worker.clone().watch_lease().instrument(span.clone()));
        let (bus, id, stop) = (worker.inner.bus.clone(), config.id.clone(), worker.inner.stop.clone());
        worker.inner.tasks.spawn(reaper::run(bus, id, stop).instrument(span.clone()));
        let (bus, stop) = (worker.inner.bus.clone(), worker.inner.stop.clone());
        let events = worker.inner.registry.notable_events();
        worker.inner.tasks.spawn(crate::notable::announce(bus, events, stop).instrument(span));
        tracing::info!(worker = %config.id, "worker serving");
        Ok(worker)
    }

    /// The worker's id on the bus.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// Done when the worker has lost its lease (it then cancels its runs and takes no more commands; a
    /// process should exit and be started again, with a new lease).
    pub async fn lease_lost(&self) {
        let mut lost = self.inner.lost.clone();
        let _ = lost.wait_for(|lost| *lost).await;
    }

    /// The sessions whose runs this worker owns now.
    pub fn owned(&self) -> Vec<String> {
        self.owned_set().iter().cloned().collect()
    }

    fn owned_set(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.inner.owned.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stops taking commands, ends every run (as the registry's shutdown does), waits until their
    /// completions are forwarded, and gives the lease back.
    pub async fn shutdown(self) {
        self.inner.stop.cancel();
        self.inner.registry.shutdown().await;
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
        let lease = self.inner.lease.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(lease) = lease {
            if let Err(err) = lease.release().await {
                tracing::warn!(%err, "could not give the lease back; it lapses on its own");
            }
        }
    }

    /// Answers the requests of one subscription until the worker stops.
    async fn serve(self, requests: impl Stream<Item = opcode_bus::Request> + Send + 'static) {
        let mut requests = std::pin::pin!(requests);
        loop {
            let request = tokio::select! {
                _ = self.inner.stop.cancelled() => return,
                request = requests.next() => match request {
                    Some(request) => request,
                    None => return,
                },
            };
            let worker = self.clone();
            self.inner.tasks.spawn(async move {
                let reply = match serde_json::from_slice::<WorkerCommand>(request.payload()) {
                    Ok(command) => worker.handle(command).await,
                    Err(err) => refuse(Refusal::BadRequest, format!("not a worker command: {err}")),
                };
                let bytes = Bytes::from(serde_json::to_vec(&reply).unwrap_or_default());
                if let Err(err) = request.respond(bytes).await {
                    tracing::warn!(%err, "could not answer a command");
                }
            });
        }
    }

    /// Cancels every run this worker owns once its lease is lost.
    async fn watch_lease(self) {
        let mut lost = self.inner.lost.clone();
        tokio::select! {
            _ = self.inner.stop.cancelled() => {}
            _ = lost.wait_for(|lost| *lost) => {
                let owned = self.owned();
                tracing::error!(runs = owned.len(), "the worker's lease is lost: cancelling its runs");
                for session in owned {
                    let _ = self.inner.registry.cancel(&session);
                }
            }
        }
    }

    async fn handle(&self, command: WorkerCommand) -> WorkerReply {
        if *self.inner.lost.borrow() {
            return refuse(Refusal::Unavailable, format!("worker {} lost its lease and takes no commands", self.id()));
        }
        let session = match command.session_id() {
            None => None,
            Some(session) if self.owned_set().contains(session) => Some(session.to_owned()),
            Some(session) => {
                return refuse(
                    Refusal::Conflict,
                    format!("session {session} has no run in progress on worker {}", self.id()),
                )
            }
        };
        let registry = &self.inner.registry;
        let sid = session.as_deref().unwrap_or_default();
        let done = |result: Result<(), ControlError>| result.map_or_else(control_refusal, |()| WorkerReply::Done);
        match command {
            WorkerCommand::Start { request, fork } => self.start_run(request, fork).await,
            WorkerCommand::List => WorkerReply::Runs {
                runs: registry.list().await.iter().filter_map(|run| serde_json::to_value(run).ok()).collect(),
            },
            WorkerCommand::Cancel { .. } => match registry.cancel(sid) {
                Ok(()) => WorkerReply::Done,
                Err(err @ CancelError::NotFound(_)) => refuse(Refusal::NotFound, err.to_string()),
                Err(err) => refuse(Refusal::Conflict, err.to_string()),
            },
            WorkerCommand::Prompt { prompt, client_id, images, .. } => {
                match registry.send_prompt_with_images(sid, &prompt, client_id.as_deref(), images).await {
                    Ok(outcome) => WorkerReply::Prompted {
                        prompted: match outcome {
                            PromptOutcome::Sent => Prompted::Sent,
                            PromptOutcome::Queued => Prompted::Queued,
                            PromptOutcome::Duplicate => Prompted::Duplicate,
                        },
                    },
                    Err(err) => control_refusal(err),
                }
            }
            WorkerCommand::EditQueued { client_id, prompt, .. } => {
                done(registry.edit_queued(sid, &client_id, &prompt).await)
            }
            WorkerCommand::Unqueue { client_id, .. } => done(registry.unqueue(sid, &client_id).await),
            WorkerCommand::Answer { request_id, decision, .. } => {
                done(registry.answer_permission(sid, &request_id, decision).await)
            }
            WorkerCommand::Interrupt { .. } => done(registry.interrupt(sid).await),
            WorkerCommand::Settings { change, .. } => done(registry.change_settings(sid, change).await),
            WorkerCommand::End { .. } => done(registry.end_live(sid).await),
        }
    }

    /// Starts a run (a fork's with `fork`): claim, catch up with the bus, open the writer, start, forward.
    async fn start_run(&self, request: opcode_proto::ClaudeRequest, fork: Option<ForkPoint>) -> WorkerReply {
        let mut request = match request.validate() {
            Ok(request) => request,
            Err(err) => return refuse(Refusal::BadRequest, err.to_string()),
        };
        if request.command == CommandType::Continue && request.session_id.is_none() {
            return refuse(
                Refusal::BadRequest,
                "a cluster continues a session by its id: send \"resume\" with the session_id (each machine has its own transcripts)"
                    .to_owned(),
            );
        }
        let session = request.session_id.get_or_insert_with(uuid::Uuid::new_v4).to_string();
        let span = tracing::info_span!("start", session_id = %session);
        async {
            let claim = match self.inner.bus.claim_run(&session, &self.inner.id).await {
                Ok(claim) => claim,
                Err(BusError::AlreadyRunning { owner, .. }) => {
                    return refuse(
                        Refusal::Conflict,
                        format!("session {session} already has a run in progress (on worker {owner}): wait for it to finish or cancel it first"),
                    )
                }
                Err(err) => return bus_refusal(err),
            };
            match self.start_claimed(request, fork, &session, claim).await {
                Ok(first_seq) => WorkerReply::Started { session_id: session.clone(), first_seq, worker: self.inner.id.clone() },
                Err(reply) => reply,
            }
        }
        .instrument(span)
        .await
    }

    async fn start_claimed(
        &self,
        request: opcode_proto::ValidRequest,
        fork: Option<ForkPoint>,
        session: &str,
        claim: RunClaim,
    ) -> Result<u64, WorkerReply> {
        let release = |claim: RunClaim| async move {
            if let Err(err) = claim.release().await {
                tracing::warn!(%err, "could not release a run's claim");
            }
        };
        let writer = match self.catch_up(session).await {
            Ok(writer) => writer,
            Err(reply) => {
                release(claim).await;
                return Err(reply);
            }
        };
        let published = self.inner.forwarder.track(session, writer.next_seq());
        self.owned_set().insert(session.to_owned());
        let started = match fork {
            Some(fork) => self.inner.registry.start_fork(request, &fork.from, &fork.at).await,
            None => self.inner.registry.start_run(request).await,
        };
        let started = match started {
            Ok(started) => started,
            Err(err) => {
                self.inner.forwarder.untrack(session);
                self.owned_set().remove(session);
                release(claim).await;
                return Err(start_refusal(err));
            }
        };
        // its next run comes here first, where its transcript is
        if let Err(err) = self.inner.bus.place_session(session, &self.inner.id).await {
            tracing::warn!(%err, "could not record where the session runs");
        }
        let Some(subscription) = self.inner.registry.subscribe(session, writer.next_seq()).await else {
            unreachable!("a session that just started is known");
        };
        let worker = self.clone();
        let session_owned = session.to_owned();
        self.inner.tasks.spawn(
            async move {
                let session = session_owned;
                match forward(subscription.until_completion().in_batches_of(FORWARD_BATCH), writer, published).await {
                    Forwarded::Complete => tracing::info!("the run's events are all on the bus"),
                    Forwarded::Failed(err) => {
                        // fenced (another worker took the session over) or the bus is gone: this run cannot
                        // be watched any more, so it must not go on
                        tracing::error!(%err, "forwarding failed: cancelling the run");
                        let _ = worker.inner.registry.cancel(&session);
                    }
                }
                worker.inner.forwarder.untrack(&session);
                worker.owned_set().remove(&session);
                release(claim).await;
            }
            .instrument(tracing::info_span!("forward", session_id = %session)),
        );
        Ok(started.first_seq)
    }

    /// Brings this worker's log of `session` up to the bus and opens the session's writer, which must then
    /// continue exactly where the log stands.
    async fn catch_up(&self, session: &str) -> Result<opcode_bus::SessionWriter, WorkerReply> {
        let registry = &self.inner.registry;
        let have = registry.log_len(session).await.unwrap_or(0);
        let missing = self.inner.bus.read_to_end(session, have.checked_sub(1));
        let mut chunks = std::pin::pin!(missing.try_chunks(IMPORT_BATCH));
        while let Some(chunk) = chunks.next().await {
            let events = chunk.map_err(|e| bus_refusal(e.1))?;
            let first = events[0].seq;
            let lines = events.into_iter().map(|e| e.line).collect();
            registry
                .import_events(session, first, lines)
                .await
                .map_err(|err| refuse(Refusal::Conflict, err.to_string()))?;
        }
        let writer = self.inner.bus.writer(session).await.map_err(bus_refusal)?;
        let have = registry.log_len(session).await.unwrap_or(0);
        if writer.next_seq() != have {
            return Err(refuse(
                Refusal::Unavailable,
                format!(
                    "session {session}: the bus continues at seq {} but this worker's log at {have}; try again",
                    writer.next_seq()
                ),
            ));
        }
        Ok(writer)
    }
}

fn refuse(refusal: Refusal, message: String) -> WorkerReply {
    WorkerReply::Refused { refusal, message }
}

fn bus_refusal(err: BusError) -> WorkerReply {
    refuse(Refusal::Unavailable, err.to_string())
}

fn start_refusal(err: StartError) -> WorkerReply {
    let refusal = match err {
        StartError::OutsideProjectRoots { .. } | StartError::BypassNotAllowed => Refusal::Forbidden,
        StartError::AlreadyRunning(_) => Refusal::Conflict,
        StartError::TooManyRuns { .. } | StartError::RateLimited { .. } => Refusal::Busy,
        StartError::ShuttingDown => Refusal::Unavailable,
        StartError::NothingToContinue(_) => Refusal::NotFound,
        _ => Refusal::BadRequest,
    };
    refuse(refusal, err.to_string())
}

fn control_refusal(err: ControlError) -> WorkerReply {
    let refusal = match err {
        ControlError::NotFound(_) | ControlError::NotQueued(_) => Refusal::NotFound,
        ControlError::EmptyPrompt
        | ControlError::BadClientId(_)
        | ControlError::BadImage(_)
        | ControlError::BadSettings(_) => Refusal::BadRequest,
        _ => Refusal::Conflict,
    };
    refuse(refusal, err.to_string())
}
