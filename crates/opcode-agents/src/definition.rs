//! An agent as a client sends it (create, edit, or inside an imported file), and the checks that turn it
//! into an [`AgentDraft`]. Every message says which field is wrong and what it takes.

use opcode_proto::request::{is_model_name, is_tool_rule, MAX_PROMPT_BYTES, MAX_SYSTEM_PROMPT_BYTES, MAX_TOOLS};
use opcode_proto::PermissionMode;
use opcode_store::AgentDraft;
use serde::{Deserialize, Serialize};

/// The icons the UI offers (Opcode's names); an imported agent may name another (shown as `bot`).
pub const ICONS: &[&str] = &["bot", "shield", "code", "terminal", "database", "globe", "file-text", "git-branch"];

/// The model of an agent that names none.
pub const DEFAULT_MODEL: &str = "sonnet";

/// Longest agent name, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// Largest `hooks` text kept (Opcode's hooks configuration, JSON).
pub const MAX_HOOKS_BYTES: usize = 64 * 1024;

/// An agent's fields as JSON (create and edit bodies, and the `agent` object of an Opcode file). Unknown
/// fields are refused, so a misspelt field never passes for one that was saved.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentDefinition {
    /// Required, 1 to [`MAX_NAME_CHARS`] characters.
    #[serde(default)]
    pub name: Option<String>,
    /// An icon name; `bot` when absent.
    #[serde(default)]
    pub icon: Option<String>,
    /// Required: what is appended to claude's system prompt.
    #[serde(default)]
    pub system_prompt: Option<String>,
    /// The task a run starts with unless given another.
    #[serde(default)]
    pub default_task: Option<String>,
    /// A model alias or name; [`DEFAULT_MODEL`] when absent.
    #[serde(default)]
    pub model: Option<String>,
    /// `default`, `acceptEdits`, `plan` or `bypassPermissions`; absent: the server's default.
    #[serde(default)]
    pub permission_mode: Option<String>,
    /// Tools or rules its runs may use without asking.
    #[serde(default)]
    pub allowed_tools: Vec<String>,
    /// Tools or rules its runs must not use.
    #[serde(default)]
    pub disallowed_tools: Vec<String>,
    /// Opcode's hooks configuration (a JSON text), kept for export; runs do not apply it.
    #[serde(default)]
    pub hooks: Option<String>,
}

/// A field of an agent that does not check. The message names the field and what it takes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidAgent(pub String);

fn bad(message: impl Into<String>) -> InvalidAgent {
    InvalidAgent(message.into())
}

impl AgentDefinition {
    /// Checks every field and returns what the store keeps.
    pub fn validate(self) -> Result<AgentDraft, InvalidAgent> {
        let name = self.name.as_deref().map(str::trim).unwrap_or_default().to_owned();
        if name.is_empty() {
            return Err(bad("name is missing: give the agent a name"));
        }
        if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
            return Err(bad(format!("name must be at most {MAX_NAME_CHARS} characters, without control characters")));
        }
        let icon = self.icon.as_deref().map(str::trim).filter(|i| !i.is_empty()).unwrap_or("bot").to_owned();
        if icon.len() > 40 || !icon.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(bad(format!("icon {icon:?} is not an icon name (one of {})", ICONS.join(", "))));
        }
        let system_prompt = self.system_prompt.unwrap_or_default();
        if system_prompt.trim().is_empty() {
            return Err(bad("system_prompt is missing: say what the agent is for"));
        }
        if system_prompt.len() > MAX_SYSTEM_PROMPT_BYTES {
            return Err(bad(format!("system_prompt is over {MAX_SYSTEM_PROMPT_BYTES} bytes")));
        }
        let default_task = self.default_task.filter(|t| !t.trim().is_empty());
        if default_task.as_ref().is_some_and(|t| t.len() > MAX_PROMPT_BYTES) {
            return Err(bad(format!("default_task is over {MAX_PROMPT_BYTES} bytes")));
        }
        let model = self.model.as_deref().map(str::trim).filter(|m| !m.is_empty()).unwrap_or(DEFAULT_MODEL).to_owned();
        if !is_model_name(&model) {
            return Err(bad(format!("model {model:?} is not a model name or alias (sonnet, opus, haiku, …)")));
        }
        let permission_mode = match self.permission_mode.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(name) => Some(PermissionMode::from_name(name).ok_or_else(|| {
                bad(format!("permission_mode {name:?} is not one of default, acceptEdits, plan, bypassPermissions"))
            })?),
        };
        for (field, tools) in [("allowed_tools", &self.allowed_tools), ("disallowed_tools", &self.disallowed_tools)] {
            if tools.len() > MAX_TOOLS {
                return Err(bad(format!("{field} has {} tools, more than {MAX_TOOLS}", tools.len())));
            }
            if let Some(tool) = tools.iter().find(|t| !is_tool_rule(t)) {
                return Err(bad(format!(
                    "{field}: {tool:?} is not a tool name or rule (like Read or Bash(git diff:*)): no commas, no leading '-', no control characters"
                )));
            }
        }
        let hooks = self.hooks.filter(|h| !h.trim().is_empty());
        if let Some(hooks) = &hooks {
            if hooks.len() > MAX_HOOKS_BYTES || serde_json::from_str::<serde_json::Value>(hooks).is_err() {
                return Err(bad(format!("hooks must be a JSON text of at most {MAX_HOOKS_BYTES} bytes")));
            }
        }
        Ok(AgentDraft {
            name,
            icon,
            system_prompt,
            default_task,
            model,
            permission_mode,
            allowed_tools: self.allowed_tools,
            disallowed_tools: self.disallowed_tools,
            hooks,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(json: &str) -> Result<AgentDraft, InvalidAgent> {
        serde_json::from_str::<AgentDefinition>(json).unwrap().validate()
    }

    #[test]
    fn a_minimal_agent_gets_the_defaults() {
        let draft = def(r#"{"name":" Reviewer ","system_prompt":"You review."}"#).unwrap();
        assert_eq!((draft.name.as_str(), draft.icon.as_str(), draft.model.as_str()), ("Reviewer", "bot", "sonnet"));
        assert_eq!((draft.default_task, draft.permission_mode), (None, None));
    }

    #[test]
    fn each_bad_field_is_named() {
        for (json, says) in [
            (r#"{"system_prompt":"x"}"#, "name is missing"),
            (r#"{"name":"  ","system_prompt":"x"}"#, "name is missing"),
            (r#"{"name":"a"}"#, "system_prompt is missing"),
            (r#"{"name":"a","system_prompt":"x","model":"--evil"}"#, "model"),
            (r#"{"name":"a","system_prompt":"x","icon":"<svg>"}"#, "icon"),
            (r#"{"name":"a","system_prompt":"x","permission_mode":"yolo"}"#, "permission_mode"),
            (r#"{"name":"a","system_prompt":"x","allowed_tools":["-x"]}"#, "allowed_tools"),
            (r#"{"name":"a","system_prompt":"x","disallowed_tools":["A,B"]}"#, "disallowed_tools"),
            (r#"{"name":"a","system_prompt":"x","hooks":"{not json"}"#, "hooks"),
        ] {
            let err = def(json).expect_err(json);
            assert!(err.to_string().contains(says), "{json}: {err}");
        }
        assert!(serde_json::from_str::<AgentDefinition>(r#"{"name":"a","sytem_prompt":"x"}"#).is_err());
    }
}
