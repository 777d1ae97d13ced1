//! Secrets over their life: a deployment's values edited (the server restarts with the new
//! ones, and neither old nor new appears anywhere in plaintext, even when the server prints its
//! environment to its log), and the vault key rotated while servers keep answering.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Catwalk, StoreKind, all_file_contents, unique_secret};
use crate::supervision::{misbehaving_server, wait_for_status};
use crate::{RawSession, text_of};

fn env_of(session: &RawSession, id: u32, name: &str) -> String {
    text_of(&session.call(id, "env", json!({ "name": name })))
}

/// Every place a secret must never be in plaintext, with its name.
fn everywhere(catwalk: &Catwalk, name: &str) -> Vec<(String, String)> {
    let text = |output: std::process::Output| String::from_utf8_lossy(&output.stdout).into_owned();
    let mut places = vec![
        ("the database".to_string(), catwalk.database_dump()),
        ("Catwalk's log".to_string(), catwalk.server_log()),
        (
            "catwalk logs".to_string(),
            text(catwalk.cli(&["logs", name])),
        ),
        (
            "catwalk ls".to_string(),
            text(catwalk.cli(&["--json", "ls"])),
        ),
        (
            "GET /api/deployments/NAME".to_string(),
            reqwest::blocking::Client::new()
                .get(format!("{}/api/deployments/{name}", catwalk.url))
                .bearer_auth(catwalk.admin_token())
                .send()
                .unwrap()
                .text()
                .unwrap(),
        ),
    ];
    places.extend(
        all_file_contents(catwalk.data_dir.path())
            .into_iter()
            .map(|(path, text)| (path.display().to_string(), text)),
    );
    places
}

fn assert_nowhere(places: &[(String, String)], secrets: &[&str]) {
    for (place, text) in places {
        for secret in secrets {
            assert!(
                !text.contains(secret),
                "a secret is in plaintext in {place}"
            );
        }
    }
}

