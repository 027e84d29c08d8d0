//! Claude's configuration files, read in Claude's own formats: `settings.json` and the user's
//! `CLAUDE.md` in the Claude folder (`$CLAUDE_CONFIG_DIR` or `~/.claude`), and custom slash commands
//! (`commands/**/*.md` in the Claude folder, `.claude/commands/**/*.md` in a project).
//!
//! Read-only on purpose: opcode-web shows these files, it never writes them (claude owns them).
//! Every function blocks (std::fs); async callers run them on a blocking thread. Reads are bounded: a
//! file larger than [`MAX_FILE_BYTES`] is refused, command folders are walked at most
//! [`MAX_COMMAND_DEPTH`] levels deep and to at most [`MAX_COMMANDS`] files.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::claude_store::ClaudeStore;
use crate::error::StoreError;

/// Largest configuration or command file read.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// How deep command folders are walked (each level is a namespace: `/frontend:component`).
pub const MAX_COMMAND_DEPTH: usize = 8;
/// Most command files read per folder.
pub const MAX_COMMANDS: usize = 1000;

/// A slash command, in the shape of the seed's `SlashCommand` (`src-tauri/src/commands/slash_commands.rs`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SlashCommand {
    /// Unique id: `<scope>-<file path with / as ->`, or `default-<name>` for built-in commands.
    pub id: String,
    /// The command's name (the file name without `.md`).
    pub name: String,
    /// What a user types: `/name` or `/namespace:name`.
    pub full_command: String,
    /// `default` (built into claude), `project` or `user`.
    pub scope: String,
    /// The sub-folders, joined by `:`; `None` at the top of a commands folder.
    pub namespace: Option<String>,
    /// The markdown file (empty for built-in commands).
    pub file_path: String,
    /// The body, without its front matter.
    pub content: String,
    /// `description:` of the front matter.
    pub description: Option<String>,
    /// `argument-hint:` of the front matter (what to type after the name).
    pub argument_hint: Option<String>,
    /// `allowed-tools:` of the front matter.
    pub allowed_tools: Vec<String>,
    /// The body runs shell commands (`` !`cmd` ``).
    pub has_bash_commands: bool,
    /// The body references files (`@path`).
    pub has_file_references: bool,
    /// The body uses `$ARGUMENTS`.
    pub accepts_arguments: bool,
}

fn read_bounded(path: &Path) -> Result<Option<String>, StoreError> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(StoreError::Io { path: path.to_path_buf(), source }),
    };
    let mut text = String::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|source| StoreError::Io { path: path.to_path_buf(), source })?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(StoreError::Invalid {
            path: path.to_path_buf(),
            reason: format!("larger than {MAX_FILE_BYTES} bytes"),
        });
    }
    Ok(Some(text))
}

/// The built-in commands the seed lists first (`create_default_commands`).
fn builtin_commands() -> Vec<SlashCommand> {
    [
        ("add-dir", "Add additional working directories"),
        ("init", "Initialize project with CLAUDE.md guide"),
        ("review", "Request code review"),
    ]
    .into_iter()
    .map(|(name, text)| SlashCommand {
        id: format!("default-{name}"),
        name: name.to_owned(),
        full_command: format!("/{name}"),
        scope: "default".to_owned(),
        namespace: None,
        file_path: String::new(),
        content: text.to_owned(),
        description: Some(text.to_owned()),
        argument_hint: None,
        allowed_tools: Vec::new(),
        has_bash_commands: false,
        has_file_references: false,
        accepts_arguments: false,
    })
    .collect()
}

/// What a command file says: its front matter's `description`, `argument-hint` and `allowed-tools`, and
/// its body.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct CommandFile {
    pub(crate) description: Option<String>,
    pub(crate) argument_hint: Option<String>,
    pub(crate) allowed_tools: Vec<String>,
    pub(crate) body: String,
}

