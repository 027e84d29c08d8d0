//! The slash commands claude knows in a project, for a composer's `/` menu: the built-in ones that work
//! when claude takes its prompts as stream-json (print mode), the user's (`commands/**/*.md` in the Claude
//! folder: `$CLAUDE_CONFIG_DIR` or `~/.claude`) and the project's (`.claude/commands/**/*.md`). A file in
//! a sub-folder gets a namespaced name, as Claude Code gives it: `frontend/component.md` is
//! `frontend:component`.
//!
//! Read-only and bounded like [`crate::claude_config`] (whose walker it shares). Blocking (std::fs): async
//! callers run it on a blocking thread.

use std::path::Path;

use serde::Serialize;

use crate::claude_config::{commands_in, SlashCommand};
use crate::claude_store::ClaudeStore;
use crate::error::StoreError;

/// Longest description kept (a first line used as the description is cut there, with `…`).
pub const MAX_DESCRIPTION_CHARS: usize = 200;

/// The built-in commands of the genuine CLI (2.1.328, the `slash_commands` of its `system/init` line in
/// print mode) that make sense from a browser, with what they do and take. Left out: what only works in
/// the terminal UI (`/config`, `/color`, `/focus`, `/heapdump`, and `/login`, `/vim`, `/terminal-setup`,
/// which print mode does not even list), what is internal (`/__remote-workflow`, `/workflow-launch-exec`),
/// and `/model`, which the session bar's model switch does (so the bar stays true).
const BUILTIN: &[(&str, &str, Option<&str>)] = &[
    ("agents", "Ask Claude to create or manage subagents (.claude/agents/)", None),
    ("auto-mode-setup", "Teach auto mode about your environment", None),
    ("autocompact", "Set how full the context gets before auto-summarizing", Some("[auto|<tokens>]")),
    ("batch", "Plan a large change, then carry it out in parallel in isolated worktrees", Some("<instruction>")),
    ("claude-api", "Build and debug apps that use the Claude API", None),
    ("clear", "Start a new session with empty context (the previous one stays on disk)", Some("[name]")),
    ("code-review", "Review the changes on this branch", None),
    (
        "compact",
        "Free up context by summarizing the conversation so far",
        Some("<optional custom summarization instructions>"),
    ),
    ("context", "Show what fills the context", Some("[all]")),
    ("dataviz", "Make a chart or visualisation from data", None),
    ("debug", "Enable debug logging for this session and help diagnose issues", Some("[issue description]")),
    ("deep-research", "Research a question in depth and report with sources", None),
    ("doctor", "Health-check your setup and fix issues", None),
    ("effort", "Set the model's effort level", None),
    ("fast", "Turn fast mode on or off", Some("[on|off]")),
    ("fewer-permission-prompts", "Add an allowlist of common read-only tool calls to the project's settings", None),
    ("goal", "Set a goal Claude checks before stopping", Some("[<condition> | clear]")),
    ("init", "Initialize the project with a CLAUDE.md guide", None),
    ("insights", "Generate a report analyzing your Claude Code sessions", None),
    ("list-agents", "List subagents, teammates and other Claude sessions you can message", None),
    ("loop", "Run a prompt or command again and again on an interval", None),
    ("mcp", "Manage MCP servers", Some("[reconnect|enable|disable [<server>|all]]")),
    ("output-style", "List output styles or switch to one", Some("[style]")),
    ("plugin-authoring", "Write and test a Claude Code plugin", None),
    ("recap", "Generate a one-line session recap now", None),
    ("reload-plugins", "Activate pending plugin changes in the current session", Some("[--force]")),
    ("reload-skills", "Pick up skills added or changed on disk during this session", None),
    ("rename", "Rename the current conversation", Some("[name]")),
    ("run", "Run this project's app", None),
    ("run-skill-generator", "Create a skill that knows how to run this project's app", None),
    ("security-review", "Complete a security review of the pending changes on the current branch", None),
    ("simplify", "Review changed code for reuse, quality and efficiency, then fix what it finds", None),
    ("team-onboarding", "Help teammates ramp on Claude Code with a guide from your usage", None),
    ("update-config", "Change settings: hooks, permissions, environment variables", None),
    ("usage", "Show session cost, plan usage, and what is contributing to your limits", None),
    ("verify", "Check that a change works by running it", None),
    ("workflow-authoring", "Write a workflow script for Claude to run", None),
];

