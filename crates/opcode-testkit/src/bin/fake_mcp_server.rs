//! `fake-mcp-server`: the smallest MCP stdio server, for testing "test a server" without the network.
//! Reads newline-delimited JSON-RPC on stdin: answers `initialize` (server `fake-mcp 1.0.0`) and
//! `tools/list` (one tool `echo`, plus one per `--tool NAME` argument), ignores notifications, answers
//! anything else with a "method not found" error. `--fail` exits with code 3 before reading anything
//! (a server that does not start). Ends when stdin closes.

use std::io::{BufRead, Write};

use serde_json::{json, Value};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--fail") {
        eprintln!("fake-mcp-server: asked to fail");
        std::process::exit(3);
    }
    let mut tools = vec![json!({"name":"echo","description":"Echoes its text","inputSchema":{"type":"object"}})];
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if arg == "--tool" {
            if let Some(name) = rest.next() {
                tools.push(json!({"name":name,"inputSchema":{"type":"object"}}));
            }
        }
    }
    let stdout = std::io::stdout();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let Ok(message) = serde_json::from_str::<Value>(&line) else { continue };
        let Some(id) = message.get("id").cloned() else { continue }; // a notification
        let answer = match message["method"].as_str() {
            Some("initialize") => json!({"jsonrpc":"2.0","id":id,"result":{
                "protocolVersion": message["params"]["protocolVersion"].clone(),
                "capabilities":{"tools":{}},"serverInfo":{"name":"fake-mcp","version":"1.0.0"}}}),
            Some("tools/list") => json!({"jsonrpc":"2.0","id":id,"result":{"tools":tools}}),
            _ => json!({"jsonrpc":"2.0","id":id,"error":{"code":-32601,"message":"method not found"}}),
        };
        let mut out = stdout.lock();
        if writeln!(out, "{answer}").and_then(|()| out.flush()).is_err() {
            break;
        }
    }
}