/// Reads a command file. Claude's front matter is YAML; the keys are read in the forms commands use
/// (`key: value`, quoted or not, `key: [a, b]`, `key: a, b`, or a `- item` list on the following lines).
/// Without a closing `---` the whole text is the body.
pub(crate) fn split_front_matter(text: &str) -> CommandFile {
    let whole = || CommandFile { body: text.to_owned(), ..CommandFile::default() };
    let lines: Vec<&str> = text.lines().collect();
    if lines.first().map(|l| l.trim_end()) != Some("---") {
        return whole();
    }
    let Some(end) = lines.iter().skip(1).position(|l| l.trim_end() == "---").map(|i| i + 1) else {
        return whole();
    };
    let unquote = |s: &str| s.trim().trim_matches(|c| c == '"' || c == '\'').to_owned();
    let mut file = CommandFile::default();
    let mut in_tools_list = false;
    for line in &lines[1..end] {
        if in_tools_list {
            if let Some(item) = line.trim_start().strip_prefix("- ") {
                file.allowed_tools.push(unquote(item));
                continue;
            }
            in_tools_list = false;
        }
        let Some((key, value)) = line.split_once(':') else { continue };
        match key.trim() {
            "description" => file.description = Some(unquote(value)).filter(|d| !d.is_empty()),
            "argument-hint" => file.argument_hint = Some(unquote(value)).filter(|d| !d.is_empty()),
            "allowed-tools" => {
                let value = value.trim().trim_start_matches('[').trim_end_matches(']');
                if value.is_empty() {
                    in_tools_list = true;
                } else {
                    file.allowed_tools.extend(value.split(',').map(unquote).filter(|t| !t.is_empty()));
                }
            }
            _ => {}
        }
    }
    file.body = lines[end + 1..].join("\n");
    file
}

/// The `.md` files under `dir`, hidden entries skipped, symbolic links to folders not followed.
fn markdown_files(dir: &Path, depth: usize, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        if files.len() >= MAX_COMMANDS {
            return;
        }
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let Ok(kind) = entry.file_type() else { continue };
        let path = entry.path();
        if kind.is_dir() {
            if depth < MAX_COMMAND_DEPTH {
                markdown_files(&path, depth + 1, files);
            }
        } else if path.extension().is_some_and(|e| e == "md") {
            files.push(path);
        }
    }
}

fn command_from_file(path: &Path, base: &Path, scope: &str) -> Result<Option<SlashCommand>, StoreError> {
    let Some(text) = read_bounded(path)? else { return Ok(None) };
    let Ok(relative) = path.strip_prefix(base) else { return Ok(None) };
    let mut parts: Vec<String> =
        relative.with_extension("").components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    let Some(name) = parts.pop() else { return Ok(None) };
    let namespace = (!parts.is_empty()).then(|| parts.join(":"));
    let CommandFile { description, argument_hint, allowed_tools, body } = split_front_matter(&text);
    let file_path = path.to_string_lossy().into_owned();
    Ok(Some(SlashCommand {
        id: format!("{scope}-{}", file_path.replace('/', "-")),
        full_command: match &namespace {
            Some(ns) => format!("/{ns}:{name}"),
            None => format!("/{name}"),
        },
        name,
        scope: scope.to_owned(),
        namespace,
        file_path,
        has_bash_commands: body.contains("!`"),
        has_file_references: body.contains('@'),
        accepts_arguments: body.contains("$ARGUMENTS"),
        content: body,
        description,
        argument_hint,
        allowed_tools,
    }))
}

pub(crate) fn commands_in(dir: &Path, scope: &str, out: &mut Vec<SlashCommand>) -> Result<(), StoreError> {
    let mut files = Vec::new();
    markdown_files(dir, 0, &mut files);
    for file in files {
        out.extend(command_from_file(&file, dir, scope)?);
    }
    Ok(())
}

impl ClaudeStore {
    /// `settings.json` of the Claude folder as Claude wrote it (any JSON object); `{}` when there is none.
    pub fn settings(&self) -> Result<Value, StoreError> {
        let path = self.root().join("settings.json");
        let Some(text) = read_bounded(&path)? else { return Ok(Value::Object(Default::default())) };
        match serde_json::from_str::<Value>(&text) {
            Ok(value @ Value::Object(_)) => Ok(value),
            Ok(_) => Err(StoreError::Invalid { path, reason: "not a JSON object".into() }),
            Err(e) => Err(StoreError::Invalid { path, reason: format!("not valid JSON: {e}") }),
        }
    }

