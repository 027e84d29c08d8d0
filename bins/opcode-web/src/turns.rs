//! "What did this turn change": snapshots of a session's project around each turn, and the observer that
//! takes them.
//!
//! A turn begins when its prompt is sent: the adapter takes the `before` snapshot just before it starts a
//! run or sends a live prompt ([`TurnTracker::snapshot_before`], bounded by [`SNAPSHOT_LIMIT`]) and
//! records it once the prompt went out ([`TurnTracker::begin`]). A live prompt that was queued behind a
//! running turn begins when that turn ends, from that turn's `after` snapshot. A turn ends at its `result`
//! (a live turn's [`NotableKind::TurnFinished`]) or at the end of its run ([`NotableKind::RunFinished`]):
//! the observer task ([`TurnTracker::watch`]) takes the `after` snapshot off the run's path (it listens
//! to the notable broadcast of [`opcode_sessions::Runs`], which never waits; on a cluster's replica that
//! is the workers' announcements, so with the project folders shared the replica snapshots them). The pair of tree ids is stored in
//! `opcode-store`; `git diff before after` is the turn's change. A project that is not a repository
//! has no snapshots and so no per-turn diff.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opcode_git::Git;
use opcode_sessions::notable::{NotableEvent, NotableKind};
use opcode_sessions::{Runs, SessionRegistry};
use tokio::sync::broadcast::error::RecvError;

/// Longest a `before` snapshot may hold up a prompt; past it the turn simply has no diff.
pub const SNAPSHOT_LIMIT: Duration = Duration::from_secs(5);

/// Takes and records the snapshots of turns. Cheap to clone.
#[derive(Debug, Clone)]
pub struct TurnTracker {
    git: Git,
    registry: SessionRegistry,
    /// Where the runs are (the registry, or a cluster's workers): their list and notable events.
    runs: Arc<dyn Runs>,
    /// Sessions whose latest prompt was queued: their next turn begins when the running one ends.
    queued: Arc<Mutex<HashMap<String, u32>>>,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

impl TurnTracker {
    /// A tracker running git through `git`, storing in `registry`'s store, following the turns of `runs`.
    pub fn new(git: Git, registry: SessionRegistry, runs: Arc<dyn Runs>) -> Self {
        TurnTracker { git, registry, runs, queued: Arc::default() }
    }

    /// The snapshot of `project` now, or `None` (not a repository, git failed, or too slow).
    pub async fn snapshot_before(&self, project: &Path) -> Option<String> {
        match tokio::time::timeout(SNAPSHOT_LIMIT, self.git.snapshot(project)).await {
            Ok(Ok(tree)) => Some(tree),
            Ok(Err(opcode_git::GitError::NotARepository { .. })) => None,
            Ok(Err(err)) => {
                tracing::warn!(project = %project.display(), %err, "no snapshot for this turn");
                None
            }
            Err(_) => {
                tracing::warn!(project = %project.display(), "snapshot too slow; this turn has no diff");
                None
            }
        }
    }

    /// Records the start of the session's next turn from `before` (from [`Self::snapshot_before`]);
    /// returns its number.
    pub async fn begin(&self, session_id: &str, project: &Path, before: Option<String>) -> Option<u32> {
        let before = before?;
        let (store, id, project) = (self.registry.store(), session_id.to_owned(), project.display().to_string());
        let begun = tokio::task::spawn_blocking(move || store.begin_turn(&id, &project, &before, now_ms())).await;
        match begun {
            Ok(Ok(turn)) => {
                tracing::debug!(session_id, turn, "turn begun");
                Some(turn)
            }
            Ok(Err(err)) => {
                tracing::warn!(session_id, %err, "could not record a turn");
                None
            }
            Err(err) => {
                tracing::warn!(session_id, %err, "could not record a turn");
                None
            }
        }
    }

    /// Begins the session's next turn in `project_path` (as a client named it): checked like a run's
    /// project first (nothing is snapshotted outside `--project-root`), then snapshotted. Called before
    /// the prompt goes out, so claude cannot have changed anything yet.
    pub async fn begin_in(&self, session_id: &str, project_path: &str) -> Option<u32> {
        let project = self.registry.check_project_path(project_path).await.ok()?;
        let before = self.snapshot_before(&project).await;
        self.begin(session_id, &project, before).await
    }

