//! Argument fields and confidence on real published servers, fetched with the machine's own
//! `npm` and `pip` (as in `registries.rs`): they need network access to the configured npm
//! registry and pip index, and fail (never skip) without it. Versions are pinned so that the
//! assertions describe files that do not change.

mod common;

use catwalk_analyze::ServerSpec;
use common::{analyze, analyzer, assert_round_trip};

fn level(value: &impl serde::Serialize) -> String {
    serde_json::to_value(value).unwrap()["level"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn spec_of(source: &str) -> ServerSpec {
    let (analyzer, _guard) = analyzer();
    let (result, _) = analyze(&analyzer, source).await;
    let spec = result.unwrap_or_else(|e| panic!("{source}: {e}"));
    assert_round_trip(&spec);
    spec
}

#[tokio::test]
async fn postgres_needs_its_database_url_argument() {
    let spec = spec_of("npm:@modelcontextprotocol/server-postgres@0.6.2").await;
    assert!(spec.launch.args.is_empty());
    assert_eq!(spec.args.len(), 1, "{:?}", spec.args);
    let url = &spec.args[0];
    assert_eq!(
        (url.name.as_str(), url.flag.as_ref()),
        ("database-url", None)
    );
    assert!(url.required, "dist/index.js exits without it");
    assert_eq!(
        url.description,
        "Please provide a database URL as a command-line argument"
    );
    let files: Vec<&str> = url.evidence.iter().map(|e| e.file.as_str()).collect();
    assert!(
        files.contains(&"dist/index.js") && files.contains(&"README.md"),
        "{files:?}"
    );
    assert_eq!(level(&url.confidence), "high");
    assert_eq!(level(&spec.confidence), "high");
}

#[tokio::test]
async fn filesystem_takes_its_folders_from_the_usage_line() {
    let spec = spec_of("npm:@modelcontextprotocol/server-filesystem@2026.8.31").await;
    let fields: Vec<(&str, bool, bool)> = spec
        .args
        .iter()
        .map(|a| (a.name.as_str(), a.required, a.repeated))
        .collect();
    assert_eq!(
        fields,
        [
            ("allowed-directory", false, false),
            ("additional-directories", false, true)
        ],
        "Usage: mcp-server-filesystem [allowed-directory] [additional-directories...]"
    );
    assert!(
        spec.args
            .iter()
            .all(|a| a.format.as_deref() == Some("filepath"))
    );
    assert!(spec.warnings.is_empty(), "{:?}", spec.warnings);
}

#[tokio::test]
async fn git_repository_is_an_optional_argument_described_by_click() {
    let spec = spec_of("pypi:mcp-server-git==2026.10.19").await;
    assert_eq!(spec.launch.command, "mcp-server-git");
    assert!(spec.launch.args.is_empty());
    assert_eq!(spec.args.len(), 1, "{:?}", spec.args);
    let repository = &spec.args[0];
    assert_eq!(repository.flag.as_deref(), Some("--repository"));
    assert_eq!(repository.description, "Git repository path");
    assert!(!repository.required, "the click option is optional");
    assert_eq!(repository.format.as_deref(), Some("filepath"));
    assert!(
        repository
            .evidence
            .iter()
            .any(|e| e.file == "mcp_server_git/__init__.py"),
        "{:?}",
        repository.evidence
    );
}

#[tokio::test]
async fn slack_needs_its_token_and_team() {
    let spec = spec_of("npm:@modelcontextprotocol/server-slack@2025.4.25").await;
    let required: Vec<&str> = spec
        .env
        .iter()
        .filter(|v| v.required)
        .map(|v| v.name.as_str())
        .collect();
    assert_eq!(required, ["SLACK_TEAM_ID", "SLACK_BOT_TOKEN"]);
    let token = spec
        .env
        .iter()
        .find(|v| v.name == "SLACK_BOT_TOKEN")
        .unwrap();
    assert!(token.secret);
    assert_eq!(
        level(&token.confidence),
        "high",
        "read by the code and documented"
    );
    assert!(spec.args.is_empty());
}
