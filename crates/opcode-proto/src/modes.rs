//! Closed vocabularies shared by requests, events and the layers below: claude's permission modes and
//! who resolved a permission request. Each has exactly one spelling on the wire (its `as_str`).

use serde::{Deserialize, Serialize};

/// Claude's permission modes (`--permission-mode`), as a request may ask for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PermissionMode {
    /// `default`: claude asks before using tools that change things.
    #[serde(rename = "default")]
    Default,
    /// `acceptEdits`: file edits run unasked.
    #[serde(rename = "acceptEdits")]
    AcceptEdits,
    /// `plan`: claude plans and changes nothing.
    #[serde(rename = "plan")]
    Plan,
    /// `bypassPermissions`: every tool runs unasked (servers must allow it explicitly).
    #[serde(rename = "bypassPermissions")]
    BypassPermissions,
}

impl PermissionMode {
    /// Every mode, in the order they are offered.
    pub const ALL: [PermissionMode; 4] =
        [PermissionMode::Default, PermissionMode::AcceptEdits, PermissionMode::Plan, PermissionMode::BypassPermissions];

    /// The name claude and the wire use.
    pub fn as_str(self) -> &'static str {
        match self {
            PermissionMode::Default => "default",
            PermissionMode::AcceptEdits => "acceptEdits",
            PermissionMode::Plan => "plan",
            PermissionMode::BypassPermissions => "bypassPermissions",
        }
    }

    /// The mode with this exact name, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == name)
    }
}

impl std::fmt::Display for PermissionMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who resolved a permission request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnsweredBy {
    /// A viewer, over WebSocket or REST.
    Viewer,
    /// Nobody answered in time: denied.
    Timeout,
    /// The process ended first: denied.
    End,
}

impl AnsweredBy {
    /// `viewer`, `timeout` or `end`.
    pub fn as_str(self) -> &'static str {
        match self {
            AnsweredBy::Viewer => "viewer",
            AnsweredBy::Timeout => "timeout",
            AnsweredBy::End => "end",
        }
    }

    /// The value with this exact name, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        [AnsweredBy::Viewer, AnsweredBy::Timeout, AnsweredBy::End].into_iter().find(|b| b.as_str() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde_and_as_str() {
        for mode in PermissionMode::ALL {
            let json = serde_json::to_string(&mode).unwrap();
            assert_eq!(json, format!("\"{}\"", mode.as_str()));
            assert_eq!(PermissionMode::from_name(mode.as_str()), Some(mode));
        }
        assert_eq!(PermissionMode::from_name("yolo"), None);
        for by in [AnsweredBy::Viewer, AnsweredBy::Timeout, AnsweredBy::End] {
            assert_eq!(serde_json::to_string(&by).unwrap(), format!("\"{}\"", by.as_str()));
            assert_eq!(AnsweredBy::from_name(by.as_str()), Some(by));
        }
    }
}
