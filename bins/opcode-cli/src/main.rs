//! `opcode`: Claude Code from the terminal, through the same crates as the web server.
//!
//! Exit codes: 0 success; 1 the run (or the command) failed; 2 bad usage; 130 cancelled with Ctrl-C.

mod history;
mod render;
mod run;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Drive Claude Code sessions from the terminal, or follow a run of an opcode-web server.
///
/// Exit codes: 0 success, 1 failure (claude failed, a file or server could not be read), 2 bad usage,
/// 130 cancelled with Ctrl-C.
#[derive(Debug, Parser)]
#[command(
    name = "opcode",
    version,
    about,
    long_about = None,
    after_help = "Exit codes: 0 success, 1 failure (claude failed, files or server unreadable), 2 bad usage, 130 cancelled with Ctrl-C."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run claude on a prompt and show the stream; Ctrl-C cancels the run (its whole process group).
    Run(run::RunArgs),
    /// List Claude's projects (from $CLAUDE_CONFIG_DIR or ~/.claude).
    Projects {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// List the sessions of a project (its id, or its directory).
    Sessions {
        /// Project id (as `opcode projects` shows) or project directory.
        project: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show a session's transcript.
    History {
        /// The session id.
        session: String,
        /// Show at most this many of the newest lines.
        #[arg(long, default_value_t = 200)]
        limit: usize,
        /// Print the transcript lines as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Follow a run on an opcode-web server: replay, then live, until it completes.
    Attach {
        /// The server, e.g. http://127.0.0.1:8080.
        #[arg(long, env = "OPCODE_SERVER")]
        server: String,
        /// The server's access token.
        #[arg(long, env = "OPCODE_TOKEN", hide_env_values = true)]
        token: String,
        /// Only events after this seq.
        #[arg(long)]
        since: Option<u64>,
        /// Print the raw events.
        #[arg(long)]
        json: bool,
        /// The session id.
        session: String,
    },
}

/// Where `opcode run` keeps its event logs.
fn data_dir() -> PathBuf {
    std::env::temp_dir().join(format!("opcode-cli-{}", std::process::id()))
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run::run(args, data_dir()).await,
        Command::Projects { json } => history::projects(json).map(|()| ExitCode::SUCCESS),
        Command::Sessions { project, json } => history::sessions(&project, json).map(|()| ExitCode::SUCCESS),
        Command::History { session, limit, json } => {
            history::history(&session, limit, json).map(|()| ExitCode::SUCCESS)
        }
        Command::Attach { server, token, since, json, session } => {
            run::attach(&server, &token, &session, since, json).await
        }
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("opcode: {err:#}");
            ExitCode::from(1)
        }
    }
}
