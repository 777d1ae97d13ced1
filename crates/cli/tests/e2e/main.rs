//! End-to-end tests: the real `catwalk` binary, real packages from npm and PyPI, the official MCP
//! clients (TypeScript SDK v1 and v2, Python SDK, MCP Inspector CLI), the official conformance
//! suite, and Debian's chromium for the dashboard, on SQLite and on PostgreSQL.

mod accounts;
mod assist;
mod audit;
mod client_matrix;
mod conformance;
mod conformance_fixture;
mod dashboard;
mod harness;
mod introspect;
mod listing;
mod oauth;
mod secrets;
mod sso;
mod sso_fakes;
mod supervision;

use std::time::Duration;

use accounts::{api_tokens_and_sign_ins_have_budgets, users_see_only_their_own_deployments};
use assist::an_llm_helps_analyses_and_is_shown;
use audit::the_audit_trail_records_calls_and_changes;
use client_matrix::every_official_client_works_through_catwalk;
use conformance::conformance_scenarios_pass;
use conformance_fixture::conformance_fixture_scenarios_pass;
use dashboard::dashboard_deploys_with_a_real_browser;
use harness::{Catwalk, StoreKind, all_file_contents, client, processes_under, unique_secret};
use introspect::{
    catwalk_analyze_shows_a_real_packages_tools,
    introspection_lists_tools_or_says_credentials_are_needed,
};
use listing::the_list_comes_in_pages_to_the_api_the_cli_and_the_dashboard;
use oauth::{
    oauth_browser_sign_in_lists_and_calls_tools, oauth_conformance_authorization_scenarios_pass,
};
use secrets::{
    edited_values_restart_the_server_and_leave_no_trace, the_vault_key_rotates_while_servers_answer,
};
use serde_json::Value;
use sso::{
    sso_dashboard_signs_in_with_github_in_a_real_browser,
    sso_github_signs_in_links_and_refuses_forgeries,
    sso_oidc_verifies_id_tokens_and_links_only_known_accounts,
};
use supervision::{
    a_hung_server_is_restarted, a_server_over_its_memory_limit_is_stopped_and_said_so,
    a_server_sees_only_its_own_folders, a_stopped_deployment_stays_stopped_until_started,
    an_idle_deployment_sleeps_and_a_request_wakes_it,
    kill_9_then_restart_leaves_no_orphan_and_no_duplicate,
    logs_follow_shows_new_lines_as_they_come,
};

const EVERYTHING: &str = "npm:@modelcontextprotocol/server-everything";
const TIME: &str = "pypi:mcp-server-time";
const BRAVE: &str = "npm:@modelcontextprotocol/server-brave-search@0.6.2";

/// Runs a test body once on SQLite and once on PostgreSQL.
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name(super::StoreKind::Sqlite)
            }
            #[test]
            fn postgres() {
                super::$name(super::StoreKind::Postgres)
            }
        }
    )*};
}

