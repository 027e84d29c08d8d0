//! MCP servers as Claude Code configures them, in its own files and through its own commands:
//! - listed from the CLI's documented files: `mcpServers` of `~/.claude.json` (scope `user`; the file is
//!   `$CLAUDE_CONFIG_DIR/.claude.json` when that is set), `projects.<project>.mcpServers` of the same file
//!   (scope `local`), and `mcpServers` of `<project>/.mcp.json` (scope `project`);
//! - added and removed only by the CLI itself (`claude mcp add-json --scope S -- NAME JSON`,
//!   `claude mcp remove --scope S -- NAME`), spawned through the supervisor, so the terminal and the
//!   browser always see the same servers and the CLI's own checks apply;
//! - tested: a stdio server is started (through the supervisor, its own process group, killed at the
//!   end or at the deadline) and asked `initialize` then `tools/list` over JSON-RPC; a remote one is
//!   checked with `claude mcp get NAME` (the CLI connects to it).
//!
//! Names and configurations are checked before anything is spawned: a name is 1–64 letters, digits, `-`
//! or `_` (the CLI's own rule); a configuration is a JSON object with a `command` (stdio) or a `type` and a
//! `url` (http, sse, ws), at most [`MAX_CONFIG_BYTES`] bytes.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use opcode_proc::{OutputStream, ProcessEvent, ProcessSpec, ProcessSupervisor};
use serde::Serialize;
use serde_json::{json, Map, Value};

/// Largest server configuration accepted.
pub const MAX_CONFIG_BYTES: usize = 64 * 1024;
/// Largest config file read.
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// How long a test may take before the server is killed.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a `claude mcp …` command may take.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// Where a server is configured (the CLI's `--scope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum McpScope {
    /// `~/.claude.json` `mcpServers`: every project of this user.
    User,
    /// `<project>/.mcp.json`: shared with everyone who has the project (checked in).
    Project,
    /// `~/.claude.json` `projects.<project>.mcpServers`: this user, this project.
    Local,
}

impl McpScope {
    /// The CLI's name of the scope.
    pub fn as_str(self) -> &'static str {
        match self {
            McpScope::User => "user",
            McpScope::Project => "project",
            McpScope::Local => "local",
        }
    }

    /// Whether the scope belongs to a project (needs one named).
    pub fn needs_project(self) -> bool {
        self != McpScope::User
    }
}

/// The health a test found, in the shape of the seed's `ServerStatus`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct McpStatus {
    /// Whether it is known to run (never checked by a listing: `false`).
    pub running: bool,
    /// Why it failed, if it was tested and failed.
    pub error: Option<String>,
    /// Unix seconds of the last test, if any.
    pub last_checked: Option<u64>,
}

/// A configured server, in the shape of the seed's `MCPServer` (`src/lib/api.ts` of winfunc/opcode) with
/// the whole configuration beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct McpServer {
    /// Its name (unique within a scope).
    pub name: String,
    /// `stdio`, `http`, `sse` or `ws`.
    pub transport: String,
    /// The program of a stdio server.
    pub command: Option<String>,
    /// Its arguments.
    pub args: Vec<String>,
    /// Its environment.
    pub env: Map<String, Value>,
    /// The URL of a remote server.
    pub url: Option<String>,
    /// The headers sent to a remote server.
    pub headers: Map<String, Value>,
    /// Where it is configured.
    pub scope: McpScope,
    /// Always true: a configured server is offered to claude (the CLI's per-project approvals of
    /// `.mcp.json` servers are not read).
    pub is_active: bool,
    /// Not tested by a listing.
    pub status: McpStatus,
    /// The configuration as the CLI wrote it.
    pub config: Value,
}

