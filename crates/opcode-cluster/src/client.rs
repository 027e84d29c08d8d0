//! [`ClusterClient`]: what a replica uses to start runs on workers and steer them.

use bytes::Bytes;
use opcode_bus::{Bus, BusError};
use opcode_proto::cluster::{ForkPoint, Refusal, WorkerCard, WorkerCommand, WorkerReply};
use opcode_proto::ClaudeRequest;

use crate::{subjects, ClusterError};

/// The cluster as [`ClusterClient::status`] sees it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ClusterStatus {
    /// The workers holding a lease now, by id.
    pub workers: Vec<WorkerStatus>,
    /// Runs in progress across the cluster.
    pub runs: usize,
    /// The events stream.
    pub stream: opcode_bus::StreamState,
}

/// One live worker.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WorkerStatus {
    /// Its id on the bus.
    pub id: String,
    /// The runs it owns now.
    pub runs: usize,
    /// Where it runs claude (empty: anywhere).
    pub project_roots: Vec<String>,
}

/// Starts runs on some worker and sends commands to the worker that owns a session's run. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ClusterClient {
    bus: Bus,
}

impl ClusterClient {
    /// A client on `bus`.
    pub fn new(bus: Bus) -> ClusterClient {
        ClusterClient { bus }
    }

    /// The bus, for reading events.
    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// Starts a run on one worker (whichever takes it from the queue). [`ClusterError::NoWorker`] when no
    /// worker answers.
    ///
    /// While nobody serves the start queue (a worker may be starting or restarting) the start is sent again,
    /// up to the bus's request timeout; a start some worker received is never sent twice.
    pub async fn start(&self, request: ClaudeRequest) -> Result<WorkerReply, ClusterError> {
        self.start_command(WorkerCommand::Start { request, fork: None }).await
    }

    /// Starts a run of a new session copied from another one up to a message (the worker that takes it
    /// needs that session's transcript), as [`ClusterClient::start`] does.
    pub async fn start_fork(&self, request: ClaudeRequest, fork: ForkPoint) -> Result<WorkerReply, ClusterError> {
        self.start_command(WorkerCommand::Start { request, fork: Some(fork) }).await
    }

