//! The official MCP conformance suite's fixture scenarios through Catwalk. They call the suite's
//! `test_*` tools, prompts and resources, which `tests/fixtures/conformance-server` (our own
//! stdio server, of the legacy era) provides; Catwalk deploys it from its folder and the suite
//! talks to the gateway only. The legacy-era scenarios (tools, prompts, resources, completion,
//! logging, progress, sampling, elicitation) run as 2025-11-25 and 2025-06-18 define them; then
//! every 2026-07-28 scenario runs, which Catwalk passes by translating: `input_required` results
//! from the fixture's legacy requests to its client, -32021 for a capability the request did not
//! declare, `subscriptions/listen` from its list-changed notifications.
//!
//! The checks the gateway cannot pass are excused, each for a stated reason, in the fixture
//! run's own baseline, `tests/fixtures/conformance-server/expected-failures.yml` (the shared
//! `tests/conformance/expected-failures.yml` excuses what server-everything lacks, which the
//! fixture has: its entries would be stale here).

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

const MODERN: &str = "2026-07-28";

/// Every server scenario the suite has for 2026-07-28 (checked against the suite's own list, so
/// that a new one cannot go unnoticed). The tool-agnostic ones among them (`caching`,
/// `http-header-validation`, `dns-rebinding-protection`, ...) also run here: cheap, and the
/// fixture's lists are the richer test of them.
const MODERN_SCENARIOS: [&str; 40] = [
    "server-stateless",
    "completion-complete",
    "tools-list",
    "tools-call-simple-text",
    "tools-call-image",
    "tools-call-audio",
    "tools-call-embedded-resource",
    "tools-call-mixed-content",
    "tools-call-error",
    "tools-call-with-progress",
    "json-schema-2020-12",
    "server-sse-multiple-streams",
    "resources-list",
    "resources-read-text",
    "resources-read-binary",
    "resources-templates-read",
    "sep-2164-resource-not-found",
    "prompts-list",
    "prompts-get-simple",
    "prompts-get-with-args",
    "prompts-get-embedded-resource",
    "prompts-get-with-image",
    "dns-rebinding-protection",
    "caching",
    "http-header-validation",
    "http-custom-header-server-validation",
    "input-required-result-basic-elicitation",
    "input-required-result-basic-sampling",
    "input-required-result-basic-list-roots",
    "input-required-result-request-state",
    "input-required-result-multiple-input-requests",
    "input-required-result-multi-round",
    "input-required-result-missing-input-response",
    "input-required-result-non-tool-request",
    "input-required-result-result-type",
    "input-required-result-unsupported-methods",
    "input-required-result-tampered-state",
    "input-required-result-capability-check",
    "input-required-result-ignore-extra-params",
    "input-required-result-validate-input",
];

/// Scenarios in which the fixture's tools ask the client something (elicitation, sampling,
/// roots). Each runs on a deployment of its own, because several of them end without answering
/// an `input_required` result (they only check its shape). Catwalk keeps such a request waiting
/// upstream for `input_timeout` (five minutes), and on a process shared by all clients the bridge
/// relays a server's request only while a single client has calls in flight: with one still
/// waiting from an earlier scenario, the next scenario's question would be refused as
/// unattributable (crates/bridge, `owner_of_unsolicited`).
fn asks_the_client(scenario: &str) -> bool {
    scenario == "server-stateless" || scenario.starts_with("input-required-result-")
}

/// Scenarios whose only passed check is their own: `server-sse-multiple-streams` validates no
/// message on the wire, and its stream check is "not applicable" (INFO), since Catwalk answers
/// these calls in plain JSON.
const SINGLE_CHECK: [&str; 1] = ["server-sse-multiple-streams"];

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

/// The conformance suite's folder, once its dependencies are installed.
fn suite_folder() -> PathBuf {
    let suite = harness::repo().join("tests/conformance");
    assert!(
        suite
            .join("node_modules/@modelcontextprotocol/conformance")
            .is_dir()
            && suite.join("node_modules/.bin/node").exists(),
        "tests/conformance has no node_modules: run `npm ci` in tests/conformance"
    );
    suite
}

