//! Live sessions: what clients send to steer a live run, and the lines opcode writes to and reads from
//! claude's stream-json input/output control protocol (`--input-format stream-json
//! --permission-prompt-tool stdio`), as modelled on the genuine CLI's
//! `crates/opcode-testkit/fixtures/claude-cli/live-session.jsonl`.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::modes::PermissionMode;

/// A message a client sends about an existing live session (`type` tells which).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ControlMessage {
    /// A follow-up prompt: sent at once when no turn is running, else queued until the turn ends.
    Prompt {
        /// The live session.
        session_id: String,
        /// The prompt.
        prompt: String,
        /// The client's id for this prompt (see [`valid_client_id`]): a prompt resent with an id the
        /// session has seen is not delivered again.
        #[serde(default)]
        client_id: Option<String>,
        /// Images for claude to see with it (checked by [`crate::image::check_images`] before anything
        /// is sent or queued).
        #[serde(default)]
        images: Vec<crate::image::ImageAttachment>,
    },
    /// Replace the text of a queued prompt (its images stay).
    EditQueued {
        /// The live session.
        session_id: String,
        /// The queued prompt's client id.
        client_id: String,
        /// The new text.
        prompt: String,
    },
    /// Remove a queued prompt before it goes out.
    Unqueue {
        /// The live session.
        session_id: String,
        /// The queued prompt's client id.
        client_id: String,
    },
    /// An answer to a permission request.
    PermissionResponse {
        /// The live session.
        session_id: String,
        /// The request answered.
        request_id: String,
        /// The answer.
        #[serde(flatten)]
        decision: PermissionDecision,
    },
    /// Stop the current turn.
    Interrupt {
        /// The live session.
        session_id: String,
    },
    /// Close claude's input so the process finishes.
    End {
        /// The live session.
        session_id: String,
    },
    /// Switch the model and/or the permission mode of a live session between turns (at least one).
    Settings {
        /// The live session.
        session_id: String,
        /// The settings to switch to.
        #[serde(flatten)]
        change: SettingsChange,
    },
}

/// A switch of a live session's model and/or permission mode (`POST /api/sessions/{id}/settings`, the
/// `settings` control message). Checked by [`SettingsChange::check`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SettingsChange {
    /// The model to use from the next turn on (an alias such as `sonnet`, or a full model name).
    #[serde(default)]
    pub model: Option<String>,
    /// The permission mode to use from now on.
    #[serde(default)]
    pub permission_mode: Option<PermissionMode>,
}

impl SettingsChange {
    /// Refuses an empty change and a model name that is blank, longer than 128 characters, or has
    /// whitespace or control characters; says what to send instead.
    pub fn check(&self) -> Result<(), String> {
        if self.model.is_none() && self.permission_mode.is_none() {
            return Err("nothing to change: send \"model\" and/or \"permission_mode\"".to_owned());
        }
        if let Some(model) = &self.model {
            if model.is_empty() || model.len() > 128 || model.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(format!(
                    "model {model:?} is not valid: use a model name or alias such as \"sonnet\" (1 to 128 characters, no spaces)"
                ));
            }
        }
        Ok(())
    }
}

/// The `type` of a [`VisibilityReport`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VisibilityType {
    /// `"visibility"`.
    Visibility,
}

/// A page's report, on any of its WebSockets, of which device it runs on and whether it is visible:
/// `{"type":"visibility","device":"<device id>","visible":true}`. Web Push leaves out a device while one
/// of its sockets last said visible (see `docs/protocol.md`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VisibilityReport {
    /// Always [`VisibilityType::Visibility`].
    #[serde(rename = "type")]
    pub kind: VisibilityType,
    /// The device id the page subscribed with (client-generated).
    pub device: String,
    /// `document.visibilityState == "visible"`.
    pub visible: bool,
}