    async fn start_command(&self, command: WorkerCommand) -> Result<WorkerReply, ClusterError> {
        if let Some(worker) = self.place(&command).await {
            match self.ask(&subjects::worker(&worker), &command).await {
                // gone since it was looked up: any worker then
                Err(ClusterError::Bus(BusError::NoResponders { .. } | BusError::TimedOut { .. })) => {
                    tracing::warn!(%worker, "the worker chosen for a start does not answer; sending it to any worker")
                }
                other => return other,
            }
        }
        let deadline = tokio::time::Instant::now() + self.bus.config().request_timeout;
        let mut pause = std::time::Duration::from_millis(10);
        loop {
            match self.ask(subjects::START, &command).await {
                Err(ClusterError::Bus(BusError::NoResponders { .. })) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(std::time::Duration::from_millis(250));
                }
                Err(ClusterError::Bus(err @ (BusError::NoResponders { .. } | BusError::TimedOut { .. }))) => {
                    return Err(ClusterError::NoWorker(err.to_string()))
                }
                other => return other,
            }
        }
    }

    /// The worker a start goes to, when it matters which: the one the session last ran on (a resume, or
    /// a fork's source: its transcript is there), if it is alive and serves the project; else, when only
    /// some workers serve the project, the least busy of them. `None`: any worker (the shared queue, which
    /// also takes over when the bus cannot tell).
    async fn place(&self, command: &WorkerCommand) -> Option<String> {
        let WorkerCommand::Start { request, fork } = command else { return None };
        let cards: Vec<(String, WorkerCard)> = match self.bus.worker_cards().await {
            Ok(cards) => cards
                .into_iter()
                // a card this version cannot read: a worker that serves anywhere
                .map(|(id, card)| (id, serde_json::from_slice(&card).unwrap_or_default()))
                .collect(),
            Err(err) => {
                tracing::warn!(%err, "cannot read the workers' cards; sending the start to any worker");
                return None;
            }
        };
        let project = request.project_path.as_str();
        let serving: Vec<&String> = cards.iter().filter(|(_, card)| card.serves(project)).map(|(id, _)| id).collect();
        let earlier = fork.as_ref().map(|f| f.from.as_str()).or(request.session_id.as_deref());
        if let Some(session) = earlier {
            if let Ok(Some(worker)) = self.bus.session_place(session).await {
                if serving.contains(&&worker) {
                    return Some(worker);
                }
            }
        }
        if serving.is_empty() || serving.len() == cards.len() {
            return None;
        }
        let running = self.bus.running().await.unwrap_or_default();
        let load = |id: &String| running.iter().filter(|(_, owner)| owner == id).count();
        serving.into_iter().min_by_key(|id| (load(id), (*id).clone())).cloned()
    }

    /// Sends `command` (anything but a start) to the worker that owns its session's run. A session with no
    /// run in progress, or whose worker does not answer, is refused (`conflict`, `unavailable`).
    pub async fn command(&self, command: WorkerCommand) -> Result<WorkerReply, ClusterError> {
        let session = match &command {
            WorkerCommand::Start { .. } => return self.start_command(command).await,
            WorkerCommand::List => {
                return Ok(WorkerReply::Refused {
                    refusal: Refusal::BadRequest,
                    message: "a list goes to each worker: use ClusterClient::list".to_owned(),
                })
            }
            other => other.session_id().unwrap_or_default().to_owned(),
        };
        let Some(owner) = self.bus.run_owner(&session).await? else {
            return Ok(WorkerReply::Refused {
                refusal: Refusal::Conflict,
                message: format!("session {session} has no run in progress"),
            });
        };
        match self.ask(&subjects::worker(&owner), &command).await {
            Err(ClusterError::Bus(BusError::NoResponders { .. } | BusError::TimedOut { .. })) => Ok(WorkerReply::Refused {
                refusal: Refusal::Unavailable,
                message: format!(
                    "worker {owner}, which runs session {session}, does not answer; if it died, the run ends once its lease lapses"
                ),
            }),
            other => other,
        }
    }

    /// The live workers' sessions with their latest runs, each worker's list as it answered (a worker that
    /// does not answer in time is left out).
    pub async fn list(&self) -> Result<Vec<(String, Vec<serde_json::Value>)>, ClusterError> {
        let workers = self.bus.workers().await?;
        let asks = workers.iter().map(|worker| async move {
            match self.ask(&subjects::worker(worker), &WorkerCommand::List).await {
                Ok(WorkerReply::Runs { runs }) => Some((worker.clone(), runs)),
                Ok(other) => {
                    tracing::warn!(%worker, ?other, "a worker answered a list with something else");
                    None
                }
                Err(err) => {
                    tracing::warn!(%worker, %err, "a worker did not answer a list");
                    None
                }
            }
        });
        Ok(futures::future::join_all(asks).await.into_iter().flatten().collect())
    }

    /// The runs in progress across the cluster: (session, worker).
    pub async fn running(&self) -> Result<Vec<(String, String)>, ClusterError> {
        Ok(self.bus.running().await?)
    }

    /// What an operator wants to see of the cluster: the live workers with the runs each owns, and the
    /// events stream (size, leader, replicas). Fails when the bus does not answer.
    pub async fn status(&self) -> Result<ClusterStatus, ClusterError> {
        let (cards, running, stream) =
            futures::try_join!(self.bus.worker_cards(), self.bus.running(), self.bus.stream_state())?;
        let workers = cards
            .into_iter()
            .map(|(id, card)| {
                let card: WorkerCard = serde_json::from_slice(&card).unwrap_or_default();
                let runs = running.iter().filter(|(_, owner)| *owner == id).count();
                WorkerStatus { id, runs, project_roots: card.project_roots }
            })
            .collect();
        Ok(ClusterStatus { workers, runs: running.len(), stream })
    }

    async fn ask(&self, subject: &str, command: &WorkerCommand) -> Result<WorkerReply, ClusterError> {
        let payload = Bytes::from(serde_json::to_vec(command).unwrap_or_default());
        let answer = self.bus.request(subject, payload).await?;
        serde_json::from_slice(&answer).map_err(|err| ClusterError::BadReply(err.to_string()))
    }
}
