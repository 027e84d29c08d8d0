//! The audit trail's vocabulary: who acted ([`Actor`]) and the closed set of actions ([`AuditAction`]).
//!
//! Adding an action is one line in the `actions!` list below (its variant and its stored name).

/// Who made a request: the token (CLI, scripts, pairing) or a paired device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The server's token (`Authorization: Bearer`).
    Token,
    /// A paired device, by its credential.
    Device {
        /// The device's id.
        id: String,
        /// Its name when it acted.
        name: String,
    },
}

impl Actor {
    /// `token` or `device`, as stored.
    pub fn kind(&self) -> &'static str {
        match self {
            Actor::Token => "token",
            Actor::Device { .. } => "device",
        }
    }

    /// The device's id, if a device.
    pub fn device_id(&self) -> Option<&str> {
        match self {
            Actor::Token => None,
            Actor::Device { id, .. } => Some(id),
        }
    }

    /// The name shown for it (`the token` or the device's name).
    pub fn name(&self) -> &str {
        match self {
            Actor::Token => "the token",
            Actor::Device { name, .. } => name,
        }
    }
}

macro_rules! actions {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)*) => {
        /// What an audit entry records. Stored by [`AuditAction::name`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum AuditAction {
            $($(#[$doc])* $variant,)*
        }

        impl AuditAction {
            /// Every action.
            pub const ALL: &'static [AuditAction] = &[$(AuditAction::$variant,)*];

            /// The name stored and shown (`run_started`, …).
            pub fn name(self) -> &'static str {
                match self {
                    $(AuditAction::$variant => $name,)*
                }
            }
        }
    };
}

actions! {
    /// A run started (its target: the session id).
    RunStarted => "run_started",
    /// A tool approval was answered (allow or deny).
    ApprovalAnswered => "approval_answered",
    /// A live session was ended.
    SessionEnded => "session_ended",
    /// A run was cancelled.
    SessionCancelled => "session_cancelled",
    /// A live turn was interrupted.
    SessionInterrupted => "session_interrupted",
    /// A device was paired (its target: the new device's id).
    DevicePaired => "device_paired",
    /// A device was renamed.
    DeviceRenamed => "device_renamed",
    /// A device was revoked.
    DeviceRevoked => "device_revoked",
    /// A one-time pairing link was made.
    PairingLinkCreated => "pairing_link_created",
    /// The token was rotated.
    TokenRotated => "token_rotated",
    /// A file was saved, created or uploaded in the Files pane (its target: project and path; never content).
    FileWritten => "file_written",
    /// A file or folder was renamed or moved (its target: project, old and new path).
    FileRenamed => "file_renamed",
    /// A file or folder was deleted.
    FileDeleted => "file_deleted",
    /// A git commit was made (its target: the project and the new commit).
    GitCommitted => "git_committed",
    /// A file's uncommitted changes were discarded.
    GitDiscarded => "git_discarded",
    /// Another branch was checked out, or a repository created.
    GitSwitched => "git_switched",
    /// A terminal (a shell on the machine) was opened (its target: the project and the terminal id).
    TerminalOpened => "terminal_opened",
    /// A `CLAUDE.md` was saved (its target: the file's absolute path).
    ClaudeMdSaved => "claude_md_saved",
    /// An MCP server was added, by hand or imported (its target: `scope:name`).
    McpServerAdded => "mcp_server_added",
    /// An MCP server was removed (its target: `scope:name`).
    McpServerRemoved => "mcp_server_removed",
    /// A session was forked (its target: `from@message→new`).
    SessionForked => "session_forked",
    /// A project's files were restored from a file checkpoint (its target: `session@message`).
    FilesRewound => "files_rewound",
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_are_distinct() {
        let mut names: Vec<&str> = AuditAction::ALL.iter().map(|a| a.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), AuditAction::ALL.len());
    }
}