on_both_stores!(
    users_see_only_their_own_deployments,
    api_tokens_and_sign_ins_have_budgets,
    the_audit_trail_records_calls_and_changes,
    official_clients_list_and_call_tools,
    interleaved_sessions_get_their_own_answers,
    credentials_reach_the_server_and_nowhere_else,
    bad_input_gets_clear_errors_and_loses_nothing,
    local_folders_and_git_urls_deploy,
    stopping_catwalk_stops_every_server,
    public_deployments_need_no_token_until_closed,
    dashboard_deploys_with_a_real_browser,
    conformance_scenarios_pass,
    a_session_survives_a_crash_of_its_server,
    sampling_elicitation_and_progress_reach_the_client,
    a_call_timeout_spares_calls_that_report_progress,
    conformance_fixture_scenarios_pass,
    a_process_per_session_lives_and_dies_with_its_session,
    a_process_per_session_is_its_clients_own_even_after_a_crash,
    an_idle_deployment_sleeps_and_a_request_wakes_it,
    a_hung_server_is_restarted,
    kill_9_then_restart_leaves_no_orphan_and_no_duplicate,
    a_server_sees_only_its_own_folders,
    a_server_over_its_memory_limit_is_stopped_and_said_so,
    a_stopped_deployment_stays_stopped_until_started,
    logs_follow_shows_new_lines_as_they_come,
    every_official_client_works_through_catwalk,
    edited_values_restart_the_server_and_leave_no_trace,
    the_vault_key_rotates_while_servers_answer,
    introspection_lists_tools_or_says_credentials_are_needed,
    catwalk_analyze_shows_a_real_packages_tools,
    oauth_browser_sign_in_lists_and_calls_tools,
    oauth_conformance_authorization_scenarios_pass,
    sso_github_signs_in_links_and_refuses_forgeries,
    sso_oidc_verifies_id_tokens_and_links_only_known_accounts,
    sso_dashboard_signs_in_with_github_in_a_real_browser,
    an_llm_helps_analyses_and_is_shown,
    the_list_comes_in_pages_to_the_api_the_cli_and_the_dashboard,
);

fn tool_names(answer: &Value) -> Vec<String> {
    answer["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no tools in {answer}"))
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect()
}

fn text_of(answer: &Value) -> String {
    answer["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text in {answer}"))
        .to_string()
}

fn official_clients_list_and_call_tools(kind: StoreKind) {
    let catwalk = Catwalk::start(kind);
    let (everything, token) = catwalk.deploy(EVERYTHING, "everything", &[]);
    for script in ["ts_client.mjs", "py_client.py"] {
        let answer = client(
            script,
            &everything,
            &token,
            &[
                "--call",
                "echo",
                "--args",
                r#"{"message":"hello through catwalk"}"#,
            ],
        );
        assert!(
            tool_names(&answer).contains(&"echo".to_string()),
            "{script}: {answer}"
        );
        assert!(
            text_of(&answer).contains("hello through catwalk"),
            "{script}: {answer}"
        );
    }

    // The legacy HTTP+SSE transport (2024-11-05) of the same deployment.
    let sse = everything.replace("/mcp", "/sse");
    let answer = client(
        "ts_client.mjs",
        &sse,
        &token,
        &[
            "--transport",
            "sse",
            "--call",
            "echo",
            "--args",
            r#"{"message":"over legacy sse"}"#,
        ],
    );
    assert!(text_of(&answer).contains("over legacy sse"), "{answer}");

    let (time, token) = catwalk.deploy(TIME, "time", &[]);
    for script in ["ts_client.mjs", "py_client.py"] {
        let answer = client(
            script,
            &time,
            &token,
            &[
                "--call",
                "get_current_time",
                "--args",
                r#"{"timezone":"UTC"}"#,
            ],
        );
        assert!(
            tool_names(&answer).contains(&"get_current_time".to_string()),
            "{script}: {answer}"
        );
        let text = text_of(&answer);
        assert!(
            text.contains("UTC") && text.contains("datetime"),
            "{script}: {answer}"
        );
    }

    let listed = catwalk.cli_json(&["ls"]);
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{listed}");
    assert!(names.contains(&"everything") && names.contains(&"time"));
}

fn interleaved_sessions_get_their_own_answers(kind: StoreKind) {
    let catwalk = Catwalk::start(kind);
    let (endpoint, token) = catwalk.deploy(EVERYTHING, "shared", &[]);
    let answer = client("interleave.mjs", &endpoint, &token, &["--calls", "40"]);
    assert_eq!(answer["ok"], true, "{answer}");
    assert_eq!(answer["calls"], 40, "{answer}");
}