impl ControlMessage {
    /// The session the message is about.
    pub fn session_id(&self) -> &str {
        match self {
            ControlMessage::Prompt { session_id, .. }
            | ControlMessage::EditQueued { session_id, .. }
            | ControlMessage::Unqueue { session_id, .. }
            | ControlMessage::PermissionResponse { session_id, .. }
            | ControlMessage::Interrupt { session_id }
            | ControlMessage::End { session_id }
            | ControlMessage::Settings { session_id, .. } => session_id,
        }
    }
}

/// Whether `id` can be a prompt's client id: 1 to 128 characters, none of them a control character.
pub fn valid_client_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && !id.chars().any(char::is_control)
}

/// Allow or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Behavior {
    /// Let the tool run.
    Allow,
    /// Refuse; claude sees the message as the tool's error result.
    Deny,
}

impl Behavior {
    /// `allow` or `deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Behavior::Allow => "allow",
            Behavior::Deny => "deny",
        }
    }
}

/// A viewer's answer to a permission request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PermissionDecision {
    /// Allow or deny.
    pub behavior: Behavior,
    /// For allow: the input to run the tool with instead of claude's (an edited command, say).
    #[serde(default)]
    pub updated_input: Option<Value>,
    /// For deny: what claude is told.
    #[serde(default)]
    pub message: Option<String>,
    /// For allow: remember it, so claude does not ask again for this in this project (the rule goes to
    /// the project's `.claude/settings.local.json`, written by claude itself).
    #[serde(default)]
    pub remember: bool,
}

/// A `can_use_tool` control request read from claude's stdout.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolPermissionRequest {
    /// Claude's request id (answer with the same).
    pub request_id: String,
    /// The tool.
    pub tool_name: String,
    /// The tool's input as raw JSON.
    pub input: String,
    /// The tool_use block this is about.
    pub tool_use_id: Option<String>,
    /// Claude's description of the call.
    pub description: Option<String>,
    /// The rules claude proposes to remember so it need not ask again (`permission_suggestions`: a JSON
    /// array of the CLI's permission updates, raw), if any.
    pub suggestions: Option<String>,
}

impl ToolPermissionRequest {
    /// The permission updates that make "always allow this" stick in the project, in the CLI's own format:
    /// claude's `addRules` suggestions that allow, kept in the project's local settings
    /// (`.claude/settings.local.json`); when claude proposed none, a rule for this tool (for `Bash`, this
    /// exact command). A JSON array, raw.
    pub fn remember_rules(&self) -> String {
        let suggested: Vec<Value> = self
            .suggestions
            .as_deref()
            .and_then(|s| serde_json::from_str::<Vec<Value>>(s).ok())
            .unwrap_or_default()
            .into_iter()
            .filter(|u| u["type"] == "addRules" && u["behavior"] == "allow")
            .map(|mut u| {
                u["destination"] = "localSettings".into();
                u
            })
            .collect();
        if !suggested.is_empty() {
            return Value::Array(suggested).to_string();
        }
        let command =
            serde_json::from_str::<Value>(&self.input).ok().and_then(|i| i["command"].as_str().map(str::to_owned));
        let rule = match command {
            Some(command) if self.tool_name == "Bash" => json!({"toolName": self.tool_name, "ruleContent": command}),
            _ => json!({"toolName": self.tool_name}),
        };
        json!([{"type":"addRules","rules":[rule],"behavior":"allow","destination":"localSettings"}]).to_string()
    }
}

/// A control request from claude: a tool permission, or something opcode does not handle.
#[derive(Debug, Clone, PartialEq)]
pub enum ClaudeControlRequest {
    /// `can_use_tool`.
    ToolPermission(ToolPermissionRequest),
    /// Any other subtype; answer it with [`control_error`] so claude does not wait forever.
    Unsupported {
        /// Claude's request id.
        request_id: String,
        /// The subtype.
        subtype: String,
    },
}

