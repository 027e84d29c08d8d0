//! Command discovery for the composer's `/` menu: the user's and the project's command files, found in
//! real folders, namespaced by sub-folder, described by their front matter or first line.

use std::path::Path;

use opcode_sessions::claude_store::ClaudeStore;
use opcode_sessions::commands::{project_commands, CommandInfo};

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn command(name: &str, description: Option<&str>, hint: Option<&str>) -> CommandInfo {
    CommandInfo {
        name: name.to_owned(),
        description: description.map(str::to_owned),
        argument_hint: hint.map(str::to_owned),
    }
}

#[test]
fn user_and_project_commands_are_found_namespaced_and_described() {
    let claude = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    let commands = project.path().join(".claude/commands");
    write(
        &commands.join("frontend/component.md"),
        "---\ndescription: 'Make a React component'\nargument-hint: \"<name> [props]\"\n---\nCreate $ARGUMENTS\n",
    );
    write(&commands.join("frontend/forms/field.md"), "\n\n# Add a form field\n\nThe field: $ARGUMENTS\n");
    write(&commands.join("deploy.md"), "---\nallowed-tools: Bash(git:*)\n---\n\nShip it to staging.\n");
    write(&commands.join("empty.md"), "");
    write(&commands.join("notes.txt"), "not a command");
    write(&commands.join(".hidden/secret.md"), "hidden");
    write(&claude.path().join("commands/standup.md"), "---\ndescription: Write my standup\n---\nbody");
    write(&claude.path().join("commands/git/sync.md"), "Pull, rebase and push\n");

    let found = project_commands(&ClaudeStore::new(claude.path()), project.path()).unwrap();
    assert_eq!(
        found.project,
        [
            command("deploy", Some("Ship it to staging."), None),
            command("empty", None, None),
            command("frontend:component", Some("Make a React component"), Some("<name> [props]")),
            command("frontend:forms:field", Some("Add a form field"), None),
        ]
    );
    assert_eq!(
        found.user,
        [command("git:sync", Some("Pull, rebase and push"), None), command("standup", Some("Write my standup"), None)]
    );
    let builtin: Vec<&str> = found.builtin.iter().map(|c| c.name.as_str()).collect();
    assert!(builtin.contains(&"compact") && builtin.contains(&"init"), "{builtin:?}");
    assert!(!builtin.contains(&"config") && !builtin.contains(&"login"), "{builtin:?}");
    assert!(found.builtin.iter().all(|c| c.description.is_some()));
}

#[test]
fn missing_command_folders_are_empty_groups() {
    let claude = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    let found = project_commands(&ClaudeStore::new(claude.path()), project.path()).unwrap();
    assert!(found.user.is_empty() && found.project.is_empty());
    assert!(!found.builtin.is_empty());
}

#[test]
fn an_oversized_command_file_is_an_error_not_a_silent_truncation() {
    let claude = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    let big = "x".repeat(opcode_sessions::claude_config::MAX_FILE_BYTES as usize + 1);
    write(&project.path().join(".claude/commands/big.md"), &big);
    let err = project_commands(&ClaudeStore::new(claude.path()), project.path()).unwrap_err();
    assert!(err.to_string().contains("big.md"), "{err}");
}