    /// Begins the next turn of a session that is already known (a live prompt), in its project.
    pub async fn begin_live(&self, session_id: &str) -> Option<u32> {
        let summary = self.runs.list().await.into_iter().find(|s| s.session_id == session_id)?;
        self.begin_in(session_id, &summary.project_path).await
    }

    /// Forgets a turn begun for a prompt that did not go out (refused, queued, or a duplicate).
    pub async fn abandon(&self, session_id: &str, turn: Option<u32>) {
        let Some(turn) = turn else { return };
        let (store, id) = (self.registry.store(), session_id.to_owned());
        if let Ok(Err(err)) = tokio::task::spawn_blocking(move || store.abandon_turn(&id, turn)).await {
            tracing::warn!(session_id, %err, "could not forget a turn");
        }
    }

    /// Notes that a live prompt of the session was queued: its turn begins when the running one ends.
    pub fn queued(&self, session_id: &str) {
        *self.queued.lock().unwrap_or_else(|e| e.into_inner()).entry(session_id.to_owned()).or_default() += 1;
    }

    /// Starts the observer: it takes `after` snapshots at the ends of turns and runs, until the registry's
    /// broadcast closes. Spawned once per server.
    pub fn watch(&self) -> tokio::task::JoinHandle<()> {
        let tracker = self.clone();
        let mut events = self.runs.notable_events();
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(event) => tracker.observe(event).await,
                    Err(RecvError::Lagged(missed)) => tracing::warn!(missed, "turn observer fell behind"),
                    Err(RecvError::Closed) => return,
                }
            }
        })
    }

    async fn observe(&self, event: NotableEvent) {
        let run_ended = match event.kind {
            NotableKind::TurnFinished { .. } => false,
            NotableKind::RunFinished { .. } => true,
            NotableKind::PermissionRequested { .. } | NotableKind::PermissionResolved { .. } => return,
        };
        let store = self.registry.store();
        let id = event.session_id.clone();
        let open = tokio::task::spawn_blocking(move || store.open_turns(&id)).await;
        if !matches!(open, Ok(Ok(n)) if n > 0) {
            if run_ended {
                self.queued.lock().unwrap_or_else(|e| e.into_inner()).remove(&event.session_id);
            }
            return;
        }
        let project = PathBuf::from(&event.project_path);
        let Some(after) = self.snapshot_before(&project).await else { return };
        let store = self.registry.store();
        let (id, tree) = (event.session_id.clone(), after.clone());
        let finished = tokio::task::spawn_blocking(move || {
            let mut closed = Vec::new();
            // a run's end closes every turn left open (an interrupted or killed one)
            while let Some(turn) = store.finish_turn(&id, &tree, now_ms())? {
                closed.push(turn);
                if !run_ended {
                    break;
                }
            }
            Ok::<_, opcode_store::StoreError>(closed)
        })
        .await;
        tracing::debug!(session_id = %event.session_id, ?finished, "turn finished");
        let next = {
            let mut queued = self.queued.lock().unwrap_or_else(|e| e.into_inner());
            match queued.get_mut(&event.session_id) {
                _ if run_ended => {
                    queued.remove(&event.session_id);
                    false
                }
                Some(n) if *n > 0 => {
                    *n -= 1;
                    true
                }
                _ => false,
            }
        };
        if next {
            // the queued prompt went out right after this result: its turn starts from this snapshot
            self.begin(&event.session_id, &project, Some(after)).await;
        }
    }
}

/// Sends a live prompt through the registry with its turn tracked: the turn begins (snapshot) before the
/// prompt goes out and is forgotten again if the prompt was refused, queued (it then begins when the
/// running turn ends) or a duplicate.
pub async fn send_prompt(
    state: &crate::AppState,
    session_id: &str,
    prompt: &str,
    client_id: Option<&str>,
    images: Vec<opcode_proto::ImageAttachment>,
) -> Result<opcode_sessions::PromptOutcome, opcode_sessions::ControlError> {
    use opcode_sessions::PromptOutcome;
    let turn = state.turns.begin_live(session_id).await;
    let outcome = state.runs.send_prompt(session_id, prompt, client_id, images).await;
    match &outcome {
        Ok(PromptOutcome::Sent) => {}
        Ok(PromptOutcome::Queued) => {
            state.turns.abandon(session_id, turn).await;
            if turn.is_some() {
                state.turns.queued(session_id);
            }
        }
        Ok(PromptOutcome::Duplicate) | Err(_) => state.turns.abandon(session_id, turn).await,
    }
    outcome
}
