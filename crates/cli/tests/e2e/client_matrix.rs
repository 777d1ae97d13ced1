//! Every official MCP client, in each protocol era and transport it speaks, against one Catwalk
//! deployment of server-everything: the TypeScript SDK v1 (Streamable HTTP and HTTP+SSE), the
//! TypeScript SDK v2 and the Python SDK (`mcp` 2.x) each in their `auto` mode (which must reach
//! the modern 2026-07-28 era through `server/discover`) and their `legacy` mode (the
//! `initialize` handshake), and the MCP Inspector CLI. Each lists and calls tools; the SDK
//! clients also count the progress of a long-running call and answer a sampling and an
//! elicitation request (in the modern era those arrive as `input_required` results that the SDK
//! fulfils and retries). The Inspector CLI declares neither capability and asks for no progress
//! (its CLI mode hard-codes `progress`, `sample` and `elicit` to false), so for it the check is
//! that such a tool fails cleanly instead of hanging.
//!
//! Installs come from scripts/test: `npm ci` in tests/clients and tests/inspector, and
//! `pip install -r tests/clients/requirements.txt`. A missing one fails the test by name.

use std::process::Command;

use serde_json::Value;

use crate::harness::{self, Catwalk, StoreKind, client};

const EVERYTHING: &str = "npm:@modelcontextprotocol/server-everything";
const MODERN: &str = "2026-07-28";
const LEGACY_VERSIONS: [&str; 4] = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];
/// Steps of `trigger-long-running-operation`, one progress notification each.
const STEPS: i64 = 3;

pub fn every_official_client_works_through_catwalk(kind: StoreKind) {
    assert_clients_installed();
    let catwalk = Catwalk::start(kind);
    let (endpoint, token) = catwalk.deploy(EVERYTHING, "matrix", &[]);
    let sse = endpoint.replace("/mcp", "/sse");
    typescript_v1(&endpoint, &sse, &token);
    for script in ["ts2_client.mjs", "py_interactive.py"] {
        sdk_in_both_modes(script, &endpoint, &sse, &token);
    }
    inspector_cli(&endpoint, &sse, &token, &catwalk);
}

/// The TypeScript SDK v1 (legacy only) over Streamable HTTP and HTTP+SSE.
fn typescript_v1(endpoint: &str, sse: &str, token: &str) {
    for (url, transport) in [(endpoint, "http"), (sse, "sse")] {
        let label = format!("ts v1 over {transport}");
        let message = format!("v1 over {transport}");
        let args = serde_json::json!({ "message": message }).to_string();
        let answer = client(
            "ts_client.mjs",
            url,
            token,
            &["--transport", transport, "--call", "echo", "--args", &args],
        );
        assert_legacy_version(&label, &answer);
        assert_tools_listed(&label, &answer["tools"]);
        assert_eq!(
            answer["result"]["content"][0]["text"],
            format!("Echo: {message}"),
            "{label}: {answer}"
        );

        let answer = client("interactive.mjs", url, token, &["--transport", transport]);
        assert_progress(&label, &answer["progress"]);
        assert_answered(&label, &answer);
    }
}

/// ts2_client.mjs or py_interactive.py: `auto` must reach the modern era over Streamable HTTP;
/// `legacy` stays legacy, over Streamable HTTP and over HTTP+SSE.
fn sdk_in_both_modes(script: &str, endpoint: &str, sse: &str, token: &str) {
    let steps = STEPS.to_string();
    for (url, transport, mode) in [
        (endpoint, "http", "auto"),
        (endpoint, "http", "legacy"),
        (sse, "sse", "legacy"),
    ] {
        let label = format!("{script} --mode {mode} --transport {transport}");
        let answer = client(
            script,
            url,
            token,
            &["--mode", mode, "--transport", transport, "--steps", &steps],
        );
        assert_interactive_client(&label, &answer, mode == "auto", transport);
    }
}

