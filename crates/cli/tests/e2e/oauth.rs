//! OAuth 2.1 for MCP clients, end to end: the official TypeScript SDK's OAuth client signs in to a
//! deployment with a person in Debian's chromium approving the consent page, then lists and
//! calls tools; the official conformance suite's authorization-server scenarios run against
//! Catwalk's authorization server; and the tokens they got are refused wherever they must be.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use serde_json::{Value, json};

use crate::harness::{self, Catwalk, StoreKind};

const EVERYTHING: &str = "npm:@modelcontextprotocol/server-everything";
const ADA_PASSWORD: &str = "ada's long password";
const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"e2e","version":"1"}}}"#;

fn http() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// Ada, a member with a password, deploys server-everything as `name`; returns its endpoint.
fn ada_deploys(catwalk: &Catwalk, name: &str) -> String {
    let http = http();
    let created = http
        .post(format!("{}/api/users", catwalk.url))
        .bearer_auth(catwalk.admin_token())
        .json(&json!({ "username": "ada", "password": ADA_PASSWORD }))
        .send()
        .unwrap();
    assert_eq!(created.status(), 201);
    let token: Value = http
        .post(format!("{}/api/auth/token", catwalk.url))
        .json(&json!({ "username": "ada", "password": ADA_PASSWORD, "name": "e2e" }))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let token = token["token"].as_str().unwrap().to_string();
    let deployed = http
        .post(format!("{}/api/deployments", catwalk.url))
        .bearer_auth(&token)
        .json(&json!({ "source": EVERYTHING, "name": name }))
        .timeout(Duration::from_secs(300))
        .send()
        .unwrap();
    assert_eq!(deployed.status(), 201);
    let deployed: Value = deployed.json().unwrap();
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let now: Value = http
            .get(format!("{}/api/deployments/{name}", catwalk.url))
            .bearer_auth(&token)
            .send()
            .unwrap()
            .json()
            .unwrap();
        match now["status"].as_str() {
            Some("running") => break,
            Some("failed") => panic!("{name} failed: {now}"),
            _ => {}
        }
        assert!(Instant::now() < deadline, "{name} never ran: {now}");
        std::thread::sleep(Duration::from_millis(250));
    }
    deployed["endpoint"].as_str().unwrap().to_string()
}

/// POSTs `initialize` to an endpoint with a bearer token (in the header, or in the URL).
fn initialize(endpoint: &str, token: &str, in_query: bool) -> reqwest::blocking::Response {
    let mut request = if in_query {
        http().post(format!("{endpoint}?access_token={token}"))
    } else {
        http().post(endpoint).bearer_auth(token)
    };
    request = request
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(INIT);
    request.send().unwrap()
}

pub fn oauth_browser_sign_in_lists_and_calls_tools(kind: StoreKind) {
    let catwalk = Catwalk::start(kind);
    let endpoint = ada_deploys(&catwalk, "mine");
    let (other, _) = catwalk.deploy(EVERYTHING, "other", &[]);

    // Without a token: a 401 that points at the deployment's Protected Resource Metadata.
    let response = http()
        .post(&endpoint)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(INIT)
        .send()
        .unwrap();
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    let metadata_url = format!(
        "{}/.well-known/oauth-protected-resource/s/mine/mcp",
        catwalk.url
    );
    assert_eq!(
        challenge,
        format!("Bearer resource_metadata=\"{metadata_url}\"")
    );
    let metadata: Value = http().get(&metadata_url).send().unwrap().json().unwrap();
    assert_eq!(metadata["resource"], endpoint.as_str());
    assert_eq!(metadata["authorization_servers"], json!([catwalk.url]));

    let folder = harness::repo().join("tests/browser");
    assert!(
        folder.join("node_modules/playwright-core").is_dir(),
        "tests/browser has no node_modules: run `npm ci` there (and apt-get install chromium)"
    );
    let screenshots = harness::repo().join("target/e2e-screenshots");
    std::fs::create_dir_all(&screenshots).unwrap();
    let screenshot = screenshots.join(format!("oauth-{kind:?}.png").to_lowercase());
    let output = Command::new("node")
        .current_dir(&folder)
        .arg(folder.join("oauth.mjs"))
        .args(["--url", &endpoint, "--username", "ada"])
        .args(["--password", ADA_PASSWORD])
        .args(["--screenshot", screenshot.to_str().unwrap()])
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .unwrap_or_else(|| panic!("oauth.mjs printed no JSON: {stdout}\n{stderr}"));
    let answer: Value = serde_json::from_str(line).unwrap();
    assert_eq!(
        answer["ok"],
        true,
        "{answer}\n--- stderr ---\n{stderr}\n--- server log ---\n{}",
        catwalk.server_log()
    );
    assert!(output.status.success());
    assert_eq!(answer["authorization"]["code_challenge_method"], "S256");
    assert_eq!(answer["authorization"]["resource"], endpoint.as_str());
    assert_eq!(
        answer["authorization"]["endpoint"],
        format!("{}/oauth/authorize", catwalk.url)
    );
    assert_eq!(answer["authorization"]["registered"], true);
    assert_eq!(answer["consent"]["client"], "Catwalk OAuth e2e client");
    assert_eq!(answer["consent"]["deployment"], "mine");
    assert_eq!(answer["callback"]["state"], "state-from-the-e2e-client");
    assert_eq!(answer["callback"]["iss"], catwalk.url.as_str());
    let tools: Vec<&str> = answer["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(tools.contains(&"echo"), "{tools:?}");
    assert!(
        answer["echo"]
            .as_str()
            .unwrap()
            .contains("hello over oauth"),
        "{answer}"
    );
    assert_eq!(answer["refresh"]["rotated"], true);
    assert!(answer["refresh"]["tools_after"].as_u64().unwrap() > 0);

    let access = answer["refreshed_access_token"].as_str().unwrap();
    let first_access = answer["access_token"].as_str().unwrap();
    // The token opens its own deployment, in the header only, and no other.
    assert_eq!(initialize(&endpoint, access, false).status(), 200);
    assert_eq!(initialize(&endpoint, access, true).status(), 400);
    let refused = initialize(&other, access, false);
    assert_eq!(refused.status(), 401, "a token for `mine` opens `other`");
    let challenge = refused.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains("/s/other/mcp\""), "{challenge}");
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");

    // Tokens exist only as hashes at rest, and nowhere in the logs.
    let dump = catwalk.database_dump();
    let log = catwalk.server_log();
    for token in [access, first_access] {
        assert!(!dump.contains(token), "a token is stored in clear");
        assert!(!log.contains(token), "a token reached the log");
    }

    // The rotated refresh token presented again: refused, and the whole grant is revoked.
    let reuse: Value = http()
        .post(format!("{}/oauth/token", catwalk.url))
        .form(&[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                answer["refresh"]["old_refresh_token"].as_str().unwrap(),
            ),
            ("client_id", answer["client_id"].as_str().unwrap()),
        ])
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(reuse["error"], "invalid_grant", "{reuse}");
    assert_eq!(initialize(&endpoint, access, false).status(), 401);
}