/// Why MCP servers could not be listed, added, removed or tested.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum McpError {
    /// The name breaks the CLI's rule.
    #[error("server name {0:?} is not valid: use 1 to 64 letters, digits, hyphens or underscores")]
    BadName(String),
    /// The configuration is not one the CLI accepts.
    #[error("the server configuration is not valid: {0}")]
    BadConfig(String),
    /// A config file is not JSON of the expected shape.
    #[error("{0} is not a configuration file this version can read (not a JSON object of the expected shape)")]
    Unreadable(PathBuf),
    /// No server of that name in that scope.
    #[error("no MCP server {name:?} in the {scope} scope")]
    NotFound {
        /// The name asked for.
        name: String,
        /// The scope looked in.
        scope: &'static str,
    },
    /// The CLI refused (its own words are in the message).
    #[error("claude mcp refused: {0}")]
    Refused(String),
    /// The CLI or the server could not be started.
    #[error("could not run {0}")]
    Spawn(String, #[source] opcode_proc::SpawnError),
    /// Reading a file failed.
    #[error("reading {path} failed")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// `~/.claude.json` as the CLI finds it with `env` (a run's extra environment) on top of this process's:
/// `$CLAUDE_CONFIG_DIR/.claude.json` when that is set, else `$HOME/.claude.json`.
pub fn config_file(env: &[(OsString, OsString)]) -> PathBuf {
    let var =
        |key: &str| env.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.clone()).or_else(|| std::env::var_os(key));
    match var("CLAUDE_CONFIG_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join(".claude.json"),
        _ => PathBuf::from(var("HOME").unwrap_or_default()).join(".claude.json"),
    }
}

/// Checks a name against the CLI's rule.
pub fn check_name(name: &str) -> Result<(), McpError> {
    let ok =
        (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(McpError::BadName(name.to_owned()))
    }
}

/// Checks a server configuration: what the CLI accepts, within our size limit.
pub fn check_config(config: &Value) -> Result<(), McpError> {
    let bad = |why: &str| Err(McpError::BadConfig(why.to_owned()));
    let Value::Object(map) = config else { return bad("it must be a JSON object") };
    if config.to_string().len() > MAX_CONFIG_BYTES {
        return bad("it is larger than 64 KiB");
    }
    let kind = map.get("type").and_then(Value::as_str);
    match kind {
        None | Some("stdio") => match map.get("command") {
            Some(Value::String(c)) if !c.trim().is_empty() => {}
            _ => return bad("a stdio server needs a \"command\""),
        },
        Some("http" | "sse" | "ws") => match map.get("url").and_then(Value::as_str) {
            Some(url) if url.starts_with("http://") || url.starts_with("https://") || url.starts_with("ws") => {}
            _ => return bad("a remote server needs a \"url\" (http:// or https://)"),
        },
        Some(other) => return Err(McpError::BadConfig(format!("unknown type {other:?}: use stdio, http, sse or ws"))),
    }
    for (key, item) in [("args", "strings"), ("env", "an object of strings"), ("headers", "an object of strings")] {
        let ok = match map.get(key) {
            None => true,
            Some(Value::Array(items)) if key == "args" => items.iter().all(Value::is_string),
            Some(Value::Object(vars)) if key != "args" => vars.values().all(Value::is_string),
            _ => false,
        };
        if !ok {
            return Err(McpError::BadConfig(format!("\"{key}\" must be {item}")));
        }
    }
    Ok(())
}

fn read_json(path: &Path) -> Result<Option<Map<String, Value>>, McpError> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(McpError::Io { path: path.to_path_buf(), source }),
        Ok(meta) if meta.len() > MAX_FILE_BYTES => return Err(McpError::Unreadable(path.to_path_buf())),
        Ok(_) => {}
    }
    let bytes = std::fs::read(path).map_err(|source| McpError::Io { path: path.to_path_buf(), source })?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(Some(map)),
        _ => Err(McpError::Unreadable(path.to_path_buf())),
    }
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

fn object(value: Option<&Value>) -> Map<String, Value> {
    value.and_then(Value::as_object).cloned().unwrap_or_default()
}

