//! The client's request: the seed's `{command_type, project_path, prompt, model?, session_id?}`.
//!
//! Parsing is strict and returns a [`ValidRequest`] whose invariants later layers rely on: the prompt is
//! not empty, a session id is a UUID (so it can never traverse a path), and `resume` always names one.
//! Checks that need the file system (does `project_path` exist?) belong to the layers that do I/O.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::image::{check_images, ImageAttachment, ImageError};
use crate::modes::PermissionMode;

/// Largest prompt accepted, in bytes. Prompts travel as one argv entry; Linux caps one entry at 128 KiB.
pub const MAX_PROMPT_BYTES: usize = 128 * 1024 - 1;

/// What the client wants claude to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandType {
    /// Start a new conversation (`claude -p PROMPT --session-id ID`).
    Execute,
    /// Continue the latest conversation of the project.
    Continue,
    /// Resume the conversation named by `session_id` (`claude -p PROMPT --resume ID`).
    Resume,
}

impl CommandType {
    /// The name used on the wire (`execute`, `continue`, `resume`).
    pub fn as_str(self) -> &'static str {
        match self {
            CommandType::Execute => "execute",
            CommandType::Continue => "continue",
            CommandType::Resume => "resume",
        }
    }
}

/// The request exactly as a client sends it; unknown fields are ignored, as in the seed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaudeRequest {
    /// `execute`, `continue` or `resume`; kept as text so an unknown value gets a clear message.
    pub command_type: String,
    /// The project directory claude runs in.
    pub project_path: String,
    /// The user's prompt.
    pub prompt: String,
    /// Model alias or name (`sonnet`, `opus`, a full model id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The session id: optional for `execute`, required for `resume`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Ask claude for token-level `stream_event` lines (`--include-partial-messages`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub include_partial_messages: bool,
    /// Start a live session: one process across turns, tool permissions asked of the viewers.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub live: bool,
    /// `default`, `acceptEdits`, `plan` or `bypassPermissions`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission_mode: Option<String>,
    /// Images for claude to see with the prompt (see [`crate::image`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<ImageAttachment>,
    /// How claude is set up for this run beyond the prompt: a system prompt to append and the tools it
    /// may or may not use (an agent's settings). Absent: claude's own defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_options: Option<RunOptions>,
}

/// Largest system prompt appended to claude's (one argv entry, like a prompt).
pub const MAX_SYSTEM_PROMPT_BYTES: usize = 100 * 1024;

/// Most tools in an allowed or disallowed list.
pub const MAX_TOOLS: usize = 200;

/// A run's settings beyond the prompt, each passed through the CLI's own flag:
/// `--append-system-prompt`, `--allowedTools`, `--disallowedTools`. Unknown fields are refused (a
/// misspelt option must not pass for one that took effect).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunOptions {
    /// Text appended to claude's system prompt (`--append-system-prompt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub append_system_prompt: Option<String>,
    /// Tools (or rules such as `Bash(git log:*)`) claude may use without asking (`--allowedTools`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_tools: Vec<String>,
    /// Tools (or rules) claude must not use (`--disallowedTools`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disallowed_tools: Vec<String>,
}

impl RunOptions {
    /// Checks every option: the system prompt is at most [`MAX_SYSTEM_PROMPT_BYTES`] (an empty one is
    /// dropped), each tool is a tool name or rule ([`is_tool_rule`]), at most [`MAX_TOOLS`] per list.
    pub fn validate(self) -> Result<RunOptions, RequestError> {
        let append_system_prompt = match self.append_system_prompt {
            Some(text) if text.len() > MAX_SYSTEM_PROMPT_BYTES => {
                return Err(RequestError::SystemPromptTooLong { len: text.len(), max: MAX_SYSTEM_PROMPT_BYTES })
            }
            Some(text) if text.trim().is_empty() => None,
            other => other,
        };
        for list in [&self.allowed_tools, &self.disallowed_tools] {
            if list.len() > MAX_TOOLS {
                return Err(RequestError::TooManyTools { count: list.len(), max: MAX_TOOLS });
            }
            if let Some(bad) = list.iter().find(|t| !is_tool_rule(t)) {
                return Err(RequestError::BadTool(bad.clone()));
            }
        }
        Ok(RunOptions {
            append_system_prompt,
            allowed_tools: self.allowed_tools,
            disallowed_tools: self.disallowed_tools,
        })
    }

