//! Helpers shared by the integration tests: a fresh work folder, a progress recorder, fixtures.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Mutex;

use catwalk_analyze::{AnalyzeError, Analyzer, ServerSpec};

/// The folder of a fixture under `tests/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(name)
}

/// An analyzer whose work folder lives as long as the returned guard.
pub fn analyzer() -> (Analyzer, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    (Analyzer::new(dir.path().join("work")), dir)
}

/// Runs one analysis and returns its result with the progress lines it reported.
pub async fn analyze(
    analyzer: &Analyzer,
    source: &str,
) -> (Result<ServerSpec, AnalyzeError>, Vec<String>) {
    let lines = Mutex::new(Vec::new());
    let record = |line: &str| lines.lock().unwrap().push(line.to_string());
    let result = analyzer.analyze(source, &record).await;
    (result, lines.into_inner().unwrap())
}

/// The spec JSON survives a round trip through serde unchanged.
pub fn assert_round_trip(spec: &ServerSpec) {
    let json = serde_json::to_string(spec).unwrap();
    let back: ServerSpec = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, spec);
}
