//! The echo fixture is a correct MCP stdio server: the lead's end-to-end tests rely on it.
//! Runs it with the real `node`.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::{Value, json};

struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Server {
    fn start(prefix: Option<&str>) -> Server {
        let mut command = Command::new("node");
        command
            .arg(common::fixture("echo-server").join("index.js"))
            .env("ECHO_SECRET_TOKEN", "test-token")
            .env_remove("ECHO_PREFIX")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(prefix) = prefix {
            command.env("ECHO_PREFIX", prefix);
        }
        let mut child = command.spawn().expect("node runs");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Server {
            child,
            stdin,
            stdout,
        }
    }

    fn send(&mut self, message: &Value) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        writeln!(stdin, "{message}").unwrap();
        stdin.flush().unwrap();
    }

    fn receive(&mut self) -> Value {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
    }

    fn request(&mut self, id: u64, method: &str, params: Value) -> Value {
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let response = self.receive();
        assert_eq!(response["id"], id);
        assert_eq!(response["jsonrpc"], "2.0");
        response
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn speaks_mcp_over_stdio() {
    let mut server = Server::start(Some("> "));
    let init = server.request(1, "initialize", json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}));
    assert_eq!(init["result"]["protocolVersion"], "2025-06-18");
    assert_eq!(init["result"]["capabilities"], json!({"tools": {}}));
    assert_eq!(init["result"]["serverInfo"]["name"], "catwalk-echo");
    // A notification gets no answer: the next line read is the ping's response.
    server.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    assert_eq!(server.request(2, "ping", json!({}))["result"], json!({}));
    let tools = server.request(3, "tools/list", json!({}));
    let list = tools["result"]["tools"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["name"], "echo");
    let call = server.request(
        4,
        "tools/call",
        json!({"name": "echo", "arguments": {"text": "hello"}}),
    );
    assert_eq!(
        call["result"]["content"][0],
        json!({"type": "text", "text": "> hello"})
    );
    assert_eq!(call["result"]["isError"], false);
    let unknown_tool = server.request(5, "tools/call", json!({"name": "nope", "arguments": {}}));
    assert_eq!(unknown_tool["error"]["code"], -32602);
    let unknown_method = server.request(6, "resources/list", json!({}));
    assert_eq!(unknown_method["error"]["code"], -32601);
}

#[test]
fn negotiates_every_supported_protocol_version() {
    let mut server = Server::start(None);
    for (id, version) in ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"]
        .into_iter()
        .enumerate()
    {
        let init = server.request(id as u64, "initialize", json!({"protocolVersion": version}));
        assert_eq!(init["result"]["protocolVersion"], version);
    }
    let other = server.request(9, "initialize", json!({"protocolVersion": "1999-01-01"}));
    assert_eq!(other["result"]["protocolVersion"], "2025-11-25");
    let call = server.request(
        10,
        "tools/call",
        json!({"name": "echo", "arguments": {"text": "plain"}}),
    );
    assert_eq!(call["result"]["content"][0]["text"], "plain");
}

#[test]
fn refuses_to_start_without_its_token() {
    let out = Command::new("node")
        .arg(common::fixture("echo-server").join("index.js"))
        .env_remove("ECHO_SECRET_TOKEN")
        .stdin(Stdio::null())
        .output()
        .expect("node runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ECHO_SECRET_TOKEN"));
    assert!(out.stdout.is_empty());
}

#[test]
fn exits_when_stdin_closes() {
    let mut server = Server::start(None);
    server.send(&json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}));
    // Closing stdin right after a request: the answer still arrives, then the server exits.
    server.stdin = None;
    assert_eq!(server.receive()["result"], json!({}));
    let status = server.child.wait().unwrap();
    assert!(status.success());
}