/// Reads a `{"type":"control_request",…}` line from claude; `None` for any other line.
pub fn parse_claude_control_request(line: &str) -> Option<ClaudeControlRequest> {
    let value: Value = serde_json::from_str(line).ok()?;
    if value.get("type")? != "control_request" {
        return None;
    }
    let request_id = value.get("request_id")?.as_str()?.to_owned();
    let request = value.get("request")?;
    let subtype = request.get("subtype").and_then(Value::as_str).unwrap_or_default();
    if subtype != "can_use_tool" {
        return Some(ClaudeControlRequest::Unsupported { request_id, subtype: subtype.to_owned() });
    }
    let text = |key: &str| request.get(key).and_then(Value::as_str).map(str::to_owned);
    Some(ClaudeControlRequest::ToolPermission(ToolPermissionRequest {
        request_id,
        tool_name: text("tool_name").unwrap_or_default(),
        input: request.get("input").map_or_else(|| "{}".to_owned(), Value::to_string),
        tool_use_id: text("tool_use_id"),
        description: text("description"),
        suggestions: request.get("permission_suggestions").filter(|v| v.is_array()).map(Value::to_string),
    }))
}

/// A user turn for claude's stdin: the prompt, and its images as content blocks when it has any.
pub fn user_turn(prompt: &str, images: &[crate::image::ImageAttachment]) -> String {
    crate::image::user_message(prompt, images)
}

/// A control request (`initialize`, `interrupt`) for claude's stdin.
pub fn control_request(request_id: &str, subtype: &str) -> String {
    json!({"type":"control_request","request_id":request_id,"request":{"subtype":subtype}}).to_string()
}

/// A `set_model` control request: claude uses `model` from its next request to the API on.
pub fn set_model_request(request_id: &str, model: &str) -> String {
    json!({"type":"control_request","request_id":request_id,"request":{"subtype":"set_model","model":model}})
        .to_string()
}

/// A `set_permission_mode` control request.
pub fn set_permission_mode_request(request_id: &str, mode: PermissionMode) -> String {
    json!({"type":"control_request","request_id":request_id,"request":{"subtype":"set_permission_mode","mode":mode.as_str()}})
        .to_string()
}

/// The answer to a `can_use_tool` request. `input` is the raw JSON input to run the tool with;
/// `remember`, for an allow, the raw JSON array of permission updates claude is to keep
/// (`updatedPermissions`, see [`ToolPermissionRequest::remember_rules`]).
pub fn permission_response(
    request_id: &str,
    behavior: Behavior,
    input: &str,
    message: Option<&str>,
    remember: Option<&str>,
) -> String {
    let response = match behavior {
        Behavior::Allow => {
            let input: Value = serde_json::from_str(input).unwrap_or(Value::Object(Default::default()));
            let mut allow = json!({"behavior":"allow","updatedInput":input});
            if let Some(updates) = remember.and_then(|r| serde_json::from_str::<Value>(r).ok()) {
                allow["updatedPermissions"] = updates;
            }
            allow
        }
        Behavior::Deny => json!({"behavior":"deny","message":message.unwrap_or("denied from opcode-web")}),
    };
    json!({"type":"control_response","response":{"subtype":"success","request_id":request_id,"response":response}})
        .to_string()
}

