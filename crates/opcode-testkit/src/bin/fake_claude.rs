//! `fake-claude`: a stand-in for the Claude Code CLI in tests. Speaks stream-json shaped like the genuine
//! CLI's (`crates/opcode-testkit/fixtures/claude-cli/execute.jsonl`) and misbehaves on demand.
//!
//! Flags understood, as the real CLI: `-p` (print mode; the prompt is the positional argument, and after
//! `--` nothing is a flag), `--version` (prints `0.0.0-fake (Claude Code)` and exits, as the real CLI does
//! even when it was meant as a prompt), `--session-id ID`, `--resume ID`, `-c`, `--model M`,
//! `--output-format stream-json`, `--verbose`, `--fork-session` and `--resume-session-at M` (ignored: a fork
//! writes a transcript of its own `--session-id`), `--include-partial-messages`, permission flags,
//! `--append-system-prompt TEXT`, `--allowedTools T…` / `--disallowedTools T…` (variadic, as the CLI's:
//! values up to the next flag) — ignored, but every `system`/`init` line carries `argv`, the arguments the
//! fake received, so tests can check what claude was asked to do.
//! It keeps transcripts as the real CLI does, under `$CLAUDE_CONFIG_DIR` or `$HOME/.claude`
//! (`projects/<cwd with non-alphanumerics as ->/<session id>.jsonl`), so `-c` and `--resume` find earlier
//! turns and the history endpoints have something to read.
//!
//! Directives are words in the prompt (they are removed from the echoed text):
//! `@lines=N` N assistant lines, `@delay=MS` pause between lines, `@stderr=N` N stderr lines,
//! `@stderr-flood=BYTES` that much stderr before any stdout, `@flood=N` N fast 1 KiB lines,
//! `@huge=BYTES` one stdout line that long, `@nonjson` a plain-text line, `@badutf8` a line of invalid
//! UTF-8, `@no-newline` last line without `\n`, `@exit=CODE`, `@ignore-term` ignore SIGTERM,
//! `@grandchild` spawn a grandchild that sleeps holding stdout, `@pidfile=PATH` write own (and the
//! grandchild's) pid there, `@hang` never finish, `@partial` emit `stream_event` deltas, `@tool` a Bash
//! tool_use and its tool_result, `@write=PATH` write `fake claude wrote PATH` into that file (relative to
//! the working directory; as an edit would, in either mode).
//!
//! `mcp add-json|remove|get [--scope user|project|local] [--] NAME [JSON]`: the genuine CLI's MCP commands,
//! reduced: they edit the same files (`~/.claude.json` `mcpServers` and `projects.<cwd>.mcpServers`,
//! `<cwd>/.mcp.json`); `get` says the server failed to connect.
//!
//! `@stall-stdin=PATH` (live mode): stops reading stdin until PATH exists, then sends a control request
//! opcode-web does not handle, then goes on with the turn (which interrupts do not stop).
//!
//! Live mode (`--input-format stream-json`, as with `--permission-prompt-tool stdio`): reads JSON lines on
//! stdin; answers `initialize`, `interrupt`, `set_model` and `set_permission_mode` control requests (the
//! next turn's init line names the model and mode set; an unknown mode is answered with an error); each
//! `user` message is a turn (same
//! directives); `@tool` then asks `can_use_tool` for a Bash call and waits for the `control_response`:
//! allow runs it (creates `tool-ran.txt` in the working directory), deny reports the message as an error
//! tool_result. An interrupt stops the turn's remaining lines. Closing stdin ends the process (exit 0).
//! A user message whose content is blocks (a prompt with images) is read as its text blocks; the reply
//! names the images' media types (`Echo: look [images: image/png] (turn 1)`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

/// What `fake-claude --version` prints before ` (Claude Code)`.
const FAKE_VERSION: &str = "0.0.0-fake";

#[derive(Default)]
struct Args {
    prompt: String,
    session_id: Option<String>,
    resume: Option<String>,
    continue_latest: bool,
    model: Option<String>,
    partial: bool,
    live: bool,
}

