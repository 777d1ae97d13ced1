//! The dashboard in a real browser: `tests/browser/dashboard.mjs` drives Debian's chromium through
//! the page (sign-in with the admin token, a new password, analyze, env form, deploy) against a
//! real Catwalk, checks what the page shows against the REST API, and lists the new endpoint's
//! tools with the official TS SDK.

use std::process::Command;

use serde_json::Value;

use crate::harness::{self, Catwalk, StoreKind, unique_secret};

const BRAVE: &str = "npm:@modelcontextprotocol/server-brave-search@0.6.2";

/// Runs the browser script and returns its JSON line (whatever its outcome) and its stderr.
fn run_dashboard_script(args: &[&str]) -> (Value, String, String) {
    let folder = harness::repo().join("tests/browser");
    assert!(
        folder.join("node_modules/playwright-core").is_dir(),
        "tests/browser has no node_modules: run `npm ci` in tests/browser \
         (and `apt-get install -y chromium`)"
    );
    let output = Command::new("node")
        .current_dir(&folder)
        .arg(folder.join("dashboard.mjs"))
        .args(args)
        .output()
        .expect("node runs (Node.js is needed for the browser test)");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let value = crate::harness::verdict_of("dashboard.mjs", &output);
    assert_eq!(
        value["ok"] == true,
        output.status.success(),
        "dashboard.mjs's exit status disagrees with its output: {value}"
    );
    (value, stdout, stderr)
}

pub fn dashboard_deploys_with_a_real_browser(kind: StoreKind) {
    let catwalk = Catwalk::start(kind);
    let secret = unique_secret("brave-key");
    let screenshots = harness::repo().join("target/e2e-screenshots");
    std::fs::create_dir_all(&screenshots).unwrap();
    let screenshot = screenshots.join(format!("dashboard-{kind:?}.png").to_lowercase());
    let admin = catwalk.admin_token();
    let env = format!("BRAVE_API_KEY={secret}");
    let (answer, stdout, stderr) = run_dashboard_script(&[
        "--url",
        &catwalk.url,
        "--token",
        &admin,
        "--source",
        BRAVE,
        "--name",
        "brave-ui",
        "--env",
        &env,
        "--screenshot",
        screenshot.to_str().unwrap(),
    ]);
    assert_eq!(
        answer["ok"],
        true,
        "the dashboard test failed: {answer}\n--- dashboard.mjs stderr ---\n{stderr}\
         \n--- server log ---\n{}",
        catwalk.server_log()
    );
    assert!(
        !stdout.contains(&secret) && !stderr.contains(&secret),
        "the browser test printed the secret"
    );

    let mut tools: Vec<&str> = answer["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no tools in {answer}"))
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    tools.sort_unstable();
    assert_eq!(
        tools,
        ["brave_local_search", "brave_web_search"],
        "{answer}"
    );
    assert_eq!(
        answer["endpoint"],
        format!("{}/s/brave-ui/mcp", catwalk.url),
        "{answer}"
    );

    let shown = &answer["shown"];
    // Signed in with the admin's token, then with the password the page set.
    assert_eq!(shown["signedInAs"], "admin", "{shown}");
    assert_eq!(shown["cookieVisibleToScripts"], false, "{shown}");
    assert_eq!(shown["writeWithoutCsrf"], 403, "{shown}");
    assert_eq!(shown["signedInWithPassword"], true, "{shown}");
    let hash = catwalk.query("SELECT password_hash FROM users WHERE username = 'admin'");
    assert!(hash[0].starts_with("$argon2id$"), "{hash:?}");
    assert_eq!(shown["runtime"], "node", "{shown}");
    assert!(
        shown["package"]
            .as_str()
            .unwrap()
            .starts_with("@modelcontextprotocol/server-brave-search@0.6.2"),
        "{shown}"
    );
    // The server checks only that its key is set, so with a placeholder key it starts, and the
    // page lists its tools before anything is deployed.
    assert_eq!(shown["introspection"]["status"], "ok", "{shown}");
    assert_eq!(
        shown["introspection"]["tools"],
        serde_json::json!(["brave_web_search", "brave_local_search"]),
        "{shown}"
    );
    let env = shown["env"].as_array().unwrap();
    let key = env
        .iter()
        .find(|v| v["name"] == "BRAVE_API_KEY")
        .unwrap_or_else(|| panic!("the page did not show BRAVE_API_KEY: {shown}"));
    assert_eq!(key["required"], true, "{key}");
    assert_eq!(key["secret"], true, "{key}");
    assert_eq!(key["input"]["type"], "password", "{key}");
    assert_eq!(key["input"]["required"], true, "{key}");
    assert_eq!(shown["listedStatus"], "running", "{shown}");
    assert_eq!(shown["publicChecked"], false, "{shown}");
    assert_eq!(shown["statusWithoutToken"], 401, "{shown}");
    let configs: Vec<&str> = shown["configs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for client in ["claude_desktop", "claude_code", "cursor", "vscode"] {
        assert!(configs.contains(&client), "no {client} config: {shown}");
    }
    assert!(
        shown["missingPackageError"]
            .as_str()
            .unwrap()
            .contains("not found"),
        "{shown}"
    );
    assert!(
        !catwalk.server_log().contains(&secret),
        "the server log holds the secret"
    );
}
