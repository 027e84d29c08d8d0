//! A project's remembered permission decisions, in Claude's own file and format: the `permissions`
//! (`allow`, `deny`, `ask` rule lists such as `Bash(npm run test:*)`) of `<project>/.claude/settings.local.json`.
//! The CLI writes rules there itself when an approval is remembered (`updatedPermissions`); this module
//! lists, edits and removes them, so the terminal and the browser honour the same rules.
//!
//! Writes keep every other key of the file, go through a temporary file and a rename (never a half-written
//! settings file), and are refused when the file changed since it was read (`version`). The file must lie
//! inside the project: a `.claude` folder or file that is a symlink pointing out of it is refused.
//! Blocking file I/O: call from a blocking context.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::claude_md::version_of;
use serde_json::{Map, Value};

/// Rules per list at most.
pub const MAX_RULES: usize = 1000;
/// Characters per rule at most.
pub const MAX_RULE_CHARS: usize = 1000;
/// The settings file is read up to this size.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// The rule lists of a settings file's `permissions`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PermissionRules {
    /// Tools and commands claude may use without asking.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Tools and commands claude may never use.
    #[serde(default)]
    pub deny: Vec<String>,
    /// Tools and commands claude must always ask about.
    #[serde(default)]
    pub ask: Vec<String>,
}

/// The rules of a project, with where they live and the version they were read at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProjectRules {
    /// The settings file (it may not exist yet).
    pub file: PathBuf,
    /// Its rules.
    #[serde(flatten)]
    pub rules: PermissionRules,
    /// A fingerprint of the file's bytes; a write must name the version it edits.
    pub version: String,
}

/// Why rules could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RulesError {
    /// The settings file or its folder leads out of the project.
    #[error("{0} leads out of the project (a symlink?): refused")]
    OutsideProject(PathBuf),
    /// The file changed since it was read.
    #[error("the settings file changed since it was read (by claude or another device): reload it and edit again")]
    Changed,
    /// A rule is empty, too long, or has control characters; or a list is too long.
    #[error("rule {0:?} is not valid: 1 to 1000 printable characters, at most 1000 rules a list")]
    BadRule(String),
    /// The file is not a JSON object (or its `permissions` not an object of lists).
    #[error("{0} is not a settings file this version can edit (it is not a JSON object of the expected shape); fix it by hand")]
    Unreadable(PathBuf),
    /// Reading or writing failed.
    #[error("{action} {path} failed")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// `<project>/.claude/settings.local.json`.
pub fn settings_file(project: &Path) -> PathBuf {
    project.join(".claude").join("settings.local.json")
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> RulesError + 'a {
    move |source| RulesError::Io { action, path: path.to_path_buf(), source }
}

/// Refuses a `.claude` folder or settings file that resolves outside `project` (which must be canonical).
fn confine(project: &Path, file: &Path) -> Result<(), RulesError> {
    for path in [file.parent().unwrap_or(project), file] {
        if let Ok(real) = std::fs::canonicalize(path) {
            if !real.starts_with(project) {
                return Err(RulesError::OutsideProject(path.to_path_buf()));
            }
        }
    }
    Ok(())
}

/// The file's bytes, or `None` when it does not exist.
fn read_bytes(file: &Path) -> Result<Option<Vec<u8>>, RulesError> {
    match std::fs::metadata(file) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io("read", file)(e)),
        Ok(meta) if meta.len() > MAX_FILE_BYTES => return Err(RulesError::Unreadable(file.to_path_buf())),
        Ok(_) => {}
    }
    std::fs::read(file).map(Some).map_err(io("read", file))
}

fn parse(file: &Path, bytes: Option<&[u8]>) -> Result<Map<String, Value>, RulesError> {
    match bytes {
        None => Ok(Map::new()),
        Some(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(Map::new()),
        Some(bytes) => match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(RulesError::Unreadable(file.to_path_buf())),
        },
    }
}

fn rules_of(file: &Path, settings: &Map<String, Value>) -> Result<PermissionRules, RulesError> {
    let unreadable = || RulesError::Unreadable(file.to_path_buf());
    let Some(permissions) = settings.get("permissions") else { return Ok(PermissionRules::default()) };
    let list = |key: &str| -> Result<Vec<String>, RulesError> {
        match permissions.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => {
                items.iter().map(|i| i.as_str().map(str::to_owned).ok_or_else(unreadable)).collect()
            }
            Some(_) => Err(unreadable()),
        }
    };
    if !permissions.is_object() {
        return Err(unreadable());
    }
    Ok(PermissionRules { allow: list("allow")?, deny: list("deny")?, ask: list("ask")? })
}

/// The remembered rules of `project` (canonical). A missing file has none.
pub fn read_rules(project: &Path) -> Result<ProjectRules, RulesError> {
    let file = settings_file(project);
    confine(project, &file)?;
    let bytes = read_bytes(&file)?;
    let rules = rules_of(&file, &parse(&file, bytes.as_deref())?)?;
    Ok(ProjectRules { version: version_of(bytes.as_deref()), file, rules })
}