/// Waits until the stored log has `count` lines starting with `prefix`; returns them.
fn log_lines_starting(catwalk: &Catwalk, name: &str, prefix: &str, count: usize) -> Vec<String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let logs = catwalk.cli_json(&["logs", name]);
        let lines: Vec<String> = logs
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|entry| entry["line"].as_str())
            .filter(|line| line.starts_with(prefix))
            .map(str::to_string)
            .collect();
        if lines.len() >= count {
            return lines;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{count} lines starting with {prefix} never reached the log: {logs}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

pub fn edited_values_restart_the_server_and_leave_no_trace(kind: StoreKind) {
    let catwalk = Catwalk::start(kind);
    let old = unique_secret("old-token");
    let (endpoint, token) =
        catwalk.deploy(&misbehaving_server(), "keyed", &[("SERVICE_TOKEN", &old)]);
    let session = RawSession::open(&endpoint, &token);
    assert_eq!(env_of(&session, 1, "SERVICE_TOKEN"), old);
    session.call(2, "print_env", json!({}));

    let new = unique_secret("new-token");
    let extra = unique_secret("extra");
    let new_arg = format!("SERVICE_TOKEN={new}");
    let extra_arg = format!("EXTRA={extra}");
    let edited = catwalk.cli(&["env", "keyed", "-e", &new_arg, "-e", &extra_arg]);
    assert!(
        edited.status.success(),
        "{}",
        String::from_utf8_lossy(&edited.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&edited.stdout).trim(),
        "keyed is running"
    );
    // A restart with other values ends the sessions (as any relaunch does: clients open a
    // new one on the 404); the new process has the new values only.
    let session = RawSession::open(&endpoint, &token);
    assert_eq!(env_of(&session, 3, "SERVICE_TOKEN"), new);
    assert_eq!(env_of(&session, 4, "EXTRA"), extra);
    session.call(5, "print_env", json!({}));
    let shown = catwalk.cli_json(&["ls"]);
    let keyed = shown
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "keyed")
        .unwrap();
    assert_eq!(
        keyed["env_keys"],
        json!(["EXTRA", "SERVICE_TOKEN"]),
        "{keyed}"
    );

    let removed = catwalk.cli(&["env", "keyed", "--unset", "EXTRA"]);
    assert!(removed.status.success());
    let session = RawSession::open(&endpoint, &token);
    assert_eq!(env_of(&session, 6, "EXTRA"), "");
    assert_eq!(env_of(&session, 7, "SERVICE_TOKEN"), new);

    // The server printed its whole environment twice: the log keeps the names, not the values.
    let printed = log_lines_starting(&catwalk, "keyed", "SERVICE_TOKEN=", 2);
    assert!(
        printed
            .iter()
            .all(|line| line == "SERVICE_TOKEN=[REDACTED]"),
        "{printed:?}"
    );
    assert_eq!(
        log_lines_starting(&catwalk, "keyed", "EXTRA=", 1),
        ["EXTRA=[REDACTED]"]
    );
    let events: Value = reqwest::blocking::Client::new()
        .get(format!("{}/api/deployments/keyed/events", catwalk.url))
        .bearer_auth(catwalk.admin_token())
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(
        events.to_string().contains("its credentials changed"),
        "{events}"
    );
    assert_nowhere(&everywhere(&catwalk, "keyed"), &[&old, &new, &extra]);

    // Bad edits are refused with a reason, and change nothing.
    let http = reqwest::blocking::Client::new();
    let patch = |name: &str, body: Value| {
        http.patch(format!(
            "{}/api/deployments/{name}/credentials",
            catwalk.url
        ))
        .bearer_auth(catwalk.admin_token())
        .json(&body)
        .send()
        .unwrap()
    };
    let bad_name = patch("keyed", json!({"env": {"1BAD": "x"}}));
    assert_eq!(bad_name.status(), 400);
    assert!(bad_name.text().unwrap().contains("1BAD"));
    let typo = patch("keyed", json!({"envs": {"A": "x"}}));
    assert_eq!(typo.status(), 400);
    assert_eq!(patch("ghost", json!({"env": {"A": "x"}})).status(), 404);
    assert_eq!(env_of(&session, 8, "SERVICE_TOKEN"), new);
    let nothing = catwalk.cli(&["env", "keyed"]);
    assert_eq!(nothing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&nothing.stderr).contains("nothing to change"));
    let unknown = catwalk.cli(&["env", "ghost", "-e", "A=1"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no deployment named"));
}

pub fn the_vault_key_rotates_while_servers_answer(kind: StoreKind) {
    let mut catwalk = Catwalk::start(kind);
    let first = unique_secret("first");
    let second = unique_secret("second");
    let (endpoint, token) =
        catwalk.deploy(&misbehaving_server(), "one", &[("SERVICE_TOKEN", &first)]);
    catwalk.deploy(&misbehaving_server(), "two", &[("SERVICE_TOKEN", &second)]);
    let key_file = catwalk.data_dir.path().join("vault.key");
    let old_key = std::fs::read_to_string(&key_file).unwrap();

    // A client keeps calling throughout the rotation: every call must be answered.
    let done = Arc::new(AtomicBool::new(false));
    let answers = Arc::new(Mutex::new(Vec::new()));
    let caller = {
        let (done, answers) = (done.clone(), answers.clone());
        let (endpoint, token) = (endpoint.clone(), token.clone());
        std::thread::spawn(move || {
            let session = RawSession::open(&endpoint, &token);
            let mut id = 0;
            while !done.load(Ordering::SeqCst) || id < 5 {
                id += 1;
                let answer = session.call(id, "echo", json!({ "message": id.to_string() }));
                answers.lock().unwrap().push((id, text_of(&answer)));
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let rotated = catwalk.cli(&["vault", "rotate"]);
    done.store(true, Ordering::SeqCst);
    caller.join().unwrap();
    assert!(
        rotated.status.success(),
        "{}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&rotated.stdout).trim(),
        "re-encrypted the secrets of 2 deployment(s) under a new key"
    );
    for (id, text) in answers.lock().unwrap().iter() {
        assert_eq!(text, &id.to_string());
    }

    let new_key = std::fs::read_to_string(&key_file).unwrap();
    assert_eq!(new_key.trim().lines().count(), 1);
    assert_ne!(new_key.trim(), old_key.trim());
    assert!(!new_key.contains(old_key.trim()));
    // Nothing stored can be read with the old key any more; everything with the new one.
    let old_vault = catwalk_vault::Vault::from_keys(&[old_key.trim()]).unwrap();
    let new_vault = catwalk_vault::Vault::from_keys(&[new_key.trim()]).unwrap();
    let tokens = catwalk.query("SELECT env_ciphertext FROM deployments");
    assert_eq!(tokens.len(), 2, "{tokens:?}");
    for token in &tokens {
        assert!(old_vault.decrypt(token).is_err());
        assert!(new_vault.decrypt(token).is_ok());
    }

    // A restart reads everything back with the new key alone.
    catwalk.stop();
    catwalk.restart();
    wait_for_status(&catwalk, "one", "running", Duration::from_secs(60));
    wait_for_status(&catwalk, "two", "running", Duration::from_secs(60));
    let session = RawSession::open(&endpoint, &token);
    assert_eq!(env_of(&session, 1, "SERVICE_TOKEN"), first);
    let shown = catwalk.cli_json(&["ls"]);
    assert!(
        shown
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["status"] == "running"),
        "{shown}"
    );
    assert_nowhere(
        &everywhere(&catwalk, "one"),
        &[&first, &second, old_key.trim()],
    );
}
