//! Real child processes: environment, pipes, logs, stopping, exit reporting and no orphans.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::sync::Arc;
use std::time::{Duration, Instant};

use catwalk_runtime::{ExitInfo, ProcessSpec, RuntimeError, base_env, spawn};
use common::{
    RecordingSink, fixture, is_running, next_line, process_group, python, wait_until_gone,
};

fn python_spec(args: &[&str], home: &std::path::Path) -> ProcessSpec {
    ProcessSpec {
        program: python(),
        args: args.iter().map(|arg| arg.to_string()).collect(),
        env: base_env(home),
        cwd: home.to_path_buf(),
    }
}

#[tokio::test]
async fn the_child_sees_exactly_its_own_environment() {
    let home = tempfile::tempdir().unwrap();
    // Cargo sets this for the test process; it must not leak into the child.
    assert!(std::env::var_os("CARGO_MANIFEST_DIR").is_some());
    let mut spec = python_spec(&[&fixture("env.py")], home.path());
    spec.env.insert(
        "CATWALK_TEST_TOKEN".to_string(),
        "a value with spaces and ü".to_string(),
    );
    let sink = Arc::new(RecordingSink::default());
    let mut instance = spawn(&spec, sink.clone()).unwrap();

    let printed: BTreeMap<String, String> =
        serde_json::from_str(&next_line(&mut instance, 10).await).unwrap();
    assert_eq!(printed, spec.env);
    assert_eq!(printed["HOME"], home.path().to_str().unwrap());
    assert_eq!(printed["LANG"], "C.UTF-8");
    assert_eq!(instance.stop(Duration::from_secs(5)).await.code, Some(0));
}

