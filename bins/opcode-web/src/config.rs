//! Command-line flags and environment variables (`OPCODE_*`) of the server.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

/// Log output format.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

/// opcode-web: drive Claude Code sessions from any browser.
#[derive(Debug, Clone, Parser)]
#[command(version, about)]
pub struct Args {
    /// Address to listen on. Use 0.0.0.0 to reach the server from a phone on the same network.
    #[arg(long, env = "OPCODE_HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "OPCODE_PORT", default_value_t = 8080)]
    pub port: u16,
    /// Access token (for pairing browsers, the CLI and scripts). Without it the token kept in
    /// `<data-dir>/token` is used (made on the first start); it is printed in the URL to open.
    #[arg(long, env = "OPCODE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Replace the token kept in `<data-dir>/token` with a fresh one before starting (the old one stops
    /// working; paired devices stay paired). Not with --token.
    #[arg(long, conflicts_with = "token")]
    pub rotate_token: bool,
    /// The claude binary. Default: next to this executable, then PATH, then the usual install folders.
    #[arg(long, env = "OPCODE_CLAUDE_BIN")]
    pub claude_bin: Option<PathBuf>,
    /// Where our state is kept (opcode.db, the event logs of runs). Default: the platform data folder
    /// (~/.local/share/opcode-web). Several servers may share one.
    #[arg(long, env = "OPCODE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// A browser origin (scheme://host:port) allowed besides the server's own (CORS and WebSockets).
    #[arg(long = "allowed-origin", env = "OPCODE_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,
    /// A host name (besides IP literals and localhost) the server answers to, against DNS rebinding.
    #[arg(long = "allowed-host", env = "OPCODE_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,
    /// Concurrent runs allowed.
    #[arg(long, env = "OPCODE_MAX_SESSIONS", default_value_t = 16)]
    pub max_sessions: usize,
    /// Runs that may start per minute, all clients together (0: no cap).
    #[arg(long, env = "OPCODE_MAX_RUNS_PER_MINUTE", default_value_t = 120)]
    pub max_runs_per_minute: u32,
    /// Finished sessions kept loaded in memory; older ones are read back from disk when attached.
    #[arg(long, env = "OPCODE_MAX_FINISHED_IN_MEMORY", default_value_t = 256)]
    pub max_finished_in_memory: usize,
    /// Restrict project_path to these folders (repeatable). Default: any existing directory.
    #[arg(long = "project-root", env = "OPCODE_PROJECT_ROOTS", value_delimiter = ',')]
    pub project_roots: Vec<PathBuf>,
    /// Seconds between SIGTERM and SIGKILL when cancelling a run.
    #[arg(long, env = "OPCODE_CANCEL_GRACE", default_value_t = 3.0)]
    pub cancel_grace: f64,
    /// Seconds a finished session stays attachable (across restarts too); its log is then deleted.
    #[arg(long, env = "OPCODE_FINISHED_TTL", default_value_t = 3600)]
    pub finished_ttl: u64,
    /// Claude's permission handling for runs: `skip` (--dangerously-skip-permissions, as Opcode did),
    /// `default`, `acceptEdits`, `plan`, or `claude` (no flag).
    #[arg(long, env = "OPCODE_PERMISSIONS", default_value = "skip")]
    pub permissions: String,
    /// Seconds a live session's permission request waits for an answer before it is denied.
    #[arg(long, env = "OPCODE_PERMISSION_TIMEOUT", default_value_t = 1800)]
    pub permission_timeout: u64,
    /// Seconds without a turn after which a live session is ended.
    #[arg(long, env = "OPCODE_LIVE_IDLE_TIMEOUT", default_value_t = 1800)]
    pub live_idle_timeout: u64,
    /// Allow sessions to ask for permission_mode bypassPermissions (every tool runs unasked).
    #[arg(long, env = "OPCODE_ALLOW_BYPASS_PERMISSIONS")]
    pub allow_bypass_permissions: bool,
    /// Serve HTTPS with this certificate chain (PEM, leaf first); needs --tls-key.
    #[arg(long, env = "OPCODE_TLS_CERT", requires = "tls_key", conflicts_with = "tls_local_ca")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, env = "OPCODE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve HTTPS with a certificate from a local certificate authority, made once in the data dir
    /// (`<data-dir>/tls/`); phones trust it once from `/trust`.
    #[arg(long, env = "OPCODE_TLS_LOCAL_CA")]
    pub tls_local_ca: bool,
    /// The contact push services see in the VAPID token of every Web Push (`mailto:you@example.com` or an
    /// https URL); some (Apple's) refuse pushes without a real one.
    #[arg(long, env = "OPCODE_PUSH_CONTACT", default_value = "mailto:opcode-web@example.com")]
    pub push_contact: String,
    /// Turn the in-browser terminal off (a terminal is a shell on this machine for whoever holds the token).
    #[arg(long, env = "OPCODE_NO_TERMINAL")]
    pub no_terminal: bool,
    /// Terminals that may be open at once.
    #[arg(long, env = "OPCODE_MAX_TERMINALS", default_value_t = 8)]
    pub max_terminals: usize,
    /// Run as a replica of a cluster: runs start on `opcode-worker`s and their events come from NATS
    /// JetStream at this URL (comma separated for several servers). Without it, runs are this server's own.
    #[arg(long, env = "OPCODE_NATS_URL")]
    pub nats_url: Option<String>,
    /// Replicas of the cluster's events stream (3 on a 3-node NATS cluster); with --nats-url.
    #[arg(long, env = "OPCODE_STREAM_REPLICAS", default_value_t = 1)]
    pub stream_replicas: usize,
    /// Largest upload to the Files pane, in MiB (all files of one upload together).
    #[arg(long, env = "OPCODE_MAX_UPLOAD_MB", default_value_t = 256)]
    pub max_upload_mb: usize,
    /// Log format.
    #[arg(long, env = "OPCODE_LOG_FORMAT", value_enum, default_value = "human")]
    pub log_format: LogFormat,
}

impl Args {
    /// The cancel grace as a duration (negative or NaN values count as zero).
    pub fn cancel_grace(&self) -> Duration {
        Duration::try_from_secs_f64(self.cancel_grace).unwrap_or(Duration::ZERO)
    }

    /// The permission policy named by `--permissions`.
    pub fn permission_policy(&self) -> anyhow::Result<opcode_sessions::claude_cli::PermissionPolicy> {
        Ok(self.permissions.parse()?)
    }
}
