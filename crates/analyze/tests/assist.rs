//! The optional LLM help, against a local server that speaks the OpenAI chat completions and
//! Anthropic Messages APIs (`fakes/llm.rs`): what the model may change, what it may not, and
//! that any failure leaves the evidence-only spec with the error recorded.

mod common;
#[path = "fakes/llm.rs"]
mod llm;

use std::path::Path;
use std::time::Duration;

use catwalk_analyze::assist::{ApiKey, AssistConfig, Provider};
use catwalk_analyze::{Analyzer, ServerSpec};
use serde_json::{Value, json};

use common::assert_round_trip;
use llm::{FakeLlm, KEY};

/// A small Node server: a required secret read by the code without any description, a region
/// with a fallback, and a timeout named only in a comment.
fn write_server(dir: &Path) {
    std::fs::create_dir_all(dir.join("dist")).unwrap();
    std::fs::write(
        dir.join("package.json"),
        r#"{ "name": "notes-server", "version": "1.2.0", "bin": { "notes-server": "dist/index.js" } }"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("dist/index.js"),
        r#"#!/usr/bin/env node
const key = process.env.NOTES_API_KEY;
if (!key) {
  process.exit(1);
}
const region = process.env.NOTES_REGION || "eu";
// The sync client also honours NOTES_TIMEOUT_MS.
startServer(key, region);
"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("README.md"),
        "# Notes server\n\nKeeps notes in the environment of your choice.\n",
    )
    .unwrap();
}

fn config(provider: Provider, base: &str, key: &str) -> AssistConfig {
    AssistConfig {
        provider,
        base_url: match provider {
            Provider::OpenAi => format!("{base}/v1"),
            Provider::Anthropic => base.to_string(),
        },
        model: "test-model".into(),
        api_key: Some(ApiKey::new(key)),
        timeout: Duration::from_secs(10),
    }
}

/// The model's answer: it tries to flip the flags and the default the evidence decided, fills
/// a description, and claims one variable the package names and one it never does.
fn claims() -> Value {
    let var = |name: &str,
               description: Option<&str>,
               required: bool,
               secret: bool,
               default: Option<&str>| {
        json!({
            "name": name, "description": description, "required": required, "secret": secret,
            "default": default, "format": null, "choices": []
        })
    };
    json!({ "variables": [
        var("NOTES_API_KEY", Some("API key of the notes service"), false, false, Some("abc")),
        {
            "name": "NOTES_REGION", "description": "Data region", "required": true, "secret": false,
            "default": "us", "format": "string", "choices": ["eu", "us"]
        },
        var("NOTES_TIMEOUT_MS", Some("Request timeout in milliseconds"), true, false, Some("5000")),
        var("NOTES_MADE_UP", Some("Something the model invented"), true, false, None),
    ]})
}

async fn analyze(folder: &Path, assist: Option<AssistConfig>) -> ServerSpec {
    let work = tempfile::tempdir().unwrap();
    let mut analyzer = Analyzer::new(work.path().join("work"));
    analyzer.assist = assist;
    analyzer
        .analyze(&folder.to_string_lossy(), &|_| {})
        .await
        .expect("the folder analyzes")
}

fn var<'a>(spec: &'a ServerSpec, name: &str) -> &'a catwalk_analyze::EnvVar {
    spec.env
        .iter()
        .find(|v| v.name == name)
        .unwrap_or_else(|| panic!("{name} not in {:?}", spec.env))
}

async fn check_merge_rules(provider: Provider) {
    let folder = tempfile::tempdir().unwrap();
    write_server(folder.path());
    let fake = FakeLlm::start().await;
    fake.answer(claims());
    let plain = analyze(folder.path(), None).await;
    assert!(plain.assist.is_none());
    let spec = analyze(folder.path(), Some(config(provider, &fake.base, KEY))).await;
    assert_round_trip(&spec);

    let report = spec.assist.as_ref().expect("an assist section");
    assert_eq!(report.provider, provider.as_str());
    assert_eq!(report.model, "test-model");
    assert_eq!(report.error, None);

    let key = var(&spec, "NOTES_API_KEY");
    assert_eq!(
        key.description, "API key of the notes service",
        "an empty description is filled"
    );
    assert!(
        key.required && key.secret,
        "required and secret come from the evidence"
    );
    assert_eq!(
        key.default, None,
        "a secret never takes a default from the model"
    );
    assert_eq!(key.verified, None);

    let region = var(&spec, "NOTES_REGION");
    assert!(!region.required);
    assert_eq!(
        region.default.as_deref(),
        Some("eu"),
        "the code's fallback stays"
    );
    assert_eq!(region.description, "Data region");
    assert_eq!(region.format.as_deref(), Some("string"));
    assert_eq!(region.choices, ["eu", "us"]);

    let timeout = var(&spec, "NOTES_TIMEOUT_MS");
    assert_eq!(timeout.verified, Some(true), "dist/index.js names it");
    assert!(!timeout.required, "never required on the model's word");
    assert_eq!(timeout.default.as_deref(), Some("5000"));
    assert_eq!(timeout.evidence[0].file, "dist/index.js");
    assert_eq!(timeout.evidence[0].line, Some(7));
    assert_eq!(
        serde_json::to_value(&timeout.confidence).unwrap()["level"],
        "low"
    );

    let made_up = var(&spec, "NOTES_MADE_UP");
    assert_eq!(made_up.verified, Some(false));
    assert!(!made_up.required);
    assert!(made_up.evidence.is_empty());
    assert!(
        report
            .changes
            .iter()
            .any(|c| c.starts_with("NOTES_MADE_UP") && c.contains("unverified")),
        "{:?}",
        report.changes
    );

    // Everything the evidence found is still there, unchanged in its flags.
    for plain_var in &plain.env {
        let helped = var(&spec, &plain_var.name);
        assert_eq!(
            (helped.required, helped.secret),
            (plain_var.required, plain_var.secret)
        );
    }

    // The model was given the evidence, not just a name; the key never reaches the spec.
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let sent = requests[0].body.to_string();
    assert!(sent.contains("dist/index.js:2"), "{sent}");
    assert!(sent.contains("process.env.NOTES_API_KEY"), "{sent}");
    assert!(
        sent.contains("Keeps notes in the environment of your choice"),
        "{sent}"
    );
    assert!(!serde_json::to_string(&spec).unwrap().contains(KEY));
}

