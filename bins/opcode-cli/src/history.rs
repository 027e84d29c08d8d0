//! `opcode projects`, `opcode sessions`, `opcode history`: Claude's own files, read through
//! `opcode_sessions::claude_store`.

use std::path::Path;

use anyhow::{bail, Context};
use opcode_sessions::claude_store::{project_id_for, ClaudeStore};
use serde_json::Value;

/// Lists projects, most recent first.
pub(crate) fn projects(json: bool) -> anyhow::Result<()> {
    let projects = ClaudeStore::from_env().projects()?;
    if json {
        println!("{}", serde_json::to_string_pretty(&projects)?);
        return Ok(());
    }
    for project in projects {
        println!("{}  {} session(s)  {}", project.id, project.sessions.len(), project.path);
    }
    Ok(())
}

/// A project id from an id or a directory.
fn project_id(project: &str) -> String {
    let path = Path::new(project);
    if path.is_dir() {
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        project_id_for(&canonical)
    } else {
        project.to_owned()
    }
}

/// Lists a project's sessions, newest first.
pub(crate) fn sessions(project: &str, json: bool) -> anyhow::Result<()> {
    let sessions = ClaudeStore::from_env().sessions(&project_id(project))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&sessions)?);
        return Ok(());
    }
    for session in sessions {
        let first = session.first_message.unwrap_or_default();
        println!("{}  {}", session.id, first.lines().next().unwrap_or_default());
    }
    Ok(())
}

/// Prints the newest `limit` lines of a session's transcript.
pub(crate) fn history(session: &str, limit: usize, json: bool) -> anyhow::Result<()> {
    let store = ClaudeStore::from_env();
    let project = store
        .projects()?
        .into_iter()
        .find(|p| p.sessions.iter().any(|s| s == session))
        .with_context(|| format!("no transcript of session {session} under {}", store.root().display()))?;
    let page = store.history_page(&project.id, session, None, limit)?;
    if page.messages.is_empty() {
        bail!("session {session} has an empty transcript");
    }
    for line in page.messages {
        if json {
            println!("{line}");
            continue;
        }
        let role = line["type"].as_str().unwrap_or_default();
        if role != "user" && role != "assistant" {
            continue;
        }
        let text = match &line["message"]["content"] {
            Value::String(s) => s.clone(),
            Value::Array(blocks) => blocks
                .iter()
                .filter_map(|b| {
                    b["text"].as_str().map(str::to_owned).or_else(|| b["name"].as_str().map(|n| format!("[{n}]")))
                })
                .collect::<Vec<_>>()
                .join(" "),
            _ => continue,
        };
        println!("{role}: {text}");
    }
    Ok(())
}
