//! `catwalk-bench corpus` end to end on a corpus that needs no registry: the runner builds the
//! git repositories and the archive, drives a real `catwalk serve`, and its figures must be the
//! ones the crafted expectations imply. Needs git and bubblewrap (as `scripts/test` installs).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

/// The debug `catwalk` binary, built here: the bench depends on no crate of ours, so cargo does
/// not build it for this test.
fn catwalk_binary() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "-p", "catwalk-cli", "--bin", "catwalk"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building catwalk failed");
    let binary = target_dir().join("debug/catwalk");
    assert!(binary.is_file(), "{} was not built", binary.display());
    binary
}

fn run_corpus(corpus: &Path, extra: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_catwalk-bench"))
        .args(["--json", "corpus", "--corpus"])
        .arg(corpus)
        .arg("--catwalk")
        .arg(catwalk_binary())
        .args(extra)
        .output()
        .expect("catwalk-bench runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "catwalk-bench corpus failed:\n{stderr}"
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{stderr}"))
}

fn ratio(value: &Value) -> (u64, u64) {
    (
        value["hits"].as_u64().unwrap(),
        value["total"].as_u64().unwrap(),
    )
}

fn entry<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no entry {name}"))
}

#[test]
fn the_runner_scores_a_crafted_corpus_exactly() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus-runner.toml");
    let report = run_corpus(&corpus, &[]);
    let totals = &report["totals"];
    assert_eq!(ratio(&totals["launch"]), (1, 2), "{totals:#}");
    // TP: 2 (right) + 1 (wrong); FP: ECHO_PREFIX in wrong; FN: ECHO_NEVER_READ.
    assert_eq!(ratio(&totals["envPrecision"]), (3, 4));
    assert_eq!(ratio(&totals["envRecall"]), (3, 4));
    assert_eq!(ratio(&totals["requiredFlags"]), (2, 3));
    assert_eq!(ratio(&totals["secretFlags"]), (2, 3));
    assert_eq!(ratio(&totals["refusals"]), (1, 2));
    assert!(totals["introspection"].is_null(), "not asked");

    let wrong = &entry(&report, "wrong")["score"];
    assert_eq!(wrong["falsePositives"], serde_json::json!(["ECHO_PREFIX"]));
    assert_eq!(
        wrong["falseNegatives"],
        serde_json::json!(["ECHO_NEVER_READ"])
    );
    assert_eq!(
        wrong["requiredErrors"],
        serde_json::json!(["ECHO_SECRET_TOKEN"])
    );
    let refused = entry(&report, "refused-otherwise");
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("refusing to fetch"),
        "the loopback archive is refused before download: {refused:#}"
    );

    // Both analyses ran, the second on content already fetched, and gave the same spec.
    let right = entry(&report, "right");
    assert_eq!(right["sameSpec"], true);
    assert!(right["cachedSecs"].as_f64().unwrap() > 0.0);
    assert_eq!(report["cachedAll"]["count"], 2);
    assert_eq!(report["cachedNpm"]["count"], 0);
    // No npm entry: the speed goal cannot pass.
    let goals = report["goals"].as_array().unwrap();
    assert_eq!(goals.len(), 4);
    assert_eq!(goals[3]["pass"], false);
    assert_eq!(goals[0]["pass"], false, "1 of 2 launches is under 95%");
}

/// The local part of the shipped corpus runs and every one of its entries is scored.
#[test]
fn the_shipped_corpus_runs_offline() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus/servers.toml");
    let report = run_corpus(&corpus, &["--local"]);
    let entries = report["entries"].as_array().unwrap();
    let names: Vec<&str> = entries
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| n.starts_with("local-") || n.starts_with("hostile-")),
        "{names:?}"
    );
    assert_eq!(entries.len(), 9, "{names:?}");
    let totals = &report["totals"];
    // The hostile repositories and the monorepo root are refused for the expected reasons.
    assert_eq!(ratio(&totals["refusals"]), (4, 4), "{totals:#}");
    assert_eq!(ratio(&totals["launch"]).1, 5);
}
