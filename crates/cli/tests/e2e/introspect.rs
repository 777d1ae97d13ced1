//! Live introspection: `POST /api/analyze` with `introspect` installs a server, starts it once in
//! the sandbox with placeholder values, and reports what it lists; `catwalk analyze` shows it;
//! a deployment shows the tools its server lists with the real values.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{self, Catwalk, StoreKind, processes_under, unique_secret};

fn fixture(name: &str) -> String {
    let folder = harness::repo().join("tests/fixtures").join(name);
    folder.to_str().unwrap().to_string()
}

fn analyze(catwalk: &Catwalk, body: Value) -> Value {
    let response = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .unwrap()
        .post(format!("{}/api/analyze", catwalk.url))
        .bearer_auth(catwalk.admin_token())
        .json(&body)
        .send()
        .unwrap();
    let status = response.status();
    let answer: Value = response.json().unwrap();
    assert_eq!(status, 200, "{answer}");
    answer
}

fn names(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|item| item[key].as_str().unwrap().to_string())
        .collect()
}

/// Nothing an introspection started is still running, and its folder is gone.
fn nothing_left_behind(catwalk: &Catwalk) {
    let scratch = catwalk.data_dir.path().join("introspect");
    assert_eq!(
        processes_under(catwalk.data_dir.path()),
        Vec::<u32>::new(),
        "a process outlived its introspection"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&scratch)
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
}

pub fn introspection_lists_tools_or_says_credentials_are_needed(kind: StoreKind) {
    let catwalk = Catwalk::start(kind);

    // A server that starts as it is: every tool, by name and description.
    let spec = analyze(
        &catwalk,
        json!({"source": fixture("misbehaving-server"), "introspect": true}),
    );
    let seen = &spec["introspection"];
    assert_eq!(seen["status"], "ok", "{seen}");
    let tools = names(&seen["tools"], "name");
    for expected in ["echo", "crash", "hang", "spawn_orphan"] {
        assert!(tools.contains(&expected.to_string()), "{tools:?}");
    }
    let echo = seen["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "echo")
        .unwrap();
    assert_eq!(echo["description"], "Returns its message");
    assert_eq!(seen["serverInfo"]["name"], "catwalk-misbehaving-fixture");
    assert!(seen["protocolVersion"].is_string(), "{seen}");
    // It declares tools only, so nothing else was asked.
    assert_eq!(seen["prompts"], json!([]));
    assert_eq!(seen["resources"], json!([]));
    assert_eq!(seen["placeholders"], json!([]));
    assert_eq!(seen["stderr"], json!(["catwalk-misbehaving-fixture ready"]));
    assert!(seen["durationMs"].as_u64().unwrap() > 0);
    nothing_left_behind(&catwalk);

    // Without introspection (the default), and without the cached spec: no `introspection`.
    let plain = analyze(
        &catwalk,
        json!({"source": fixture("misbehaving-server"), "cache": false}),
    );
    assert_eq!(plain["introspection"], Value::Null, "{plain}");
    assert_eq!(plain["name"], spec["name"]);

    // A server that checks its token at start exits on the placeholder, and says why.
    let spec = analyze(
        &catwalk,
        json!({"source": fixture("needs-token-server"), "introspect": true}),
    );
    let seen = &spec["introspection"];
    assert_eq!(seen["status"], "needs_credentials", "{seen}");
    assert_eq!(seen["placeholders"], json!(["FIXTURE_API_TOKEN"]));
    assert_eq!(seen["tools"], json!([]));
    let message = seen["message"].as_str().unwrap();
    assert!(
        message.contains("code 2") && message.contains("FIXTURE_API_TOKEN"),
        "{message}"
    );
    assert_eq!(
        seen["stderr"],
        json!(["FIXTURE_API_TOKEN is not a valid token (tokens start with ft_)"])
    );
    nothing_left_behind(&catwalk);

    // Deployed with a real value, its server lists its tools, and the deployment shows them.
    let token = format!("ft_{}", unique_secret("token"));
    catwalk.deploy(
        &fixture("needs-token-server"),
        "needs-token",
        &[("FIXTURE_API_TOKEN", &token)],
    );
    let shown: Value = reqwest::blocking::Client::new()
        .get(format!("{}/api/deployments/needs-token", catwalk.url))
        .bearer_auth(catwalk.admin_token())
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        shown["tools"],
        json!([{"name": "account", "description": "Names the account the token belongs to"}]),
        "{shown}"
    );
    assert_eq!(shown["status_reason"], "1 tools", "{shown}");
}

pub fn catwalk_analyze_shows_a_real_packages_tools(kind: StoreKind) {
    let catwalk = Catwalk::start(kind);
    let output = catwalk.cli(&["analyze", crate::EVERYTHING]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        text.contains("Started with placeholder values: ok"),
        "{text}"
    );
    let tools_at = text.find("\nTools (").unwrap_or_else(|| panic!("{text}"));
    assert!(
        text[tools_at..]
            .lines()
            .any(|line| line.trim_start().starts_with("echo ")),
        "{text}"
    );
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("starting it once in the sandbox"),
        "the CLI says what it does"
    );

    let spec = catwalk.cli_json(&["analyze", crate::EVERYTHING]);
    let seen = &spec["introspection"];
    assert_eq!(seen["status"], "ok", "{seen}");
    assert!(
        names(&seen["tools"], "name").contains(&"echo".to_string()),
        "{seen}"
    );
    assert!(!names(&seen["prompts"], "name").is_empty(), "{seen}");
    assert!(!names(&seen["resources"], "uri").is_empty(), "{seen}");
    nothing_left_behind(&catwalk);

    let skipped = catwalk.cli_json(&["analyze", crate::EVERYTHING, "--no-introspect"]);
    assert_eq!(skipped["introspection"], Value::Null);
}