/// One server of a config file's `mcpServers`.
fn server(name: &str, config: &Value, scope: McpScope) -> McpServer {
    let text = |key: &str| config.get(key).and_then(Value::as_str).map(str::to_owned);
    McpServer {
        name: name.to_owned(),
        transport: text("type").unwrap_or_else(|| "stdio".to_owned()),
        command: text("command"),
        args: strings(config.get("args")),
        env: object(config.get("env")),
        url: text("url"),
        headers: object(config.get("headers")),
        scope,
        is_active: true,
        status: McpStatus::default(),
        config: config.clone(),
    }
}

fn servers_of(section: Option<&Value>, scope: McpScope, out: &mut Vec<McpServer>) {
    if let Some(Value::Object(servers)) = section {
        out.extend(servers.iter().map(|(name, config)| server(name, config, scope)));
    }
}

/// The servers of every scope: the user's from `claude_json`, and with a `project` (canonical) its local
/// ones (same file) and its `.mcp.json` ones. Blocking.
pub fn list(claude_json: &Path, project: Option<&Path>) -> Result<Vec<McpServer>, McpError> {
    let mut out = Vec::new();
    let global = read_json(claude_json)?.unwrap_or_default();
    servers_of(global.get("mcpServers"), McpScope::User, &mut out);
    if let Some(project) = project {
        let key = project.to_string_lossy();
        servers_of(
            global.get("projects").and_then(|p| p.get(key.as_ref())).and_then(|p| p.get("mcpServers")),
            McpScope::Local,
            &mut out,
        );
        let shared = read_json(&project.join(".mcp.json"))?.unwrap_or_default();
        servers_of(shared.get("mcpServers"), McpScope::Project, &mut out);
    }
    Ok(out)
}

/// The argv (after the program) of `claude mcp add-json --scope S -- NAME JSON`. Check first.
pub fn add_args(scope: McpScope, name: &str, config: &Value) -> Vec<OsString> {
    ["mcp", "add-json", "--scope", scope.as_str(), "--", name]
        .into_iter()
        .map(OsString::from)
        .chain([config.to_string().into()])
        .collect()
}

/// The argv (after the program) of `claude mcp remove --scope S -- NAME`.
pub fn remove_args(scope: McpScope, name: &str) -> Vec<OsString> {
    ["mcp", "remove", "--scope", scope.as_str(), "--", name].into_iter().map(OsString::from).collect()
}

/// The argv (after the program) of `claude mcp get -- NAME`.
pub fn get_args(name: &str) -> Vec<OsString> {
    ["mcp", "get", "--", name].into_iter().map(OsString::from).collect()
}

/// One server of a Claude Desktop configuration: its name, and its configuration in the CLI's shape or
/// why it fails a check.
pub type DesktopServer = (String, Result<Value, McpError>);

/// The servers of a Claude Desktop configuration (`claude_desktop_config.json`: `{"mcpServers": {…}}`),
/// each checked; the ones that fail a check come back with the reason.
pub fn desktop_servers(desktop: &Value) -> Result<Vec<DesktopServer>, McpError> {
    let Some(Value::Object(servers)) = desktop.get("mcpServers") else {
        return Err(McpError::BadConfig("a Claude Desktop config has an \"mcpServers\" object".into()));
    };
    Ok(servers
        .iter()
        .map(|(name, config)| {
            let checked = check_name(name).and_then(|()| check_config(config)).map(|()| {
                // Claude Desktop servers are stdio without a "type"; the CLI's files name it
                let mut config = config.clone();
                if config.get("type").is_none() && config.get("command").is_some() {
                    config["type"] = json!("stdio");
                }
                config
            });
            (name.clone(), checked)
        })
        .collect())
}

/// What a test of a server found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct McpTest {
    /// It started and answered `tools/list` (stdio), or the CLI reports it connected (remote).
    pub ok: bool,
    /// `serverInfo.name` and `version` from its `initialize` answer (stdio).
    pub server: Option<String>,
    /// The tools it lists (stdio): name and description.
    pub tools: Vec<McpTool>,
    /// What went wrong, or what the CLI said.
    pub message: String,
}