fn credentials_reach_the_server_and_nowhere_else(kind: StoreKind) {
    let catwalk = Catwalk::start(kind);

    // Analysis knows the key is required, so Catwalk refuses to deploy without it.
    let refused = catwalk.cli(&["deploy", BRAVE, "--name", "brave"]);
    assert_eq!(refused.status.code(), Some(1));
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(message.contains("BRAVE_API_KEY"), "{message}");

    let brave_key = unique_secret("brave-key");
    let (brave, token) = catwalk.deploy(BRAVE, "brave", &[("BRAVE_API_KEY", &brave_key)]);
    let mut tools = tool_names(&client("ts_client.mjs", &brave, &token, &[]));
    tools.sort();
    assert_eq!(tools, ["brave_local_search", "brave_web_search"]);

    // The refusal matters: the installed server itself exits without the key.
    let installed = harness::shared_cache().join("packages/npm/@modelcontextprotocol+server-brave-search@0.6.2/node_modules/.bin/mcp-server-brave-search");
    let bare = std::process::Command::new(&installed)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(bare.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&bare.stderr)
            .contains("BRAVE_API_KEY environment variable is required")
    );

    let injected = unique_secret("injected");
    let (everything, token) = catwalk.deploy(
        EVERYTHING,
        "env-check",
        &[("CATWALK_E2E_SECRET", &injected)],
    );
    let answer = client(
        "ts_client.mjs",
        &everything,
        &token,
        &["--call", "get-env", "--args", "{}"],
    );
    assert!(
        text_of(&answer).contains(&injected),
        "the server did not see its env: {answer}"
    );
    assert!(
        !text_of(&answer).contains("CATWALK_VAULT_KEY"),
        "Catwalk's own env leaked: {answer}"
    );

    let logs = catwalk.cli(&["logs", "brave"]);
    assert!(logs.status.success());
    let listing = catwalk.cli(&["ls", "--json"]);
    let shown = catwalk.cli(&["--json", "logs", "env-check"]);
    let mut places = vec![
        ("the database".to_string(), catwalk.database_dump()),
        ("the server log".to_string(), catwalk.server_log()),
        (
            "catwalk logs".to_string(),
            String::from_utf8_lossy(&logs.stdout).into_owned(),
        ),
        (
            "catwalk ls".to_string(),
            String::from_utf8_lossy(&listing.stdout).into_owned(),
        ),
        (
            "catwalk logs --json".to_string(),
            String::from_utf8_lossy(&shown.stdout).into_owned(),
        ),
    ];
    for (path, text) in all_file_contents(catwalk.data_dir.path()) {
        places.push((path.display().to_string(), text));
    }
    assert!(places.len() > 5);
    for (place, text) in &places {
        for secret in [&brave_key, &injected] {
            assert!(
                !text.contains(secret.as_str()),
                "a secret is in plaintext in {place}"
            );
        }
    }
}

