//! Supervision with real processes: idle sleep and wake-up, a hung server restarted after a
//! failed health check, and Catwalk itself killed with `kill -9` and started again. The server
//! is tests/fixtures/misbehaving-server, which hangs, crashes or leaves a process behind when
//! asked to.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::RawSession;
use crate::harness::{self, Catwalk, StoreKind, processes_under};

fn misbehaving_server() -> String {
    let folder = harness::repo().join("tests/fixtures/misbehaving-server");
    folder.to_str().unwrap().to_string()
}

fn home_of(catwalk: &Catwalk, name: &str) -> PathBuf {
    let shown = catwalk.cli_json(&["ls"]);
    let id = shown
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {shown}"))["id"]
        .as_str()
        .unwrap()
        .to_string();
    catwalk.data_dir.path().join("deployments").join(id)
}

fn status_of(catwalk: &Catwalk, name: &str) -> Value {
    let shown = catwalk.cli_json(&["ls"]);
    shown
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no {name} in {shown}"))
}

fn wait_for_status(catwalk: &Catwalk, name: &str, status: &str, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let shown = status_of(catwalk, name);
        if shown["status"] == status {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name} is not {status} after {within:?}: {shown}\n--- server log ---\n{}",
            catwalk.server_log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn events_of(catwalk: &Catwalk, name: &str) -> String {
    reqwest::blocking::Client::new()
        .get(format!("{}/api/deployments/{name}/events", catwalk.url))
        .bearer_auth(catwalk.admin_token())
        .send()
        .unwrap()
        .text()
        .unwrap()
}

fn text_of(answer: &Value) -> String {
    answer["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text in {answer}"))
        .to_string()
}

fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

pub fn an_idle_deployment_sleeps_and_a_request_wakes_it(kind: StoreKind) {
    let mut catwalk = Catwalk::start_with(kind, &["--health-interval", "1"]);
    let (endpoint, token) = catwalk.deploy_with(
        &misbehaving_server(),
        "sleepy",
        &[],
        &["--sleep-after", "2"],
    );
    assert_eq!(status_of(&catwalk, "sleepy")["sleep_after_secs"], 2);
    let home = home_of(&catwalk, "sleepy");
    let session = RawSession::open(&endpoint, &token);
    let before = text_of(&session.call(1, "pid", json!({})));

    wait_for_status(&catwalk, "sleepy", "sleeping", Duration::from_secs(20));
    assert_eq!(
        processes_under(&home),
        Vec::<u32>::new(),
        "asleep, yet running"
    );
    // A new session opens without waking the server: its handshake is remembered.
    let newcomer = RawSession::open(&endpoint, &token);
    assert_eq!(processes_under(&home), Vec::<u32>::new());

    // The next request wakes it and is answered as if nothing happened, on either session.
    let answer = newcomer.call(1, "echo", json!({"message": "good morning"}));
    assert_eq!(text_of(&answer), "good morning");
    let after = text_of(&session.call(2, "pid", json!({})));
    assert_ne!(after, before, "a new process should answer");
    assert_eq!(status_of(&catwalk, "sleepy")["status"], "running");
    let events = events_of(&catwalk, "sleepy");
    assert!(events.contains("sleeping: no request for 2 s"), "{events}");
    assert!(events.contains("starting: a request woke it"), "{events}");

    // Asleep when Catwalk restarts, it stays asleep, and still wakes on demand.
    wait_for_status(&catwalk, "sleepy", "sleeping", Duration::from_secs(20));
    catwalk.stop();
    catwalk.restart();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(status_of(&catwalk, "sleepy")["status"], "sleeping");
    assert_eq!(processes_under(&home), Vec::<u32>::new());
    let later = RawSession::open(&endpoint, &token);
    assert_eq!(processes_under(&home), Vec::<u32>::new());
    let answer = later.call(1, "echo", json!({"message": "back again"}));
    assert_eq!(text_of(&answer), "back again");
}

pub fn a_hung_server_is_restarted(kind: StoreKind) {
    let catwalk = Catwalk::start_with(kind, &["--health-interval", "1"]);
    let (endpoint, token) = catwalk.deploy(&misbehaving_server(), "stuck", &[]);
    let session = RawSession::open(&endpoint, &token);
    let before = text_of(&session.call(1, "pid", json!({})));

    // The call never returns on its own: the server blocks its event loop for good. The health
    // check notices (a ping unanswered for 10 s) and restarts it; the call gets an error then.
    let started = Instant::now();
    let answer = session.call(2, "hang", json!({}));
    let took = started.elapsed();
    assert!(
        answer["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("exited")),
        "{answer}"
    );
    assert!(took < Duration::from_secs(40), "took {took:?}");
    wait_for_status(&catwalk, "stuck", "running", Duration::from_secs(20));
    let events = events_of(&catwalk, "stuck");
    assert!(
        events.contains("the server did not answer a ping within 10 s"),
        "{events}"
    );
    let after = text_of(&session.call(3, "pid", json!({})));
    assert_ne!(after, before);
}

pub fn kill_9_then_restart_leaves_no_orphan_and_no_duplicate(kind: StoreKind) {
    const COUNT: usize = 10;
    let mut catwalk = Catwalk::start(kind);
    let mut homes = Vec::new();
    let mut old_pids = Vec::new();
    let mut endpoints = Vec::new();
    for i in 0..COUNT {
        let name = format!("svc-{i}");
        endpoints.push(catwalk.deploy(&misbehaving_server(), &name, &[]));
        let home = home_of(&catwalk, &name);
        let pids = processes_under(&home);
        assert_eq!(pids.len(), 1, "{name}: {pids:?}");
        old_pids.extend(pids);
        homes.push(home);
    }
    // One server leaves a process of its own that escapes its process group.
    let (endpoint, token) = &endpoints[0];
    let session = RawSession::open(endpoint, token);
    let orphan: u32 = text_of(&session.call(1, "spawn_orphan", json!({})))
        .parse()
        .unwrap();
    assert!(alive(orphan));

    catwalk.kill9();
    let deadline = Instant::now() + Duration::from_secs(10);
    while old_pids.iter().any(|pid| alive(*pid)) {
        assert!(
            Instant::now() < deadline,
            "servers outlived a kill -9 of Catwalk"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(alive(orphan), "the escaped process is the case to clean up");

    catwalk.restart();
    for i in 0..COUNT {
        wait_for_status(
            &catwalk,
            &format!("svc-{i}"),
            "running",
            Duration::from_secs(60),
        );
    }
    assert!(
        !alive(orphan),
        "the orphan of the earlier run is still alive"
    );
    for (i, home) in homes.iter().enumerate() {
        let pids = processes_under(home);
        assert_eq!(
            pids.len(),
            1,
            "svc-{i} runs {} processes: {pids:?}",
            pids.len()
        );
        assert!(!old_pids.contains(&pids[0]));
    }
    for (endpoint, token) in &endpoints {
        let session = RawSession::open(endpoint, token);
        let answer = session.call(1, "echo", json!({"message": "still here"}));
        assert_eq!(text_of(&answer), "still here");
    }

    // A second Catwalk on the same data directory would start every server again: refused.
    let second = catwalk.serve_again();
    assert!(!second.status.success());
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(said.contains("another Catwalk"), "{said}");
}