#[tokio::test]
async fn openai_answer_fills_gaps_only() {
    check_merge_rules(Provider::OpenAi).await;
}

#[tokio::test]
async fn anthropic_answer_fills_gaps_only() {
    check_merge_rules(Provider::Anthropic).await;
}

#[tokio::test]
async fn requests_follow_each_api() {
    let folder = tempfile::tempdir().unwrap();
    write_server(folder.path());
    let fake = FakeLlm::start().await;
    fake.answer(json!({ "variables": [] }));
    analyze(
        folder.path(),
        Some(config(Provider::OpenAi, &fake.base, KEY)),
    )
    .await;
    analyze(
        folder.path(),
        Some(config(Provider::Anthropic, &fake.base, KEY)),
    )
    .await;
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    let openai = &requests[0];
    assert_eq!(openai.path, "/v1/chat/completions");
    assert_eq!(
        openai.body["response_format"]["json_schema"]["strict"],
        true
    );
    assert_eq!(
        openai.body["response_format"]["json_schema"]["schema"],
        catwalk_analyze::assist::answer_schema()
    );
    let anthropic = &requests[1];
    assert_eq!(anthropic.path, "/v1/messages");
    assert_eq!(anthropic.headers["x-api-key"], KEY);
    assert!(anthropic.headers.contains_key("anthropic-version"));
    assert_eq!(anthropic.body["tool_choice"]["type"], "tool");
    assert_eq!(
        anthropic.body["tools"][0]["input_schema"],
        catwalk_analyze::assist::answer_schema()
    );
}

async fn check_failure(
    provider: Provider,
    fake: &FakeLlm,
    key: &str,
    timeout: Option<Duration>,
    expected: &str,
) {
    let folder = tempfile::tempdir().unwrap();
    write_server(folder.path());
    let plain = analyze(folder.path(), None).await;
    let mut config = config(provider, &fake.base, key);
    if let Some(timeout) = timeout {
        config.timeout = timeout;
    }
    let spec = analyze(folder.path(), Some(config)).await;
    let report = spec.assist.as_ref().expect("an assist section");
    let error = report.error.as_deref().expect("the failure is recorded");
    assert!(error.contains(expected), "{error}");
    assert!(report.changes.is_empty());
    assert_eq!(
        spec.env, plain.env,
        "the evidence-only variables are returned"
    );
    assert_eq!(spec.launch, plain.launch);
}

#[tokio::test]
async fn an_answer_outside_the_schema_changes_nothing() {
    let fake = FakeLlm::start().await;
    // `required` missing and an unknown field: strict mode would never produce it, a
    // misbehaving server might.
    fake.answer(
        json!({ "variables": [{ "name": "NOTES_REGION", "description": "x", "secret": false,
        "default": null, "format": null, "choices": [], "extra": 1 }] }),
    );
    check_failure(
        Provider::OpenAi,
        &fake,
        KEY,
        None,
        "does not match the schema",
    )
    .await;
    check_failure(
        Provider::Anthropic,
        &fake,
        KEY,
        None,
        "does not match the schema",
    )
    .await;
    fake.answer(json!("not an object"));
    check_failure(
        Provider::OpenAi,
        &fake,
        KEY,
        None,
        "does not match the schema",
    )
    .await;
}

#[tokio::test]
async fn http_errors_and_timeouts_never_fail_the_analysis() {
    let fake = FakeLlm::start().await;
    fake.answer(claims());
    check_failure(
        Provider::OpenAi,
        &fake,
        "sk-wrong",
        None,
        "HTTP 401: Incorrect API key",
    )
    .await;
    check_failure(
        Provider::Anthropic,
        &fake,
        "sk-wrong",
        None,
        "HTTP 401: invalid x-api-key",
    )
    .await;
    fake.delay(Duration::from_secs(5));
    check_failure(
        Provider::OpenAi,
        &fake,
        KEY,
        Some(Duration::from_millis(300)),
        "timed out",
    )
    .await;
    // Nothing listens there.
    let closed = fake.at("http://127.0.0.1:9");
    check_failure(
        Provider::Anthropic,
        &closed,
        KEY,
        None,
        "the LLM request failed",
    )
    .await;
}
