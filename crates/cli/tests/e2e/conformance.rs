//! The official MCP conformance suite (`@modelcontextprotocol/conformance`, run by
//! `tests/conformance/run.sh` on the Node 22 it installs) against Catwalk's gateway fronting
//! server-everything. Only the tool-agnostic legacy-era scenarios run here: the others expect the
//! suite's own fixture tools, which a real server does not have.

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

pub fn conformance_legacy_scenarios_pass(kind: StoreKind) {
    let catwalk = Catwalk::start(kind);
    // Public: the suite sends no Authorization header.
    let (endpoint, _token) = catwalk.deploy_with(EVERYTHING, "everything", &[], &["--public"]);
    let (ok, summaries, output) = run_scenarios(&endpoint, &LEGACY_SCENARIOS);

    let ran: Vec<&str> = summaries
        .iter()
        .map(|s| s["scenario"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        ran, LEGACY_SCENARIOS,
        "not every scenario reported: {output}"
    );
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
}