    /// The user's `CLAUDE.md` in the Claude folder (the instructions claude adds to every session); empty
    /// when there is none.
    pub fn system_prompt(&self) -> Result<String, StoreError> {
        Ok(read_bounded(&self.root().join("CLAUDE.md"))?.unwrap_or_default())
    }

    /// The slash commands a session in `project` can use: the built-in ones the seed lists, then the
    /// project's (`<project>/.claude/commands`), then the user's (`commands` in the Claude folder).
    /// `project` must already be checked (an existing directory within the allowed roots).
    pub fn slash_commands(&self, project: Option<&Path>) -> Result<Vec<SlashCommand>, StoreError> {
        let mut commands = builtin_commands();
        if let Some(project) = project {
            commands_in(&project.join(".claude").join("commands"), "project", &mut commands)?;
        }
        commands_in(&self.root().join("commands"), "user", &mut commands)?;
        Ok(commands)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_and_claude_md_are_read_as_claude_wrote_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = ClaudeStore::new(dir.path());
        assert_eq!(store.settings().unwrap(), serde_json::json!({}));
        assert_eq!(store.system_prompt().unwrap(), "");
        std::fs::write(dir.path().join("settings.json"), r#"{"model":"opus","env":{"A":"1"}}"#).unwrap();
        std::fs::write(dir.path().join("CLAUDE.md"), "Be brief.\n").unwrap();
        assert_eq!(store.settings().unwrap(), serde_json::json!({"model":"opus","env":{"A":"1"}}));
        assert_eq!(store.system_prompt().unwrap(), "Be brief.\n");
        std::fs::write(dir.path().join("settings.json"), "{ not json").unwrap();
        assert!(matches!(store.settings(), Err(StoreError::Invalid { .. })));
    }

    #[test]
    fn commands_come_from_the_project_and_the_user_with_namespaces_and_front_matter() {
        let claude = tempfile::tempdir().unwrap();
        let project = tempfile::tempdir().unwrap();
        let project_commands = project.path().join(".claude/commands/frontend");
        std::fs::create_dir_all(&project_commands).unwrap();
        std::fs::write(
            project_commands.join("component.md"),
            "---\ndescription: \"Make a component\"\nallowed-tools: [Edit, Write]\n---\nCreate $ARGUMENTS using @src/x.tsx\n",
        )
        .unwrap();
        std::fs::create_dir_all(claude.path().join("commands/.hidden")).unwrap();
        std::fs::write(claude.path().join("commands/.hidden/no.md"), "x").unwrap();
        std::fs::write(claude.path().join("commands/status.md"), "Run !`git status`\n").unwrap();
        std::fs::write(claude.path().join("commands/notes.txt"), "not a command").unwrap();
        let store = ClaudeStore::new(claude.path());
        let commands = store.slash_commands(Some(project.path())).unwrap();
        let names: Vec<_> = commands.iter().map(|c| (c.scope.as_str(), c.full_command.as_str())).collect();
        assert_eq!(
            names,
            [
                ("default", "/add-dir"),
                ("default", "/init"),
                ("default", "/review"),
                ("project", "/frontend:component"),
                ("user", "/status")
            ]
        );
        let component = &commands[3];
        assert_eq!(component.namespace.as_deref(), Some("frontend"));
        assert_eq!(component.description.as_deref(), Some("Make a component"));
        assert_eq!(component.allowed_tools, ["Edit", "Write"]);
        assert_eq!(component.content, "Create $ARGUMENTS using @src/x.tsx");
        assert!(component.accepts_arguments && component.has_file_references && !component.has_bash_commands);
        assert!(commands[4].has_bash_commands);
    }

    #[test]
    fn front_matter_lists_and_unclosed_front_matter() {
        let file =
            split_front_matter("---\nallowed-tools:\n  - Bash(git:*)\n  - Read\nargument-hint: [file]\n---\nbody");
        assert_eq!(
            file,
            CommandFile {
                description: None,
                argument_hint: Some("[file]".to_owned()),
                allowed_tools: vec!["Bash(git:*)".to_owned(), "Read".to_owned()],
                body: "body".to_owned()
            }
        );
        let file = split_front_matter("---\ndescription: x\nno end");
        assert_eq!(file, CommandFile { body: "---\ndescription: x\nno end".to_owned(), ..CommandFile::default() });
    }
}
