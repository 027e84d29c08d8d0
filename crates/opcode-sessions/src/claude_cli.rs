//! How claude is invoked: its argv for each command, its environment, and where its binary is found.
//! (This is the only place that knows claude's command line; `opcode-proc` runs whatever spec it is given.)
//!
//! Prompts travel as one argv entry after `--`, never through a shell: after `--` the CLI reads nothing as
//! a flag, so a prompt such as `--version` or `-c` is a prompt. The child gets the server's environment minus
//! the variables that make a nested claude misbehave (`CLAUDECODE` makes it refuse to start).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use opcode_proc::ProcessSpec;
use opcode_proto::{ImageAttachment, PermissionMode, RunOptions};

use crate::error::DiscoveryError;

/// Environment variables removed from claude's environment.
pub const ENV_REMOVED: &[&str] = &["CLAUDECODE", "CLAUDE_CODE_ENTRYPOINT", "CLAUDE_CODE_SSE_PORT"];

/// What makes the CLI keep file checkpoints (`~/.claude/file-history/<session>/`, and a
/// `file-history-snapshot` line per prompt in the transcript) when it runs with `-p` or stream-json
/// input, so that `--rewind-files` can restore a project's files later. Without it only the interactive
/// CLI keeps them.
pub const CHECKPOINTS_ON: (&str, &str) = ("CLAUDE_CODE_ENABLE_SDK_FILE_CHECKPOINTING", "true");

/// Which conversation a run works on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conversation {
    /// A new conversation with this id (`--session-id ID`).
    New {
        /// The id claude must use.
        session_id: String,
    },
    /// The latest conversation of the working directory (`-c`).
    ContinueLatest,
    /// An existing conversation (`--resume ID`).
    Resume {
        /// The id to resume.
        session_id: String,
    },
    /// A copy of an existing conversation under a new id, cut after one of its messages
    /// (`--resume FROM --fork-session --session-id NEW --resume-session-at MESSAGE`): the copy continues
    /// from there, the original is left as it is.
    Fork {
        /// The conversation copied.
        from: String,
        /// The last message kept (a `uuid` of its transcript).
        at: String,
        /// The new conversation's id.
        session_id: String,
    },
}

/// How claude may use tools without asking.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PermissionPolicy {
    /// `--dangerously-skip-permissions`: every tool runs unasked. The seed's behaviour, hence the default
    /// of one-shot runs. As root the CLI refuses it unless `IS_SANDBOX=1` is in its environment.
    #[default]
    SkipPermissions,
    /// `--permission-mode MODE`.
    Mode(PermissionMode),
    /// No permission flag: claude's own configuration decides.
    ClaudeDefault,
}

/// A `--permissions` value no policy has.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("permissions {0:?}: use skip, default, acceptEdits, plan or claude")]
pub struct UnknownPermissionPolicy(pub String);

impl std::str::FromStr for PermissionPolicy {
    type Err = UnknownPermissionPolicy;

    /// The names the programs' `--permissions` flags take: `skip` (`--dangerously-skip-permissions`),
    /// `default`, `acceptEdits`, `plan` (`--permission-mode`), `claude` (no flag).
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "skip" => Ok(PermissionPolicy::SkipPermissions),
            "claude" => Ok(PermissionPolicy::ClaudeDefault),
            other => match PermissionMode::from_name(other) {
                Some(mode) if mode != PermissionMode::BypassPermissions => Ok(PermissionPolicy::Mode(mode)),
                _ => Err(UnknownPermissionPolicy(other.to_owned())),
            },
        }
    }
}

