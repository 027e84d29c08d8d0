//! Opcode's agent files (`<name>.opcode.json`, one agent a file), as the desktop app writes and reads
//! them (`export_agent` / `import_agent` in its `src-tauri/src/commands/agents.rs`):
//!
//! ```json
//! { "version": 1, "exported_at": "2025-01-23T14:29:58.156063+00:00",
//!   "agent": { "name": "…", "icon": "bot", "model": "sonnet", "system_prompt": "…", "default_task": "…" } }
//! ```
//!
//! Opcode's own fields are `name`, `icon`, `system_prompt`, `default_task`, `model` and `hooks`. Ours adds
//! `permission_mode`, `allowed_tools` and `disallowed_tools` to `agent` (only when set); Opcode ignores
//! fields it does not know, so a file written here imports there too. Reading is strict: version 1 only,
//! and a field neither knows is refused.

use opcode_store::{AgentDraft, AgentRecord};
use serde::{Deserialize, Serialize};

use crate::definition::{AgentDefinition, InvalidAgent};

/// The only file version there is.
pub const FILE_VERSION: u32 = 1;

/// Largest agent file read.
pub const MAX_FILE_BYTES: usize = 512 * 1024;

/// An agent file as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentFile {
    /// Always [`FILE_VERSION`].
    pub version: u32,
    /// When it was written (RFC 3339). Optional when read.
    #[serde(default)]
    pub exported_at: Option<String>,
    /// The agent.
    pub agent: AgentDefinition,
}

/// Why a file is not an agent file this version reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// Not JSON of the file's shape.
    #[error(
        "not an agent file ({{\"version\": 1, \"exported_at\", \"agent\": {{name, icon, system_prompt, …}}}}): {0}"
    )]
    Malformed(String),
    /// Another version.
    #[error("agent file version {0} is not supported: this version reads version 1 (Opcode's)")]
    Version(u32),
    /// Over [`MAX_FILE_BYTES`].
    #[error("the agent file is {0} bytes, over the {MAX_FILE_BYTES}-byte limit")]
    TooLarge(usize),
    /// The agent in it does not check.
    #[error("the agent in the file does not check: {0}")]
    Invalid(#[from] InvalidAgent),
}

/// Reads an agent file (a UTF-8 byte-order mark and surrounding white space are ignored, as Opcode does).
pub fn read_agent_file(text: &str) -> Result<AgentDraft, FileError> {
    if text.len() > MAX_FILE_BYTES {
        return Err(FileError::TooLarge(text.len()));
    }
    let text = text.trim_start_matches('\u{feff}').trim();
    let file: AgentFile = serde_json::from_str(text).map_err(|e| FileError::Malformed(e.to_string()))?;
    if file.version != FILE_VERSION {
        return Err(FileError::Version(file.version));
    }
    Ok(file.agent.validate()?)
}

/// The agent's file, pretty-printed as Opcode writes it, stamped `exported_at`.
pub fn write_agent_file(agent: &AgentRecord, exported_at: &str) -> String {
    let draft = &agent.draft;
    let mut value = serde_json::json!({
        "name": draft.name,
        "icon": draft.icon,
        "system_prompt": draft.system_prompt,
        "default_task": draft.default_task,
        "model": draft.model,
        "hooks": draft.hooks,
    });
    if let Some(mode) = draft.permission_mode {
        value["permission_mode"] = mode.as_str().into();
    }
    if !draft.allowed_tools.is_empty() {
        value["allowed_tools"] = draft.allowed_tools.clone().into();
    }
    if !draft.disallowed_tools.is_empty() {
        value["disallowed_tools"] = draft.disallowed_tools.clone().into();
    }
    let file = serde_json::json!({ "version": FILE_VERSION, "exported_at": exported_at, "agent": value });
    serde_json::to_string_pretty(&file).expect("a JSON value serialises")
}

/// A file name for the agent: its name in lower case, letters and digits kept, the rest as `-`, then
/// `.opcode.json` (`Git Commit Bot` → `git-commit-bot.opcode.json`).
pub fn file_name(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-');
    format!("{}.opcode.json", if slug.is_empty() { "agent" } else { slug })
}

#[cfg(test)]
mod tests {
    use opcode_proto::PermissionMode;

    use super::*;

    /// The head of `cc_agents/git-commit-bot.opcode.json` of winfunc/opcode, as the desktop app wrote it.
    const OPCODE_FILE: &str = "\u{feff}{\n  \"agent\": {\n    \"default_task\": \"Push all changes.\",\n    \"icon\": \"bot\",\n    \"model\": \"sonnet\",\n    \"name\": \"Git Commit Bot\",\n    \"system_prompt\": \"<task>\\nYou are a Git Commit Push bot.\\n</task>\"\n  },\n  \"exported_at\": \"2025-06-23T14:29:51.009370+00:00\",\n  \"version\": 1\n}\n";

    #[test]
    fn reads_opcodes_own_file_and_writes_one_that_reads_back_the_same() {
        let draft = read_agent_file(OPCODE_FILE).unwrap();
        assert_eq!(
            (draft.name.as_str(), draft.icon.as_str(), draft.model.as_str()),
            ("Git Commit Bot", "bot", "sonnet")
        );
        assert_eq!(draft.default_task.as_deref(), Some("Push all changes."));
        assert!(draft.system_prompt.starts_with("<task>"));

        let richer = AgentDraft {
            permission_mode: Some(PermissionMode::AcceptEdits),
            allowed_tools: vec!["Bash(git:*)".into()],
            disallowed_tools: vec!["WebFetch".into()],
            hooks: Some("{\"PreToolUse\":[]}".into()),
            ..draft
        };
        let record = AgentRecord { id: 7, draft: richer.clone(), created_at: 1, updated_at: 2 };
        let text = write_agent_file(&record, "2026-01-01T00:00:00Z");
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!((value["version"].as_u64(), value["exported_at"].as_str()), (Some(1), Some("2026-01-01T00:00:00Z")));
        assert_eq!(value["agent"]["name"], "Git Commit Bot");
        assert_eq!(read_agent_file(&text).unwrap(), richer);
    }

    #[test]
    fn refuses_what_is_not_a_version_1_agent_file() {
        for (text, says) in [
            ("not json", "not an agent file"),
            (r#"{"version":2,"agent":{"name":"a","system_prompt":"x"}}"#, "version 2"),
            (r#"{"version":1}"#, "missing field `agent`"),
            (r#"{"version":1,"agent":{"name":"a","system_prompt":"x","colour":"red"}}"#, "unknown field `colour`"),
            (r#"{"version":1,"agent":{"system_prompt":"x"}}"#, "name is missing"),
        ] {
            let err = read_agent_file(text).expect_err(text);
            assert!(err.to_string().contains(says), "{text}: {err}");
        }
        assert!(matches!(read_agent_file(&" ".repeat(MAX_FILE_BYTES + 1)), Err(FileError::TooLarge(_))));
    }

    #[test]
    fn file_names_are_slugs() {
        assert_eq!(file_name("Git Commit Bot"), "git-commit-bot.opcode.json");
        assert_eq!(file_name("../../etc/passwd"), "etc-passwd.opcode.json");
        assert_eq!(file_name("✨"), "agent.opcode.json");
    }
}
