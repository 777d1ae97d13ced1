//! The audit trail: tool calls (arguments only when the owner turns that on, with the
//! deployment's secrets redacted) and changes made through the API, each in its owner's trail.

use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use serde_json::{Value, json};

use crate::harness::{self, Catwalk, StoreKind, unique_secret};

fn audit(catwalk: &Catwalk, token: &str, query: &str) -> (u16, Value) {
    let response = Client::new()
        .get(format!("{}/api/audit?{query}", catwalk.url))
        .bearer_auth(token)
        .send()
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}

/// Waits until the trail holds a row matching `wanted` (rows are written in the background).
fn wait_for_row(
    catwalk: &Catwalk,
    token: &str,
    query: &str,
    wanted: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, rows) = audit(catwalk, token, query);
        if let Some(row) = rows
            .as_array()
            .and_then(|rows| rows.iter().find(|r| wanted(r)))
        {
            return row.clone();
        }
        assert!(Instant::now() < deadline, "no such row in {rows}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// An MCP session that calls tools: initialize, then tools/call as JSON.
fn call_echo(endpoint: &str, token: &str, text: &str) -> Value {
    let http = Client::new();
    let post = |session: Option<&str>, body: Value| {
        let mut request = http
            .post(endpoint)
            .bearer_auth(token)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .json(&body);
        if let Some(session) = session {
            request = request.header("mcp-session-id", session);
        }
        request.send().unwrap()
    };
    let init = post(
        None,
        json!({
            "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": "audit-test", "version": "1"}}
        }),
    );
    let session = init.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string();
    let answer = post(
        Some(&session),
        json!({
            "jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": {"name": "echo", "arguments": {"text": text}}
        }),
    );
    assert_eq!(answer.status(), 200);
    let body = answer.text().unwrap();
    let json_line = body
        .lines()
        .find_map(|line| line.strip_prefix("data: "))
        .unwrap_or(&body)
        .to_string();
    serde_json::from_str(&json_line).unwrap()
}

pub fn the_audit_trail_records_calls_and_changes(kind: StoreKind) {
    let catwalk = Catwalk::start(kind);
    let admin = catwalk.admin_token();
    let fixture = harness::repo().join("crates/analyze/tests/fixtures/echo-server");
    let secret = unique_secret("echo-secret");
    let (endpoint, token) = catwalk.deploy(
        fixture.to_str().unwrap(),
        "audited",
        &[("ECHO_SECRET_TOKEN", &secret)],
    );

    // A call without argument recording: who, what, outcome, duration; no arguments.
    let answer = call_echo(&endpoint, &token, "private words");
    assert!(answer.to_string().contains("private words"), "{answer}");
    let row = wait_for_row(&catwalk, &admin, "deployment=audited", |r| {
        r["kind"] == "tool_call"
    });
    assert_eq!(row["actor"], "token default", "{row}");
    assert_eq!(row["action"], "echo");
    assert_eq!(row["outcome"], "ok");
    assert!(row["duration_ms"].as_i64().unwrap() >= 0);
    assert!(row["arguments"].is_null(), "{row}");
    let creation = wait_for_row(&catwalk, &admin, "", |r| {
        r["action"] == "POST /api/deployments" && r["kind"] == "api"
    });
    assert_eq!(creation["outcome"], "201 Created", "{creation}");
    assert!(
        creation["actor"]
            .as_str()
            .unwrap()
            .starts_with("user admin")
    );

    // The owner turns argument recording on: the next call's arguments are kept, redacted.
    let switched = catwalk.cli(&["audit", "audited", "--record-arguments", "on"]);
    assert!(switched.status.success(), "{switched:?}");
    let shown = catwalk.cli_json(&["ls"]);
    assert_eq!(shown[0]["audit_arguments"], true, "{shown}");
    call_echo(&endpoint, &token, &format!("the secret is {secret}"));
    let row = wait_for_row(&catwalk, &admin, "deployment=audited", |r| {
        !r["arguments"].is_null()
    });
    let arguments = row["arguments"].as_str().unwrap();
    assert!(
        arguments.contains("the secret is [REDACTED]"),
        "{arguments}"
    );
    assert!(!catwalk.database_dump().contains(&secret));
    catwalk.cli_json(&["audit", "audited", "--record-arguments", "off"]);
    call_echo(&endpoint, &token, "not recorded again");
    let rows = wait_for_row(&catwalk, &admin, "deployment=audited", |r| {
        r["kind"] == "tool_call" && r["id"].as_i64() > row["id"].as_i64()
    });
    assert!(rows["arguments"].is_null(), "{rows}");
    assert!(!catwalk.database_dump().contains("not recorded again"));

    // Another user's trail holds none of it; the instance's trail is for admins.
    let created = Client::new()
        .post(format!("{}/api/users", catwalk.url))
        .bearer_auth(&admin)
        .json(&json!({ "username": "carol", "password": "carol's long password" }))
        .send()
        .unwrap();
    assert_eq!(created.status(), 201);
    let carol: Value = Client::new()
        .post(format!("{}/api/auth/token", catwalk.url))
        .json(&json!({ "username": "carol", "password": "carol's long password", "name": "t" }))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let carol = carol["token"].as_str().unwrap();
    let (status, rows) = audit(&catwalk, carol, "");
    assert_eq!(status, 200);
    assert_eq!(rows, json!([]), "carol sees nothing of the admin's");
    let (status, _) = audit(&catwalk, carol, "instance=true");
    assert_eq!(status, 403);
    let user_row = wait_for_row(&catwalk, &admin, "instance=true", |r| {
        r["action"] == "POST /api/users"
    });
    assert_eq!(user_row["outcome"], "201 Created");
    let cli = catwalk.cli(&["audit", "audited"]);
    let printed = String::from_utf8_lossy(&cli.stdout);
    assert!(
        printed.contains("echo") && printed.contains("token default"),
        "{printed}"
    );
}