fn bad_input_gets_clear_errors_and_loses_nothing(kind: StoreKind) {
    let catwalk = Catwalk::start(kind);
    let (endpoint, token) = catwalk.deploy(EVERYTHING, "keeper", &[]);

    let unknown = catwalk.cli(&["analyze", "npm:@catwalk-e2e/no-such-package-ever"]);
    assert_eq!(unknown.status.code(), Some(1));
    let message = String::from_utf8_lossy(&unknown.stderr).to_lowercase();
    assert!(message.contains("not found"), "{message}");

    let unreachable = catwalk.cli(&[
        "deploy",
        "file:///nonexistent/catwalk/repo.git",
        "--name",
        "ghost",
    ]);
    assert_eq!(unreachable.status.code(), Some(1));
    let message = String::from_utf8_lossy(&unreachable.stderr).to_lowercase();
    assert!(
        message.contains("git") || message.contains("clone"),
        "{message}"
    );

    let http = reqwest::blocking::Client::new();
    let post_to = |url: &str, body: &str, auth: Option<&str>| {
        let mut request = http
            .post(url)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        request.send().unwrap()
    };
    let post = |body: &str, auth: Option<&str>| post_to(&endpoint, body, auth);
    let malformed = post(
        "{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": ",
        Some(&format!("Bearer {token}")),
    );
    assert_eq!(malformed.status(), 400);
    let body: Value = malformed.json().unwrap();
    assert_eq!(body["error"]["code"], -32700, "{body}");

    let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"e2e","version":"1"}}}"#;
    assert_eq!(post(init, None).status(), 401);
    assert_eq!(post(init, Some("Bearer cwd_wrong")).status(), 401);
    let admin = format!("Bearer {}", catwalk.admin_token());
    assert_eq!(
        post(init, Some(&admin)).status(),
        401,
        "the admin token is not an endpoint token"
    );
    assert_eq!(
        http.get(format!("{}/api/deployments", catwalk.url))
            .send()
            .unwrap()
            .status(),
        401
    );

    // Deleting a running deployment stops its process and removes its folder, and only it.
    let (doomed, doomed_token) = catwalk.deploy(EVERYTHING, "doomed", &[]);
    let shown = catwalk.cli_json(&["ls"]);
    let doomed_id = shown
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "doomed")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let home = catwalk.data_dir.path().join("deployments").join(&doomed_id);
    assert!(
        !processes_under(&home).is_empty(),
        "the doomed server is not running in {}",
        home.display()
    );
    let removed = catwalk.cli(&["rm", "doomed"]);
    assert!(
        removed.status.success(),
        "{}",
        String::from_utf8_lossy(&removed.stderr)
    );
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        processes_under(&home).is_empty(),
        "a process of the deleted deployment survived"
    );
    assert!(
        !home.exists(),
        "the deleted deployment's folder is left behind"
    );
    assert_eq!(
        post_to(&doomed, init, Some(&format!("Bearer {doomed_token}"))).status(),
        404
    );
    let again = catwalk.cli(&["rm", "doomed"]);
    assert_eq!(again.status.code(), Some(1));

    // A server that crashes at start ends `failed`, and says why.
    let crasher = tempfile::tempdir().unwrap();
    std::fs::write(
        crasher.path().join("package.json"),
        r#"{"name":"catwalk-crasher","version":"1.0.0","bin":{"catwalk-crasher":"index.js"}}"#,
    )
    .unwrap();
    std::fs::write(
        crasher.path().join("index.js"),
        "#!/usr/bin/env node\nconsole.error('boom: the configuration file is missing');\nprocess.exit(3);\n",
    )
    .unwrap();
    let failed = catwalk.cli(&[
        "deploy",
        crasher.path().to_str().unwrap(),
        "--name",
        "crasher",
    ]);
    assert_eq!(failed.status.code(), Some(1));
    let shown = catwalk.cli_json(&["ls"]);
    let crashed = shown
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "crasher")
        .unwrap();
    assert_eq!(crashed["status"], "failed", "{crashed}");
    let reason = crashed["status_reason"].as_str().unwrap();
    assert!(
        reason.contains("code 3") && reason.contains("boom: the configuration file is missing"),
        "{reason}"
    );
    assert!(catwalk.cli(&["rm", "crasher"]).status.success());

    // The rest is intact.
    let answer = client(
        "ts_client.mjs",
        &endpoint,
        &token,
        &["--call", "echo", "--args", r#"{"message":"still here"}"#],
    );
    assert!(text_of(&answer).contains("still here"));
    assert_eq!(catwalk.cli_json(&["ls"]).as_array().unwrap().len(), 1);
}