/// One command of the menu.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandInfo {
    /// What follows the `/`: `name`, or `namespace:name` for a file in a sub-folder.
    pub name: String,
    /// The front matter's `description:`, else the body's first non-empty line; `None` when neither.
    pub description: Option<String>,
    /// The front matter's `argument-hint:` (what to type after the name), if any.
    pub argument_hint: Option<String>,
}

/// The commands of one project, by where they come from; each group sorted by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProjectCommands {
    /// Built into claude (and usable in print mode).
    pub builtin: Vec<CommandInfo>,
    /// The user's, from the Claude folder's `commands/`.
    pub user: Vec<CommandInfo>,
    /// The project's, from `<project>/.claude/commands/`.
    pub project: Vec<CommandInfo>,
}

/// The body's first non-empty line, without a Markdown heading's `#`s, cut to [`MAX_DESCRIPTION_CHARS`].
fn first_line(body: &str) -> Option<String> {
    let line = body.lines().map(|l| l.trim().trim_start_matches('#').trim()).find(|l| !l.is_empty())?;
    if line.chars().count() <= MAX_DESCRIPTION_CHARS {
        return Some(line.to_owned());
    }
    let mut cut: String = line.chars().take(MAX_DESCRIPTION_CHARS - 1).collect();
    cut.push('…');
    Some(cut)
}

fn info(command: SlashCommand) -> CommandInfo {
    let name = command.full_command.trim_start_matches('/').to_owned();
    let description = command.description.or_else(|| first_line(&command.content));
    CommandInfo { name, description, argument_hint: command.argument_hint }
}

fn from_folder(dir: &Path, scope: &str) -> Result<Vec<CommandInfo>, StoreError> {
    let mut found = Vec::new();
    commands_in(dir, scope, &mut found)?;
    let mut commands: Vec<CommandInfo> = found.into_iter().map(info).collect();
    commands.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(commands)
}

/// The built-in commands offered (see [`BUILTIN`] for what is left out and why).
pub fn builtin_commands() -> Vec<CommandInfo> {
    BUILTIN
        .iter()
        .map(|(name, description, hint)| CommandInfo {
            name: (*name).to_owned(),
            description: Some((*description).to_owned()),
            argument_hint: hint.map(str::to_owned),
        })
        .collect()
}

/// The commands claude knows in `project` (which must already be checked: an existing directory within
/// the allowed roots), with the user's from `store`'s Claude folder.
pub fn project_commands(store: &ClaudeStore, project: &Path) -> Result<ProjectCommands, StoreError> {
    Ok(ProjectCommands {
        builtin: builtin_commands(),
        user: from_folder(&store.root().join("commands"), "user")?,
        project: from_folder(&project.join(".claude").join("commands"), "project")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_first_line_is_cut_and_headings_lose_their_hashes() {
        assert_eq!(first_line("\n\n## Fix the build\nmore").as_deref(), Some("Fix the build"));
        assert_eq!(first_line("  \n").as_deref(), None);
        let long = first_line(&"x".repeat(500)).unwrap();
        assert_eq!(long.chars().count(), MAX_DESCRIPTION_CHARS);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn no_interactive_only_builtin_is_offered() {
        let names: Vec<String> = builtin_commands().into_iter().map(|c| c.name).collect();
        for interactive in ["login", "logout", "config", "vim", "terminal-setup", "color", "focus", "heapdump"] {
            assert!(!names.contains(&interactive.to_owned()), "{interactive} is offered");
        }
        assert!(names.contains(&"compact".to_owned()) && names.contains(&"init".to_owned()));
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted, "the table is kept sorted");
    }
}