    /// True when no option is set (the run is claude's default).
    pub fn is_empty(&self) -> bool {
        self.append_system_prompt.is_none() && self.allowed_tools.is_empty() && self.disallowed_tools.is_empty()
    }
}

/// A tool name or permission rule as claude's `--allowedTools` takes them (`Read`, `Bash(git diff:*)`,
/// `mcp__server__tool`): 1 to 200 characters, no control characters, not starting with `-` (it would be
/// read as a flag) and no comma (the CLI splits on commas).
pub fn is_tool_rule(tool: &str) -> bool {
    let trimmed = tool.trim();
    !trimmed.is_empty()
        && trimmed == tool
        && tool.len() <= 200
        && !tool.starts_with('-')
        && !tool.contains(',')
        && !tool.chars().any(char::is_control)
}

/// A request that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidRequest {
    /// What to do.
    pub command: CommandType,
    /// The project directory as given (existence is checked by the layer that does I/O).
    pub project_path: String,
    /// The prompt; empty only for a live `resume` (the session is taken up and waits for a prompt).
    pub prompt: String,
    /// The model, if one was asked for (never empty).
    pub model: Option<String>,
    /// The session id, if the client gave one; always `Some` for [`CommandType::Resume`].
    pub session_id: Option<Uuid>,
    /// Whether to ask for token-level partial messages.
    pub include_partial_messages: bool,
    /// Whether this starts a live session.
    pub live: bool,
    /// The permission mode, if asked for.
    pub permission_mode: Option<PermissionMode>,
    /// Checked images (see [`crate::image::check_images`]); empty for most prompts.
    pub images: Vec<ImageAttachment>,
    /// The run's settings beyond the prompt (empty: claude's defaults).
    pub options: RunOptions,
}

/// Why a request was refused. Each message says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The text is not a JSON request object.
    #[error(
        "request is not valid JSON of the form {{command_type, project_path, prompt, model?, session_id?}}: {reason}"
    )]
    Malformed {
        /// What the JSON parser said.
        reason: String,
    },
    /// `command_type` is not one of the three known commands.
    #[error("unknown command_type {0:?}: use \"execute\", \"continue\" or \"resume\"")]
    UnknownCommand(String),
    /// The prompt is empty or only whitespace (allowed only to take a live session up again: `resume`
    /// with `live`, which starts claude and waits for the next prompt).
    #[error("prompt is empty: send the text for claude in \"prompt\"")]
    EmptyPrompt,
    /// The prompt is longer than [`MAX_PROMPT_BYTES`].
    #[error("prompt is {len} bytes, more than the {max} bytes claude accepts as an argument")]
    PromptTooLong {
        /// The prompt's length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// `project_path` is empty.
    #[error("project_path is empty: give the directory claude should work in")]
    EmptyProjectPath,
    /// `session_id` is not a UUID.
    #[error("session_id {0:?} is not a UUID (claude session ids look like 123e4567-e89b-42d3-a456-426614174000)")]
    BadSessionId(String),
    /// `resume` without a `session_id`.
    #[error("resume needs a session_id: name the session to resume")]
    ResumeWithoutSessionId,
    /// `permission_mode` is not one of the [`PermissionMode`]s.
    #[error("permission_mode {0:?} is not one of default, acceptEdits, plan, bypassPermissions")]
    BadPermissionMode(String),
    /// `model` is present but empty or contains characters no model name has.
    #[error("model {0:?} is not a model name or alias")]
    BadModel(String),
    /// An attached image does not check.
    #[error(transparent)]
    BadImage(#[from] ImageError),
    /// `run_options.append_system_prompt` is longer than [`MAX_SYSTEM_PROMPT_BYTES`].
    #[error("the system prompt is {len} bytes, more than the {max} bytes accepted")]
    SystemPromptTooLong {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A tool list is longer than [`MAX_TOOLS`].
    #[error("{count} tools in one list, more than the {max} accepted")]
    TooManyTools {
        /// How many were given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A tool is not a tool name or rule ([`is_tool_rule`]).
    #[error("tool {0:?} is not a tool name or rule (like Read or Bash(git diff:*)): no commas, no leading '-', no control characters")]
    BadTool(String),
}

impl ClaudeRequest {
    /// Checks every field and returns the validated request.
    pub fn validate(self) -> Result<ValidRequest, RequestError> {
        let command = match self.command_type.as_str() {
            "execute" => CommandType::Execute,
            "continue" => CommandType::Continue,
            "resume" => CommandType::Resume,
            other => return Err(RequestError::UnknownCommand(other.to_owned())),
        };
        let take_up_live_session = command == CommandType::Resume && self.live;
        check_images(&self.images)?;
        if self.prompt.trim().is_empty() && !take_up_live_session && self.images.is_empty() {
            return Err(RequestError::EmptyPrompt);
        }
        if self.prompt.len() > MAX_PROMPT_BYTES {
            return Err(RequestError::PromptTooLong { len: self.prompt.len(), max: MAX_PROMPT_BYTES });
        }
        if self.project_path.trim().is_empty() {
            return Err(RequestError::EmptyProjectPath);
        }
        let session_id = match self.session_id.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(Uuid::parse_str(text).map_err(|_| RequestError::BadSessionId(text.to_owned()))?),
        };
        if command == CommandType::Resume && session_id.is_none() {
            return Err(RequestError::ResumeWithoutSessionId);
        }
        let model = match self.model.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(m) if is_model_name(m) => Some(m.to_owned()),
            Some(m) => return Err(RequestError::BadModel(m.to_owned())),
        };
        let permission_mode = match self.permission_mode.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(name) => {
                Some(PermissionMode::from_name(name).ok_or_else(|| RequestError::BadPermissionMode(name.to_owned()))?)
            }
        };
        let options = self.run_options.unwrap_or_default().validate()?;
        Ok(ValidRequest {
            options,
            command,
            project_path: self.project_path,
            prompt: self.prompt,
            model,
            session_id,
            include_partial_messages: self.include_partial_messages,
            live: self.live,
            permission_mode,
            images: self.images,
        })
    }
}

