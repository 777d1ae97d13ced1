//! The official MCP conformance suite's fixture scenarios (tools, prompts, resources, completion,
//! logging, progress, sampling, elicitation) through Catwalk. They call the suite's `test_*`
//! tools, prompts and resources, which `tests/fixtures/conformance-server` (our own stdio server)
//! provides; Catwalk deploys it from its folder and the suite talks to the gateway only.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::harness::{self, Catwalk, StoreKind};

/// Every legacy-era (2025-11-25) server scenario that needs the fixture, plus `tools-list` on its
/// tools. Not here: the tool-agnostic ones (`conformance.rs` runs them against server-everything),
/// and `server-sse-polling`, which ends with no passed check, only "not applicable" notes: a stdio
/// server cannot close the HTTP stream mid-call, and Catwalk answers that call in plain JSON.
const FIXTURE_SCENARIOS: [&str; 27] = [
    "tools-list",
    "logging-set-level",
    "completion-complete",
    "tools-call-simple-text",
    "tools-call-image",
    "tools-call-audio",
    "tools-call-embedded-resource",
    "tools-call-mixed-content",
    "tools-call-with-logging",
    "tools-call-error",
    "tools-call-with-progress",
    "tools-call-sampling",
    "tools-call-elicitation",
    "json-schema-2020-12",
    "elicitation-sep1034-defaults",
    "elicitation-sep1330-enums",
    "resources-list",
    "resources-read-text",
    "resources-read-binary",
    "resources-templates-read",
    "resources-subscribe",
    "resources-unsubscribe",
    "prompts-list",
    "prompts-get-simple",
    "prompts-get-with-args",
    "prompts-get-embedded-resource",
    "prompts-get-with-image",
];

/// The fixture's folder, once its dependencies are installed.
pub(crate) fn fixture_folder() -> PathBuf {
    let folder = harness::repo().join("tests/fixtures/conformance-server");
    assert!(
        folder
            .join("node_modules/@modelcontextprotocol/sdk/package.json")
            .is_file(),
        "tests/fixtures/conformance-server has no node_modules: run `npm ci` in \
         tests/fixtures/conformance-server (see its README.md)"
    );
    folder
}

/// Runs the scenarios through tests/conformance/run.sh: (exit success, one summary per scenario,
/// the whole output for failure messages).
fn run_suite(
    url: &str,
    scenarios: &[&str],
    spec_version: Option<&str>,
) -> (bool, Vec<Value>, String) {
    let suite = harness::repo().join("tests/conformance");
    assert!(
        suite
            .join("node_modules/@modelcontextprotocol/conformance")
            .is_dir()
            && suite.join("node_modules/.bin/node").exists(),
        "tests/conformance has no node_modules: run `npm ci` in tests/conformance"
    );
    let mut command = Command::new(suite.join("run.sh"));
    command.arg(url).args(scenarios);
    if let Some(version) = spec_version {
        command.env("CONFORMANCE_SPEC_VERSION", version);
    }
    let output = command
        .output()
        .expect("tests/conformance/run.sh runs (bash is needed)");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let summaries = stdout
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

pub fn conformance_fixture_scenarios_pass(kind: StoreKind) {
    let folder = fixture_folder();
    let catwalk = Catwalk::start(kind);
    // Public: the suite sends no Authorization header.
    let (endpoint, _token) =
        catwalk.deploy_with(folder.to_str().unwrap(), "fixture", &[], &["--public"]);
    // As the newest legacy revision defines the scenarios, then as 2025-06-18 does.
    for spec_version in [None, Some("2025-06-18")] {
        check_revision(&catwalk, &endpoint, spec_version);
    }
}

fn check_revision(catwalk: &Catwalk, endpoint: &str, spec_version: Option<&str>) {
    // These came with 2025-11-25 (JSON Schema 2020-12 as the default dialect, elicitation
    // defaults and enums): the suite has no such scenarios for 2025-06-18.
    const NEWER: [&str; 3] = [
        "json-schema-2020-12",
        "elicitation-sep1034-defaults",
        "elicitation-sep1330-enums",
    ];
    let scenarios: Vec<&str> = FIXTURE_SCENARIOS
        .into_iter()
        .filter(|s| spec_version != Some("2025-06-18") || !NEWER.contains(s))
        .collect();
    let (ok, summaries, output) = run_suite(endpoint, &scenarios, spec_version);

    let ran: Vec<&str> = summaries
        .iter()
        .map(|s| s["scenario"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        ran, scenarios,
        "not every scenario reported ({spec_version:?}): {output}"
    );
    for summary in &summaries {
        assert_eq!(
            summary["ok"],
            true,
            "{summary}\n{output}\n--- server log ---\n{}",
            catwalk.server_log()
        );
        // Besides the scenario's own check, each one validates every message on the wire; both
        // must pass, or the scenario proved less than it claims.
        assert!(
            summary["passed"].as_u64().unwrap_or(0) >= 2,
            "fewer than two checks passed: {summary}"
        );
    }
    assert!(
        ok,
        "run.sh failed although every scenario passed: {output}\n--- server log ---\n{}",
        catwalk.server_log()
    );
}