/// A claude run: one-shot (`claude -p PROMPT … --output-format stream-json --verbose`) or live
/// (`--input-format stream-json --permission-prompt-tool stdio`: prompts and permission answers arrive on
/// stdin, permission requests leave on stdout).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaudeInvocation {
    /// The conversation to work on.
    pub conversation: Conversation,
    /// The prompt (one argv entry, the last, after `--`); unused for live runs, whose prompts go to stdin,
    /// and for a one-shot run with images, which reads its one user message on stdin.
    pub prompt: String,
    /// A one-shot run's images: when there are any, the run takes `--input-format stream-json` and its
    /// prompt and images arrive as one user message on stdin ([`ClaudeInvocation::stdin_message`]).
    pub images: Vec<ImageAttachment>,
    /// A live run: one process across turns, driven through stdin.
    pub live: bool,
    /// `--model`, if any.
    pub model: Option<String>,
    /// `--include-partial-messages`: token-level `stream_event` lines.
    pub include_partial_messages: bool,
    /// Permission flags.
    pub permissions: PermissionPolicy,
    /// `--append-system-prompt`, `--allowedTools`, `--disallowedTools` (validated by `opcode-proto`).
    pub options: RunOptions,
}

impl ClaudeInvocation {
    /// The argv after the program name. A one-shot run's prompt is the last entry, after `--`.
    pub fn args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = if self.live {
            vec!["--input-format".into(), "stream-json".into(), "--permission-prompt-tool".into(), "stdio".into()]
        } else if self.images.is_empty() {
            vec!["-p".into()]
        } else {
            vec!["-p".into(), "--input-format".into(), "stream-json".into()]
        };
        match &self.conversation {
            Conversation::New { session_id } => args.extend(["--session-id".into(), session_id.into()]),
            Conversation::ContinueLatest => args.push("-c".into()),
            Conversation::Resume { session_id } => args.extend(["--resume".into(), session_id.into()]),
            Conversation::Fork { from, at, session_id } => args.extend([
                "--resume".into(),
                from.into(),
                "--fork-session".into(),
                "--session-id".into(),
                session_id.into(),
                "--resume-session-at".into(),
                at.into(),
            ]),
        }
        if let Some(model) = &self.model {
            args.extend(["--model".into(), model.into()]);
        }
        args.extend(["--output-format".into(), "stream-json".into(), "--verbose".into()]);
        if self.include_partial_messages {
            args.push("--include-partial-messages".into());
        }
        match &self.permissions {
            PermissionPolicy::SkipPermissions => args.push("--dangerously-skip-permissions".into()),
            PermissionPolicy::Mode(mode) => args.extend(["--permission-mode".into(), mode.as_str().into()]),
            PermissionPolicy::ClaudeDefault => {}
        }
        if let Some(text) = &self.options.append_system_prompt {
            args.extend(["--append-system-prompt".into(), text.into()]);
        }
        // one argument per tool (the flags are variadic): a rule such as `Bash(git diff:*)` stays whole;
        // the next flag, or the `--` before the prompt, ends the list
        for (flag, tools) in
            [("--allowedTools", &self.options.allowed_tools), ("--disallowedTools", &self.options.disallowed_tools)]
        {
            if !tools.is_empty() {
                args.push(flag.into());
                args.extend(tools.iter().map(OsString::from));
            }
        }
        if !self.live && self.images.is_empty() {
            args.extend(["--".into(), self.prompt.clone().into()]);
        }
        args
    }

    /// What a one-shot run with images reads on stdin (one stream-json user message: the images as
    /// content blocks, then the prompt) before its stdin is closed; `None` for every other run.
    pub fn stdin_message(&self) -> Option<String> {
        (!self.live && !self.images.is_empty()).then(|| opcode_proto::image::user_message(&self.prompt, &self.images))
    }

    /// The process spec: `binary` with [`ClaudeInvocation::args`], run in `project_dir`, with
    /// [`ENV_REMOVED`] taken out of the environment, file checkpoints on ([`CHECKPOINTS_ON`]: in print
    /// and stream-json modes the CLI keeps them only when asked; `CLAUDE_CODE_DISABLE_FILE_CHECKPOINTING`
    /// still wins), and a stdin pipe for live runs and runs with images.
    pub fn spec(&self, binary: &Path, project_dir: &Path) -> ProcessSpec {
        let (key, value) = CHECKPOINTS_ON;
        let spec = ProcessSpec::new(binary).args(self.args()).cwd(project_dir).env(key, value);
        let spec = if self.live || self.stdin_message().is_some() { spec.with_stdin() } else { spec };
        ENV_REMOVED.iter().fold(spec, |spec, key| spec.env_remove(key))
    }
}