pub fn oauth_conformance_authorization_scenarios_pass(kind: StoreKind) {
    let catwalk = Catwalk::start(kind);
    let endpoint = ada_deploys(&catwalk, "conf");
    let http = http();
    let signed_in = http
        .post(format!("{}/api/auth/session", catwalk.url))
        .json(&json!({ "username": "ada", "password": ADA_PASSWORD }))
        .send()
        .unwrap();
    assert_eq!(signed_in.status(), 200);
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let csrf = signed_in.json::<Value>().unwrap()["csrf_token"]
        .as_str()
        .unwrap()
        .to_string();

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let registered: Value = http
        .post(format!("{}/oauth/register", catwalk.url))
        .json(&json!({
            "client_name": "MCP conformance suite",
            "redirect_uris": [format!("http://127.0.0.1:{port}/callback")],
            "application_type": "native",
        }))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let client_id = registered["client_id"].as_str().unwrap();

    let folder = harness::repo().join("tests/conformance");
    let node = folder.join("node_modules/.bin/node");
    assert!(
        node.exists(),
        "tests/conformance has no node_modules: run `npm ci` in tests/conformance"
    );
    let results = tempfile::tempdir().unwrap();
    let mut suite = Command::new(node)
        .arg(folder.join("node_modules/@modelcontextprotocol/conformance/dist/index.js"))
        .args([
            "authorization",
            "--url",
            &catwalk.url,
            "--client-id",
            client_id,
        ])
        .args(["--resource", &endpoint, "--port", &port.to_string()])
        .arg("--output-dir")
        .arg(results.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the conformance suite starts");
    let mut lines = BufReader::new(suite.stdout.take().unwrap()).lines();
    let authorize_prefix = format!("{}/oauth/authorize?", catwalk.url);
    let mut printed = String::new();
    let authorization = loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("the suite printed no authorization URL: {printed}"))
            .unwrap();
        printed.push_str(&line);
        printed.push('\n');
        if line.starts_with(&authorize_prefix) {
            break line;
        }
    };
    let rest = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>());

    // The person: the consent page with the session, then Approve with its CSRF token.
    let page = http
        .get(&authorization)
        .header("cookie", &cookie)
        .send()
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().unwrap().contains("MCP conformance suite"));
    let url = reqwest::Url::parse(&authorization).unwrap();
    let mut form: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    form.push(("csrf".into(), csrf));
    form.push(("decision".into(), "approve".into()));
    let approved = http
        .post(format!("{}/oauth/authorize", catwalk.url))
        .header("cookie", &cookie)
        .form(&form)
        .send()
        .unwrap();
    assert_eq!(approved.status(), 303);
    let back = approved.headers()["location"].to_str().unwrap().to_string();
    assert!(back.starts_with(&format!("http://127.0.0.1:{port}/callback?")));
    // The suite prints the authorization URL while its callback listener may still be coming
    // up on a loaded machine: a refused connection is tried again for a while.
    let deadline = Instant::now() + Duration::from_secs(20);
    let callback = loop {
        match http.get(&back).send() {
            Ok(response) => break response,
            Err(error) if error.is_connect() && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(error) => panic!("the suite's callback at {back} did not answer: {error}"),
        }
    };
    assert_eq!(callback.status(), 200);

    let status = suite.wait().unwrap();
    let rest = rest.join().unwrap().join("\n");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut suite.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(
        status.success(),
        "the authorization scenarios failed:\n{printed}{rest}\n{stderr}\n--- server log ---\n{}",
        catwalk.server_log()
    );
    let mut checks = Vec::new();
    for entry in walk(results.path()) {
        if entry.file_name().is_some_and(|n| n == "checks.json") {
            let text = std::fs::read_to_string(&entry).unwrap();
            let found: Vec<Value> = serde_json::from_str(&text).unwrap();
            checks.extend(found);
        }
    }
    let ids: Vec<&str> = checks.iter().map(|c| c["id"].as_str().unwrap()).collect();
    for expected in [
        "authorization-server-metadata",
        "authorization-server-metadata-cimd",
        "authorization-code-grant",
    ] {
        assert!(ids.contains(&expected), "{expected} did not run: {ids:?}");
    }
    for check in &checks {
        assert_eq!(check["status"], "SUCCESS", "{check}");
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}
