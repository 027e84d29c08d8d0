//! The state every handler shares: the session registry, Claude's files, the usage index, agents and their
//! runs, who may come in (the token, paired devices: [`opcode_access::Access`]), the security settings, Web
//! Push, the means to close every socket at shutdown, and [`AppState::audit`], the one call that records who
//! did what.

use std::sync::Arc;

use opcode_access::{AccessError, Actor, AuditAction};
use opcode_sessions::claude_store::ClaudeStore;
use opcode_sessions::SessionRegistry;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Shared state: one `Arc`, cheap to clone (every request and socket holds a clone; the fields together
/// are several KB, which ten thousand idle sockets must not each copy). Read the fields through `Deref`.
/// Changing a field (`DerefMut`: the set-up does, before serving) first copies the fields if another
/// clone holds them, so a clone never sees another's changes, as with a plain value.
#[derive(Debug, Clone)]
pub struct AppState(Arc<AppStateFields>);

impl std::ops::Deref for AppState {
    type Target = AppStateFields;

    fn deref(&self) -> &AppStateFields {
        &self.0
    }
}

impl std::ops::DerefMut for AppState {
    fn deref_mut(&mut self) -> &mut AppStateFields {
        Arc::make_mut(&mut self.0)
    }
}

/// What [`AppState`] holds.
#[derive(Debug, Clone)]
pub struct AppStateFields {
    /// Runs and their events on this machine, and our store.
    pub registry: SessionRegistry,
    /// Where runs are started, steered and watched: the registry itself, or a cluster's workers
    /// (`--nats-url`). Every route that starts, steers or watches a run goes through it.
    pub runs: Arc<dyn opcode_sessions::Runs>,
    /// The cluster's client when this server is a replica (`--nats-url`): its status (`/api/cluster`).
    pub cluster: Option<opcode_cluster::ClusterClient>,
    /// Claude's own project/session files.
    pub store: ClaudeStore,
    /// The token and the paired devices (credentials never logged), pairing links, the audit trail.
    pub access: opcode_access::Access,
    /// On a cluster (`--nats-url`): the paired devices, revocations and pairing links shared with every
    /// replica through the bus; `None` on a server on its own. The device routes go through it when set.
    pub cluster_access: Option<crate::cluster_access::ClusterAccess>,
    /// Where a rotated token is kept (`<data_dir>/token`); `None`: the token was given with `--token` and
    /// cannot be rotated from the UI.
    pub token_file: Option<std::path::PathBuf>,
    /// Browser origins allowed besides the server's own.
    pub allowed_origins: Arc<[String]>,
    /// Host names allowed besides IP literals and `localhost`.
    pub allowed_hosts: Arc<[String]>,
    /// Cancelled when the server shuts down: every socket loop then closes with 1001.
    pub closing: CancellationToken,
    /// Tracks socket tasks so shutdown can wait for them to close.
    pub sockets: TaskTracker,
    /// WebSockets are pinged this often; a peer silent for three intervals is dropped (a dead phone).
    pub ping_every: std::time::Duration,
    /// Wrong-token counts per client address.
    pub token_limiter: Arc<crate::limiter::TokenLimiter>,
    /// The server speaks TLS: the cookie is `Secure` and responses carry HSTS ([`crate::serve_tls`] sets it).
    pub secure: bool,
    /// The local CA's public certificate, served at `/ca.pem`, `/ca.crt` and `/trust` (`--tls-local-ca`).
    pub local_ca: Option<Arc<crate::trust::PublicCa>>,
    /// How long a pairing link is valid.
    pub pairing_ttl: std::time::Duration,
    /// Web Push (`None`: off; its routes answer 503 and visibility reports are only checked).
    pub push: Option<opcode_push::PushService>,
    /// Shells in the browser (`None`: `--no-terminal`; their routes answer 403).
    pub terminals: Option<opcode_terminals::Terminals>,
    /// git, run through the registry's supervisor.
    pub git: opcode_git::Git,
    /// The snapshots around each turn ("what did this turn change").
    pub turns: crate::turns::TurnTracker,
    /// Largest upload to the Files pane (`--max-upload-mb`), all its files together.
    pub max_upload_bytes: usize,
    /// The usage index of Claude's transcripts (in the registry's store).
    pub usage: opcode_usage::UsageIndex,
    /// Agents and their runs (in the registry's store; runs through [`AppStateFields::runs`]).
    pub agents: opcode_agents::Agents,
}

impl AppState {
    /// State with no extra origins or hosts; loads the paired devices from the registry's store.
    pub async fn open(registry: SessionRegistry, store: ClaudeStore, token: &str) -> Result<Self, AccessError> {
        let (db, token_owned) = (registry.store(), token.to_owned());
        let access = tokio::task::spawn_blocking(move || opcode_access::Access::open(db, &token_owned))
            .await
            .map_err(|e| AccessError::Store(opcode_store::StoreError::BadRow(format!("loading devices: {e}"))))??;
        let git = opcode_git::Git::new(registry.supervisor());
        let runs: Arc<dyn opcode_sessions::Runs> = Arc::new(registry.clone());
        let turns = crate::turns::TurnTracker::new(git.clone(), registry.clone(), runs.clone());
        let usage = opcode_usage::UsageIndex::new(registry.store(), store.root());
        let agents = opcode_agents::Agents::new(registry.clone(), runs.clone());
        Ok(AppState(Arc::new(AppStateFields {
            agents,
            usage,
            git,
            turns,
            runs,
            cluster: None,
            registry,
            store,
            access,
            token_file: None,
            cluster_access: None,
            pairing_ttl: opcode_access::PAIRING_TTL,
            allowed_origins: Arc::new([]),
            allowed_hosts: Arc::new([]),
            closing: CancellationToken::new(),
            sockets: TaskTracker::new(),
            ping_every: std::time::Duration::from_secs(20),
            token_limiter: Arc::default(),
            secure: false,
            local_ca: None,
            push: None,
            terminals: None,
            max_upload_bytes: crate::files::MAX_UPLOAD_BYTES,
        })))
    }

    /// Runs go through `runs` from now on (a cluster's workers, `--nats-url`): every route, the turn
    /// tracker and agent runs. Call before serving, and hand [`opcode_sessions::Runs::notable_events`] of
    /// the same `runs` to Web Push.
    pub fn set_runs(&mut self, runs: Arc<dyn opcode_sessions::Runs>) {
        self.turns = crate::turns::TurnTracker::new(self.git.clone(), self.registry.clone(), runs.clone());
        self.agents = opcode_agents::Agents::new(self.registry.clone(), runs.clone());
        self.runs = runs;
    }

    /// Records in the audit trail that `caller` did `action` to `target` (a session or device id; never
    /// content). Failures are logged, never the caller's problem. Adding an action is one line in
    /// `opcode_access::audit`.
    pub async fn audit(&self, caller: &Caller, action: AuditAction, target: &str) {
        let (access, actor, addr, target) =
            (self.access.clone(), caller.actor.clone(), caller.addr.to_string(), target.to_owned());
        let written = tokio::task::spawn_blocking(move || access.record(&actor, action, &target, &addr)).await;
        match written {
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::warn!(%err, action = action.name(), "audit entry not written"),
            Err(err) => tracing::warn!(%err, action = action.name(), "audit entry not written"),
        }
    }
}

/// Who made a request and from where; the auth middleware puts it in the request's extensions.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token or a paired device.
    pub actor: Actor,
    /// The client address.
    pub addr: std::net::IpAddr,
}