/// An error answer to a control request opcode does not handle.
pub fn control_error(request_id: &str, message: &str) -> String {
    json!({"type":"control_response","response":{"subtype":"error","request_id":request_id,"error":message}})
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembering_keeps_claudes_allow_rules_in_the_project_or_makes_one() {
        let line = r#"{"type": "control_request", "request_id": "r1", "request": {"subtype": "can_use_tool", "tool_name": "Bash", "input": {"command": "echo hi > f"}, "permission_suggestions": [{"type": "addRules", "rules": [{"toolName": "Bash", "ruleContent": "echo hi *"}], "behavior": "allow", "destination": "session"}, {"type": "addDirectories", "directories": ["/x"], "destination": "session"}]}}"#;
        let Some(ClaudeControlRequest::ToolPermission(request)) = parse_claude_control_request(line) else { panic!() };
        let rules: Value = serde_json::from_str(&request.remember_rules()).unwrap();
        assert_eq!(
            rules,
            json!([{"type":"addRules","rules":[{"toolName":"Bash","ruleContent":"echo hi *"}],"behavior":"allow","destination":"localSettings"}])
        );
        let answer: Value =
            serde_json::from_str(&permission_response("r1", Behavior::Allow, "{}", None, Some(&rules.to_string())))
                .unwrap();
        assert_eq!(answer["response"]["response"]["updatedPermissions"], rules);

        let bare = ToolPermissionRequest { suggestions: None, ..request };
        let rules: Value = serde_json::from_str(&bare.remember_rules()).unwrap();
        assert_eq!(rules[0]["rules"], json!([{"toolName":"Bash","ruleContent":"echo hi > f"}]));
    }

    #[test]
    fn reads_the_real_clis_can_use_tool_request() {
        let line = r#"{"type": "control_request", "request_id": "c2ce", "request": {"subtype": "can_use_tool", "tool_name": "Bash", "display_name": "Bash", "input": {"command": "echo hi > f"}, "description": "write file", "tool_use_id": "toolu_1"}}"#;
        let Some(ClaudeControlRequest::ToolPermission(req)) = parse_claude_control_request(line) else { panic!() };
        assert_eq!(req.request_id, "c2ce");
        assert_eq!(req.tool_name, "Bash");
        assert_eq!(req.input, r#"{"command":"echo hi > f"}"#);
        assert_eq!(req.tool_use_id.as_deref(), Some("toolu_1"));
        assert!(parse_claude_control_request(r#"{"type":"assistant"}"#).is_none());
    }

    #[test]
    fn answers_have_the_shape_the_cli_expects() {
        let allow: Value =
            serde_json::from_str(&permission_response("r", Behavior::Allow, r#"{"a":1}"#, None, None)).unwrap();
        assert_eq!(allow["response"]["response"]["updatedInput"]["a"], 1);
        assert_eq!(allow["response"]["request_id"], "r");
        let deny: Value =
            serde_json::from_str(&permission_response("r", Behavior::Deny, "{}", Some("no"), None)).unwrap();
        assert_eq!(deny["response"]["response"]["behavior"], "deny");
        assert_eq!(deny["response"]["response"]["message"], "no");
    }

    #[test]
    fn control_messages_parse_by_type() {
        let m: ControlMessage = serde_json::from_str(
            r#"{"type":"permission_response","session_id":"s","request_id":"r","behavior":"allow","updated_input":{"command":"ls"}}"#,
        )
        .unwrap();
        assert_eq!(m.session_id(), "s");
        assert!(matches!(
            m,
            ControlMessage::PermissionResponse { decision: PermissionDecision { behavior: Behavior::Allow, .. }, .. }
        ));
        assert!(serde_json::from_str::<ControlMessage>(r#"{"type":"interrupt","session_id":"s"}"#).is_ok());
    }

    #[test]
    fn settings_messages_parse_and_check() {
        let m: ControlMessage =
            serde_json::from_str(r#"{"type":"settings","session_id":"s","model":"sonnet","permission_mode":"plan"}"#)
                .unwrap();
        let ControlMessage::Settings { change, .. } = &m else { panic!() };
        assert_eq!(change.model.as_deref(), Some("sonnet"));
        assert_eq!(change.permission_mode, Some(PermissionMode::Plan));
        assert!(change.check().is_ok());
        assert!(SettingsChange::default().check().unwrap_err().contains("nothing to change"));
        let spaced = SettingsChange { model: Some("a b".into()), permission_mode: None };
        assert!(spaced.check().unwrap_err().contains("not valid"));
        assert!(serde_json::from_str::<ControlMessage>(
            r#"{"type":"settings","session_id":"s","permission_mode":"yolo"}"#
        )
        .is_err());
        let line: Value = serde_json::from_str(&set_model_request("r", "opus")).unwrap();
        assert_eq!(line["request"], json!({"subtype":"set_model","model":"opus"}));
        let line: Value = serde_json::from_str(&set_permission_mode_request("r", PermissionMode::AcceptEdits)).unwrap();
        assert_eq!(line["request"], json!({"subtype":"set_permission_mode","mode":"acceptEdits"}));
    }
}