fn check(rules: &PermissionRules) -> Result<(), RulesError> {
    for list in [&rules.allow, &rules.deny, &rules.ask] {
        if list.len() > MAX_RULES {
            return Err(RulesError::BadRule(format!("{} rules", list.len())));
        }
        for rule in list {
            let ok = !rule.trim().is_empty()
                && rule.chars().count() <= MAX_RULE_CHARS
                && !rule.chars().any(char::is_control);
            if !ok {
                return Err(RulesError::BadRule(rule.clone()));
            }
        }
    }
    Ok(())
}

/// Replaces the rule lists of `project` (canonical), keeping the rest of the file, if the file is still
/// at `version`. Returns what is now on disk.
pub fn write_rules(project: &Path, rules: &PermissionRules, version: &str) -> Result<ProjectRules, RulesError> {
    check(rules)?;
    let file = settings_file(project);
    confine(project, &file)?;
    let bytes = read_bytes(&file)?;
    if version_of(bytes.as_deref()) != version {
        return Err(RulesError::Changed);
    }
    let mut settings = parse(&file, bytes.as_deref())?;
    rules_of(&file, &settings)?; // refuse to rewrite what we cannot read
    let permissions = settings.entry("permissions").or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(permissions) = permissions else { return Err(RulesError::Unreadable(file)) };
    for (key, list) in [("allow", &rules.allow), ("deny", &rules.deny), ("ask", &rules.ask)] {
        permissions.insert(key.to_owned(), Value::Array(list.iter().cloned().map(Value::String).collect()));
    }
    let mut text = serde_json::to_string_pretty(&Value::Object(settings)).expect("a JSON value serialises");
    text.push('\n');
    let dir = file.parent().expect("the settings file has a folder");
    std::fs::create_dir_all(dir).map_err(io("create", dir))?;
    confine(project, &file)?;
    let mut temp = tempfile::NamedTempFile::new_in(dir).map_err(io("create a temporary file in", dir))?;
    std::io::Write::write_all(&mut temp, text.as_bytes()).map_err(io("write", &file))?;
    temp.persist(&file).map_err(|e| io("replace", &file)(e.error))?;
    read_rules(project)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = std::fs::canonicalize(dir.path()).unwrap();
        (dir, path)
    }

    #[test]
    fn rules_are_read_edited_and_written_in_claudes_file_keeping_the_rest() {
        let (_dir, project) = project();
        let empty = read_rules(&project).unwrap();
        assert_eq!(empty.rules, PermissionRules::default());
        std::fs::create_dir_all(project.join(".claude")).unwrap();
        std::fs::write(
            settings_file(&project),
            r#"{"env":{"A":"1"},"permissions":{"allow":["Bash(npm test)"],"defaultMode":"default"}}"#,
        )
        .unwrap();
        let read = read_rules(&project).unwrap();
        assert_eq!(read.rules.allow, ["Bash(npm test)"]);
        let edited =
            PermissionRules { allow: vec!["Bash(npm test:*)".into()], deny: vec!["WebFetch".into()], ask: vec![] };
        let written = write_rules(&project, &edited, &read.version).unwrap();
        assert_eq!(written.rules, edited);
        let on_disk: Value = serde_json::from_str(&std::fs::read_to_string(settings_file(&project)).unwrap()).unwrap();
        assert_eq!(on_disk["env"]["A"], "1", "other keys stay");
        assert_eq!(on_disk["permissions"]["defaultMode"], "default");
        // a write over a stale version writes nothing
        let stale = write_rules(&project, &PermissionRules::default(), &read.version);
        assert!(matches!(stale, Err(RulesError::Changed)));
        assert_eq!(read_rules(&project).unwrap().rules, edited);
    }

    #[test]
    fn bad_rules_files_outside_and_unreadable_files_are_refused() {
        let (_dir, project) = project();
        let version = read_rules(&project).unwrap().version;
        for bad in ["", "  ", "a\nb", &"x".repeat(MAX_RULE_CHARS + 1)] {
            let rules = PermissionRules { allow: vec![bad.to_owned()], ..Default::default() };
            assert!(matches!(write_rules(&project, &rules, &version), Err(RulesError::BadRule(_))), "{bad:?}");
        }
        assert!(!settings_file(&project).exists(), "nothing was written");
        let (_elsewhere, outside) = super::tests::project();
        std::os::unix::fs::symlink(&outside, project.join(".claude")).unwrap();
        assert!(matches!(read_rules(&project), Err(RulesError::OutsideProject(_))));
        let rules = PermissionRules { allow: vec!["Read".into()], ..Default::default() };
        assert!(matches!(write_rules(&project, &rules, &version), Err(RulesError::OutsideProject(_))));
        assert!(!outside.join("settings.local.json").exists(), "nothing was written outside");
        std::fs::remove_file(project.join(".claude")).unwrap();
        std::fs::create_dir(project.join(".claude")).unwrap();
        std::fs::write(settings_file(&project), "[1,2]").unwrap();
        assert!(matches!(read_rules(&project), Err(RulesError::Unreadable(_))));
    }
}