/// The MCP Inspector CLI in each era it negotiates, and over HTTP+SSE.
fn inspector_cli(endpoint: &str, sse: &str, token: &str, catwalk: &Catwalk) {
    let auth = format!("Authorization: Bearer {token}");
    for (era, expected) in [
        ("legacy", None),
        ("auto", Some(MODERN)),
        ("modern", Some(MODERN)),
    ] {
        let label = format!("inspector --protocol-era {era}");
        let run = |method: &[&str]| {
            let mut args = vec![
                "--server-url",
                endpoint,
                "--transport",
                "http",
                "--header",
                &auth,
                "--protocol-era",
                era,
                "--format",
                "json",
                "--method",
            ];
            args.extend(method);
            inspector(&args)
        };

        let (code, init) = run(&["initialize"]);
        assert_eq!(code, 0, "{label}: {init}\n{}", catwalk.server_log());
        let version = init["result"]["protocolVersion"]
            .as_str()
            .unwrap_or_default();
        match expected {
            Some(modern) => assert_eq!(version, modern, "{label}: {init}"),
            None => assert!(LEGACY_VERSIONS.contains(&version), "{label}: {init}"),
        }

        let (code, listed) = run(&["tools/list"]);
        assert_eq!(code, 0, "{label}: {listed}");
        let names: Vec<Value> = listed["result"]["tools"]
            .as_array()
            .unwrap_or_else(|| panic!("{label}: no tools in {listed}"))
            .iter()
            .map(|t| t["name"].clone())
            .collect();
        assert_tools_listed(&label, &Value::Array(names));

        let message = format!("message=inspector {era}");
        let (code, echoed) = run(&["tools/call", "--tool-name", "echo", "--tool-arg", &message]);
        assert_eq!(code, 0, "{label}: {echoed}");
        assert_eq!(
            echoed["result"]["content"][0]["text"],
            format!("Echo: inspector {era}"),
            "{label}: {echoed}"
        );

        // No sampling capability. Legacy: the server's request is refused at once, and the tool
        // says so. Modern: the request fails with -32021 (MissingRequiredClientCapability).
        let sampling = [
            "tools/call",
            "--tool-name",
            "trigger-sampling-request",
            "--tool-args-json",
            r#"{"prompt":"hi","maxTokens":5}"#,
        ];
        if expected.is_some() {
            let mut args = vec![
                "--server-url",
                endpoint,
                "--transport",
                "http",
                "--header",
                &auth,
                "--protocol-era",
                era,
                "--format",
                "json",
                "--method",
            ];
            args.extend(sampling);
            let output = Command::new(harness::repo().join("tests/inspector/run.sh"))
                .args(&args)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(1), "{label}: {stderr}");
            assert!(
                stderr.contains("Missing required client capability")
                    && stderr.contains("sampling"),
                "{label}: {stderr}"
            );
            continue;
        }
        let (code, refused) = run(&sampling);
        assert_eq!(code, 5, "{label}: exit 5 is tool_is_error: {refused}");
        assert_eq!(refused["result"]["isError"], true, "{label}: {refused}");
        assert!(
            refused["result"]["content"][0]["text"]
                .as_str()
                .is_some_and(|t| t.contains("sampling capability")),
            "{label}: {refused}"
        );
    }

    let (code, echoed) = inspector(&[
        "--server-url",
        sse,
        "--transport",
        "sse",
        "--header",
        &auth,
        "--format",
        "json",
        "--method",
        "tools/call",
        "--tool-name",
        "echo",
        "--tool-arg",
        "message=inspector over sse",
    ]);
    assert_eq!(code, 0, "inspector over sse: {echoed}");
    assert_eq!(
        echoed["result"]["content"][0]["text"], "Echo: inspector over sse",
        "{echoed}"
    );
}

/// Fails with the install step to run when a client is missing, instead of an obscure error.
fn assert_clients_installed() {
    let repo = harness::repo();
    for (path, install) in [
        (
            "tests/clients/node_modules/@modelcontextprotocol/sdk/package.json",
            "`npm ci` in tests/clients",
        ),
        (
            "tests/clients/node_modules/@modelcontextprotocol/client/package.json",
            "`npm ci` in tests/clients",
        ),
        (
            "tests/inspector/node_modules/@modelcontextprotocol/inspector/package.json",
            "`npm ci` in tests/inspector",
        ),
        (
            "tests/inspector/node_modules/.bin/node",
            "`npm ci` in tests/inspector",
        ),
    ] {
        assert!(
            repo.join(path).exists(),
            "{path} is missing: run {install} (scripts/test does)"
        );
    }
    let python = Command::new("python3")
        .args(["-c", "import mcp.client.client, mcp.client.sse, httpx2"])
        .output()
        .expect("python3 runs");
    assert!(
        python.status.success(),
        "the Python SDK is missing: run `pip install -r tests/clients/requirements.txt` \
         (scripts/test does): {}",
        String::from_utf8_lossy(&python.stderr)
    );
}

