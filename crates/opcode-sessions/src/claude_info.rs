//! What the claude binary says about itself, and which claude binaries the machine has.
//!
//! `claude --version` is a child process like any other: it is spawned through the
//! [`ProcessSupervisor`] (its own process group, reaped, killed when it overstays [`VERSION_TIMEOUT`]),
//! with the same environment as a run. The shapes are the seed's (`ClaudeVersionStatus`,
//! `ClaudeInstallation` in `src-tauri/src/commands/claude.rs` and `claude_binary.rs`) so that its
//! browser client reads them as they are.

use std::path::Path;
use std::time::Duration;

use crate::claude_cli::{command_spec, discover_claude_installations};
use opcode_proc::{run_to_completion, CompletionError, CompletionLimits, ProcessSupervisor};
use serde::Serialize;

/// How long `claude --version` may take before it is killed and reported as not working.
pub const VERSION_TIMEOUT: Duration = Duration::from_secs(15);

/// Most bytes of each stream of `claude --version` kept.
const MAX_VERSION_BYTES: usize = 16 * 1024;

/// The answer of `claude --version`, in the seed's `ClaudeVersionStatus` shape.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ClaudeVersion {
    /// The binary ran, exited with 0 and said it is Claude Code.
    pub is_installed: bool,
    /// The version number it printed (`2.0.14`), if it printed one.
    pub version: Option<String>,
    /// What it printed (stdout, then stderr), or why it could not run.
    pub output: String,
}

/// A claude binary on this machine, in the seed's `ClaudeInstallation` shape.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Installation {
    /// The binary, canonical.
    pub path: String,
    /// Its version; `None` (not asked, to keep the listing free of child processes).
    pub version: Option<String>,
    /// Where it was found (see [`crate::claude_cli::ClaudeInstallation::source`]).
    pub source: String,
    /// `Custom` for the binary this server is configured with, `System` for the others.
    pub installation_type: &'static str,
}

/// The first word of `text` that looks like a version number (`1.2.3`, `1.2.3-beta.1`).
fn version_in(text: &str) -> Option<String> {
    text.split_whitespace().find_map(|word| {
        let word = word.trim_start_matches('v');
        let core = word.split(['-', '+']).next()?;
        let parts: Vec<&str> = core.split('.').collect();
        (parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())))
            .then(|| word.to_owned())
    })
}

/// Runs `binary --version` through `supervisor` with `env` added to its environment (as a run's), and
/// reads what it says. Never fails: a binary that cannot be spawned, fails, hangs past `timeout`, or is
/// not Claude Code gives `is_installed: false` with the reason in `output`.
pub async fn claude_version(
    supervisor: &dyn ProcessSupervisor,
    binary: &Path,
    env: &[(std::ffi::OsString, std::ffi::OsString)],
    timeout: Duration,
) -> ClaudeVersion {
    let spec = command_spec(binary, vec!["--version".into()], env);
    let not_installed = |output: String| ClaudeVersion { is_installed: false, version: None, output };
    let limits = CompletionLimits { max_stdout: MAX_VERSION_BYTES, max_stderr: MAX_VERSION_BYTES, timeout };
    let completed = match run_to_completion(supervisor, spec, limits).await {
        Ok(completed) => completed,
        Err(CompletionError::TimedOut { .. }) => {
            return not_installed(format!("{} --version did not answer within {timeout:?}", binary.display()))
        }
        Err(err) => return not_installed(format!("{} could not be run: {err}", binary.display())),
    };
    let stdout = completed.stdout_text();
    let output = completed.output();
    let status = completed.status;
    ClaudeVersion {
        is_installed: status.success() && stdout.contains("Claude Code"),
        version: version_in(&stdout),
        output: if !status.success() && output.is_empty() {
            format!("{} --version ended with {status}", binary.display())
        } else {
            output
        },
    }
}

/// The claude binaries found on this machine, `configured` first. Blocks (file metadata).
pub fn installations(configured: &Path) -> Vec<Installation> {
    discover_claude_installations(Some(configured))
        .into_iter()
        .map(|found| Installation {
            path: found.path.to_string_lossy().into_owned(),
            version: None,
            source: found.source.to_owned(),
            installation_type: if found.source == "configured" { "Custom" } else { "System" },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_version_number_in_what_claude_prints() {
        assert_eq!(version_in("2.0.14 (Claude Code)").as_deref(), Some("2.0.14"));
        assert_eq!(version_in("claude v1.0.3-beta.2\n").as_deref(), Some("1.0.3-beta.2"));
        assert_eq!(version_in("0.0.0-fake (Claude Code)").as_deref(), Some("0.0.0-fake"));
        assert_eq!(version_in("no version 1.2 here"), None);
    }
}