/// A one-off claude command (`--version`, `mcp add-json …`, `--rewind-files`): `binary` with `args`,
/// [`ENV_REMOVED`] taken out of the environment, [`CHECKPOINTS_ON`] (`--rewind-files` refuses without it)
/// and `env` (a run's extra environment) put in.
pub fn command_spec(binary: &Path, args: Vec<OsString>, env: &[(OsString, OsString)]) -> ProcessSpec {
    let (key, value) = CHECKPOINTS_ON;
    let spec = ProcessSpec::new(binary).args(args).env(key, value);
    let mut spec = ENV_REMOVED.iter().fold(spec, |spec, key| spec.env_remove(key));
    spec.env.extend(env.iter().cloned());
    spec
}

/// Finds the claude binary: `explicit` (from `--claude-bin` / `OPCODE_CLAUDE_BIN`) if given, else a
/// `claude` next to the running executable, else on `PATH`, else in the usual install directories
/// (`~/.claude/local`, `~/.local/bin`, `/usr/local/bin`, npm's global bin). The error lists every place tried.
pub fn find_claude_binary(explicit: Option<&Path>) -> Result<PathBuf, DiscoveryError> {
    let candidates = match explicit {
        Some(path) => vec![path.to_path_buf()],
        None => default_candidates().into_iter().map(|c| c.path).collect(),
    };
    let found =
        candidates.iter().find(|p| is_executable(p)).ok_or_else(|| DiscoveryError { tried: candidates.clone() })?;
    // absolute, so that it still names the same file when claude runs in a project directory
    Ok(std::fs::canonicalize(found).unwrap_or_else(|_| found.clone()))
}

/// A claude binary found on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaudeInstallation {
    /// The binary, canonical (symbolic links resolved).
    pub path: PathBuf,
    /// Where it was found: `configured` (the binary in use), `beside-executable`, `PATH`,
    /// `claude-local` (`~/.claude/local`), `local-bin` (`~/.local/bin`), `npm-global`, `system`.
    pub source: &'static str,
}

/// Every existing, executable claude binary among the places [`find_claude_binary`] looks at, in its
/// order of preference, each file once (by canonical path). `configured`, when given, comes first with
/// source `configured`. Blocks (file metadata); async callers run it on a blocking thread.
pub fn discover_claude_installations(configured: Option<&Path>) -> Vec<ClaudeInstallation> {
    let configured = configured.map(|path| ClaudeInstallation { path: path.to_path_buf(), source: "configured" });
    let mut found: Vec<ClaudeInstallation> = Vec::new();
    for candidate in configured.into_iter().chain(default_candidates()) {
        if !is_executable(&candidate.path) {
            continue;
        }
        let path = std::fs::canonicalize(&candidate.path).unwrap_or(candidate.path);
        if !found.iter().any(|f| f.path == path) {
            found.push(ClaudeInstallation { path, source: candidate.source });
        }
    }
    found
}