fn local_folders_and_git_urls_deploy(kind: StoreKind) {
    let catwalk = Catwalk::start(kind);
    let fixture = harness::repo().join("crates/analyze/tests/fixtures/echo-server");
    let secret = unique_secret("echo-token");
    let (endpoint, token) = catwalk.deploy(
        fixture.to_str().unwrap(),
        "local-echo",
        &[("ECHO_SECRET_TOKEN", &secret), ("ECHO_PREFIX", "local: ")],
    );
    let answer = client(
        "ts_client.mjs",
        &endpoint,
        &token,
        &["--call", "echo", "--args", r#"{"text":"hi"}"#],
    );
    assert!(text_of(&answer).contains("local: hi"), "{answer}");

    let repo = tempfile::tempdir().unwrap();
    let copy = repo.path().join("echo");
    copy_dir(&fixture, &copy);
    for args in [
        &["init", "-q"][..],
        &["add", "."],
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@e",
            "commit",
            "-qm",
            "fixture",
        ],
    ] {
        let status = std::process::Command::new("git")
            .args(args)
            .current_dir(&copy)
            .status()
            .unwrap();
        assert!(status.success());
    }
    let url = format!("file://{}", copy.display());
    let (endpoint, token) = catwalk.deploy(
        &url,
        "git-echo",
        &[("ECHO_SECRET_TOKEN", &secret), ("ECHO_PREFIX", "git: ")],
    );
    let answer = client(
        "py_client.py",
        &endpoint,
        &token,
        &["--call", "echo", "--args", r#"{"text":"hi"}"#],
    );
    assert!(text_of(&answer).contains("git: hi"), "{answer}");
}

fn stopping_catwalk_stops_every_server(kind: StoreKind) {
    let mut catwalk = Catwalk::start(kind);
    catwalk.deploy(EVERYTHING, "one", &[]);
    catwalk.deploy(TIME, "two", &[]);
    let folders = catwalk.data_dir.path().join("deployments");
    assert!(processes_under(&folders).len() >= 2);
    catwalk.stop();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        processes_under(&folders),
        Vec::<u32>::new(),
        "server processes outlived Catwalk"
    );
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn public_deployments_need_no_token_until_closed(kind: StoreKind) {
    let catwalk = Catwalk::start(kind);
    let (endpoint, token) = catwalk.deploy_with(EVERYTHING, "open", &[], &["--public"]);
    let listed = catwalk.cli_json(&["ls"]);
    assert_eq!(listed[0]["public"], true, "{listed}");

    // No token at all: the official client lists and calls tools.
    let answer = client(
        "ts_client.mjs",
        &endpoint,
        "",
        &["--call", "echo", "--args", r#"{"message":"open to all"}"#],
    );
    assert!(text_of(&answer).contains("open to all"), "{answer}");

    let closed = catwalk.cli(&["access", "open", "token"]);
    assert!(
        closed.status.success(),
        "{}",
        String::from_utf8_lossy(&closed.stderr)
    );
    let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"e2e","version":"1"}}}"#;
    let anonymous = reqwest::blocking::Client::new()
        .post(&endpoint)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(init)
        .send()
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let answer = client(
        "py_client.py",
        &endpoint,
        &token,
        &["--call", "echo", "--args", r#"{"message":"token again"}"#],
    );
    assert!(text_of(&answer).contains("token again"), "{answer}");
    assert_eq!(catwalk.cli_json(&["ls"])[0]["public"], false);

    let unknown = catwalk.cli(&["access", "ghost", "public"]);
    assert_eq!(unknown.status.code(), Some(1));
}

/// A minimal Streamable HTTP client session, to hold one session across a server crash.
pub(crate) struct RawSession {
    http: reqwest::blocking::Client,
    endpoint: String,
    token: String,
    id: String,
}

