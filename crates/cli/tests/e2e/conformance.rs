//! The official MCP conformance suite (`@modelcontextprotocol/conformance`, run by
//! `tests/conformance/run.sh` on the Node 22 it installs) against Catwalk's gateway fronting
//! server-everything. Only the tool-agnostic scenarios run here, of both eras: the legacy one
//! (initialize, sessions) and the modern, stateless 2026-07-28 one, which the gateway serves in
//! front of the same legacy stdio server. The few modern checks that need the suite's own
//! fixture tools are excused, each for a stated reason, in `tests/conformance/expected-failures.yml`.

use std::process::Command;

use serde_json::Value;

use crate::harness::{self, Catwalk, StoreKind};

const EVERYTHING: &str = "npm:@modelcontextprotocol/server-everything";

/// Scenarios of the 2025-era (initialize handshake, sessions) that any proxied server can pass.
const LEGACY_SCENARIOS: [&str; 6] = [
    "server-initialize",
    "server-session-lifecycle",
    "ping",
    "tools-list",
    "dns-rebinding-protection",
    "server-sse-multiple-streams",
];

/// Scenarios of the 2026-07-28 era (per-request `_meta`, no session) that any proxied server can
/// pass, apart from the fixture checks the baseline excuses.
const MODERN_SCENARIOS: [&str; 3] = ["server-stateless", "http-header-validation", "caching"];

/// Runs the scenarios through run.sh; returns its exit success and one summary per scenario.
fn run_scenarios(url: &str, scenarios: &[&str]) -> (bool, Vec<Value>, String) {
    let folder = harness::repo().join("tests/conformance");
    assert!(
        folder
            .join("node_modules/@modelcontextprotocol/conformance")
            .is_dir()
            && folder.join("node_modules/.bin/node").exists(),
        "tests/conformance has no node_modules: run `npm ci` in tests/conformance"
    );
    let output = Command::new(folder.join("run.sh"))
        .arg(url)
        .args(scenarios)
        .output()
        .expect("tests/conformance/run.sh runs (bash is needed)");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let summaries: Vec<Value> = stdout
        .lines()
        .filter(|l| l.trim_start().starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad summary {l:?}: {e}")))
        .collect();
    (
        output.status.success(),
        summaries,
        format!("{stdout}\n{stderr}"),
    )
}

/// Both eras' tool-agnostic scenarios on one endpoint (the name predates the modern ones).
pub fn conformance_scenarios_pass(kind: StoreKind) {
    let catwalk = Catwalk::start(kind);
    // Public: the suite sends no Authorization header.
    let (endpoint, _token) = catwalk.deploy_with(EVERYTHING, "everything", &[], &["--public"]);
    let scenarios: Vec<&str> = LEGACY_SCENARIOS
        .iter()
        .chain(&MODERN_SCENARIOS)
        .copied()
        .collect();
    let (ok, summaries, output) = run_scenarios(&endpoint, &scenarios);

    let ran: Vec<&str> = summaries
        .iter()
        .map(|s| s["scenario"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(ran, scenarios, "not every scenario reported: {output}");
    for summary in &summaries {
        assert_eq!(
            summary["ok"],
            true,
            "{summary}\n{output}\n--- server log ---\n{}",
            catwalk.server_log()
        );
        // A scenario whose checks were all skipped or inapplicable would prove nothing.
        assert!(
            summary["passed"].as_u64().unwrap_or(0) > 0,
            "no check passed: {summary}"
        );
    }
    assert!(
        ok,
        "run.sh failed although every scenario passed: {output}\n--- server log ---\n{}",
        catwalk.server_log()
    );
    sampling_reaches_a_modern_client_as_input_required(&endpoint);
}

/// Beyond the suite (whose MRTR scenarios need fixture tools): server-everything's sampling
/// request reaches a 2026-07-28 client as an `input_required` result, and the retry carrying the
/// client's answer completes the very same call.
fn sampling_reaches_a_modern_client_as_input_required(endpoint: &str) {
    let http = reqwest::blocking::Client::new();
    let tool = "trigger-sampling-request";
    let call = |id: u64, extra: Value| {
        let mut params = serde_json::json!({
            "name": tool,
            "arguments": {"prompt": "capital of France?"},
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {"sampling": {}},
            },
        });
        for (key, value) in extra.as_object().unwrap() {
            params[key] = value.clone();
        }
        let body = serde_json::json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params});
        let response = http
            .post(endpoint)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "tools/call")
            .header("mcp-name", tool)
            .json(&body)
            .send()
            .expect("the endpoint answers");
        assert_eq!(response.status(), 200);
        response.json::<Value>().expect("a JSON answer")
    };
    let first = call(1, serde_json::json!({}));
    let result = &first["result"];
    assert_eq!(result["resultType"], "input_required", "{first}");
    let (key, request) = result["inputRequests"]
        .as_object()
        .unwrap()
        .iter()
        .next()
        .unwrap();
    assert_eq!(request["method"], "sampling/createMessage", "{first}");
    let answer = serde_json::json!({
        "requestState": result["requestState"],
        "inputResponses": {key.clone(): {"role": "assistant", "model": "test",
            "stopReason": "endTurn", "content": {"type": "text", "text": "Paris"}}},
    });
    let done = call(2, answer);
    assert_eq!(done["id"], 2);
    assert_eq!(done["result"]["resultType"], "complete", "{done}");
    assert!(done.to_string().contains("Paris"), "{done}");
}
