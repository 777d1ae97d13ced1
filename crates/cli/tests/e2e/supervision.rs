//! Supervision with real processes: idle sleep and wake-up, a hung server restarted after a
//! failed health check, and Catwalk itself killed with `kill -9` and started again. The server
//! is tests/fixtures/misbehaving-server, which hangs, crashes or leaves a process behind when
//! asked to.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{self, Catwalk, StoreKind, processes_under};
use crate::{RawSession, text_of};

pub(crate) fn misbehaving_server() -> String {
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

pub(crate) fn wait_for_status(catwalk: &Catwalk, name: &str, status: &str, within: Duration) {
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

/// Running or sleeping, not gone and not a zombie (a killed orphan stays a zombie until the
/// machine's init reaps it, which in a container may be never).
/// The server processes (not bubblewrap's own) working in a deployment's folder, by host pid.
pub(crate) fn servers_in(folder: &std::path::Path) -> Vec<u32> {
    processes_under(folder)
        .into_iter()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| comm.trim() != "bwrap")
        })
        .collect()
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z'))
    })
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
    let before = text_of(&session.call(1, "instance", json!({})));

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
    let after = text_of(&session.call(2, "instance", json!({})));
    assert_ne!(after, before, "a new process should answer");
    wait_for_status(&catwalk, "sleepy", "running", Duration::from_secs(10));
    let events = events_of(&catwalk, "sleepy");
    assert!(events.contains("sleeping: no request for 2 s"), "{events}");
    assert!(events.contains("starting: a request woke it"), "{events}");

    // With sessions open, it sleeps lightly: its supervisor keeps their upstream.
    wait_for_status(&catwalk, "sleepy", "sleeping", Duration::from_secs(20));
    assert!(
        metrics_of(&catwalk).contains(r#"catwalk_deployments_held{state="supervised"} 1"#),
        "{}",
        metrics_of(&catwalk)
    );

    // Asleep when Catwalk restarts, it stays asleep, in deep sleep (nothing held but an entry),
    // and still wakes on demand; the tools it listed are still shown.
    catwalk.stop();
    catwalk.restart();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(status_of(&catwalk, "sleepy")["status"], "sleeping");
    assert_eq!(processes_under(&home), Vec::<u32>::new());
    let metrics = metrics_of(&catwalk);
    assert!(
        metrics.contains(r#"catwalk_deployments_held{state="asleep"} 1"#),
        "{metrics}"
    );
    let shown: Value = reqwest::blocking::Client::new()
        .get(format!("{}/api/deployments/sleepy", catwalk.url))
        .bearer_auth(catwalk.admin_token())
        .send()
        .unwrap()
        .json()
        .unwrap();
    let tools = &shown["tools"];
    assert!(
        tools
            .as_array()
            .is_some_and(|tools| tools.iter().any(|tool| tool["name"] == "echo")),
        "{tools}"
    );
    let later = RawSession::open(&endpoint, &token);
    assert_eq!(processes_under(&home), Vec::<u32>::new());
    let answer = later.call(1, "echo", json!({"message": "back again"}));
    assert_eq!(
        text_of(&answer),
        "back again",
        "{answer}\n--- events ---\n{}\n--- server log ---\n{}",
        events_of(&catwalk, "sleepy"),
        catwalk.server_log()
    );

    // The metrics (kept in memory, so since the restart of Catwalk): one wake-up, two requests.
    wait_for_status(&catwalk, "sleepy", "running", Duration::from_secs(10));
    let http = reqwest::blocking::Client::new();
    let url = format!("{}/metrics", catwalk.url);
    assert_eq!(http.get(&url).send().unwrap().status(), 401);
    let metrics = metrics_of(&catwalk);
    assert!(
        metrics.contains(r#"catwalk_deployments{status="running"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"catwalk_process_starts_total{deployment="sleepy"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"catwalk_mcp_requests_total{deployment="sleepy",code="2xx"} 2"#),
        "{metrics}"
    );
    assert!(
        metrics.contains("catwalk_process_start_seconds_bucket"),
        "{metrics}"
    );
    assert!(
        metrics.contains("catwalk_mcp_request_seconds_count"),
        "{metrics}"
    );

    // Once its last session ends and it sleeps, it goes from memory; a new session wakes it
    // from there, answered as before.
    later.end();
    wait_for_status(&catwalk, "sleepy", "sleeping", Duration::from_secs(20));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !metrics_of(&catwalk).contains(r#"catwalk_deployments_held{state="asleep"} 1"#) {
        assert!(Instant::now() < deadline, "{}", metrics_of(&catwalk));
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(processes_under(&home), Vec::<u32>::new());
    let fresh = RawSession::open(&endpoint, &token);
    let answer = fresh.call(1, "echo", json!({"message": "once more"}));
    assert_eq!(
        text_of(&answer),
        "once more",
        "{answer}\n--- events ---\n{}\n--- server log ---\n{}",
        events_of(&catwalk, "sleepy"),
        catwalk.server_log()
    );
    assert_eq!(
        servers_in(&home).len(),
        1,
        "--- events ---\n{}",
        events_of(&catwalk, "sleepy")
    );
}

fn metrics_of(catwalk: &Catwalk) -> String {
    reqwest::blocking::Client::new()
        .get(format!("{}/metrics", catwalk.url))
        .bearer_auth(catwalk.admin_token())
        .send()
        .unwrap()
        .text()
        .unwrap()
}

pub fn a_hung_server_is_restarted(kind: StoreKind) {
    let catwalk = Catwalk::start_with(kind, &["--health-interval", "1"]);
    let (endpoint, token) = catwalk.deploy(&misbehaving_server(), "stuck", &[]);
    let session = RawSession::open(&endpoint, &token);
    let before = text_of(&session.call(1, "instance", json!({})));

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
    // The call fails as the process is stopped, a moment before the restart is recorded.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let events = events_of(&catwalk, "stuck");
        let restarted = events.find("restarting: the process did not answer a ping within 10 s");
        if restarted.is_some_and(|at| events[at..].contains("running")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no restart after the hang: {events}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let after = text_of(&session.call(3, "instance", json!({})));
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
        assert_eq!(servers_in(&home).len(), 1, "{name}");
        old_pids.extend(processes_under(&home));
        homes.push(home);
    }
    // One server leaves a process of its own that escapes its process group.
    let (endpoint, token) = &endpoints[0];
    let session = RawSession::open(endpoint, token);
    let orphan = session.call(1, "spawn_orphan", json!({}));
    assert!(
        !orphan["result"]["isError"].as_bool().unwrap_or(false),
        "{orphan}"
    );
    let escaped: Vec<u32> = processes_under(&homes[0])
        .into_iter()
        .filter(|pid| !old_pids.contains(pid))
        .collect();
    assert_eq!(escaped.len(), 1, "the orphan should be found: {escaped:?}");
    old_pids.extend(&escaped);

    catwalk.kill9();
    // Nothing survives Catwalk: not the servers, not the sandboxes, not the orphan.
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Some(pid) = old_pids.iter().find(|pid| alive(**pid)) {
        assert!(
            Instant::now() < deadline,
            "pid {pid} outlived a kill -9 of Catwalk"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    catwalk.restart();
    for i in 0..COUNT {
        wait_for_status(
            &catwalk,
            &format!("svc-{i}"),
            "running",
            Duration::from_secs(60),
        );
    }
    for (i, home) in homes.iter().enumerate() {
        let servers = servers_in(home);
        assert_eq!(
            servers.len(),
            1,
            "svc-{i} runs {} servers: {servers:?}",
            servers.len()
        );
        assert!(!old_pids.contains(&servers[0]));
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

pub fn a_server_sees_only_its_own_folders(kind: StoreKind) {
    let catwalk = Catwalk::start(kind);
    let (endpoint, token) = catwalk.deploy(&misbehaving_server(), "boxed", &[]);
    let (other_endpoint, other_token) = catwalk.deploy(&misbehaving_server(), "neighbour", &[]);
    let home = home_of(&catwalk, "boxed");
    let neighbour = home_of(&catwalk, "neighbour");
    let session = RawSession::open(&endpoint, &token);
    let read = |id: u32, path: &std::path::Path| {
        session.call(id, "read_file", json!({"path": path.to_str().unwrap()}))
    };
    let data = catwalk.data_dir.path();

    // Catwalk's own secrets and database are out of sight.
    for (id, file) in ["vault.key", "admin-token", "catwalk.db"]
        .iter()
        .enumerate()
    {
        let answer = read(id as u32 + 1, &data.join(file));
        assert_eq!(
            answer["result"]["isError"], true,
            "{file} was readable: {answer}"
        );
        assert!(text_of(&answer).contains("ENOENT"), "{answer}");
    }
    // Its network is its own: it reaches the host's address on the network...
    let listener = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let probe = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    probe.connect("192.0.2.1:9").unwrap();
    let outside = probe.local_addr().unwrap().ip();
    assert!(!outside.is_loopback(), "{outside}");
    let answer = session.call(
        29,
        "connect",
        json!({"host": outside.to_string(), "port": listener.local_addr().unwrap().port()}),
    );
    assert_eq!(text_of(&answer), "connected", "{answer}");
    // ...but nothing on the host's loopback answers it, neither Catwalk's API nor the
    // PostgreSQL server the tests use (trust auth: it would hand over the database).
    let api_port = catwalk
        .url
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/');
    for (id, (host, port)) in [
        ("127.0.0.1", api_port),
        ("127.0.0.1", "5432"),
        ("10.0.2.2", api_port),
    ]
    .into_iter()
    .enumerate()
    {
        let port: u16 = port.parse().unwrap();
        let answer = session.call(
            30 + id as u32,
            "connect",
            json!({"host": host, "port": port}),
        );
        assert_eq!(
            answer["result"]["isError"], true,
            "{host}:{port} on the host's loopback answered: {answer}"
        );
    }

    // So is the other deployment's folder, and the other server's process.
    let secret = neighbour.join("home/secret.txt");
    let other = RawSession::open(&other_endpoint, &other_token);
    let wrote = other.call(
        1,
        "write_file",
        json!({"path": secret.to_str().unwrap(), "content": "mine"}),
    );
    assert_eq!(text_of(&wrote), format!("wrote {}", secret.display()));
    let answer = read(10, &secret);
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    let other_pid = servers_in(&neighbour)[0];
    assert!(
        other_pid > 10,
        "a host pid, not one inside a sandbox: {other_pid}"
    );
    let answer = read(11, &PathBuf::from(format!("/proc/{other_pid}/cmdline")));
    assert_eq!(answer["result"]["isError"], true, "{answer}");

    // It writes in its own home, which outlives a restart, and nowhere else.
    let note = home.join("home/note.txt");
    let wrote = session.call(
        12,
        "write_file",
        json!({"path": note.to_str().unwrap(), "content": "kept"}),
    );
    assert!(
        !wrote["result"]["isError"].as_bool().unwrap_or(false),
        "{wrote}"
    );
    // The data folder the API names is writable too, and what lands there is on the host.
    let data_folder = status_of(&catwalk, "boxed")["data_folder"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(PathBuf::from(&data_folder), home.join("data"));
    let shared = format!("{data_folder}/shared.txt");
    let wrote = session.call(
        20,
        "write_file",
        json!({"path": shared, "content": "for the host"}),
    );
    assert!(
        !wrote["result"]["isError"].as_bool().unwrap_or(false),
        "{wrote}"
    );
    assert_eq!(std::fs::read_to_string(&shared).unwrap(), "for the host");
    let outside = session.call(
        13,
        "write_file",
        json!({"path": "/usr/local/catwalk-was-here", "content": "x"}),
    );
    assert_eq!(outside["result"]["isError"], true, "{outside}");
    assert!(!std::path::Path::new("/usr/local/catwalk-was-here").exists());
    let instance = text_of(&session.call(14, "instance", json!({})));
    let _ = session.call(15, "crash", json!({}));
    let deadline = Instant::now() + Duration::from_secs(20);
    while session.call(16, "instance", json!({}))["result"]["content"][0]["text"]
        == instance.as_str()
    {
        assert!(Instant::now() < deadline, "no restart after the crash");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(text_of(&read(17, &note)), "kept");

    let system: Value = reqwest::blocking::Client::new()
        .get(format!("{}/api/system", catwalk.url))
        .bearer_auth(catwalk.admin_token())
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(system["isolation"]["sandboxed"], true, "{system}");
}

pub fn a_server_over_its_memory_limit_is_stopped_and_said_so(kind: StoreKind) {
    let catwalk = Catwalk::start(kind);
    let (endpoint, token) =
        catwalk.deploy_with(&misbehaving_server(), "greedy", &[], &["--memory", "96"]);
    assert_eq!(status_of(&catwalk, "greedy")["limits"]["memory_mib"], 96);
    let session = RawSession::open(&endpoint, &token);
    let answer = session.call(1, "eat_memory", json!({}));
    assert!(answer["error"].is_object(), "{answer}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let events = events_of(&catwalk, "greedy");
        if events.contains("memory limit exceeded (96 MiB)") {
            break;
        }
        assert!(Instant::now() < deadline, "no memory-limit event: {events}");
        std::thread::sleep(Duration::from_millis(200));
    }
    wait_for_status(&catwalk, "greedy", "running", Duration::from_secs(20));
    assert_eq!(
        text_of(&session.call(2, "echo", json!({"message": "lean again"}))),
        "lean again"
    );

    // Settings that shape the process can change later: the server starts again with them.
    let http = reqwest::blocking::Client::new();
    let patch = |body: Value| {
        http.patch(format!("{}/api/deployments/greedy", catwalk.url))
            .bearer_auth(catwalk.admin_token())
            .json(&body)
            .send()
            .unwrap()
    };
    let bad = patch(json!({"sleep_after_secs": 0}));
    assert_eq!(bad.status(), 400);
    assert!(bad.text().unwrap().contains("sleep_after_secs"));
    let changed = patch(json!({"limits": {"memory_mib": 256}, "network": false}));
    assert_eq!(changed.status(), 200);
    wait_for_status(&catwalk, "greedy", "running", Duration::from_secs(30));
    let shown = status_of(&catwalk, "greedy");
    assert_eq!(shown["limits"], json!({"memory_mib": 256}), "{shown}");
    assert_eq!(shown["network"], false, "{shown}");
    let fresh = RawSession::open(&endpoint, &token);
    assert_eq!(
        text_of(&fresh.call(1, "echo", json!({"message": "reshaped"}))),
        "reshaped"
    );
}

pub fn a_stopped_deployment_stays_stopped_until_started(kind: StoreKind) {
    let mut catwalk = Catwalk::start(kind);
    let (endpoint, token) = catwalk.deploy(&misbehaving_server(), "paused", &[]);
    let home = home_of(&catwalk, "paused");
    let stopped = catwalk.cli_json(&["stop", "paused"]);
    assert_eq!(stopped["status"], "stopped", "{stopped}");
    assert_eq!(processes_under(&home), Vec::<u32>::new());
    let refused = reqwest::blocking::Client::new()
        .post(&endpoint)
        .bearer_auth(&token)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#)
        .send()
        .unwrap();
    assert_eq!(refused.status(), 503);
    assert!(refused.text().unwrap().contains("stopped by its owner"));

    // Its owner's choice outlives a restart of Catwalk.
    catwalk.stop();
    catwalk.restart();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(status_of(&catwalk, "paused")["status"], "stopped");
    assert_eq!(processes_under(&home), Vec::<u32>::new());

    // A client that comes while it starts waits for it, rather than being turned away.
    let started = reqwest::blocking::Client::new()
        .post(format!("{}/api/deployments/paused/start", catwalk.url))
        .bearer_auth(catwalk.admin_token())
        .send()
        .unwrap();
    assert!(started.status().is_success(), "{}", started.status());
    let session = RawSession::open(&endpoint, &token);
    let answer = session.call(1, "echo", json!({"message": "resumed"}));
    assert_eq!(text_of(&answer), "resumed");
    wait_for_status(&catwalk, "paused", "running", Duration::from_secs(30));
    // The timeline of that start reads in order, though it was written beside the work.
    let events: Value = serde_json::from_str(&events_of(&catwalk, "paused")).unwrap();
    let statuses: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["kind"] == "status")
        .filter_map(|event| event["message"].as_str())
        .map(|message| message.split(':').next().unwrap())
        .collect();
    assert!(
        statuses.ends_with(&["stopped", "installing", "starting", "running"]),
        "{statuses:?}"
    );
    let unknown = catwalk.cli(&["stop", "ghost"]);
    assert_eq!(unknown.status.code(), Some(1));
}

pub fn logs_follow_shows_new_lines_as_they_come(kind: StoreKind) {
    use std::io::{BufRead, BufReader};
    let catwalk = Catwalk::start(kind);
    let (endpoint, token) = catwalk.deploy(&misbehaving_server(), "chatty", &[]);
    let mut follow = std::process::Command::new(env!("CARGO_BIN_EXE_catwalk"))
        .args(["logs", "chatty", "-f", "--json"])
        .env("CATWALK_URL", &catwalk.url)
        .env("CATWALK_DATA_DIR", catwalk.data_dir.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (lines_tx, lines_rx) = std::sync::mpsc::channel::<Value>();
    let stdout = follow.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(serde_json::from_str(&line).unwrap());
        }
    });
    let wait_for = |wanted: &str| {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let entry = lines_rx
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("{wanted:?} never came"));
            if entry["line"] == wanted {
                return entry;
            }
        }
    };
    // What was logged before the tail began, then what comes while it runs.
    wait_for("catwalk-misbehaving-fixture ready");
    let session = RawSession::open(&endpoint, &token);
    for word in ["first", "second"] {
        let answer = session.call(1, "log", json!({"message": word}));
        assert_eq!(text_of(&answer), "logged");
        let entry = wait_for(word);
        assert_eq!(entry["stream"], "stderr");
    }
    // Removing the deployment ends the tail with a clear error.
    assert!(catwalk.cli(&["rm", "chatty"]).status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = follow.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "logs -f outlived its deployment");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(!status.success());
}