impl RawSession {
    fn open(endpoint: &str, token: &str) -> RawSession {
        let params = serde_json::json!({"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"e2e","version":"1"}});
        RawSession::open_as(endpoint, token, params)
    }

    /// Opens a session with these `initialize` parameters.
    fn open_as(endpoint: &str, token: &str, params: Value) -> RawSession {
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let init =
            serde_json::json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":params})
                .to_string();
        let response = http
            .post(endpoint)
            .bearer_auth(token)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(init)
            .send()
            .unwrap();
        assert_eq!(response.status(), 200);
        let id = response.headers()["mcp-session-id"]
            .to_str()
            .unwrap()
            .to_string();
        RawSession {
            http,
            endpoint: endpoint.into(),
            token: token.into(),
            id,
        }
    }

    /// Ends the session (DELETE), as a well-behaved client does when it is done.
    fn end(self) {
        let response = self
            .http
            .delete(&self.endpoint)
            .bearer_auth(&self.token)
            .header("mcp-session-id", &self.id)
            .header("mcp-protocol-version", "2025-06-18")
            .send()
            .unwrap();
        assert!(response.status().is_success(), "{}", response.status());
    }

    /// Sends a request and returns its JSON-RPC response (from a JSON or an SSE answer).
    fn call(&self, id: u32, tool: &str, arguments: Value) -> Value {
        self.call_with_params(id, serde_json::json!({"name":tool,"arguments":arguments}))
    }

    /// `call` asking for progress notifications.
    fn call_with_progress(&self, id: u32, tool: &str, arguments: Value) -> Value {
        let params = serde_json::json!({"name":tool,"arguments":arguments,"_meta":{"progressToken":format!("p{id}")}});
        self.call_with_params(id, params)
    }

    fn call_with_params(&self, id: u32, params: Value) -> Value {
        let body =
            serde_json::json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":params});
        let text = self
            .http
            .post(&self.endpoint)
            .bearer_auth(&self.token)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .header("mcp-session-id", &self.id)
            .header("mcp-protocol-version", "2025-06-18")
            .body(body.to_string())
            .send()
            .unwrap()
            .text()
            .unwrap();
        text.lines()
            .filter_map(|line| line.strip_prefix("data: "))
            .chain(std::iter::once(text.as_str()))
            .filter_map(|chunk| serde_json::from_str::<Value>(chunk).ok())
            .find(|message| message["id"] == id)
            .unwrap_or_else(|| panic!("no response to {id} in {text}"))
    }
}

fn a_session_survives_a_crash_of_its_server(kind: StoreKind) {
    let catwalk = Catwalk::start(kind);
    let (endpoint, token) = catwalk.deploy(EVERYTHING, "phoenix", &[]);
    let session = RawSession::open(&endpoint, &token);
    let first = session.call(1, "echo", serde_json::json!({"message":"before"}));
    assert!(first["result"].to_string().contains("before"), "{first}");

    let id = catwalk.cli_json(&["ls"])[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let home = catwalk.data_dir.path().join("deployments").join(id);
    let pids = processes_under(&home);
    assert!(!pids.is_empty());

    // A long call is in flight when the server dies: it gets an error at once, not a hang.
    let in_flight = std::thread::spawn({
        let session = RawSession {
            http: session.http.clone(),
            endpoint: endpoint.clone(),
            token: token.clone(),
            id: session.id.clone(),
        };
        move || {
            let started = std::time::Instant::now();
            let answer = session.call(
                2,
                "trigger-long-running-operation",
                serde_json::json!({"duration": 30, "steps": 3}),
            );
            (answer, started.elapsed())
        }
    });
    std::thread::sleep(Duration::from_millis(700));
    for pid in &pids {
        let _ = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status();
    }
    let (answer, took) = in_flight.join().unwrap();
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("exited"),
        "{answer}"
    );
    assert!(
        took < Duration::from_secs(10),
        "the in-flight call hung for {took:?}"
    );

    // The same session, without a new initialize, works against the restarted server.
    let after = session.call(3, "echo", serde_json::json!({"message":"after"}));
    assert!(after["result"].to_string().contains("after"), "{after}");
    // The status follows a moment after the restart (the tools are counted first).
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while catwalk.cli_json(&["ls"])[0]["status"] != "running" {
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            catwalk.cli_json(&["ls"])
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let events = reqwest::blocking::Client::new()
        .get(format!("{}/api/deployments/phoenix/events", catwalk.url))
        .bearer_auth(catwalk.admin_token())
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        events.contains("restarting: the process killed by signal 9"),
        "{events}"
    );
    assert!(processes_under(&home).iter().all(|pid| !pids.contains(pid)));
}

fn sampling_elicitation_and_progress_reach_the_client(kind: StoreKind) {
    let catwalk = Catwalk::start(kind);
    let (endpoint, token) = catwalk.deploy(EVERYTHING, "interactive", &[]);
    let sse = endpoint.replace("/mcp", "/sse");
    for (url, transport) in [(&endpoint, "http"), (&sse, "sse")] {
        let answer = client("interactive.mjs", url, &token, &["--transport", transport]);
        assert_eq!(answer["samplingRequests"], 1, "{transport}: {answer}");
        assert!(
            answer["sampling"]
                .to_string()
                .contains("canned sample from the client"),
            "{transport}: {answer}"
        );
        assert_eq!(answer["elicitationRequests"], 1, "{transport}: {answer}");
        assert!(
            answer["elicitation"]
                .to_string()
                .contains("Favorite Number: 7"),
            "{transport}: {answer}"
        );
        // The TypeScript SDK dispatches notifications asynchronously but responses at once, so
        // when the last progress event and the response arrive in one read (often, over the
        // legacy transport), its client drops that last progress. Catwalk sends all three, in
        // order: the gateway's tests check that on the wire.
        let seen = answer["progress"].as_i64().unwrap();
        assert!((2..=3).contains(&seen), "{transport}: {answer}");
    }
}

fn a_call_timeout_spares_calls_that_report_progress(kind: StoreKind) {
    let catwalk = Catwalk::start(kind);
    let (endpoint, token) =
        catwalk.deploy_with(EVERYTHING, "patient", &[], &["--call-timeout", "2"]);
    assert_eq!(catwalk.cli_json(&["ls"])[0]["call_timeout_secs"], 2);
    let session = RawSession::open(&endpoint, &token);

    // Four seconds of work with progress every second: longer than the timeout, and fine.
    let chatty = session.call_with_progress(
        1,
        "trigger-long-running-operation",
        serde_json::json!({"duration": 4, "steps": 4}),
    );
    assert!(
        chatty["result"].to_string().contains("completed"),
        "{chatty}"
    );

    // The same work without progress is cut off after two quiet seconds.
    let started = std::time::Instant::now();
    let quiet = session.call(
        2,
        "trigger-long-running-operation",
        serde_json::json!({"duration": 6, "steps": 1}),
    );
    assert_eq!(quiet["error"]["code"], -32001, "{quiet}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    // The limit can be lifted through the API; then the quiet call completes.
    let lifted = reqwest::blocking::Client::new()
        .patch(format!("{}/api/deployments/patient", catwalk.url))
        .bearer_auth(catwalk.admin_token())
        .json(&serde_json::json!({"call_timeout_secs": null}))
        .send()
        .unwrap();
    assert_eq!(lifted.status(), 200);
    let answer = session.call(
        3,
        "trigger-long-running-operation",
        serde_json::json!({"duration": 3, "steps": 1}),
    );
    assert!(
        answer["result"].to_string().contains("completed"),
        "{answer}"
    );
}

fn a_process_per_session_lives_and_dies_with_its_session(kind: StoreKind) {
    let catwalk = Catwalk::start(kind);
    let (endpoint, token) =
        catwalk.deploy_with(EVERYTHING, "isolated", &[], &["--process-per-session"]);
    let listed = catwalk.cli_json(&["ls"]);
    assert_eq!(listed[0]["process_model"], "per_session", "{listed}");
    let home = catwalk
        .data_dir
        .path()
        .join("deployments")
        .join(listed[0]["id"].as_str().unwrap());
    let servers = || processes_under(&home).len();
    let shared = servers();
    assert!(shared >= 1);

    let a = RawSession::open(&endpoint, &token);
    let b = RawSession::open(&endpoint, &token);
    let per_process = shared;
    assert_eq!(
        servers(),
        shared + 2 * per_process,
        "each session should have its own process"
    );
    for (session, word) in [(&a, "alpha"), (&b, "beta")] {
        let answer = session.call(1, "echo", serde_json::json!({"message": word}));
        assert!(answer["result"].to_string().contains(word), "{answer}");
    }

    // Ending a session stops its process, and only its process.
    let ended = reqwest::blocking::Client::new()
        .delete(&endpoint)
        .bearer_auth(&token)
        .header("mcp-session-id", &a.id)
        .send()
        .unwrap();
    assert_eq!(ended.status(), 200);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while servers() != shared + per_process {
        assert!(
            std::time::Instant::now() < deadline,
            "the ended session's process is still running"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let answer = b.call(2, "echo", serde_json::json!({"message": "still here"}));
    assert!(
        answer["result"].to_string().contains("still here"),
        "{answer}"
    );

    // Removing the deployment stops every process, the sessions' too.
    assert!(catwalk.cli(&["rm", "isolated"]).status.success());
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(processes_under(&home), Vec::<u32>::new());
}

fn a_process_per_session_is_its_clients_own_even_after_a_crash(kind: StoreKind) {
    let catwalk = Catwalk::start(kind);
    let folder = conformance_fixture::fixture_folder();
    let (endpoint, token) = catwalk.deploy_with(
        folder.to_str().unwrap(),
        "own-process",
        &[],
        &["--process-per-session"],
    );
    let client = serde_json::json!({"protocolVersion":"2025-06-18",
        "capabilities":{"elicitation":{}},"clientInfo":{"name":"my-editor","version":"7.1"}});
    let session = RawSession::open_as(&endpoint, &token, client);
    let whoami = |id: u32| -> Value {
        let answer = session.call(id, "whoami", serde_json::json!({}));
        let text = answer["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or_else(|| panic!("no whoami text in {answer}"));
        serde_json::from_str(text).unwrap()
    };
    let before = whoami(1);
    assert_eq!(before["clientInfo"]["name"], "my-editor", "{before}");
    assert_eq!(before["clientInfo"]["version"], "7.1", "{before}");
    assert!(
        before["capabilities"]["elicitation"].is_object(),
        "{before}"
    );

    // The session's process is the newer of the two servers in the deployment's folder (the
    // other is the shared one); pids inside a sandbox mean nothing here, so it is found by host pid.
    let home = catwalk
        .data_dir
        .path()
        .join("deployments")
        .join(catwalk.cli_json(&["ls"])[0]["id"].as_str().unwrap());
    let started_at = |pid: &u32| -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let fields: Vec<&str> = stat
            .rsplit_once(") ")
            .map_or(vec![], |(_, r)| r.split(' ').collect());
        fields.get(19).and_then(|f| f.parse().ok()).unwrap_or(0)
    };
    let servers = supervision::servers_in(&home);
    assert_eq!(
        servers.len(),
        2,
        "a shared and a session's process: {servers:?}"
    );
    let own = *servers.iter().max_by_key(|pid| started_at(pid)).unwrap();
    assert!(
        std::process::Command::new("kill")
            .args(["-9", &own.to_string()])
            .status()
            .unwrap()
            .success()
    );
    // Once Catwalk has seen the crash, the same session's next call (with no new initialize)
    // waits for the new process, which was initialized as the same client.
    let noticed = "restarting a session's process: the process killed by signal 9";
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let logs = catwalk.cli(&["logs", "own-process"]);
        if String::from_utf8_lossy(&logs.stdout).contains(noticed) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no restart in the logs: {}",
            String::from_utf8_lossy(&logs.stdout)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let after = whoami(2);
    let servers = supervision::servers_in(&home);
    assert!(!servers.contains(&own), "{servers:?}");
    assert_eq!(after["clientInfo"], before["clientInfo"], "{after}");
    assert_eq!(after["capabilities"], before["capabilities"], "{after}");
}