/// The server scenarios the suite has for a revision, as `conformance list` prints them.
fn listed_scenarios(spec_version: &str) -> Vec<String> {
    let suite = suite_folder();
    let output = Command::new(suite.join("node_modules/.bin/node"))
        .arg(suite.join("node_modules/@modelcontextprotocol/conformance/dist/index.js"))
        .args(["list", "--server", "--spec-version", spec_version])
        .output()
        .expect("the suite's list command runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "conformance list failed: {stdout}");
    // Lines like "  - tools-list [2025-06-18,2025-11-25,2026-07-28]".
    stdout
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("- "))
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// Runs the scenarios through tests/conformance/run.sh, against the fixture run's baseline:
/// (exit success, one summary per scenario, the whole output for failure messages).
fn run_suite(
    url: &str,
    scenarios: &[&str],
    spec_version: Option<&str>,
) -> (bool, Vec<Value>, String) {
    let suite = suite_folder();
    let baseline = fixture_folder().join("expected-failures.yml");
    let mut command = Command::new(suite.join("run.sh"));
    command
        .arg(url)
        .args(scenarios)
        .env("CONFORMANCE_EXPECTED_FAILURES", baseline);
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
        check_scenarios(&catwalk, &endpoint, &scenarios, spec_version);
    }
    check_modern(&catwalk, &endpoint, folder.to_str().unwrap());
}

/// Every 2026-07-28 scenario: those that ask the client nothing together on the shared
/// deployment, each of the others on a fresh one (see [`asks_the_client`]).
fn check_modern(catwalk: &Catwalk, endpoint: &str, folder: &str) {
    let mut listed = listed_scenarios(MODERN);
    let mut ours: Vec<String> = MODERN_SCENARIOS.iter().map(|s| s.to_string()).collect();
    listed.sort();
    ours.sort();
    assert_eq!(
        ours, listed,
        "MODERN_SCENARIOS is not the suite's list of 2026-07-28 server scenarios"
    );
    let (asking, quiet): (Vec<&str>, Vec<&str>) = MODERN_SCENARIOS
        .into_iter()
        .partition(|s| asks_the_client(s));
    check_scenarios(catwalk, endpoint, &quiet, Some(MODERN));
    for (index, scenario) in asking.into_iter().enumerate() {
        let name = format!("fixture-asks-{index}");
        let (endpoint, _token) = catwalk.deploy_with(folder, &name, &[], &["--public"]);
        check_scenarios(catwalk, &endpoint, &[scenario], Some(MODERN));
        let removed = catwalk.cli(&["rm", &name]);
        assert!(
            removed.status.success(),
            "catwalk rm {name}: {}",
            String::from_utf8_lossy(&removed.stderr)
        );
    }
}

fn check_scenarios(
    catwalk: &Catwalk,
    endpoint: &str,
    scenarios: &[&str],
    spec_version: Option<&str>,
) {
    let (ok, summaries, output) = run_suite(endpoint, scenarios, spec_version);

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
        // Besides the scenario's own checks, each one validates every message on the wire; both
        // must pass, or the scenario proved less than it claims. Where the baseline excuses the
        // scenario's own check, the wire check must pass still.
        let scenario = summary["scenario"].as_str().unwrap_or_default();
        let excused = summary["expected"]
            .as_array()
            .is_some_and(|e| !e.is_empty());
        let least = if excused || SINGLE_CHECK.contains(&scenario) {
            1
        } else {
            2
        };
        assert!(
            summary["passed"].as_u64().unwrap_or(0) >= least,
            "fewer than {least} checks passed: {summary}"
        );
    }
    assert!(
        ok,
        "run.sh failed although every scenario passed: {output}\n--- server log ---\n{}",
        catwalk.server_log()
    );
}