#[derive(Default)]
struct Directives {
    /// Live mode: stop reading stdin until this file exists; meanwhile print a `stalled` line, then (once
    /// it exists) a control request opcode-web does not handle, then the turn's lines.
    stall_stdin: Option<PathBuf>,
    lines: Option<u64>,
    delay_ms: u64,
    stderr: u64,
    stderr_flood: usize,
    flood: u64,
    huge: usize,
    nonjson: bool,
    badutf8: bool,
    no_newline: bool,
    exit: i32,
    ignore_term: bool,
    grandchild: bool,
    pidfile: Option<PathBuf>,
    hang: bool,
    partial: bool,
    tool: bool,
    /// Files (relative to the working directory) to write `fake claude wrote <name>` into, as an edit would.
    write: Vec<PathBuf>,
    text: String,
}

/// Carries out `@write=PATH` directives: what an Edit tool call of the real CLI does to the project.
fn write_files(d: &Directives, cwd: &Path) {
    for path in &d.write {
        let file = cwd.join(path);
        if let Some(dir) = file.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = std::fs::write(&file, format!("fake claude wrote {}\n", path.display()));
    }
}

/// The arguments this process received (after the program name), for the `init` line's `argv`.
fn argv() -> Vec<String> {
    std::env::args().skip(1).collect()
}

fn parse_args() -> Args {
    let mut args = Args::default();
    let mut it = std::env::args().skip(1).peekable();
    let mut positional = Vec::new();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--" => {
                positional.extend(it.by_ref());
                break;
            }
            "-p" | "--print" => {}
            "--version" | "-v" => {
                // the genuine CLI's format: `<semver> (Claude Code)`
                println!("{FAKE_VERSION} (Claude Code)");
                std::process::exit(0);
            }
            "--session-id" => args.session_id = it.next(),
            "--resume" | "-r" => args.resume = it.next(),
            "-c" | "--continue" => args.continue_latest = true,
            "--model" => args.model = it.next(),
            "--include-partial-messages" => args.partial = true,
            "--input-format" => args.live = it.next().as_deref() == Some("stream-json"),
            "--permission-mode"
            | "--output-format"
            | "--permission-prompt-tool"
            | "--append-system-prompt"
            | "--resume-session-at" => {
                it.next();
            }
            "--allowedTools" | "--disallowedTools" => {
                // variadic: every value up to the next flag (or `--`)
                while it.peek().is_some_and(|next| !next.starts_with('-')) {
                    it.next();
                }
            }
            flag if flag.starts_with('-') => {}
            _ => positional.push(arg),
        }
    }
    args.prompt = positional.join(" ");
    args
}

fn parse_directives(prompt: &str) -> Directives {
    let mut d = Directives::default();
    let mut words = Vec::new();
    for word in prompt.split_whitespace() {
        let (key, value) = word.split_once('=').unwrap_or((word, ""));
        let num = || value.parse::<u64>().unwrap_or(0);
        match key {
            "@lines" => d.lines = Some(num()),
            "@delay" => d.delay_ms = num(),
            "@stderr" => d.stderr = num(),
            "@stderr-flood" => d.stderr_flood = num() as usize,
            "@flood" => d.flood = num(),
            "@huge" => d.huge = num() as usize,
            "@nonjson" => d.nonjson = true,
            "@badutf8" => d.badutf8 = true,
            "@no-newline" => d.no_newline = true,
            "@exit" => d.exit = value.parse().unwrap_or(1),
            "@ignore-term" => d.ignore_term = true,
            "@grandchild" => d.grandchild = true,
            "@pidfile" => d.pidfile = Some(PathBuf::from(value)),
            "@hang" => d.hang = true,
            "@partial" => d.partial = true,
            "@tool" => d.tool = true,
            "@stall-stdin" => d.stall_stdin = Some(PathBuf::from(value)),
            "@write" => d.write.push(PathBuf::from(value)),
            _ => words.push(word),
        }
    }
    d.text = words.join(" ");
    d
}

fn claude_dir() -> PathBuf {
    match std::env::var_os("CLAUDE_CONFIG_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into())).join(".claude"),
    }
}

fn project_folder(cwd: &Path) -> PathBuf {
    claude_dir().join("projects").join(opcode_testkit::project_dir_name(cwd))
}

fn latest_session(folder: &Path) -> Option<String> {
    std::fs::read_dir(folder)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "jsonl"))
        .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())
        .and_then(|e| e.path().file_stem().map(|s| s.to_string_lossy().into_owned()))
}

struct Out {
    stdout: std::io::Stdout,
    delay: Duration,
}

impl Out {
    fn line(&mut self, value: &Value) {
        self.raw(value.to_string().as_bytes(), true);
    }