#[tokio::test]
async fn stdout_is_the_message_stream_and_stderr_goes_to_the_logs() {
    let home = tempfile::tempdir().unwrap();
    let sink = Arc::new(RecordingSink::default());
    let mut instance = spawn(
        &python_spec(&[&fixture("echo.py")], home.path()),
        sink.clone(),
    )
    .unwrap();
    assert!(instance.pid() > 0);

    instance
        .stdin
        .send(r#"{"jsonrpc":"2.0","id":1}"#.to_string())
        .await
        .unwrap();
    instance.stdin.send("second\n".to_string()).await.unwrap();
    assert_eq!(
        next_line(&mut instance, 10).await,
        r#"{"jsonrpc":"2.0","id":1}"#
    );
    assert_eq!(next_line(&mut instance, 10).await, "second");
    sink.wait_for("stderr", "echo server starting").await;
    assert!(
        sink.lines("catwalk")
            .iter()
            .any(|line| line.starts_with("started "))
    );

    // The echo server exits at end of input: stop must not wait out the grace period.
    let started = Instant::now();
    let exit = instance.stop(Duration::from_secs(10)).await;
    assert_eq!(
        exit,
        ExitInfo {
            code: Some(0),
            signal: None,
            limit: None
        }
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    sink.wait_for("stderr", "got end of input").await;
    assert!(
        !sink
            .lines("catwalk")
            .iter()
            .any(|line| line.contains("SIGTERM"))
    );
}

#[tokio::test]
async fn a_child_ignoring_eof_and_sigterm_is_killed_after_the_grace_periods() {
    let home = tempfile::tempdir().unwrap();
    let sink = Arc::new(RecordingSink::default());
    let mut instance = spawn(
        &python_spec(&[&fixture("stubborn.py")], home.path()),
        sink.clone(),
    )
    .unwrap();
    assert_eq!(next_line(&mut instance, 10).await, "ready");
    let pid = instance.pid();

    let grace = Duration::from_millis(300);
    let started = Instant::now();
    let exit = instance.stop(grace).await;
    let elapsed = started.elapsed();
    assert_eq!(
        exit,
        ExitInfo {
            code: None,
            signal: Some(9),
            limit: None
        }
    );
    assert_eq!(exit.to_string(), "killed by signal 9 (SIGKILL)");
    assert!(
        elapsed >= grace * 2,
        "killed before both grace periods: {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
    assert!(!is_running(pid));
    let catwalk = sink.lines("catwalk");
    assert!(
        catwalk.iter().any(|line| line.contains("sending SIGTERM")),
        "{catwalk:?}"
    );
    assert!(
        catwalk.iter().any(|line| line.contains("sending SIGKILL")),
        "{catwalk:?}"
    );
}

#[tokio::test]
async fn no_grandchild_survives_stop_when_the_child_exits_on_eof() {
    let home = tempfile::tempdir().unwrap();
    let sink = Arc::new(RecordingSink::default());
    let mut instance = spawn(
        &python_spec(&[&fixture("grandchild.py")], home.path()),
        sink.clone(),
    )
    .unwrap();
    let grandchild: u32 = next_line(&mut instance, 10).await.parse().unwrap();
    let pid = instance.pid();
    assert!(is_running(grandchild));
    assert_eq!(
        process_group(pid),
        pid,
        "the child must lead its own process group"
    );
    assert_eq!(process_group(grandchild), pid);

    let exit = instance.stop(Duration::from_secs(5)).await;
    assert_eq!(exit.code, Some(0));
    wait_until_gone(grandchild).await;
    sink.wait_for("catwalk", "killed processes left behind")
        .await;
}

#[tokio::test]
async fn no_grandchild_survives_stop_when_everything_ignores_sigterm() {
    let home = tempfile::tempdir().unwrap();
    let sink = Arc::new(RecordingSink::default());
    let spec = python_spec(&[&fixture("grandchild.py"), "stubborn"], home.path());
    let mut instance = spawn(&spec, sink).unwrap();
    let grandchild: u32 = next_line(&mut instance, 10).await.parse().unwrap();
    let exit = instance.stop(Duration::from_millis(200)).await;
    assert_eq!(exit.signal, Some(9));
    wait_until_gone(grandchild).await;
}

#[tokio::test]
async fn a_crash_is_reported_with_its_exit_code_and_stderr() {
    let home = tempfile::tempdir().unwrap();
    let sink = Arc::new(RecordingSink::default());
    let mut instance = spawn(
        &python_spec(&[&fixture("crash.py"), "3"], home.path()),
        sink.clone(),
    )
    .unwrap();
    let exit = tokio::time::timeout(Duration::from_secs(10), instance.take_exit())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        exit,
        ExitInfo {
            code: Some(3),
            signal: None,
            limit: None
        }
    );
    assert_eq!(exit.to_string(), "exited with code 3");
    assert_eq!(instance.exited(), Some(exit));
    // take_exit can be asked again after the fact.
    assert_eq!(instance.take_exit().await.unwrap(), exit);
    assert_eq!(
        instance.stdout.recv().await,
        None,
        "stdout closes when the process exits"
    );
    sink.wait_for("stderr", "boom: something went wrong").await;
    sink.wait_for("catwalk", "exited with code 3").await;
    assert_eq!(instance.stop(Duration::from_secs(5)).await, exit);
}

#[tokio::test]
async fn death_by_signal_is_reported_as_such() {
    let home = tempfile::tempdir().unwrap();
    let sink = Arc::new(RecordingSink::default());
    let instance = spawn(
        &python_spec(&[&fixture("crash.py"), "signal"], home.path()),
        sink,
    )
    .unwrap();
    let exit = tokio::time::timeout(Duration::from_secs(10), instance.take_exit())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        exit,
        ExitInfo {
            code: None,
            signal: Some(9),
            limit: None
        }
    );
}

#[tokio::test]
async fn over_long_stdout_lines_are_dropped_and_the_stream_goes_on() {
    let home = tempfile::tempdir().unwrap();
    let sink = Arc::new(RecordingSink::default());
    let script = "import sys\nsys.stdout.write('x' * (17 * 1024 * 1024) + '\\nafter\\n')\n\
                  sys.stdout.flush()\nsys.stdin.read()\n";
    let mut instance = spawn(&python_spec(&["-c", script], home.path()), sink.clone()).unwrap();
    assert_eq!(next_line(&mut instance, 20).await, "after");
    sink.wait_for("catwalk", "dropped a stdout message of 17825792 bytes")
        .await;
    instance.stop(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn dropping_an_instance_kills_its_process_group() {
    let home = tempfile::tempdir().unwrap();
    let sink = Arc::new(RecordingSink::default());
    let mut instance = spawn(
        &python_spec(&[&fixture("stubborn.py")], home.path()),
        sink.clone(),
    )
    .unwrap();
    assert_eq!(next_line(&mut instance, 10).await, "ready");
    let pid = instance.pid();
    drop(instance);
    wait_until_gone(pid).await;
    sink.wait_for("catwalk", "instance dropped while running")
        .await;
}

#[tokio::test]
async fn a_missing_program_is_a_spawn_error_naming_it() {
    let home = tempfile::tempdir().unwrap();
    let mut spec = python_spec(&[], home.path());
    spec.program = home.path().join("no-such-server");
    let error = spawn(&spec, Arc::new(RecordingSink::default())).unwrap_err();
    assert!(matches!(error, RuntimeError::Spawn { .. }));
    let message = error.to_string();
    assert!(
        message.contains("no-such-server") && message.contains("No such file"),
        "{message}"
    );
}

/// Environment variable that turns [`helper_process_for_the_pdeathsig_test`] into a helper.
const HELPER_ENV: &str = "CATWALK_RUNTIME_PDEATHSIG_HELPER";

/// Not a test by itself: when [`the_child_dies_when_catwalk_is_killed`] runs this test binary
/// again with [`HELPER_ENV`] set, this plays Catwalk: it spawns a stubborn server, prints its
/// pid, and waits to be killed with SIGKILL. Without the variable it does nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helper_process_for_the_pdeathsig_test() {
    if std::env::var_os(HELPER_ENV).is_none() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let sink = Arc::new(RecordingSink::default());
    let mut instance = spawn(&python_spec(&[&fixture("stubborn.py")], home.path()), sink).unwrap();
    assert_eq!(next_line(&mut instance, 10).await, "ready");
    println!("CHILD_PID={}", instance.pid());
    tokio::time::sleep(Duration::from_secs(60)).await;
}

#[test]
fn the_child_dies_when_catwalk_is_killed() {
    let mut helper = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "helper_process_for_the_pdeathsig_test",
            "--exact",
            "--nocapture",
        ])
        .env(HELPER_ENV, "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(helper.stdout.take().unwrap());
    let child: u32 = stdout
        .lines()
        .map(Result::unwrap)
        .find_map(|line| {
            line.strip_prefix("CHILD_PID=")
                .map(|pid| pid.parse().unwrap())
        })
        .expect("the helper did not report its child");
    assert!(is_running(child));

    helper.kill().unwrap(); // SIGKILL: no destructor, no cleanup code runs in the helper.
    helper.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while is_running(child) {
        if Instant::now() > deadline {
            let _ = std::process::Command::new("kill")
                .args(["-9", &child.to_string()])
                .status();
            panic!("child {child} outlived its killed parent");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Many tasks write long messages at once (longer than a pipe takes in one write, so some are
/// finished by a task of their own), some of them giving up half-way: every line the server
/// reads back is one whole message, never two glued together or one cut short.
#[tokio::test]
async fn concurrent_and_abandoned_writes_never_tear_a_message() {
    let home = tempfile::tempdir().unwrap();
    let sink = Arc::new(RecordingSink::default());
    let mut instance = spawn(
        &python_spec(&[&fixture("echo.py")], home.path()),
        sink.clone(),
    )
    .unwrap();
    const WRITERS: usize = 8;
    const EACH: usize = 20;
    let message = |writer: usize, n: usize| {
        let fill = char::from(b'a' + (writer as u8));
        format!("{writer}:{n}:{}", fill.to_string().repeat(200 * 1024))
    };
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let stdin = instance.stdin.clone();
        tasks.push(tokio::spawn(async move {
            let mut sent = 0;
            for n in 0..EACH {
                let send = stdin.send(message(writer, n));
                if n % 5 == 4 {
                    // Gives up almost at once; the message still goes out whole, or not at all.
                    let _ = tokio::time::timeout(Duration::from_micros(1), send).await;
                } else {
                    send.await.unwrap();
                }
                sent += 1;
            }
            sent
        }));
    }
    let mut stdout = instance.stdout.take();
    let reader = tokio::spawn(async move {
        let mut awaited: std::collections::HashSet<(usize, usize)> = (0..WRITERS)
            .flat_map(|writer| (0..EACH).filter(|n| n % 5 != 4).map(move |n| (writer, n)))
            .collect();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let line = tokio::time::timeout(
                deadline.saturating_duration_since(Instant::now()),
                stdout.recv(),
            )
            .await
            .expect("the echoes stopped coming")
            .expect("stdout closed");
            if line == "end" {
                return awaited;
            }
            let mut parts = line.splitn(3, ':');
            let writer: usize = parts.next().unwrap().parse().unwrap();
            let n: usize = parts.next().unwrap().parse().unwrap();
            assert!(
                line == message(writer, n),
                "a torn or glued message from {writer}:{n}"
            );
            awaited.remove(&(writer, n));
        }
    });
    for task in tasks {
        assert_eq!(task.await.unwrap(), EACH);
    }
    // Sent after every write still in progress (the pipe is handed out in turn), so once it is
    // back, everything before it has been read.
    instance.stdin.send("end".to_string()).await.unwrap();
    let awaited = reader.await.unwrap();
    assert!(awaited.is_empty(), "lost messages: {awaited:?}");
    assert_eq!(instance.stop(Duration::from_secs(5)).await.code, Some(0));
}