/// Runs `tests/inspector/run.sh ARGS` (the Inspector CLI on its Node 22); returns its exit code
/// and its first JSON line on stdout (with `--format json` that is the result, even on exit 5).
fn inspector(args: &[&str]) -> (i32, Value) {
    let script = harness::repo().join("tests/inspector/run.sh");
    let output = Command::new(&script)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{} runs (bash is needed): {e}", script.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let code = output.status.code().unwrap_or(-1);
    let line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with('{'))
        .unwrap_or_else(|| {
            panic!("the Inspector printed no JSON (exit {code}) for {args:?}: {stdout}\n{stderr}")
        });
    let value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("the Inspector printed bad JSON ({e}): {line}\n{stderr}"));
    (code, value)
}

fn assert_legacy_version(label: &str, answer: &Value) {
    let version = answer["protocolVersion"].as_str().unwrap_or_default();
    assert!(
        LEGACY_VERSIONS.contains(&version),
        "{label}: not a legacy version: {answer}"
    );
}

fn assert_tools_listed(label: &str, tools: &Value) {
    let names: Vec<&str> = tools
        .as_array()
        .unwrap_or_else(|| panic!("{label}: no tool list: {tools}"))
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for tool in [
        "echo",
        "trigger-long-running-operation",
        "trigger-sampling-request",
        "trigger-elicitation-request",
    ] {
        assert!(
            names.contains(&tool),
            "{label}: {tool} not listed: {names:?}"
        );
    }
}

/// The TypeScript SDK dispatches notifications asynchronously but responses at once, so when the
/// last progress event and the response arrive in one read (often over HTTP+SSE) its client
/// drops that last event; Catwalk sends all of them, in order (the gateway's tests check the
/// wire). So one lost event is tolerated, for every client alike.
fn assert_progress(label: &str, progress: &Value) {
    let seen = progress.as_i64().unwrap_or(-1);
    assert!(
        (STEPS - 1..=STEPS).contains(&seen),
        "{label}: {seen} progress notifications of {STEPS}"
    );
}

/// The canned sampling and elicitation answers reached the server, once each.
fn assert_answered(label: &str, answer: &Value) {
    assert_eq!(answer["samplingRequests"], 1, "{label}: {answer}");
    assert!(
        answer["sampling"]
            .to_string()
            .contains("canned sample from the client"),
        "{label}: {answer}"
    );
    assert_eq!(answer["elicitationRequests"], 1, "{label}: {answer}");
    assert!(
        answer["elicitation"]
            .to_string()
            .contains("Favorite Number: 7"),
        "{label}: {answer}"
    );
}

/// The output of ts2_client.mjs or py_interactive.py (same shape). `auto`: the client ran in auto
/// mode over Streamable HTTP, so it must have reached the modern era.
fn assert_interactive_client(label: &str, answer: &Value, auto: bool, transport: &str) {
    let methods: Vec<&str> = answer["wire"]["methods"]
        .as_array()
        .unwrap_or_else(|| panic!("{label}: no wire record: {answer}"))
        .iter()
        .filter_map(Value::as_str)
        .collect();
    // Calls retried with the client's answers, the modern era's sampling and elicitation.
    let rounds = answer["wire"]["inputResponses"].as_i64().unwrap_or(-1);
    if auto {
        assert_eq!(answer["era"], "modern", "{label}: {answer}");
        assert_eq!(answer["protocolVersion"], MODERN, "{label}: {answer}");
        assert_eq!(answer["sessionId"], Value::Null, "{label}: {answer}");
        assert_eq!(
            methods.first(),
            Some(&"server/discover"),
            "{label}: {answer}"
        );
        assert!(!methods.contains(&"initialize"), "{label}: {answer}");
        // Sampling and elicitation each took one input_required round (the TypeScript client
        // also counts the answers that asked for input).
        assert_eq!(rounds, 2, "{label}: {answer}");
        if let Some(asked) = answer["wire"]["inputRequired"].as_i64() {
            assert_eq!(asked, 2, "{label}: {answer}");
        }
    } else {
        assert_eq!(answer["era"], "legacy", "{label}: {answer}");
        assert_legacy_version(label, answer);
        assert!(methods.contains(&"initialize"), "{label}: {answer}");
        assert!(!methods.contains(&"server/discover"), "{label}: {answer}");
        assert_eq!(rounds, 0, "{label}: {answer}");
        if transport == "http" {
            assert!(answer["sessionId"].is_string(), "{label}: {answer}");
        }
    }
    assert_tools_listed(label, &answer["tools"]);
    assert!(
        answer["echo"]["content"][0]["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("Echo: ")),
        "{label}: {answer}"
    );
    assert!(
        answer["longRunning"].to_string().contains("completed"),
        "{label}: {answer}"
    );
    assert_progress(label, &answer["progress"]);
    assert_answered(label, answer);
}
