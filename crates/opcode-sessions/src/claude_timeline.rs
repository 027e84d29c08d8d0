//! A session's turns as a timeline, read from Claude's transcript (`projects/<project>/<session>.jsonl`):
//! each prompt a person typed, with the tools claude ran for it and the files those tools changed, and
//! whether the CLI kept a file checkpoint at it (a `file-history-snapshot` line naming that prompt).
//!
//! Only what a timeline shows is kept: at most [`MAX_TURNS`] turns (the newest), [`MAX_TOOLS`] tools and
//! [`MAX_FILES`] files a turn, prompts cut at [`PROMPT_CHARS`] characters; lines over [`MAX_LINE_BYTES`]
//! (a tool result holding a whole file) are skipped unread. Blocking file I/O.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::claude_store::{io_err, ClaudeStore};
use crate::error::StoreError;

/// Turns kept (the newest).
pub const MAX_TURNS: usize = 2000;
/// Tools listed per turn.
pub const MAX_TOOLS: usize = 200;
/// Files listed per turn.
pub const MAX_FILES: usize = 200;
/// Characters of a prompt kept.
pub const PROMPT_CHARS: usize = 500;
/// Longer transcript lines are skipped.
pub const MAX_LINE_BYTES: usize = 8 * 1024 * 1024;

/// The tools whose `file_path` (or `notebook_path`) they change.
const EDITING_TOOLS: [&str; 4] = ["Edit", "Write", "MultiEdit", "NotebookEdit"];

/// One tool claude ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ToolRun {
    /// The tool (`Bash`, `Edit`, an MCP tool's name, …).
    pub name: String,
    /// What it worked on, shortened: the command, the file, the pattern.
    pub target: Option<String>,
}

/// One prompt and what followed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Turn {
    /// The prompt's message id (`uuid` of its transcript line): what `--rewind-files` takes.
    pub message_id: String,
    /// The last message of the turn: what a fork "after this turn" resumes at.
    pub last_message_id: String,
    /// The message the prompt answered (its `parentUuid`): what a fork "before this prompt" resumes at;
    /// `None` for the first prompt.
    pub parent_message_id: Option<String>,
    /// When it was sent (the transcript's ISO 8601 text).
    pub timestamp: Option<String>,
    /// The prompt, shortened.
    pub prompt: String,
    /// The tools run in the turn.
    pub tools: Vec<ToolRun>,
    /// The files the turn's tools edited, each once, in order.
    pub files_changed: Vec<String>,
    /// The CLI kept a file checkpoint at this prompt (its files can be restored to how they were).
    pub checkpoint: bool,
}

/// A session's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Timeline {
    /// The session.
    pub session_id: String,
    /// Its turns, oldest first.
    pub turns: Vec<Turn>,
    /// Older turns were left out ([`MAX_TURNS`]).
    pub truncated: bool,
}

