//! The state every handler shares: the session registry, Claude's files, the security settings, Web
//! Push, agents, and the means to close every socket at shutdown.

use std::sync::Arc;

use opcode_sessions::claude_store::ClaudeStore;
use opcode_sessions::SessionRegistry;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Shared state; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Runs and their events.
    pub registry: SessionRegistry,
    /// Claude's own project/session files.
    pub store: ClaudeStore,
    /// What a request must present (never logged).
    pub token: Arc<str>,
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
    /// Web Push (`None`: off; its routes answer 503 and visibility reports are only checked).
    pub push: Option<opcode_push::PushService>,
    /// Agents and their runs (in the registry's store; runs through the registry).
    pub agents: opcode_agents::Agents,
}

impl AppState {
    /// State with no extra origins or hosts.
    pub fn new(registry: SessionRegistry, store: ClaudeStore, token: &str) -> Self {
        AppState {
            agents: opcode_agents::Agents::new(registry.clone()),
            registry,
            store,
            token: token.into(),
            allowed_origins: Arc::new([]),
            allowed_hosts: Arc::new([]),
            closing: CancellationToken::new(),
            sockets: TaskTracker::new(),
            ping_every: std::time::Duration::from_secs(20),
            token_limiter: Arc::default(),
            secure: false,
            local_ca: None,
            push: None,
        }
    }
}

/// A fresh random token: 64 hex characters from the OS random source.
pub fn generate_token() -> String {
    format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}