impl From<ValidRequest> for ClaudeRequest {
    /// The request as a client would send it: validating it again gives back the same [`ValidRequest`]
    /// (how a request travels to another machine).
    fn from(request: ValidRequest) -> ClaudeRequest {
        ClaudeRequest {
            command_type: request.command.as_str().to_owned(),
            project_path: request.project_path,
            prompt: request.prompt,
            model: request.model,
            session_id: request.session_id.map(|id| id.to_string()),
            include_partial_messages: request.include_partial_messages,
            live: request.live,
            permission_mode: request.permission_mode.map(|m| m.as_str().to_owned()),
            images: request.images,
            run_options: (!request.options.is_empty()).then_some(request.options),
        }
    }
}

/// Model names are short identifiers (`sonnet`, `claude-opus-4-1[1m]`); anything else is refused before
/// it can reach claude's argv.
pub fn is_model_name(m: &str) -> bool {
    m.len() <= 100 && !m.starts_with('-') && m.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:[]/@".contains(c))
}

/// Parses and validates a request sent as JSON text.
pub fn parse_request(text: &str) -> Result<ValidRequest, RequestError> {
    let request: ClaudeRequest =
        serde_json::from_str(text).map_err(|e| RequestError::Malformed { reason: e.to_string() })?;
    request.validate()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_request_travels_as_a_claude_request_and_validates_to_itself() {
        let sent = ClaudeRequest {
            command_type: "resume".into(),
            project_path: "/p".into(),
            prompt: "go on".into(),
            model: Some("sonnet".into()),
            session_id: Some("6f1e2d3c-4b5a-4978-8a6b-000000000001".into()),
            include_partial_messages: true,
            live: true,
            permission_mode: Some("acceptEdits".into()),
            images: Vec::new(),
            run_options: Some(RunOptions { allowed_tools: vec!["Read".into()], ..Default::default() }),
        };
        let valid = sent.clone().validate().unwrap();
        let again = ClaudeRequest::from(valid.clone());
        assert_eq!(again.validate().unwrap(), valid);
    }

    fn check(json: &str) -> Result<ValidRequest, RequestError> {
        parse_request(json)
    }

    #[test]
    fn a_live_resume_may_come_without_a_prompt() {
        let r = check(r#"{"command_type":"resume","session_id":"123e4567-e89b-42d3-a456-426614174000","project_path":"/p","prompt":"","live":true}"#).unwrap();
        assert!(r.live && r.prompt.is_empty());
    }

    #[test]
    fn accepts_the_seed_request() {
        let r = check(r#"{"command_type":"execute","project_path":"/p","prompt":"hi","model":"sonnet"}"#).unwrap();
        assert_eq!(r.command, CommandType::Execute);
        assert_eq!(r.model.as_deref(), Some("sonnet"));
        assert_eq!(r.session_id, None);
    }

    #[test]
    fn refuses_each_bad_field_with_its_own_error() {
        type Expectation = fn(&RequestError) -> bool;
        let cases: &[(&str, Expectation)] = &[
            ("not json", |e| matches!(e, RequestError::Malformed { .. })),
            (
                r#"{"command_type":"run","project_path":"/p","prompt":"x"}"#,
                |e| matches!(e, RequestError::UnknownCommand(c) if c == "run"),
            ),
            (r#"{"command_type":"execute","project_path":"/p","prompt":"  "}"#, |e| *e == RequestError::EmptyPrompt),
            (
                r#"{"command_type":"resume","session_id":"123e4567-e89b-42d3-a456-426614174000","project_path":"/p","prompt":""}"#,
                |e| *e == RequestError::EmptyPrompt,
            ),
            (r#"{"command_type":"execute","project_path":"","prompt":"x"}"#, |e| *e == RequestError::EmptyProjectPath),
            (r#"{"command_type":"execute","project_path":"/p","prompt":"x","session_id":"../../etc"}"#, |e| {
                matches!(e, RequestError::BadSessionId(_))
            }),
            (r#"{"command_type":"resume","project_path":"/p","prompt":"x"}"#, |e| {
                *e == RequestError::ResumeWithoutSessionId
            }),
            (r#"{"command_type":"execute","project_path":"/p","prompt":"x","model":"--evil"}"#, |e| {
                matches!(e, RequestError::BadModel(_))
            }),
            (r#"{"command_type":"execute","project_path":"/p","prompt":"x","permission_mode":"yolo"}"#, |e| {
                matches!(e, RequestError::BadPermissionMode(_))
            }),
            (
                r#"{"command_type":"execute","project_path":"/p","prompt":"x","run_options":{"allowed_tools":["--evil"]}}"#,
                |e| matches!(e, RequestError::BadTool(_)),
            ),
            (
                r#"{"command_type":"execute","project_path":"/p","prompt":"x","run_options":{"disallowed_tools":["Read,Write"]}}"#,
                |e| matches!(e, RequestError::BadTool(_)),
            ),
            (
                r#"{"command_type":"execute","project_path":"/p","prompt":"x","run_options":{"system_prompt":"hi"}}"#,
                |e| matches!(e, RequestError::Malformed { .. }),
            ),
        ];
        for (json, is_expected) in cases {
            let err = check(json).expect_err(json);
            assert!(is_expected(&err), "{json} gave {err:?}");
            assert!(!err.to_string().is_empty());
        }
    }

    #[test]
    fn run_options_are_read_and_an_empty_system_prompt_dropped() {
        let r = check(r#"{"command_type":"execute","project_path":"/p","prompt":"x","run_options":{"append_system_prompt":"be brief","allowed_tools":["Read","Bash(git diff:*)"],"disallowed_tools":["WebFetch"]}}"#).unwrap();
        assert_eq!(r.options.append_system_prompt.as_deref(), Some("be brief"));
        assert_eq!(r.options.allowed_tools, ["Read", "Bash(git diff:*)"]);
        assert_eq!(r.options.disallowed_tools, ["WebFetch"]);
        let r = check(r#"{"command_type":"execute","project_path":"/p","prompt":"x","run_options":{"append_system_prompt":"  "}}"#).unwrap();
        assert!(r.options.is_empty());
        let long =
            RunOptions { append_system_prompt: Some("a".repeat(MAX_SYSTEM_PROMPT_BYTES + 1)), ..Default::default() };
        assert!(matches!(long.validate(), Err(RequestError::SystemPromptTooLong { .. })));
    }

    #[test]
    fn resume_keeps_the_given_id() {
        let id = "11111111-2222-4333-8444-555555555555";
        let r = check(&format!(r#"{{"command_type":"resume","project_path":"/p","prompt":"x","session_id":"{id}"}}"#))
            .unwrap();
        assert_eq!(r.session_id.unwrap().to_string(), id);
    }

    #[test]
    fn over_long_prompt_is_refused() {
        let prompt = "a".repeat(MAX_PROMPT_BYTES + 1);
        let req = ClaudeRequest {
            command_type: "execute".into(),
            project_path: "/p".into(),
            prompt,
            model: None,
            session_id: None,
            include_partial_messages: false,
            live: false,
            permission_mode: None,
            images: Vec::new(),
            run_options: None,
        };
        assert!(matches!(req.validate(), Err(RequestError::PromptTooLong { .. })));
    }
}