fn shorten(text: &str, max: usize) -> String {
    let mut out: String = text.chars().take(max).collect();
    if text.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

/// The text a person typed, if this user line is a prompt (not a tool result, not a meta line).
fn prompt_of(line: &Value) -> Option<String> {
    if line["isMeta"] == true || line["isSidechain"] == true {
        return None;
    }
    match &line["message"]["content"] {
        Value::String(text) => Some(text.clone()),
        Value::Array(blocks) => {
            if blocks.iter().any(|b| b["type"] == "tool_result") {
                return None;
            }
            let texts: Vec<&str> =
                blocks.iter().filter(|b| b["type"] == "text").filter_map(|b| b["text"].as_str()).collect();
            (!texts.is_empty()).then(|| texts.join("\n"))
        }
        _ => None,
    }
}

fn tool_run(block: &Value) -> ToolRun {
    let input = &block["input"];
    let target = ["command", "file_path", "notebook_path", "pattern", "url", "path", "description"]
        .iter()
        .find_map(|key| input[*key].as_str())
        .map(|t| shorten(t.lines().next().unwrap_or(""), 160));
    ToolRun { name: block["name"].as_str().unwrap_or("?").to_owned(), target }
}

/// Reads the timeline of a transcript file.
pub fn timeline_of(path: &Path, session_id: &str) -> Result<Timeline, StoreError> {
    let file = std::fs::File::open(path).map_err(io_err(path))?;
    let mut turns: Vec<Turn> = Vec::new();
    let mut checkpoints = HashSet::new();
    let mut dropped = 0usize;
    for line in BufReader::new(file).split(b'\n') {
        let line = line.map_err(io_err(path))?;
        if line.len() > MAX_LINE_BYTES || line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let Ok(value) = serde_json::from_slice::<Value>(&line) else { continue };
        let uuid = value["uuid"].as_str();
        match value["type"].as_str() {
            Some("file-history-snapshot") => {
                if let Some(id) = value["messageId"].as_str().or(value["snapshot"]["messageId"].as_str()) {
                    checkpoints.insert(id.to_owned());
                }
            }
            Some("user") => {
                let (Some(uuid), Some(prompt)) = (uuid, prompt_of(&value)) else {
                    if let (Some(uuid), Some(turn)) = (uuid, turns.last_mut()) {
                        turn.last_message_id = uuid.to_owned();
                    }
                    continue;
                };
                if turns.len() == MAX_TURNS {
                    turns.remove(0);
                    dropped += 1;
                }
                turns.push(Turn {
                    message_id: uuid.to_owned(),
                    last_message_id: uuid.to_owned(),
                    parent_message_id: value["parentUuid"].as_str().map(str::to_owned),
                    timestamp: value["timestamp"].as_str().map(str::to_owned),
                    prompt: shorten(&prompt, PROMPT_CHARS),
                    tools: Vec::new(),
                    files_changed: Vec::new(),
                    checkpoint: false,
                });
            }
            Some("assistant") => {
                let Some(turn) = turns.last_mut() else { continue };
                if let Some(uuid) = uuid {
                    turn.last_message_id = uuid.to_owned();
                }
                for block in value["message"]["content"].as_array().into_iter().flatten() {
                    if block["type"] != "tool_use" {
                        continue;
                    }
                    let run = tool_run(block);
                    if EDITING_TOOLS.contains(&run.name.as_str()) {
                        let file = block["input"]["file_path"].as_str().or(block["input"]["notebook_path"].as_str());
                        if let Some(file) = file {
                            // a relative path is the CLI's working directory's (the line's `cwd`)
                            let file = match value["cwd"].as_str() {
                                Some(cwd) if !Path::new(file).is_absolute() => Path::new(cwd)
                                    .join(file)
                                    .components()
                                    .collect::<std::path::PathBuf>()
                                    .display()
                                    .to_string(),
                                _ => file.to_owned(),
                            };
                            if turn.files_changed.len() < MAX_FILES && !turn.files_changed.contains(&file) {
                                turn.files_changed.push(file);
                            }
                        }
                    }
                    if turn.tools.len() < MAX_TOOLS {
                        turn.tools.push(run);
                    }
                }
            }
            _ => {}
        }
    }
    for turn in &mut turns {
        turn.checkpoint = checkpoints.contains(&turn.message_id);
    }
    Ok(Timeline { session_id: session_id.to_owned(), turns, truncated: dropped > 0 })
}

impl ClaudeStore {
    /// The timeline of session `session_id` of project `project_id` (ids checked as history's are).
    pub fn timeline(&self, project_id: &str, session_id: &str) -> Result<Timeline, StoreError> {
        let path = self.transcript_path(project_id, session_id)?;
        timeline_of(&path, session_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prompts_become_turns_with_their_tools_files_and_checkpoints() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        let lines = [
            json!({"type":"queue-operation"}),
            json!({"type":"user","uuid":"u1","parentUuid":null,"timestamp":"t1","message":{"role":"user","content":"write notes"}}),
            json!({"type":"file-history-snapshot","messageId":"u1","snapshot":{"messageId":"u1","trackedFileBackups":{}}}),
            json!({"type":"assistant","uuid":"a1","message":{"content":[{"type":"tool_use","name":"Write","input":{"file_path":"/p/notes.txt","content":"x"}},
                {"type":"tool_use","name":"Bash","input":{"command":"ls -la\nmore"}}]}}),
            json!({"type":"user","uuid":"r1","message":{"content":[{"type":"tool_result","content":"ok"}]}}),
            json!({"type":"assistant","uuid":"a2","message":{"content":[{"type":"text","text":"done"}]}}),
            json!({"type":"user","uuid":"m1","isMeta":true,"message":{"content":"<meta>"}}),
            json!({"type":"user","uuid":"u2","parentUuid":"a2","message":{"content":[{"type":"text","text":"again"}]}}),
            json!({"type":"assistant","uuid":"a3","message":{"content":[{"type":"tool_use","name":"Edit","input":{"file_path":"/p/notes.txt"}},
                {"type":"tool_use","name":"Edit","input":{"file_path":"/p/notes.txt"}}]}}),
        ];
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect::<String>() + "not json\n";
        std::fs::write(&path, text).unwrap();
        let timeline = timeline_of(&path, "s").unwrap();
        assert_eq!(timeline.turns.len(), 2);
        let first = &timeline.turns[0];
        assert_eq!((first.message_id.as_str(), first.last_message_id.as_str(), first.checkpoint), ("u1", "m1", true));
        assert_eq!(first.files_changed, ["/p/notes.txt"]);
        assert_eq!(first.tools[1], ToolRun { name: "Bash".into(), target: Some("ls -la".into()) });
        let second = &timeline.turns[1];
        assert_eq!(
            (second.prompt.as_str(), second.parent_message_id.as_deref(), second.checkpoint),
            ("again", Some("a2"), false)
        );
        assert_eq!((second.tools.len(), second.files_changed.len()), (2, 1));
        assert!(matches!(timeline_of(&dir.path().join("none.jsonl"), "s"), Err(StoreError::NotFound(_))));
    }
}
