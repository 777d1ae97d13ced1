//! Real bubblewrap sandboxes around real processes: what a server can see, read, write and reach,
//! its resource limits, and that stopping it leaves nothing behind.
//!
//! Needs `bwrap` installed (the `bubblewrap` package) and, for the limits, cgroup v1 controllers
//! Catwalk may create cgroups in (as root on this kind of host).

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use catwalk_runtime::{
    Enforcement, ExitInfo, Instance, LimitExceeded, ProcessSpec, ResourceLimits, Sandbox,
    SandboxPolicy, base_env, limit_support, spawn_sandboxed, spawn_with_limits,
};
use common::{RecordingSink, fixture, next_line, python};
use serde_json::{Value, json};

/// A Catwalk data directory with two deployments, as the server lays it out.
struct Host {
    root: tempfile::TempDir,
    marker: String,
}

impl Host {
    fn new() -> Host {
        // The data directory's parents are read-only in a sandbox, as on a real host.
        let root = common::host_scratch();
        let data = root.path().join("catwalk-data");
        for deployment in ["a", "b"] {
            for folder in ["home", "data"] {
                std::fs::create_dir_all(data.join("deployments").join(deployment).join(folder))
                    .unwrap();
            }
        }
        std::fs::write(data.join("catwalk.db"), "SQLite format 3\0 the database").unwrap();
        std::fs::write(data.join("vault.key"), "the-vault-key").unwrap();
        std::fs::write(data.join("admin-token"), "the-admin-token").unwrap();
        std::fs::write(data.join("deployments/b/data/secret.txt"), "b's data").unwrap();
        std::fs::write(data.join("deployments/b/home/.env"), "B_TOKEN=x").unwrap();
        Host {
            root,
            marker: unique_marker(),
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.root.path().join("catwalk-data")
    }

    fn secrets(&self) -> Vec<PathBuf> {
        ["catwalk.db", "vault.key", "admin-token"]
            .iter()
            .map(|name| self.data_dir().join(name))
            .collect()
    }

    fn folder(&self, deployment: &str, folder: &str) -> PathBuf {
        self.data_dir()
            .join("deployments")
            .join(deployment)
            .join(folder)
    }

    fn sandbox(&self) -> Sandbox {
        Sandbox::probe()
            .expect("bubblewrap must be installed and usable to run these tests")
            .hide(self.secrets())
    }

    /// Deployment `a`'s policy: the fixtures folder plays the installed package.
    fn policy(&self) -> SandboxPolicy {
        let mut policy = SandboxPolicy::new(self.folder("a", "home"), self.folder("a", "data"));
        policy.read_only.push(fixtures_dir());
        policy
    }

    fn spec(&self) -> ProcessSpec {
        let home = self.folder("a", "home");
        ProcessSpec {
            program: python(),
            args: vec![fixture("sandbox_probe.py"), self.marker.clone()],
            env: base_env(&home),
            cwd: home,
        }
    }

    fn start(&self, policy: &SandboxPolicy) -> (Instance, Arc<RecordingSink>) {
        let sink = Arc::new(RecordingSink::default());
        let instance = spawn_sandboxed(&self.spec(), &self.sandbox(), policy, sink.clone())
            .unwrap_or_else(|error| panic!("sandboxed start failed: {error}"));
        (instance, sink)
    }

    /// Host pids whose command line contains this test's marker.
    fn marked_processes(&self) -> Vec<u32> {
        processes_with(&self.marker)
    }

    /// Waits until `n` processes carry the marker (a forked child shows it once it has
    /// executed its program).
    async fn wait_for_marked(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.marked_processes().len() != n {
            assert!(
                Instant::now() < deadline,
                "expected {n} processes, found {:?}",
                self.marked_processes()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn unique_marker() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "catwalk-sandbox-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn processes_with(marker: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        // A zombie has an empty command line; only live processes count.
        if String::from_utf8_lossy(&cmdline).contains(marker) && common::is_running(pid) {
            found.push(pid);
        }
    }
    found
}

/// Sends one command to the probe server and returns its answer.
async fn ask(instance: &mut Instance, command: Value) -> Value {
    instance.stdin.send(command.to_string()).await.unwrap();
    let line = next_line(instance, 30).await;
    serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}"))
}

async fn read(instance: &mut Instance, path: &Path) -> Value {
    ask(instance, json!({"op": "read", "path": path})).await
}

async fn write(instance: &mut Instance, path: &Path, text: &str) -> Value {
    ask(instance, json!({"op": "write", "path": path, "text": text})).await
}

fn assert_failed(answer: &Value, what: &str) {
    assert_eq!(answer["ok"], json!(false), "{what} should fail: {answer}");
}

async fn exit_within(instance: &Instance, secs: u64) -> ExitInfo {
    tokio::time::timeout(Duration::from_secs(secs), instance.take_exit())
        .await
        .expect("the process did not exit in time")
        .unwrap()
}

#[test]
fn probe_finds_bwrap_and_explains_when_it_is_missing_or_cannot_work() {
    let sandbox = Sandbox::probe().unwrap();
    assert!(sandbox.version().starts_with("bubblewrap "), "{sandbox}");
    assert!(sandbox.program().is_absolute());
    assert!(
        sandbox.blocks_nested_userns(),
        "bubblewrap 0.8 or later is expected here"
    );

    let missing = Sandbox::probe_program(Path::new("/nonexistent/bwrap")).unwrap_err();
    assert!(
        missing.reason.contains("was not found")
            && missing.reason.contains("apt-get install bubblewrap"),
        "{missing}"
    );

    // A bwrap that exists but cannot create namespaces, as in a locked-down container.
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("bwrap");
    std::fs::write(
        &fake,
        "#!/bin/sh\n[ \"$1\" = --version ] && { echo 'bubblewrap 0.8.0'; exit 0; }\n\
         echo 'bwrap: No permissions to create new namespace' >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let broken = Sandbox::probe_program(&fake).unwrap_err();
    assert!(
        broken.reason.contains("cannot create a sandbox")
            && broken
                .reason
                .contains("No permissions to create new namespace"),
        "{broken}"
    );

    // A bubblewrap older than 0.8: no --disable-userns, the rest works.
    let old = dir.path().join("old-bwrap");
    std::fs::write(
        &old,
        format!(
            "#!/bin/sh\nfor arg in \"$@\"; do\n  if [ \"$arg\" = --disable-userns ]; then\n    \
             echo 'bwrap: Unknown option --disable-userns' >&2; exit 1\n  fi\ndone\n\
             exec {} \"$@\"\n",
            sandbox.program().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&old, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let older = Sandbox::probe_program(&old).unwrap();
    assert!(!older.blocks_nested_userns());
    assert!(
        older
            .to_string()
            .contains("too old to keep servers from creating user namespaces")
    );
}

#[test]
fn this_host_enforces_every_limit_through_cgroups_and_rlimits() {
    let support = limit_support();
    assert_eq!(support.memory, Enforcement::Cgroup, "{support:?}");
    assert_eq!(support.processes, Enforcement::Cgroup, "{support:?}");
    assert_eq!(support.cpu, Enforcement::Cgroup, "{support:?}");
    assert!(matches!(support.open_files, Enforcement::Rlimit(_)));
}

#[tokio::test]
async fn a_sandboxed_server_sees_neither_catwalks_secrets_nor_other_deployments() {
    let host = Host::new();
    let (mut instance, _sink) = host.start(&host.policy());

    // Control: the same kind of read works on what the sandbox does show.
    std::fs::write(host.folder("a", "home").join("mine.txt"), "a's own").unwrap();
    let own = read(&mut instance, &host.folder("a", "home").join("mine.txt")).await;
    assert_eq!(own["text"], "a's own", "{own}");

    for secret in host.secrets() {
        assert!(secret.exists());
        assert_failed(
            &read(&mut instance, &secret).await,
            "reading Catwalk's secrets",
        );
    }
    let listing = ask(
        &mut instance,
        json!({"op": "list", "path": host.data_dir()}),
    )
    .await;
    assert_eq!(listing["entries"], json!(["deployments"]), "{listing}");
    let deployments = host.data_dir().join("deployments");
    let listing = ask(&mut instance, json!({"op": "list", "path": deployments})).await;
    assert_eq!(listing["entries"], json!(["a"]), "{listing}");
    for other in [
        host.folder("b", "data").join("secret.txt"),
        host.folder("b", "home").join(".env"),
    ] {
        let seen = ask(&mut instance, json!({"op": "exists", "path": other})).await;
        assert_eq!(seen["exists"], json!(false), "{other:?} is visible");
    }
    // Nothing of the host beyond the system and what the policy shows.
    let repository_file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    assert!(repository_file.exists());
    for path in [
        Path::new("/etc/shadow"),
        Path::new("/root/.npmrc"),
        Path::new("/home"),
        // Not /var itself: when the test's scratch folder lies in /var/tmp (a checkout under
        // /tmp), bwrap makes the empty folders leading to the bound ones.
        Path::new("/var/log"),
        Path::new("/var/lib"),
        &repository_file,
    ] {
        let seen = ask(&mut instance, json!({"op": "exists", "path": path})).await;
        assert_eq!(seen["exists"], json!(false), "{path:?} is visible");
    }
    let resolv = ask(
        &mut instance,
        json!({"op": "exists", "path": "/etc/resolv.conf"}),
    )
    .await;
    assert_eq!(
        resolv["exists"],
        json!(true),
        "name resolution needs /etc/resolv.conf"
    );
    instance.stop(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_sandboxed_server_sees_only_its_own_processes() {
    let host = Host::new();
    let (mut instance, _sink) = host.start(&host.policy());
    let answer = ask(&mut instance, json!({"op": "pids"})).await;
    let pids: Vec<u64> = serde_json::from_value(answer["pids"].clone()).unwrap();
    // bwrap's PID 1 and the server; the host's processes (this test among them) do not exist.
    assert_eq!(pids, vec![1, 2], "{answer}");
    assert_eq!(answer["self"], json!(2));
    assert!(
        answer["init"].as_str().unwrap().ends_with("bwrap"),
        "{answer}"
    );
    let ps = ask(
        &mut instance,
        json!({"op": "run", "argv": ["ps", "-e", "-o", "pid="]}),
    )
    .await;
    assert_eq!(ps["code"], json!(0), "{ps}");
    // ps itself is the third process.
    assert_eq!(
        ps["stdout"].as_str().unwrap().split_whitespace().count(),
        3,
        "{ps}"
    );
    instance.stop(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_sandboxed_server_has_no_capabilities_and_cannot_create_namespaces() {
    let host = Host::new();
    let (mut instance, _sink) = host.start(&host.policy());
    let status = read(&mut instance, Path::new("/proc/self/status")).await;
    let text = status["text"].as_str().unwrap();
    for set in ["CapPrm", "CapEff", "CapAmb"] {
        assert!(
            text.contains(&format!("{set}:\t0000000000000000")),
            "{set}: {text}"
        );
    }
    // Control: the same call works outside the sandbox on this host.
    let outside = std::process::Command::new("unshare")
        .args(["--user", "true"])
        .status()
        .unwrap();
    assert!(outside.success());
    let unshare = ask(
        &mut instance,
        json!({"op": "run", "argv": ["unshare", "--user", "true"]}),
    )
    .await;
    assert_ne!(unshare["code"], json!(0), "{unshare}");
    instance.stop(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn writes_land_only_in_home_and_data_and_persist_across_starts() {
    let host = Host::new();
    let policy = host.policy();
    let (home, data) = (host.folder("a", "home"), host.folder("a", "data"));
    let host_tmp_probe = std::env::temp_dir().join(format!("{}-tmp", host.marker));

    let (mut instance, _sink) = host.start(&policy);
    assert_eq!(
        write(&mut instance, &home.join("count"), "1").await["ok"],
        json!(true)
    );
    assert_eq!(
        write(&mut instance, &data.join("state.json"), "{}").await["ok"],
        json!(true)
    );
    let tmp_file = Path::new("/tmp").join(host_tmp_probe.file_name().unwrap());
    assert_eq!(
        write(&mut instance, &tmp_file, "scratch").await["ok"],
        json!(true)
    );
    for outside in [
        PathBuf::from("/usr/catwalk-test"),
        PathBuf::from("/etc/catwalk-test"),
        PathBuf::from("/catwalk-test"),
        fixtures_dir().join("written-by-the-sandbox"),
        host.folder("b", "data").join("x"),
        host.data_dir().join("x"),
    ] {
        assert_failed(
            &write(&mut instance, &outside, "x").await,
            &format!("writing {outside:?}"),
        );
        assert!(!outside.exists(), "{outside:?} was written");
    }
    // /proc is read-only: uid 0 could otherwise write kernel settings. (The hostname is the
    // sandbox's own UTS namespace's, so trying is harmless.)
    let sysctl = write(
        &mut instance,
        Path::new("/proc/sys/kernel/hostname"),
        "pwned",
    )
    .await;
    assert!(
        sysctl["error"]
            .as_str()
            .is_some_and(|error| error.contains("Read-only file system")),
        "{sysctl}"
    );
    instance.stop(Duration::from_secs(5)).await;
    // The private /tmp was not the host's.
    assert!(!host_tmp_probe.exists());
    assert_eq!(std::fs::read_to_string(home.join("count")).unwrap(), "1");

    let (mut again, _sink) = host.start(&policy);
    assert_eq!(read(&mut again, &home.join("count")).await["text"], "1");
    assert_eq!(
        read(&mut again, &data.join("state.json")).await["text"],
        "{}"
    );
    assert_failed(
        &read(&mut again, &tmp_file).await,
        "reading the last start's /tmp",
    );
    again.stop(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn the_environment_is_exactly_the_declared_one() {
    let host = Host::new();
    let sandbox = host.sandbox();
    let mut spec = host.spec();
    spec.env.insert(
        "CATWALK_TEST_TOKEN".to_string(),
        "a value with spaces and ü".to_string(),
    );
    let sink = Arc::new(RecordingSink::default());
    let mut instance = spawn_sandboxed(&spec, &sandbox, &host.policy(), sink).unwrap();
    let answer = ask(&mut instance, json!({"op": "env"})).await;
    let mut expected = spec.env.clone();
    expected.insert("PWD".to_string(), spec.cwd.to_str().unwrap().to_string());
    let seen: std::collections::BTreeMap<String, String> =
        serde_json::from_value(answer["env"].clone()).unwrap();
    assert_eq!(seen, expected);
    // Values travel in bwrap's environment, never on its command line, which every user of
    // the host can read.
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", instance.pid())).unwrap();
    assert!(!String::from_utf8_lossy(&cmdline).contains("a value with spaces"));
    instance.stop(Duration::from_secs(5)).await;
}

/// The slirp4netns attached to the sandbox whose bwrap is `bwrap`: its target is bwrap's child.
fn network_helper_of(bwrap: u32) -> Option<u32> {
    processes_with("slirp4netns").into_iter().find(|helper| {
        let cmdline = std::fs::read(format!("/proc/{helper}/cmdline")).unwrap_or_default();
        let args: Vec<String> = cmdline
            .split(|byte| *byte == 0)
            .map(|arg| String::from_utf8_lossy(arg).into_owned())
            .collect();
        let Some(target) = args.iter().rev().nth(2) else {
            return false;
        };
        let stat = std::fs::read_to_string(format!("/proc/{target}/stat")).unwrap_or_default();
        let parent = stat
            .rfind(')')
            .and_then(|end| stat[end + 1..].split_whitespace().nth(1))
            .and_then(|ppid| ppid.parse::<u32>().ok());
        parent == Some(bwrap)
    })
}

/// A TCP listener that greets every connection with `greeting`, on its own thread.
fn greeter(address: std::net::IpAddr, greeting: &'static str) -> u16 {
    let listener = std::net::TcpListener::bind((address, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let _ = std::io::Write::write_all(&mut stream, greeting.as_bytes());
        }
    });
    port
}

/// This machine's address on its default route: not loopback, and reachable from a sandbox
/// only through its network stack. (A UDP "connect" sends nothing; it only picks the route.)
fn own_non_loopback_address() -> std::net::IpAddr {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    socket
        .connect("192.0.2.1:9")
        .and_then(|_| socket.local_addr())
        .map(|address| address.ip())
        .ok()
        .filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
        .expect(
            "this test needs a non-loopback IPv4 address with a route (a default route) to \
             prove that sandboxes reach the network",
        )
}

#[tokio::test]
async fn with_network_the_server_reaches_the_network_but_not_the_hosts_loopback() {
    let host = Host::new();
    let sandbox = host.sandbox();
    let stack = sandbox.network_stack().unwrap_or_else(|reason| {
        panic!("these tests need a working slirp4netns (the `slirp4netns` package): {reason}")
    });
    assert!(
        sandbox.to_string().contains("network through slirp4netns"),
        "{sandbox}"
    );
    assert!(stack.version().contains("slirp4netns"), "{stack}");
    let loopback_port = greeter("127.0.0.1".parse().unwrap(), "the host's loopback");
    let outside = own_non_loopback_address();
    let outside_port = greeter(outside, "the host's outside address");

    let (mut open, sink) = host.start(&host.policy());
    let lines = sink.lines("catwalk");
    assert!(
        lines[0].contains("network on, through slirp4netns"),
        "{lines:?}"
    );
    let reached = ask(
        &mut open,
        json!({"op": "connect", "host": outside.to_string(), "port": outside_port}),
    )
    .await;
    assert_eq!(
        reached,
        json!({"ok": true, "received": "the host's outside address"}),
        "network on, {outside}"
    );
    // 127.0.0.1 is the sandbox's own: up, and not the host's.
    let own = ask(&mut open, json!({"op": "own_loopback"})).await;
    assert_eq!(own["ok"], json!(true), "{own}");
    for address in ["127.0.0.1", "10.0.2.2", "10.0.2.3"] {
        let refused = ask(
            &mut open,
            json!({"op": "connect", "host": address, "port": loopback_port}),
        )
        .await;
        assert_failed(
            &refused,
            &format!("reaching the host's loopback through {address}"),
        );
    }
    // A name nobody has: the answer "no such name" (EAI_NONAME, -2) comes from a resolver
    // reached through the network; without one, resolution fails with EAI_AGAIN (-3).
    let unknown = json!({"op": "resolve", "name": "no-such-name.catwalk-test.invalid"});
    let answered = ask(&mut open, unknown.clone()).await;
    assert_eq!(answered["errno"], json!(-2), "network on: {answered}");
    let local = ask(&mut open, json!({"op": "resolve", "name": "localhost"})).await;
    assert_eq!(local["ok"], json!(true), "{local}");
    let helper = network_helper_of(open.pid()).expect("no slirp4netns serves the sandbox");
    open.stop(Duration::from_secs(5)).await;
    assert!(
        !common::is_running(helper),
        "slirp4netns {helper} outlived its sandbox"
    );

    let mut policy = host.policy();
    policy.network = false;
    let (mut closed, sink) = host.start(&policy);
    for (address, port) in [
        ("127.0.0.1", loopback_port),
        (&*outside.to_string(), outside_port),
    ] {
        let refused = ask(
            &mut closed,
            json!({"op": "connect", "host": address, "port": port}),
        )
        .await;
        assert_failed(
            &refused,
            &format!("connecting to {address} without network"),
        );
    }
    let unanswered = ask(&mut closed, unknown).await;
    assert_eq!(unanswered["errno"], json!(-3), "network off: {unanswered}");
    closed.stop(Duration::from_secs(5)).await;
    assert!(
        sink.lines("catwalk")[0].contains("network off"),
        "{:?}",
        sink.lines("catwalk")
    );
}

#[tokio::test]
async fn a_memory_hog_is_stopped_and_reported_as_exceeding_its_limit() {
    let host = Host::new();
    let mut policy = host.policy();
    policy.limits.memory_mib = Some(64);
    let (mut instance, sink) = host.start(&policy);
    // Control: within the limit all is well.
    let small = ask(&mut instance, json!({"op": "hog", "mib": 16})).await;
    assert_eq!(small["held_mib"], json!(16), "{small}");

    instance
        .stdin
        .send(json!({"op": "hog", "mib": 512}).to_string())
        .await
        .unwrap();
    let exit = exit_within(&instance, 30).await;
    assert_eq!(
        exit.limit,
        Some(LimitExceeded::Memory { limit_mib: 64 }),
        "{exit}"
    );
    assert_eq!(exit.signal, Some(9));
    assert_eq!(
        exit.to_string(),
        "memory limit exceeded (64 MiB): killed by signal 9 (SIGKILL)"
    );
    sink.wait_for("catwalk", "memory limit exceeded (64 MiB)")
        .await;
    assert!(sink.lines("catwalk")[0].contains("memory 64 MiB (cgroup)"));
    assert!(host.marked_processes().is_empty());
}

#[tokio::test]
async fn a_fork_bomb_is_contained_by_the_process_limit() {
    let host = Host::new();
    let mut policy = host.policy();
    policy.limits.processes = Some(16);
    let (mut instance, sink) = host.start(&policy);
    let answer = ask(&mut instance, json!({"op": "forkbomb", "n": 500})).await;
    let forked = answer["forked"].as_u64().unwrap();
    // 16 tasks for the server's tree: the server itself plus at most 15 children.
    assert!((1..16).contains(&forked), "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("Resource temporarily unavailable"),
        "{answer}"
    );
    // Plus bwrap's two processes, which carry the marker in their command lines too.
    assert!(host.marked_processes().len() <= 18);
    // The server itself still answers.
    assert_eq!(
        ask(&mut instance, json!({"op": "env"})).await["ok"],
        json!(true)
    );
    instance.stop(Duration::from_secs(5)).await;
    sink.wait_for("catwalk", "reached its process limit (16)")
        .await;
    assert!(host.marked_processes().is_empty());
}

#[tokio::test]
async fn open_files_are_limited() {
    let host = Host::new();
    let mut policy = host.policy();
    policy.limits.open_files = Some(40);
    let (mut instance, _sink) = host.start(&policy);
    let answer = ask(&mut instance, json!({"op": "files", "n": 5000})).await;
    let opened = answer["opened"].as_u64().unwrap();
    assert!((10..40).contains(&opened), "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("Too many open files"),
        "{answer}"
    );
    instance.stop(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn cpu_use_is_throttled_to_the_limit() {
    let host = Host::new();
    let mut policy = host.policy();
    policy.limits.cpu_millicores = Some(200);
    let (mut instance, _sink) = host.start(&policy);
    let answer = ask(&mut instance, json!({"op": "burn", "seconds": 1.5})).await;
    let used = answer["cpu_seconds"].as_f64().unwrap();
    // A fifth of a core over 1.5 s is 0.3 s; unthrottled it would be close to 1.5 s.
    assert!(used < 0.6, "used {used} s of CPU in 1.5 s");
    instance.stop(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn stop_leaves_no_process_behind_even_after_a_double_fork() {
    let host = Host::new();
    let (mut instance, _sink) = host.start(&host.policy());
    let daemon = ask(
        &mut instance,
        json!({"op": "daemon", "marker": host.marker}),
    )
    .await;
    assert_eq!(daemon["ok"], json!(true), "{daemon}");
    // bwrap, its PID 1, the server and the escaped grandchild.
    host.wait_for_marked(4).await;

    let exit = instance.stop(Duration::from_secs(5)).await;
    assert_eq!(
        exit.code,
        Some(0),
        "the server exits at end of input: {exit}"
    );
    assert_eq!(host.marked_processes(), Vec::<u32>::new());
}

#[tokio::test]
async fn stop_leaves_no_process_behind_when_everything_ignores_sigterm() {
    let host = Host::new();
    let (mut instance, sink) = host.start(&host.policy());
    ask(
        &mut instance,
        json!({"op": "daemon", "marker": host.marker}),
    )
    .await;
    ask(&mut instance, json!({"op": "forkbomb", "n": 3})).await;
    ask(&mut instance, json!({"op": "stubborn"})).await;
    let started = Instant::now();
    let exit = instance.stop(Duration::from_millis(300)).await;
    assert_eq!(exit.signal, Some(9), "{exit}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(host.marked_processes(), Vec::<u32>::new());
    sink.wait_for("catwalk", "sending SIGKILL").await;
}

#[tokio::test]
async fn sigterm_reaches_the_sandboxed_server_for_a_graceful_exit() {
    let host = Host::new();
    let (mut instance, sink) = host.start(&host.policy());
    let done = host.folder("a", "data").join("graceful");
    ask(&mut instance, json!({"op": "trap_term", "path": done})).await;
    let exit = instance.stop(Duration::from_millis(500)).await;
    // Had bwrap received the SIGTERM, the sandbox would have ended before the handler ran.
    assert_eq!(std::fs::read_to_string(&done).unwrap(), "graceful");
    assert_eq!(exit.code, Some(0), "{exit}");
    sink.wait_for("catwalk", "sending SIGTERM").await;
    assert!(
        !sink
            .lines("catwalk")
            .iter()
            .any(|line| line.contains("sending SIGKILL"))
    );
}

#[tokio::test]
async fn without_a_sandbox_the_cgroup_still_catches_escaped_processes() {
    let host = Host::new();
    let limits = ResourceLimits {
        processes: Some(64),
        ..ResourceLimits::default()
    };
    let sink = Arc::new(RecordingSink::default());
    let mut instance = spawn_with_limits(&host.spec(), &limits, sink.clone()).unwrap();
    let daemon = ask(
        &mut instance,
        json!({"op": "daemon", "marker": host.marker}),
    )
    .await;
    let escaped = daemon["pid"].as_u64().unwrap() as u32;
    assert_ne!(
        common::process_group(escaped),
        instance.pid(),
        "it left the group"
    );
    instance.stop(Duration::from_secs(5)).await;
    assert_eq!(host.marked_processes(), Vec::<u32>::new());
    sink.wait_for("catwalk", "killed processes left behind in the cgroup")
        .await;
}

#[tokio::test]
async fn a_layout_that_would_show_a_hidden_path_is_refused() {
    let host = Host::new();
    let sandbox = host.sandbox();
    let sink = Arc::new(RecordingSink::default());

    let mut exposing = host.policy();
    exposing.read_only.push(host.data_dir());
    let error = spawn_sandboxed(&host.spec(), &sandbox, &exposing, sink.clone())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("must stay hidden") && error.contains("catwalk.db"),
        "{error}"
    );

    let mut spec = host.spec();
    spec.cwd = host.folder("b", "home");
    let error = spawn_sandboxed(&spec, &sandbox, &host.policy(), sink.clone())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("not inside a folder the sandbox shows"),
        "{error}"
    );

    let mut spec = host.spec();
    spec.program = PathBuf::from("no-such-server");
    let error = spawn_sandboxed(&spec, &sandbox, &host.policy(), sink)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("no-such-server") && error.contains("PATH"),
        "{error}"
    );
}

/// Environment variable that turns [`helper_process_for_the_sandbox_pdeathsig_test`] into a
/// helper.
const HELPER_ENV: &str = "CATWALK_RUNTIME_SANDBOX_PDEATHSIG_HELPER";

/// Not a test by itself: when [`the_sandbox_dies_when_catwalk_is_killed`] runs this test binary
/// again with [`HELPER_ENV`] set to a marker, this plays Catwalk: it starts a sandboxed server
/// that double-forks, reports, and waits to be killed. Without the variable it does nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helper_process_for_the_sandbox_pdeathsig_test() {
    let Ok(marker) = std::env::var(HELPER_ENV) else {
        return;
    };
    let mut host = Host::new();
    host.marker = marker;
    let (mut instance, _sink) = host.start(&host.policy());
    ask(
        &mut instance,
        json!({"op": "daemon", "marker": host.marker}),
    )
    .await;
    ask(&mut instance, json!({"op": "stubborn"})).await;
    println!("READY");
    tokio::time::sleep(Duration::from_secs(60)).await;
}

#[test]
fn the_sandbox_dies_when_catwalk_is_killed() {
    let marker = unique_marker();
    let mut helper = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "helper_process_for_the_sandbox_pdeathsig_test",
            "--exact",
            "--nocapture",
        ])
        .env(HELPER_ENV, &marker)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(helper.stdout.take().unwrap());
    assert!(
        stdout
            .lines()
            .map(Result::unwrap)
            .any(|line| line == "READY"),
        "the helper did not start its server"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while processes_with(&marker).len() != 4 {
        assert!(Instant::now() < deadline, "{:?}", processes_with(&marker));
        std::thread::sleep(Duration::from_millis(10));
    }

    helper.kill().unwrap(); // SIGKILL: no destructor, no cleanup code runs in the helper.
    helper.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !processes_with(&marker).is_empty() {
        if Instant::now() > deadline {
            for pid in processes_with(&marker) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            panic!("sandboxed processes outlived their killed parent");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