    fn raw(&mut self, bytes: &[u8], newline: bool) {
        let mut lock = self.stdout.lock();
        // a closed stdout ends the program like a real CLI would
        if lock.write_all(bytes).is_err() || (newline && lock.write_all(b"\n").is_err()) || lock.flush().is_err() {
            std::process::exit(141);
        }
        drop(lock);
        if !self.delay.is_zero() {
            std::thread::sleep(self.delay);
        }
    }
}

fn assistant(session_id: &str, content: Value) -> Value {
    json!({"type":"assistant","message":{"id":format!("msg_{}", uuid::Uuid::new_v4().simple()),"type":"message",
        "role":"assistant","model":"claude-fake-1","content":content,"stop_reason":null,"stop_sequence":null,
        "usage":{"input_tokens":10,"output_tokens":5}},"parent_tool_use_id":null,"session_id":session_id,
        "uuid":uuid::Uuid::new_v4().to_string()})
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("--sleeper") {
        // the grandchild: hold the inherited stdout open and wait to be killed
        std::thread::sleep(Duration::from_secs(3600));
        return;
    }
    if std::env::args().nth(1).as_deref() == Some("mcp") {
        mcp::run(std::env::args().skip(2).collect());
        return;
    }
    let args = parse_args();
    if args.live {
        live::run(&args);
        return;
    }
    let d = parse_directives(&args.prompt);
    if d.ignore_term {
        // registering a handler replaces the default action: SIGTERM no longer ends the process
        let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let _ = signal_hook::flag::register(signal_hook::consts::SIGTERM, flag);
    }
    let mut pids = vec![std::process::id()];
    let mut grandchild = None;
    if d.grandchild {
        #[allow(clippy::disallowed_methods)]
        let child = std::process::Command::new(std::env::current_exe().expect("own path")).arg("--sleeper").spawn();
        if let Ok(child) = child {
            pids.push(child.id());
            grandchild = Some(child);
        }
    }
    if let Some(pidfile) = &d.pidfile {
        let text: String = pids.iter().map(|p| format!("{p}\n")).collect();
        let _ = std::fs::write(pidfile, text);
    }

    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let folder = project_folder(&cwd);
    if let Some(id) = &args.session_id {
        if uuid::Uuid::parse_str(id).is_err() {
            eprintln!("Error: Invalid session ID. Must be a valid UUID.");
            std::process::exit(1);
        }
    }
    let mut out = Out { stdout: std::io::stdout(), delay: Duration::ZERO };
    let session_id = match (&args.session_id, &args.resume, args.continue_latest) {
        (Some(id), _, _) => id.clone(),
        (None, Some(id), _) => {
            if !folder.join(format!("{id}.jsonl")).exists() {
                out.line(&json!({"type":"result","subtype":"error_during_execution","duration_ms":0,"is_error":true,
                    "num_turns":0,"session_id":id,"total_cost_usd":0}));
                eprintln!("No conversation found with session ID: {id}");
                std::process::exit(1);
            }
            id.clone()
        }
        (None, None, true) => latest_session(&folder).unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        _ => uuid::Uuid::new_v4().to_string(),
    };
    let transcript = folder.join(format!("{session_id}.jsonl"));
    let earlier_turns = std::fs::read_to_string(&transcript)
        .map(|t| t.lines().filter(|l| l.contains("\"type\":\"user\"")).count())
        .unwrap_or(0);
    let turn = earlier_turns + 1;

    for i in 0..d.stderr {
        eprintln!("fake stderr {i}");
    }
    if d.stderr_flood > 0 {
        let chunk = "e".repeat(1023) + "\n";
        let mut written = 0;
        let mut err = std::io::stderr().lock();
        while written < d.stderr_flood {
            if err.write_all(chunk.as_bytes()).is_err() {
                break;
            }
            written += chunk.len();
        }
    }

    let model = args.model.clone().unwrap_or_else(|| "claude-fake-1".into());
    out.line(
        &json!({"type":"system","subtype":"init","cwd":cwd,"session_id":session_id,"tools":["Bash","Edit","Read"],
        "mcp_servers":[],"model":model,"permissionMode":"default","apiKeySource":"none","claude_code_version":"fake",
        "uuid":uuid::Uuid::new_v4().to_string(),"argv":argv()}),
    );
    out.delay = Duration::from_millis(d.delay_ms);
    write_files(&d, &cwd);

    let reply = format!("Echo: {} (turn {turn})", d.text);
    if args.partial || d.partial {
        out.line(&json!({"type":"stream_event","event":{"type":"message_start","message":{"id":"msg_partial","type":"message","role":"assistant","content":[]}},"session_id":session_id,"parent_tool_use_id":null,"uuid":uuid::Uuid::new_v4().to_string()}));
        out.line(&json!({"type":"stream_event","event":{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}},"session_id":session_id,"parent_tool_use_id":null,"uuid":uuid::Uuid::new_v4().to_string()}));
        for word in reply.split_inclusive(' ') {
            out.line(&json!({"type":"stream_event","event":{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":word}},"session_id":session_id,"parent_tool_use_id":null,"uuid":uuid::Uuid::new_v4().to_string()}));
        }
        out.line(&json!({"type":"stream_event","event":{"type":"content_block_stop","index":0},"session_id":session_id,"parent_tool_use_id":null,"uuid":uuid::Uuid::new_v4().to_string()}));
    }
    match d.lines {
        Some(n) => {
            for i in 0..n {
                out.line(&assistant(&session_id, json!([{"type":"text","text":format!("line {i}")}])));
            }
        }
        None => out.line(&assistant(&session_id, json!([{"type":"text","text":reply}]))),
    }
    if d.tool {
        out.line(&assistant(&session_id, json!([{"type":"tool_use","id":"toolu_fake","name":"Bash","input":{"command":"echo hi","description":"say hi"}}])));
        out.line(&json!({"type":"user","message":{"role":"user","content":[{"tool_use_id":"toolu_fake","type":"tool_result","content":"hi","is_error":false}]},"parent_tool_use_id":null,"session_id":session_id,"uuid":uuid::Uuid::new_v4().to_string()}));
    }
    if d.flood > 0 {
        let padding = "x".repeat(900);
        for i in 0..d.flood {
            out.line(&assistant(&session_id, json!([{"type":"text","text":format!("flood {i} {padding}")}])));
        }
    }
    if d.huge > 0 {
        let mut line = b"{\"type\":\"assistant\",\"huge\":\"".to_vec();
        line.resize(d.huge.saturating_sub(2).max(line.len()), b'h');
        line.extend_from_slice(b"\"}");
        out.raw(&line, true);
    }
    if d.nonjson {
        out.raw(b"this line is not json", true);
    }
    if d.badutf8 {
        out.raw(b"bad \xff\xfe utf8", true);
    }

    // the transcript, as the real CLI keeps it (before the result line, which ends the turn)
    if std::fs::create_dir_all(&folder).is_ok() {
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&transcript).ok();
        if let Some(file) = file.as_mut() {
            let now = "2026-11-29T00:00:00.000Z";
            let user = json!({"type":"user","message":{"role":"user","content":args.prompt},"sessionId":session_id,"cwd":cwd,"timestamp":now,"uuid":uuid::Uuid::new_v4().to_string()});
            let reply = json!({"type":"assistant","message":{"role":"assistant","content":[{"type":"text","text":reply}]},"sessionId":session_id,"cwd":cwd,"timestamp":now,"uuid":uuid::Uuid::new_v4().to_string()});
            let _ = writeln!(file, "{user}\n{reply}");
        }
    }

    if d.hang {
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
    let result = json!({"type":"result","subtype": if d.exit == 0 {"success"} else {"error_during_execution"},
        "is_error": d.exit != 0,"duration_ms":12,"duration_api_ms":10,"num_turns":1,"result":reply,"session_id":session_id,
        "total_cost_usd":0.0001,"usage":{"input_tokens":10,"output_tokens":5}});
    out.delay = Duration::ZERO;
    out.raw(result.to_string().as_bytes(), !d.no_newline);
    if d.ignore_term {
        // a child that ignores SIGTERM and does not finish: only SIGKILL ends it
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
    drop(grandchild);
    std::process::exit(d.exit);
}

/// Live mode: one process, many turns, permissions asked on stdout and answered on stdin.
mod live {
    use std::io::BufRead;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::mpsc;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use serde_json::{json, Value};

    use super::{assistant, parse_directives, project_folder, write_files, Args, Out};

    fn print(value: &Value) {
        Out { stdout: std::io::stdout(), delay: Duration::ZERO }.line(value);
    }

    pub(super) fn run(args: &Args) {
        let session_id =
            args.session_id.clone().or_else(|| args.resume.clone()).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let cwd = std::env::current_dir().unwrap_or_else(|_| "/".into());
        let interrupted = Arc::new(AtomicBool::new(false));
        let first_model = args.model.clone().unwrap_or_else(|| "claude-fake-1".into());
        let settings = Arc::new(Mutex::new((first_model.clone(), "default".to_owned())));
        let (tx, rx) = mpsc::channel::<Value>();
        let flag = interrupted.clone();
        let set = settings.clone();
        // the reader answers control requests at once, even while a turn is printing
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                let Ok(msg) = serde_json::from_str::<Value>(&line) else { continue };
                if msg["type"] == "control_request" {
                    let subtype = msg["request"]["subtype"].as_str().unwrap_or_default();
                    if subtype == "interrupt" {
                        flag.store(true, Ordering::SeqCst);
                    }
                    let mut current = set.lock().unwrap_or_else(|e| e.into_inner());
                    if subtype == "set_model" {
                        current.0 = match msg["request"]["model"].as_str() {
                            None | Some("default") => first_model.clone(),
                            Some(model) => model.to_owned(),
                        };
                    }
                    if subtype == "set_permission_mode" {
                        let mode = msg["request"]["mode"].as_str().unwrap_or_default();
                        if !["default", "acceptEdits", "plan", "bypassPermissions"].contains(&mode) {
                            print(&json!({"type":"control_response","response":{"subtype":"error",
                                "request_id":msg["request_id"],"error":format!("invalid_mode: {mode}")}}));
                            continue;
                        }
                        mode.clone_into(&mut current.1);
                    }
                    drop(current);
                    print(&json!({"type":"control_response","response":{"subtype":"success",
                        "request_id":msg["request_id"],"response":{}}}));
                    continue;
                }
                let stall = parse_directives(&content_text(&msg["message"]["content"]).0).stall_stdin;
                if tx.send(msg).is_err() {
                    break;
                }
                if let Some(until) = stall {
                    wait_for(&until);
                }
            }
        });
        let folder = project_folder(&cwd);
        let _ = std::fs::create_dir_all(&folder);
        let mut turn = 0;
        while let Ok(msg) = rx.recv() {
            if msg["type"] != "user" {
                continue;
            }
            turn += 1;
            interrupted.store(false, Ordering::SeqCst);
            let (prompt, images) = content_text(&msg["message"]["content"]);
            let d = parse_directives(&prompt);
            let mut out = Out { stdout: std::io::stdout(), delay: Duration::ZERO };
            let (model, mode) = settings.lock().unwrap_or_else(|e| e.into_inner()).clone();
            out.line(&json!({"type":"system","subtype":"init","cwd":cwd,"session_id":session_id,"tools":["Bash"],
                "model":model,"permissionMode":mode,"argv":super::argv()}));
            out.delay = Duration::from_millis(d.delay_ms);
            write_files(&d, &cwd);
            if d.exit != 0 {
                // claude dies in the middle of a live session
                std::process::exit(d.exit);
            }
            if d.tool {
                ask_tool(&mut out, &session_id, &rx, &cwd);
            }
            if let Some(until) = &d.stall_stdin {
                out.line(&assistant(&session_id, json!([{"type":"text","text":"stalled"}])));
                wait_for(until);
                out.line(&json!({"type":"control_request","request_id":"mcp-1","request":{"subtype":"mcp_message",
                    "server_name":"x","message":{}}}));
            }
            let mut stopped = false;
            for i in 0..d.lines.unwrap_or(0) {
                // a stalled turn's interrupts only fill the pipe (the test's way to stall claude's input)
                if interrupted.load(Ordering::SeqCst) && d.stall_stdin.is_none() {
                    stopped = true;
                    break;
                }
                out.line(&assistant(&session_id, json!([{"type":"text","text":format!("line {i}")}])));
            }
            let seen = if images.is_empty() { String::new() } else { format!(" [images: {}]", images.join(", ")) };
            let reply = format!("Echo: {}{seen} (turn {turn})", d.text);
            if !stopped {
                out.line(&assistant(&session_id, json!([{"type":"text","text":reply}])));
            }
            out.delay = Duration::ZERO;
            out.line(&json!({"type":"result","subtype": if stopped {"error_during_execution"} else {"success"},
                "is_error": stopped,"duration_ms":5,"num_turns":1,"result":reply,"session_id":session_id,
                "total_cost_usd":0.0001,"usage":{"input_tokens":10,"output_tokens":5}}));
        }
    }

    /// A user message's text (a string, or its `text` blocks joined) and the media types of its `image`
    /// blocks (content blocks, as opcode-web sends a prompt with images).
    fn content_text(content: &Value) -> (String, Vec<String>) {
        match content {
            Value::Array(blocks) => {
                let text = blocks.iter().filter(|b| b["type"] == "text").filter_map(|b| b["text"].as_str()).collect();
                let images = blocks
                    .iter()
                    .filter(|b| b["type"] == "image")
                    .map(|b| b["source"]["media_type"].as_str().unwrap_or("?").to_owned())
                    .collect();
                (text, images)
            }
            other => (other.as_str().unwrap_or_default().to_owned(), Vec::new()),
        }
    }

    /// Waits (polling: a fixture, not a test) until `path` exists.
    fn wait_for(path: &std::path::Path) {
        while !path.exists() {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The rule the fake proposes for its Bash call, as the real CLI writes it into settings.
    const RULE: &str = "Bash(echo hi *)";

    /// Whether the project's `.claude/settings.local.json` allows the fake's Bash call already.
    fn remembered(cwd: &std::path::Path) -> bool {
        let text = std::fs::read_to_string(cwd.join(".claude/settings.local.json")).unwrap_or_default();
        let settings: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        settings["permissions"]["allow"].as_array().is_some_and(|rules| rules.iter().any(|r| r == RULE))
    }

    /// Keeps the `addRules` updates of an answer in the project's local settings, as the real CLI does.
    fn remember(cwd: &std::path::Path, updates: &Value) {
        let Some(updates) = updates.as_array() else { return };
        let path = cwd.join(".claude/settings.local.json");
        let mut settings: Value =
            std::fs::read_to_string(&path).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or(json!({}));
        for update in updates.iter().filter(|u| u["type"] == "addRules" && u["destination"] == "localSettings") {
            for rule in update["rules"].as_array().into_iter().flatten() {
                let text = match rule["ruleContent"].as_str() {
                    Some(content) => format!("{}({content})", rule["toolName"].as_str().unwrap_or_default()),
                    None => rule["toolName"].as_str().unwrap_or_default().to_owned(),
                };
                let allow = &mut settings["permissions"]["allow"];
                if !allow.is_array() {
                    *allow = json!([]);
                }
                allow.as_array_mut().expect("an array").push(text.into());
            }
        }
        let _ = std::fs::create_dir_all(cwd.join(".claude"));
        let _ = std::fs::write(&path, serde_json::to_string_pretty(&settings).unwrap_or_default());
    }

    /// Asks for a Bash call and waits for the answer, unless a remembered rule allows it.
    fn ask_tool(out: &mut Out, session_id: &str, rx: &mpsc::Receiver<Value>, cwd: &std::path::Path) {
        let input = json!({"command":"echo hi > tool-ran.txt","description":"write a file"});
        out.line(&assistant(session_id, json!([{"type":"tool_use","id":"toolu_live","name":"Bash","input":input}])));
        if remembered(cwd) {
            let _ = std::fs::write(cwd.join("tool-ran.txt"), "hi\n");
            let result = json!({"tool_use_id":"toolu_live","type":"tool_result","content":"ran","is_error":false});
            out.line(&json!({"type":"user","message":{"role":"user","content":[result]},"session_id":session_id}));
            return;
        }
        let request_id = uuid::Uuid::new_v4().to_string();
        out.line(&json!({"type":"control_request","request_id":request_id,"request":{"subtype":"can_use_tool",
            "tool_name":"Bash","display_name":"Bash","input":input,"description":"write a file","tool_use_id":"toolu_live",
            "permission_suggestions":[{"type":"addRules","rules":[{"toolName":"Bash","ruleContent":"echo hi *"}],
                "behavior":"allow","destination":"localSettings"}]}}));
        let answer = loop {
            match rx.recv() {
                Ok(msg)
                    if msg["type"] == "control_response" && msg["response"]["request_id"] == request_id.as_str() =>
                {
                    break msg["response"]["response"].clone();
                }
                Ok(_) => continue,
                Err(_) => std::process::exit(0),
            }
        };
        let result = if answer["behavior"] == "allow" {
            remember(cwd, &answer["updatedPermissions"]);
            let _ = std::fs::write(cwd.join("tool-ran.txt"), "hi\n");
            json!({"tool_use_id":"toolu_live","type":"tool_result","content":"ran","is_error":false})
        } else {
            let message = answer["message"].as_str().unwrap_or("denied").to_owned();
            json!({"tool_use_id":"toolu_live","type":"tool_result","content":message,"is_error":true})
        };
        out.line(&json!({"type":"user","message":{"role":"user","content":[result]},"session_id":session_id}));
    }
}

/// `fake-claude mcp …`: the genuine CLI's MCP commands on the same files, without their checks.
mod mcp {
    use serde_json::{json, Map, Value};
    use std::path::PathBuf;

    fn config_file() -> PathBuf {
        match std::env::var_os("CLAUDE_CONFIG_DIR").filter(|d| !d.is_empty()) {
            Some(dir) => PathBuf::from(dir).join(".claude.json"),
            None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".claude.json"),
        }
    }

    fn fail(message: &str) -> ! {
        eprintln!("{message}");
        std::process::exit(1);
    }

    fn load(path: &PathBuf) -> Map<String, Value> {
        std::fs::read(path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
    }

    /// The file and the JSON pointer of the scope's `mcpServers`.
    fn section(scope: &str) -> (PathBuf, Vec<String>) {
        let cwd = std::env::current_dir().unwrap_or_default().display().to_string();
        match scope {
            "user" => (config_file(), vec!["mcpServers".into()]),
            "project" => (PathBuf::from(".mcp.json"), vec!["mcpServers".into()]),
            _ => (config_file(), vec!["projects".into(), cwd, "mcpServers".into()]),
        }
    }

    fn servers<'a>(root: &'a mut Map<String, Value>, keys: &[String]) -> &'a mut Map<String, Value> {
        let mut map = root;
        for key in keys {
            let entry = map.entry(key.clone()).or_insert_with(|| json!({}));
            map = entry.as_object_mut().unwrap_or_else(|| fail("not an object"));
        }
        map
    }

    pub(super) fn run(args: Vec<String>) {
        let mut scope = None;
        let mut positional = Vec::new();
        let mut it = args.into_iter();
        let command = it.next().unwrap_or_default();
        while let Some(arg) = it.next() {
            match arg.as_str() {
                "--" => positional.extend(it.by_ref()),
                "-s" | "--scope" => scope = it.next(),
                _ => positional.push(arg),
            }
        }
        let name = positional.first().cloned().unwrap_or_else(|| fail("error: missing required argument 'name'"));
        match command.as_str() {
            "add-json" => {
                let scope = scope.unwrap_or_else(|| "local".into());
                let config: Value = positional
                    .get(1)
                    .and_then(|j| serde_json::from_str(j).ok())
                    .unwrap_or_else(|| fail("Error: Invalid JSON"));
                let (file, keys) = section(&scope);
                let mut root = load(&file);
                let list = servers(&mut root, &keys);
                if list.contains_key(&name) {
                    fail(&format!("MCP server {name} already exists in {scope} config"));
                }
                list.insert(name.clone(), config);
                let text = serde_json::to_string_pretty(&Value::Object(root)).unwrap_or_default();
                std::fs::write(&file, text).unwrap_or_else(|e| fail(&format!("write {}: {e}", file.display())));
                println!("Added MCP server {name} to {scope} config");
            }
            "remove" => {
                for scope in scope.map_or_else(|| vec!["local".into(), "project".into(), "user".into()], |s| vec![s]) {
                    let (file, keys) = section(&scope);
                    let mut root = load(&file);
                    if servers(&mut root, &keys).remove(&name).is_some() {
                        let text = serde_json::to_string_pretty(&Value::Object(root)).unwrap_or_default();
                        std::fs::write(&file, text).unwrap_or_else(|e| fail(&format!("write: {e}")));
                        println!("Removed MCP server {name} from {scope} config");
                        return;
                    }
                }
                fail(&format!("No MCP server named \"{name}\"."));
            }
            "get" => println!("{name}:\n  Status: ✘ Failed to connect (fake-claude connects to nothing)"),
            other => fail(&format!("error: unknown command '{other}'")),
        }
    }
}
