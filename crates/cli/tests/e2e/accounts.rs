//! Accounts and tenancy: users, passwords, API tokens, browser sessions with CSRF, and every
//! deployment route answering another user exactly as if the deployment did not exist.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::{Value, json};

use crate::harness::{self, Catwalk, StoreKind};

const BOB_PASSWORD: &str = "bob's long password";

struct Api<'a> {
    catwalk: &'a Catwalk,
    http: Client,
}

impl Api<'_> {
    fn new(catwalk: &Catwalk) -> Api<'_> {
        Api {
            catwalk,
            http: Client::new(),
        }
    }

    fn request(&self, method: &str, path: &str) -> RequestBuilder {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        self.http
            .request(method, format!("{}/api{path}", self.catwalk.url))
    }

    fn as_token(&self, token: &str, method: &str, path: &str, body: Option<Value>) -> Response {
        let mut request = self.request(method, path).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().unwrap()
    }
}

/// `catwalk ARGS` with a token of our choosing and a private config directory, feeding `stdin`.
fn cli_with(
    catwalk: &Catwalk,
    config_dir: &std::path::Path,
    token: Option<&str>,
    args: &[&str],
    stdin: &str,
) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_catwalk"));
    command
        .args(args)
        .env("CATWALK_URL", &catwalk.url)
        .env("CATWALK_CONFIG_DIR", config_dir)
        // No data directory to fall back on: the token must come from the login.
        .env("CATWALK_DATA_DIR", config_dir.join("no-data-dir"))
        .env_remove("CATWALK_TOKEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(token) = token {
        command.args(["--token", token]);
    }
    let mut child = command.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn json_of(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

pub fn users_see_only_their_own_deployments(kind: StoreKind) {
    let catwalk = Catwalk::start(kind);
    let api = Api::new(&catwalk);
    let admin = catwalk.admin_token();
    let me: Value = api.as_token(&admin, "GET", "/me", None).json().unwrap();
    assert_eq!(me["user"]["username"], "admin", "{me}");
    assert_eq!(me["user"]["role"], "admin");
    assert_eq!(me["has_password"], false, "no default password anywhere");

    // The admin adds bob; bob signs in with the CLI and gets a token of his own.
    let created = api.as_token(
        &admin,
        "POST",
        "/users",
        Some(json!({ "username": "bob", "password": BOB_PASSWORD })),
    );
    assert_eq!(created.status(), 201);
    assert_eq!(
        api.as_token(&admin, "POST", "/users", Some(json!({ "username": "bob" })))
            .status(),
        409
    );
    let config = tempfile::tempdir().unwrap();
    let wrong = cli_with(
        &catwalk,
        config.path(),
        None,
        &["login", "--username", "bob", "--password-stdin"],
        "not bob's password\n",
    );
    assert_eq!(wrong.status.code(), Some(4), "{wrong:?}");
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("wrong username or password"));
    let login = cli_with(
        &catwalk,
        config.path(),
        None,
        &["login", "--username", "bob", "--password-stdin", "--json"],
        &format!("{BOB_PASSWORD}\n"),
    );
    let login = json_of(&login);
    assert_eq!(login["user"], "bob", "{login}");
    assert!(
        login["token"].is_null(),
        "the token is not printed: {login}"
    );
    let stored: Value =
        serde_json::from_str(&std::fs::read_to_string(config.path().join("logins.json")).unwrap())
            .unwrap();
    let bob = stored[catwalk.url.as_str()].as_str().unwrap().to_string();
    let whoami = json_of(&cli_with(
        &catwalk,
        config.path(),
        None,
        &["whoami", "--json"],
        "",
    ));
    assert_eq!(whoami["user"]["username"], "bob");
    assert_eq!(whoami["user"]["role"], "member");

    // Members may not manage users, the vault or read the metrics.
    for (method, path) in [("GET", "/users"), ("POST", "/vault/rotate")] {
        let refused = api.as_token(&bob, method, path, Some(json!({})));
        assert_eq!(refused.status(), 403, "{method} {path}");
    }
    let metrics = api
        .http
        .get(format!("{}/metrics", catwalk.url))
        .bearer_auth(&bob)
        .send()
        .unwrap();
    assert_eq!(metrics.status(), 401);

    // The admin's deployment and bob's.
    let fixture = harness::repo().join("crates/analyze/tests/fixtures/echo-server");
    let fixture = fixture.to_str().unwrap();
    let (admin_endpoint, admin_access) = catwalk.deploy(
        fixture,
        "admins-echo",
        &[("ECHO_SECRET_TOKEN", "admins-secret")],
    );
    let bobs = json_of(&cli_with(
        &catwalk,
        config.path(),
        None,
        &[
            "deploy",
            fixture,
            "--name",
            "bobs-echo",
            "-e",
            "ECHO_SECRET_TOKEN=bobs",
            "--json",
        ],
        "",
    ));
    assert_eq!(bobs["deployment"]["status"], "running", "{bobs}");

    let names = |token: &str| -> Vec<String> {
        let list: Value = api
            .as_token(token, "GET", "/deployments", None)
            .json()
            .unwrap();
        list.as_array()
            .unwrap()
            .iter()
            .map(|d| d["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&admin), ["admins-echo"]);
    assert_eq!(names(&bob), ["bobs-echo"]);

    // Every route of the admin's deployment answers bob exactly as a name that does not exist.
    let routes: [(&str, &str, Option<Value>); 14] = [
        ("GET", "", None),
        ("PATCH", "", Some(json!({ "public": true }))),
        ("DELETE", "", None),
        ("POST", "/token", None),
        ("GET", "/tokens", None),
        ("POST", "/tokens", Some(json!({ "name": "mine-now" }))),
        ("DELETE", "/tokens/default-x", None),
        (
            "PATCH",
            "/credentials",
            Some(json!({ "env": { "ECHO_SECRET_TOKEN": "x" } })),
        ),
        ("POST", "/stop", None),
        ("POST", "/start", None),
        ("GET", "/events", None),
        ("GET", "/logs", None),
        ("GET", "/logs/stream", None),
        ("GET", "/nonexistent-route", None),
    ];
    for (method, suffix, body) in &routes {
        let theirs = api.as_token(
            &bob,
            method,
            &format!("/deployments/admins-echo{suffix}"),
            body.clone(),
        );
        let (status, text) = (theirs.status(), theirs.text().unwrap());
        let nothing = api.as_token(
            &bob,
            method,
            &format!("/deployments/no-such-thing{suffix}"),
            body.clone(),
        );
        assert_eq!(status, 404, "{method} admins-echo{suffix}: {text}");
        assert_eq!(nothing.status(), 404);
        assert_eq!(
            text.replace("admins-echo", "NAME"),
            nothing.text().unwrap().replace("no-such-thing", "NAME"),
            "{method} {suffix}: the answer must not tell a taken name from a free one"
        );
        assert!(!text.contains("admins-secret"));
    }
    // ... and the other way round.
    let theirs = api.as_token(&admin, "GET", "/deployments/bobs-echo", None);
    assert_eq!(theirs.status(), 404);
    // Bob's attempts changed nothing: the admin's server still answers with its old token.
    let shown: Value = api
        .as_token(&admin, "GET", "/deployments/admins-echo", None)
        .json()
        .unwrap();
    assert_eq!(shown["status"], "running", "{shown}");
    assert_eq!(shown["public"], false);
    let answer = harness::client(
        "ts_client.mjs",
        &admin_endpoint,
        &admin_access,
        &["--call", "echo", "--args", r#"{"text":"still mine"}"#],
    );
    assert!(answer.to_string().contains("still mine"), "{answer}");

    // Several named access tokens per deployment, each revocable; rotation replaces one.
    let laptop = catwalk.cli_json(&["token", "new", "admins-echo", "laptop"]);
    let laptop_token = laptop["token"].as_str().unwrap().to_string();
    assert_eq!(initialize_status(&admin_endpoint, &laptop_token), 200);
    let listed = catwalk.cli_json(&["token", "ls", "admins-echo"]);
    let token_names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(token_names, ["default", "laptop"]);
    assert!(
        !listed.to_string().contains(&laptop_token),
        "never shown again"
    );
    // A session belongs to the token that opened it: another token of the same deployment
    // cannot use it.
    let (status, session) = initialize(&admin_endpoint, &admin_access);
    assert_eq!(status, 200);
    let session = session.expect("a session id");
    let ping = json!({ "jsonrpc": "2.0", "id": 2, "method": "ping" });
    let own = mcp_post(&admin_endpoint, &admin_access, Some(&session), &ping);
    assert_eq!(own.status(), 200);
    let borrowed = mcp_post(&admin_endpoint, &laptop_token, Some(&session), &ping);
    assert_eq!(
        borrowed.status(),
        404,
        "another token's session is not there"
    );
    let again = catwalk.cli(&["token", "new", "admins-echo", "laptop"]);
    assert!(!again.status.success(), "a second token named laptop");
    let id = laptop["id"].as_str().unwrap();
    catwalk.cli_json(&["token", "revoke", "admins-echo", id]);
    assert_eq!(initialize_status(&admin_endpoint, &laptop_token), 401);
    assert_eq!(initialize_status(&admin_endpoint, &admin_access), 200);
    let rotated = catwalk.cli_json(&["token", "rotate", "admins-echo"]);
    assert_eq!(rotated["name"], "default");
    assert_eq!(initialize_status(&admin_endpoint, &admin_access), 401);
    let admin_access = rotated["token"].as_str().unwrap().to_string();
    assert_eq!(initialize_status(&admin_endpoint, &admin_access), 200);
    assert_eq!(
        api.as_token(&bob, "GET", "/deployments/admins-echo/tokens", None)
            .status(),
        404
    );
    assert!(!catwalk.database_dump().contains(&admin_access));

    // A read-only token reads but does not write; a revoked one does nothing.
    let read_only: Value = api
        .as_token(
            &bob,
            "POST",
            "/tokens",
            Some(json!({ "name": "ci", "scopes": ["read"] })),
        )
        .json()
        .unwrap();
    let read_only_token = read_only["token"].as_str().unwrap().to_string();
    assert_eq!(names(&read_only_token), ["bobs-echo"]);
    let refused = api.as_token(
        &read_only_token,
        "POST",
        "/deployments/bobs-echo/stop",
        None,
    );
    assert_eq!(refused.status(), 403);
    let session = api
        .request("POST", "/auth/session")
        .json(&json!({ "token": read_only_token }))
        .send()
        .unwrap();
    assert_eq!(
        session.status(),
        403,
        "a read-only token cannot become a full session"
    );
    let wider = api.as_token(
        &read_only_token,
        "POST",
        "/tokens",
        Some(json!({ "name": "wider", "scopes": ["read", "write"] })),
    );
    assert_eq!(wider.status(), 403, "a token cannot make a wider one");
    let id = read_only["id"].as_str().unwrap();
    assert_eq!(
        api.as_token(&admin, "DELETE", &format!("/tokens/{id}"), None)
            .status(),
        404,
        "another user's token is not there for the admin either"
    );
    assert_eq!(
        api.as_token(&bob, "DELETE", &format!("/tokens/{id}"), None)
            .status(),
        204
    );
    assert_eq!(
        api.as_token(&read_only_token, "GET", "/deployments", None)
            .status(),
        401
    );
    // An expired token does nothing either.
    let expiring: Value = api
        .as_token(
            &bob,
            "POST",
            "/tokens",
            Some(json!({ "name": "brief", "expires_in_days": 1 })),
        )
        .json()
        .unwrap();
    let expiring_token = expiring["token"].as_str().unwrap();
    assert_eq!(
        api.as_token(expiring_token, "GET", "/me", None).status(),
        200
    );
    let expiring_id = expiring["id"].as_str().unwrap();
    catwalk.query(&format!(
        "UPDATE api_tokens SET expires_at = 1 WHERE id = '{expiring_id}' RETURNING id"
    ));
    assert_eq!(
        api.as_token(expiring_token, "GET", "/me", None).status(),
        401
    );
    let stored_hashes = catwalk.query("SELECT token_hash FROM api_tokens");
    assert!(
        stored_hashes
            .iter()
            .all(|h| h.len() == 64 && !h.starts_with("cwt_"))
    );
    assert!(!catwalk.database_dump().contains(&read_only_token));
    assert!(!catwalk.database_dump().contains(BOB_PASSWORD));

    // A browser session: the cookie alone reads; writes also need the CSRF token.
    let signed_in = api
        .request("POST", "/auth/session")
        .json(&json!({ "username": "bob", "password": BOB_PASSWORD }))
        .send()
        .unwrap();
    assert_eq!(signed_in.status(), 200);
    let cookie = signed_in
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let session = cookie.split(';').next().unwrap().to_string();
    let csrf = signed_in.json::<Value>().unwrap()["csrf_token"]
        .as_str()
        .unwrap()
        .to_string();
    let with_cookie = |method: &str, path: &str, csrf: Option<&str>| {
        let mut request = api
            .request(method, path)
            .header("cookie", &session)
            .json(&json!({ "name": "from the browser" }));
        if let Some(csrf) = csrf {
            request = request.header("x-csrf-token", csrf);
        }
        request.send().unwrap().status().as_u16()
    };
    assert_eq!(with_cookie("GET", "/deployments", None), 200);
    assert_eq!(with_cookie("POST", "/tokens", None), 403, "no CSRF token");
    assert_eq!(with_cookie("POST", "/tokens", Some("csrf_wrong")), 403);
    assert_eq!(with_cookie("POST", "/tokens", Some(&csrf)), 201);
    assert_eq!(with_cookie("DELETE", "/auth/session", Some(&csrf)), 204);
    assert_eq!(with_cookie("GET", "/deployments", None), 401, "signed out");
    let form = api
        .request("POST", "/auth/session")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("username=bob&password={BOB_PASSWORD}"))
        .send()
        .unwrap();
    assert_eq!(
        form.status(),
        415,
        "a cross-site form cannot sign a browser in"
    );

    // The last admin stays; a user who owns deployments stays until they are removed.
    let demote = api.as_token(
        &admin,
        "PATCH",
        "/users/admin",
        Some(json!({ "role": "member" })),
    );
    assert_eq!(demote.status(), 409);
    assert_eq!(
        api.as_token(&admin, "DELETE", "/users/bob", None).status(),
        409
    );
    let removed = cli_with(&catwalk, config.path(), None, &["rm", "bobs-echo"], "");
    assert!(removed.status.success(), "{removed:?}");
    let logout = cli_with(&catwalk, config.path(), None, &["logout"], "");
    assert!(logout.status.success(), "{logout:?}");
    assert_eq!(
        api.as_token(&bob, "GET", "/me", None).status(),
        401,
        "revoked by logout"
    );
    let users = json_of(&cli_with(
        &catwalk,
        config.path(),
        Some(&admin),
        &["user", "rm", "bob", "--json"],
        "",
    ));
    assert_eq!(users["removed"], "bob");
    let signed_in = api
        .request("POST", "/auth/session")
        .json(&json!({ "username": "bob", "password": BOB_PASSWORD }))
        .send()
        .unwrap();
    assert_eq!(signed_in.status(), 401);
}

/// The HTTP status of an MCP `initialize` sent with `token`.
fn initialize_status(endpoint: &str, token: &str) -> u16 {
    initialize(endpoint, token).0
}

/// Sends an MCP `initialize` with `token`: the HTTP status and the session id it got.
fn initialize(endpoint: &str, token: &str) -> (u16, Option<String>) {
    let response = mcp_post(
        endpoint,
        token,
        None,
        &json!({
            "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": { "name": "tenancy-test", "version": "1" }
            }
        }),
    );
    let session = response
        .headers()
        .get("mcp-session-id")
        .map(|v| v.to_str().unwrap().to_string());
    (response.status().as_u16(), session)
}

fn mcp_post(endpoint: &str, token: &str, session: Option<&str>, body: &Value) -> Response {
    let mut request = Client::new()
        .post(endpoint)
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .json(body);
    if let Some(session) = session {
        request = request.header("mcp-session-id", session);
    }
    request.send().unwrap()
}

pub fn api_tokens_and_sign_ins_have_budgets(kind: StoreKind) {
    let catwalk = Catwalk::start_with(kind, &["--rate-limit-api", "5"]);
    let api = Api::new(&catwalk);
    let admin = catwalk.admin_token();
    for _ in 0..5 {
        assert_eq!(api.as_token(&admin, "GET", "/me", None).status(), 200);
    }
    let refused = api.as_token(&admin, "GET", "/me", None);
    assert_eq!(refused.status(), 429);
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=12).contains(&wait), "Retry-After: {wait}");
    let body: Value = refused.json().unwrap();
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");

    // Guessing passwords: ten tries, then 429 even for the right one, for that username only.
    let sign_in = |username: &str, password: &str| {
        api.request("POST", "/auth/session")
            .json(&json!({ "username": username, "password": password }))
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    for _ in 0..10 {
        assert_eq!(sign_in("admin", "a wrong guess, again"), 401);
    }
    assert_eq!(sign_in("admin", "a wrong guess, again"), 429);
    assert_eq!(sign_in("someone-else", "a wrong guess, again"), 401);
}