fn default_candidates() -> Vec<ClaudeInstallation> {
    let at = |path: PathBuf, source| ClaudeInstallation { path, source };
    let mut candidates = Vec::new();
    if let Some(dir) = std::env::current_exe().ok().and_then(|exe| exe.parent().map(Path::to_path_buf)) {
        candidates.push(at(dir.join("claude"), "beside-executable"));
    }
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|dir| at(dir.join("claude"), "PATH")));
    }
    if let Some(home) = std::env::var_os("HOME").map(PathBuf::from) {
        candidates.push(at(home.join(".claude/local/claude"), "claude-local"));
        candidates.push(at(home.join(".local/bin/claude"), "local-bin"));
        candidates.push(at(home.join(".npm-global/bin/claude"), "npm-global"));
    }
    candidates.push(at(PathBuf::from("/usr/local/bin/claude"), "system"));
    candidates.push(at(PathBuf::from("/usr/lib/node_modules/@anthropic-ai/claude-code/bin/claude"), "system"));
    candidates
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv(conversation: Conversation) -> ClaudeInvocation {
        ClaudeInvocation {
            conversation,
            prompt: "do $(rm -rf /) ; things".into(),
            live: false,
            model: Some("opus".into()),
            include_partial_messages: true,
            permissions: PermissionPolicy::SkipPermissions,
            images: Vec::new(),
            options: RunOptions::default(),
        }
    }

    fn strings(args: Vec<OsString>) -> Vec<String> {
        args.into_iter().map(|a| a.into_string().unwrap()).collect()
    }

    #[test]
    fn execute_passes_the_prompt_as_one_argument_and_fixes_the_id() {
        let args = strings(inv(Conversation::New { session_id: "id-1".into() }).args());
        assert_eq!(
            args,
            [
                "-p",
                "--session-id",
                "id-1",
                "--model",
                "opus",
                "--output-format",
                "stream-json",
                "--verbose",
                "--include-partial-messages",
                "--dangerously-skip-permissions",
                "--",
                "do $(rm -rf /) ; things",
            ]
        );
    }

    #[test]
    fn run_options_go_through_the_clis_own_flags_before_the_prompt() {
        let mut run = inv(Conversation::New { session_id: "id".into() });
        run.options = RunOptions {
            append_system_prompt: Some("You review code.".into()),
            allowed_tools: vec!["Read".into(), "Bash(git diff:*)".into()],
            disallowed_tools: vec!["WebFetch".into()],
        };
        let args = strings(run.args());
        let at = |flag: &str| args.iter().position(|a| a == flag).unwrap();
        assert_eq!(args[at("--append-system-prompt") + 1], "You review code.");
        assert_eq!(args[at("--allowedTools") + 1..at("--allowedTools") + 3], ["Read", "Bash(git diff:*)"]);
        assert_eq!(args[at("--disallowedTools") + 1..at("--disallowedTools") + 3], ["WebFetch", "--"]);
        assert_eq!(args.last().unwrap(), "do $(rm -rf /) ; things");
    }

    #[test]
    fn continue_and_resume_use_their_flags() {
        assert!(strings(inv(Conversation::ContinueLatest).args()).contains(&"-c".to_owned()));
        let resume = strings(inv(Conversation::Resume { session_id: "id-2".into() }).args());
        assert_eq!(resume[1..3], ["--resume", "id-2"]);
        let mut plain = inv(Conversation::ContinueLatest);
        plain.permissions = PermissionPolicy::Mode(PermissionMode::Plan);
        let args = strings(plain.args());
        assert!(args.windows(2).any(|w| w == ["--permission-mode", "plan"]));
    }

    #[test]
    fn a_prompt_that_looks_like_a_flag_comes_after_the_end_of_flags() {
        for prompt in ["--version", "-h what does this do", "--model=opus hi", "-c"] {
            let mut run = inv(Conversation::New { session_id: "id".into() });
            run.prompt = prompt.into();
            let args = strings(run.args());
            assert_eq!(args[args.len() - 2..], ["--", prompt], "{prompt}");
            assert_eq!(args.iter().filter(|a| *a == "--").count(), 1);
        }
    }

    #[test]
    fn a_live_run_takes_its_prompts_on_stdin() {
        let mut live = inv(Conversation::New { session_id: "id-3".into() });
        live.live = true;
        live.permissions = PermissionPolicy::Mode(PermissionMode::Default);
        let args = strings(live.args());
        assert!(!args.contains(&"-p".to_owned()) && !args.contains(&"--".to_owned()));
        assert_eq!(args[..4], ["--input-format", "stream-json", "--permission-prompt-tool", "stdio"]);
        assert!(live.spec(Path::new("/bin/claude"), Path::new("/tmp")).stdin);
    }

    #[test]
    fn a_one_shot_run_with_images_reads_one_user_message_on_stdin_and_without_keeps_its_argv() {
        let plain = inv(Conversation::New { session_id: "id-4".into() });
        assert_eq!(plain.stdin_message(), None);
        assert!(!plain.spec(Path::new("/bin/claude"), Path::new("/tmp")).stdin);
        let mut with_image = plain.clone();
        with_image.images = vec![ImageAttachment { media_type: "image/png".into(), data: "iVBORw0KGgo=".into() }];
        let args = strings(with_image.args());
        assert_eq!(args[..3], ["-p", "--input-format", "stream-json"]);
        assert!(!args.contains(&"--".to_owned()) && !args.contains(&plain.prompt), "no prompt in argv: {args:?}");
        let mut expected = strings(plain.args());
        expected.truncate(expected.len() - 2);
        expected.splice(1..1, ["--input-format".to_owned(), "stream-json".to_owned()]);
        assert_eq!(args, expected, "the same argv, with stream-json input instead of the prompt");
        let line: serde_json::Value = serde_json::from_str(&with_image.stdin_message().unwrap()).unwrap();
        assert_eq!(line["message"]["content"][0]["source"]["media_type"], "image/png");
        assert_eq!(line["message"]["content"][1]["text"], plain.prompt);
        assert!(with_image.spec(Path::new("/bin/claude"), Path::new("/tmp")).stdin);
    }

    #[test]
    fn the_spec_strips_claudecode_from_the_environment() {
        let spec = inv(Conversation::ContinueLatest).spec(Path::new("/bin/claude"), Path::new("/tmp"));
        assert!(spec.env_remove.iter().any(|k| k == "CLAUDECODE"));
        assert_eq!(spec.cwd.as_deref(), Some(Path::new("/tmp")));
    }

    #[test]
    fn a_relative_binary_is_made_absolute() {
        let dir = std::env::current_dir().unwrap();
        let relative = std::env::current_exe().unwrap();
        let relative = relative.strip_prefix(&dir).unwrap_or(&relative);
        let found = find_claude_binary(Some(relative)).unwrap();
        assert!(found.is_absolute(), "{}", found.display());
    }

    #[test]
    fn permission_flags_name_their_policy() {
        assert_eq!("skip".parse(), Ok(PermissionPolicy::SkipPermissions));
        assert_eq!("claude".parse(), Ok(PermissionPolicy::ClaudeDefault));
        assert_eq!("plan".parse(), Ok(PermissionPolicy::Mode(PermissionMode::Plan)));
        assert!("bypassPermissions".parse::<PermissionPolicy>().is_err());
        let err = "yolo".parse::<PermissionPolicy>().unwrap_err();
        assert!(err.to_string().contains("skip, default, acceptEdits, plan or claude"));
    }

    #[test]
    fn discovery_lists_the_configured_binary_first_and_each_file_once() {
        let exe = std::env::current_exe().unwrap();
        let found = discover_claude_installations(Some(&exe));
        assert_eq!(found[0], ClaudeInstallation { path: std::fs::canonicalize(&exe).unwrap(), source: "configured" });
        let mut paths: Vec<_> = found.iter().map(|f| &f.path).collect();
        paths.sort();
        paths.dedup();
        assert_eq!(paths.len(), found.len());
        let missing = discover_claude_installations(Some(Path::new("/nonexistent/claude")));
        assert!(missing.iter().all(|f| f.source != "configured"));
    }

    #[test]
    fn discovery_error_lists_what_was_tried() {
        let err = find_claude_binary(Some(Path::new("/nonexistent/claude"))).unwrap_err();
        assert_eq!(err.tried, vec![PathBuf::from("/nonexistent/claude")]);
        assert!(err.to_string().contains("/nonexistent/claude"));
    }
}
