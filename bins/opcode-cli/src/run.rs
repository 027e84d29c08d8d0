//! `opcode run` (a claude run through opcode-sessions, in this process) and `opcode attach` (a run on an
//! opcode-web server, over its WebSocket).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context};
use futures::StreamExt;
use opcode_proc::TokioSupervisor;
use opcode_proto::ClaudeRequest;
use opcode_sessions::claude_cli::{find_claude_binary, PermissionPolicy};
use opcode_sessions::{RegistryConfig, SessionRegistry};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::render::{Outcome, Renderer};

/// Arguments of `opcode run`.
#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    /// The project directory claude works in (default: the current directory).
    #[arg(long)]
    project: Option<PathBuf>,
    /// Model alias or name (sonnet, opus, …).
    #[arg(long)]
    model: Option<String>,
    /// Resume this session id.
    #[arg(long, conflicts_with = "continue_latest")]
    resume: Option<String>,
    /// Continue the project's latest session.
    #[arg(long = "continue")]
    continue_latest: bool,
    /// Print the raw events (one JSON object per line).
    #[arg(long)]
    json: bool,
    /// The claude binary (default: next to opcode, then PATH, then the usual install folders).
    #[arg(long, env = "OPCODE_CLAUDE_BIN")]
    claude_bin: Option<PathBuf>,
    /// Claude's permission handling: skip (--dangerously-skip-permissions), default, acceptEdits, plan, or
    /// claude (no flag: claude's own settings decide).
    #[arg(long, default_value = "skip")]
    permissions: String,
    /// The prompt.
    #[arg(required = true)]
    prompt: Vec<String>,
}

fn exit_code(outcome: Outcome) -> ExitCode {
    match outcome {
        Outcome::Success => ExitCode::SUCCESS,
        Outcome::Cancelled => ExitCode::from(130),
        Outcome::Failed | Outcome::Running => ExitCode::from(1),
    }
}

/// Runs claude once and renders the stream; Ctrl-C (or SIGTERM) cancels the run cleanly.
pub(crate) async fn run(args: RunArgs, data_dir: PathBuf) -> anyhow::Result<ExitCode> {
    let claude = find_claude_binary(args.claude_bin.as_deref())?;
    let project = match args.project {
        Some(dir) => dir,
        None => std::env::current_dir().context("no current directory")?,
    };
    let mut config = RegistryConfig::new(claude, data_dir.clone());
    config.permissions = args.permissions.parse::<PermissionPolicy>()?;
    let registry = SessionRegistry::open(config, Arc::new(TokioSupervisor::default())).await?;
    let command = match (&args.resume, args.continue_latest) {
        (Some(_), _) => "resume",
        (None, true) => "continue",
        (None, false) => "execute",
    };
    let request = ClaudeRequest {
        command_type: command.to_owned(),
        project_path: project.display().to_string(),
        prompt: args.prompt.join(" "),
        model: args.model,
        session_id: args.resume,
        include_partial_messages: false,
        live: false,
        permission_mode: None,
        images: Vec::new(),
        run_options: None,
    }
    .validate()?;
    let started = registry.start_run(request).await?;
    let mut events = registry.subscribe(&started.session_id, started.first_seq).await.context("the run vanished")?;
    let mut renderer = Renderer::new(args.json);
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        tokio::select! {
            batch = events.next_batch() => match batch? {
                Some(batch) => {
                    for frame in batch {
                        renderer.event(&String::from_utf8_lossy(&frame));
                    }
                }
                None => break,
            },
            _ = interrupt.recv() => { let _ = registry.cancel(&started.session_id); }
            _ = terminate.recv() => { let _ = registry.cancel(&started.session_id); }
        }
    }
    let _ = std::fs::remove_dir_all(&data_dir);
    Ok(exit_code(renderer.outcome))
}

/// Follows a session on a server until the server closes the socket (after the run's completion).
pub(crate) async fn attach(
    server: &str,
    token: &str,
    session: &str,
    since: Option<u64>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let base = server.trim_end_matches('/').replacen("http", "ws", 1);
    let query = since.map(|s| format!("?since={s}")).unwrap_or_default();
    let mut request = format!("{base}/ws/sessions/{session}{query}").into_client_request()?;
    request.headers_mut().insert("authorization", format!("Bearer {token}").parse()?);
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .with_context(|| format!("cannot attach to {server} (is it running, and is the token right?)"))?;
    let mut renderer = Renderer::new(json);
    while let Some(message) = socket.next().await {
        match message? {
            Message::Text(text) => renderer.event(&text),
            Message::Close(frame) => {
                if let Some(frame) = frame {
                    if u16::from(frame.code) == 4404 {
                        bail!("the server knows no session {session}");
                    }
                }
                break;
            }
            _ => {}
        }
    }
    Ok(exit_code(renderer.outcome))
}