/// A tool an MCP server offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct McpTool {
    /// Its name.
    pub name: String,
    /// Its description, if it gave one.
    pub description: Option<String>,
}

/// Starts the stdio server of `config` in `cwd` through `supervisor`, with `env` as a run's environment
/// and the server's own `env` on top, and asks it `initialize` and `tools/list` (newline-delimited
/// JSON-RPC). Never leaves it running: it is killed when the answer came, or at `timeout`.
pub async fn test_stdio(
    supervisor: &dyn ProcessSupervisor,
    config: &Value,
    cwd: &Path,
    env: &[(OsString, OsString)],
    timeout: Duration,
) -> McpTest {
    let fail = |message: String| McpTest { ok: false, server: None, tools: Vec::new(), message };
    let Some(command) = config.get("command").and_then(Value::as_str) else {
        return fail("not a stdio server".into());
    };
    let mut spec = ProcessSpec::new(command).args(strings(config.get("args"))).cwd(cwd).with_stdin();
    spec.env.extend(env.iter().cloned());
    for (key, value) in object(config.get("env")) {
        if let Some(value) = value.as_str() {
            spec = spec.env(key, value);
        }
    }
    let mut child = match supervisor.spawn(spec).await {
        Ok(child) => child,
        Err(err) => return fail(format!("{command} could not be started: {err}")),
    };
    let Some(mut stdin) = child.take_stdin() else { return fail("no stdin".into()) };
    let talk = async {
        let initialize = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
            "protocolVersion":"2025-06-18","capabilities":{},
            "clientInfo":{"name":"opcode-web","version":env!("CARGO_PKG_VERSION")}}});
        // a server that fails at once closes its input: what it said on stderr as it ended says why
        let mut closed =
            stdin.write_line(&initialize.to_string()).await.err().map(|e| format!("it closed its input: {e}"));
        let mut server = None;
        let mut stderr = Vec::new();
        while let Some(event) = child.next_event().await {
            let text = match event {
                ProcessEvent::Line { stream: OutputStream::Stdout, text } => text,
                ProcessEvent::Line { stream: OutputStream::Stderr, text } => {
                    if stderr.len() < 20 {
                        stderr.push(text);
                    }
                    continue;
                }
                ProcessEvent::Exited(status) => {
                    return Err(format!("it ended ({status}) before listing its tools: {}", stderr.join(" / ")));
                }
                _ => continue,
            };
            let Ok(message) = serde_json::from_str::<Value>(&text) else { continue };
            if let Some(error) = message.get("error") {
                return Err(format!("it answered with an error: {error}"));
            }
            match message.get("id").and_then(Value::as_i64) {
                Some(1) => {
                    let info = &message["result"]["serverInfo"];
                    server = info["name"].as_str().map(|n| match info["version"].as_str() {
                        Some(v) => format!("{n} {v}"),
                        None => n.to_owned(),
                    });
                    let ready = json!({"jsonrpc":"2.0","method":"notifications/initialized"});
                    let list = json!({"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}});
                    for line in [ready, list] {
                        if let Err(e) = stdin.write_line(&line.to_string()).await {
                            closed.get_or_insert(format!("it closed its input: {e}"));
                        }
                    }
                }
                Some(2) => {
                    let tools = message["result"]["tools"].as_array().cloned().unwrap_or_default();
                    let tools: Vec<McpTool> = tools
                        .iter()
                        .filter_map(|t| {
                            Some(McpTool {
                                name: t["name"].as_str()?.to_owned(),
                                description: t["description"].as_str().map(str::to_owned),
                            })
                        })
                        .collect();
                    return Ok((server, tools));
                }
                _ => {}
            }
        }
        Err(closed.unwrap_or_else(|| "it ended before listing its tools".to_owned()))
    };
    let outcome = tokio::time::timeout(timeout, talk).await;
    drop(child); // kills its process group
    match outcome {
        Ok(Ok((server, tools))) => {
            let message = format!("started and listed {} tool(s)", tools.len());
            McpTest { ok: true, server, tools, message }
        }
        Ok(Err(message)) => fail(message),
        Err(_) => fail(format!("no answer to initialize and tools/list within {timeout:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_configurations_are_checked_as_the_cli_checks_them() {
        // a leading hyphen is the CLI's too: the name goes after `--`
        for good in ["a", "my-server_2", "-x", &"x".repeat(64)] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "a b", "../x", "é", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        for good in [
            json!({"command":"node","args":["s.js"],"env":{"K":"v"}}),
            json!({"type":"http","url":"https://x/mcp","headers":{"A":"b"}}),
            json!({"type":"sse","url":"http://127.0.0.1:1/sse"}),
        ] {
            assert!(check_config(&good).is_ok(), "{good}");
        }
        for bad in [
            json!([]),
            json!({}),
            json!({"command":""}),
            json!({"type":"http"}),
            json!({"type":"http","url":"file:///etc/passwd"}),
            json!({"type":"carrier-pigeon","url":"https://x"}),
            json!({"command":"x","args":"not a list"}),
            json!({"command":"x","env":{"K":1}}),
        ] {
            assert!(check_config(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_scope_is_listed_from_the_clis_files() {
        let home = tempfile::tempdir().unwrap();
        let project = tempfile::tempdir().unwrap();
        let file = home.path().join(".claude.json");
        let key = project.path().display().to_string();
        std::fs::write(
            &file,
            json!({"mcpServers":{"u":{"type":"stdio","command":"echo","args":["a"],"env":{"K":"v"}}},
                "projects":{key:{"mcpServers":{"l":{"type":"http","url":"http://x/mcp","headers":{"X":"y"}}}}}})
            .to_string(),
        )
        .unwrap();
        std::fs::write(
            project.path().join(".mcp.json"),
            json!({"mcpServers":{"p":{"type":"sse","url":"http://x/sse"}}}).to_string(),
        )
        .unwrap();
        let all = list(&file, Some(project.path())).unwrap();
        let names: Vec<_> = all.iter().map(|s| (s.name.as_str(), s.scope, s.transport.as_str())).collect();
        assert_eq!(
            names,
            [("u", McpScope::User, "stdio"), ("l", McpScope::Local, "http"), ("p", McpScope::Project, "sse")]
        );
        assert_eq!(all[0].args, ["a"]);
        assert_eq!(all[1].headers["X"], "y");
        assert_eq!(list(&file, None).unwrap().len(), 1);
        assert!(list(&home.path().join("none.json"), None).unwrap().is_empty());
        std::fs::write(&file, "[]").unwrap();
        assert!(matches!(list(&file, None), Err(McpError::Unreadable(_))));
    }

    #[test]
    fn the_config_file_follows_claude_config_dir_then_home() {
        let with_dir = [("CLAUDE_CONFIG_DIR".into(), "/c".into()), ("HOME".into(), "/h".into())];
        assert_eq!(config_file(&with_dir), PathBuf::from("/c/.claude.json"));
        let home_only = [("HOME".into(), "/h".into()), ("CLAUDE_CONFIG_DIR".into(), "".into())];
        assert_eq!(config_file(&home_only), PathBuf::from("/h/.claude.json"));
    }

    #[test]
    fn desktop_configs_give_their_servers_each_checked() {
        let desktop =
            json!({"mcpServers":{"fs":{"command":"npx","args":["-y","x"]},"bad name":{"command":"x"},"broken":{}}});
        let servers = desktop_servers(&desktop).unwrap();
        let ok: Vec<_> = servers.iter().filter(|(_, c)| c.is_ok()).map(|(n, _)| n.as_str()).collect();
        assert_eq!(ok, ["fs"]);
        assert_eq!(servers.iter().find(|(n, _)| n == "fs").unwrap().1.as_ref().unwrap()["type"], "stdio");
        assert!(desktop_servers(&json!({"other":1})).is_err());
    }
}
