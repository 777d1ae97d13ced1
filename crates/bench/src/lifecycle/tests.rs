//! Tests of the lifecycle benchmark's parts: reading Catwalk's metrics, percentiles, judging the
//! goals, and the tiny fixture server answering over a real pipe, directly and in bwrap.

use std::time::Duration;

use tokio::process::Command;

use super::cold::{ColdReport, SubjectReport};
use super::fleet::{self, Creation};
use super::memory::{MemoryReport, Steps};
use super::replay;
use super::report::{self, Verdict};
use super::scale::{self, Route, ScaleReport};
use super::serve;
use super::stats::{Timing, percentile};
use crate::procs::Proc;
use crate::stdio::Pipe;

const METRICS: &str = "\
# HELP catwalk_deployments Deployments by status.
# TYPE catwalk_deployments gauge
catwalk_deployments{status=\"running\"} 3
catwalk_deployments{status=\"sleeping\"} 2000
# TYPE catwalk_process_start_seconds histogram
catwalk_process_start_seconds_sum{deployment=\"cold\"} 0.75
catwalk_process_start_seconds_count{deployment=\"cold\"} 3
catwalk_process_start_seconds_bucket{le=\"0.1\",deployment=\"cold\"} 1
catwalk_process_start_seconds_sum{deployment=\"cold-2\"} 9.5
catwalk_process_start_seconds_count{deployment=\"cold-2\"} 1
";

#[test]
fn deployments_are_counted_by_status_from_the_metrics() {
    let counts = serve::status_counts(METRICS);
    assert_eq!(counts.get("running"), Some(&3));
    assert_eq!(counts.get("sleeping"), Some(&2000));
    assert_eq!(counts.get("failed"), None);
}

#[test]
fn start_seconds_are_read_for_exactly_one_deployment() {
    assert_eq!(serve::start_seconds(METRICS, "cold"), Some((0.75, 3)));
    assert_eq!(serve::start_seconds(METRICS, "cold-2"), Some((9.5, 1)));
    assert_eq!(serve::start_seconds(METRICS, "col"), None);
}

#[test]
fn percentiles_are_measured_values_by_nearest_rank() {
    let sorted: Vec<f64> = (1..=10).map(f64::from).collect();
    assert_eq!(percentile(&sorted, 50.0), 5.0);
    assert_eq!(percentile(&sorted, 90.0), 9.0);
    assert_eq!(percentile(&sorted, 99.0), 10.0);
    assert_eq!(percentile(&[4.0], 90.0), 4.0);
    assert!(percentile(&[], 50.0).is_nan());
    let timing = Timing::of(vec![3.0, 1.0, 2.0]);
    assert_eq!(
        timing.samples_ms,
        vec![3.0, 1.0, 2.0],
        "kept in measured order"
    );
    assert_eq!((timing.median_ms, timing.max_ms), (2.0, 3.0));
}

#[test]
fn api_requests_take_turns_between_sleeping_and_running_deployments() {
    let names: Vec<String> = (0..6).map(|i| scale::name_for(i, 3, 2)).collect();
    assert_eq!(
        names,
        [
            "nap-00000",
            "run-00000",
            "nap-00001",
            "run-00001",
            "nap-00002",
            "run-00000"
        ]
    );
    assert_eq!(scale::name_for(4, 3, 0), "nap-00001");
    assert_eq!(scale::name_for(3, 0, 2), "run-00001");
}

fn timing(median: f64) -> Timing {
    Timing::of(vec![median])
}

fn subject(name: &'static str, raw: f64, wake: f64, cold: f64) -> SubjectReport {
    SubjectReport {
        subject: name,
        raw_handshake: timing(raw / 2.0),
        raw: timing(raw),
        raw_bwrap: timing(raw),
        command: Vec::new(),
        wake: timing(wake),
        wake_metric: timing(wake - 10.0),
        wake_outside_metric: timing(10.0),
        cold: timing(cold),
        cold_metric: timing(cold - 10.0),
        cold_outside_metric: timing(10.0),
    }
}

fn cold_report(subjects: Vec<SubjectReport>) -> ColdReport {
    ColdReport {
        rounds: 1,
        poll_ms: 5,
        subjects,
    }
}

fn memory_report(warmed: u64, running: u64, slept: u64) -> MemoryReport {
    MemoryReport {
        deployments: 10,
        running: Steps {
            fresh_kb: warmed,
            warmed_kb: warmed,
            with_deployments_kb: running,
        },
        sleeping: Steps {
            fresh_kb: warmed,
            warmed_kb: warmed,
            with_deployments_kb: slept,
        },
        restarted_kb: warmed,
        running_creation: Creation::default(),
        sleeping_creation: Creation::default(),
    }
}

fn scale_report(sleeping: usize, running: usize, p99: f64) -> ScaleReport {
    let created = |count| Creation {
        count,
        ..Creation::default()
    };
    ScaleReport {
        sleeping_asked: sleeping,
        running_asked: running,
        sleeping: created(sleeping),
        running: created(running),
        rss_fresh_kb: 0,
        rss_warmed_kb: 0,
        rss_with_sleeping_kb: 0,
        rss_with_all_kb: 0,
        rss_after_requests_kb: 0,
        server_processes: 0,
        server_pss_mb: 0.0,
        mem_available_mb_before: 0,
        mem_available_mb_with_all: 0,
        requests: 1,
        api: ["a", "b", "c"]
            .map(|route| Route {
                route,
                body_bytes: 0,
                latency: timing(p99),
            })
            .into(),
    }
}

/// The verdicts of the goals whose text contains `what`, in order.
fn verdicts(goals: &[Verdict], what: &str) -> Vec<Option<bool>> {
    goals
        .iter()
        .filter(|g| g.goal.contains(what))
        .map(|g| g.met)
        .collect()
}

#[test]
fn start_goals_compare_catwalk_with_the_raw_pipe_of_the_same_run() {
    let cold = cold_report(vec![
        subject("server-everything", 300.0, 349.0, 351.0),
        subject("tiny-server", 40.0, 95.0, 60.0),
    ]);
    let goals = report::goals(Some(&cold), None, None);
    let starts: Vec<(&str, Option<f64>, Option<bool>)> = goals
        .iter()
        .filter(|g| g.goal.contains("raw pipe"))
        .map(|g| (g.goal.as_str(), g.measured, g.met))
        .collect();
    assert_eq!(
        starts,
        [
            (
                "wake-up of server-everything: catwalk - raw pipe (medians) <= 50 ms",
                Some(49.0),
                Some(true)
            ),
            (
                "cold start of server-everything: catwalk - raw pipe (medians) <= 50 ms",
                Some(51.0),
                Some(false)
            ),
            (
                "wake-up of tiny-server: catwalk - raw pipe (medians) <= 50 ms",
                Some(55.0),
                Some(false)
            ),
            (
                "cold start of tiny-server: catwalk - raw pipe (medians) <= 50 ms",
                Some(20.0),
                Some(true)
            ),
        ]
    );
    // What was not run is not judged.
    assert_eq!(verdicts(&goals, "RSS"), [None, None]);
    assert_eq!(verdicts(&goals, "p99"), [None, None, None]);
}

#[test]
fn memory_goals_are_per_deployment_against_the_warmed_up_empty_catwalk() {
    // 10 deployments: +5,000 kB running (500 kB each), +2,000 kB slept (200 kB each).
    let memory = memory_report(20_000, 25_000, 22_000);
    assert_eq!(memory.per_running_kb(), 500.0);
    assert_eq!(memory.per_slept_kb(), 200.0);
    let goals = report::goals(None, Some(&memory), None);
    assert_eq!(verdicts(&goals, "RSS"), [Some(true), Some(false)]);
    assert_eq!(verdicts(&goals, "raw pipe"), [None], "not run, not judged");
    let goals = report::goals(None, Some(&memory_report(20_000, 40_000, 20_500)), None);
    assert_eq!(verdicts(&goals, "RSS"), [Some(false), Some(true)]);
}

#[test]
fn api_goals_are_met_only_at_the_target_size_but_missed_at_any() {
    let at = |s, r, p99| {
        verdicts(
            &report::goals(None, None, Some(&scale_report(s, r, p99))),
            "p99",
        )
    };
    assert_eq!(at(2000, 200, 99.0), [Some(true); 3]);
    assert_eq!(at(500, 50, 99.0), [None; 3]);
    assert_eq!(at(500, 50, 101.0), [Some(false); 3]);
    assert_eq!(
        at(2000, 150, 20.0),
        [None; 3],
        "fewer running than the goal names"
    );
}

/// The fixture, spawned the way the raw-pipe measurement spawns server-everything, answers the
/// handshake, lists `echo` and echoes.
async fn fixture_answers(command: Command) {
    let program = fleet::fixture().join("index.mjs");
    assert!(program.is_file(), "{}", program.display());
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut server =
        Proc::spawn_piped("tiny-server", command, log.path(), Duration::from_secs(2)).unwrap();
    let pipe = tokio::time::timeout(Duration::from_secs(30), Pipe::start(&mut server))
        .await
        .expect("handshake within 30 s")
        .unwrap_or_else(|e| panic!("{e:#}; log: {}", server.log_tail(20)));
    let tools = pipe
        .call(1, r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)
        .await
        .unwrap();
    assert!(tools.contains(r#""name":"echo""#), "{tools}");
    let echo = pipe
        .call(
            2,
            r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"bench"}}}"#,
        )
        .await
        .unwrap();
    assert!(echo.contains(r#""text":"bench""#), "{echo}");
    let unknown = pipe
        .call(3, r#"{"jsonrpc":"2.0","id":3,"method":"resources/list"}"#)
        .await
        .unwrap_err();
    assert!(
        format!("{unknown:#}").contains("Method not found"),
        "{unknown:#}"
    );
}

#[tokio::test]
async fn the_fixture_server_answers_over_a_raw_pipe() {
    fixture_answers(Command::new(fleet::fixture().join("index.mjs"))).await;
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

#[test]
fn catwalks_command_line_is_replayed_in_the_benchs_own_folder() {
    let argv = strings(&[
        "/usr/bin/bwrap",
        "--unshare-pid",
        "--bind",
        "/data/deployments/42/home",
        "/data/deployments/42/home",
        "--chdir",
        "/data/deployments/42/home",
        "--info-fd",
        "21",
        "--",
        "/cache/bin/server",
        "stdio",
    ]);
    let replay = replay::rewrite(
        &argv,
        std::path::Path::new("/data/deployments/42"),
        std::path::Path::new("/scratch/x"),
    )
    .unwrap();
    assert_eq!(
        replay.sandboxed,
        strings(&[
            "/usr/bin/bwrap",
            "--unshare-pid",
            "--bind",
            "/scratch/x/home",
            "/scratch/x/home",
            "--chdir",
            "/scratch/x/home",
            "--",
            "/cache/bin/server",
            "stdio",
        ])
    );
    assert_eq!(replay.plain, strings(&["/cache/bin/server", "stdio"]));
    let error = replay::rewrite(
        &argv[..9],
        std::path::Path::new("/d"),
        std::path::Path::new("/s"),
    )
    .unwrap_err();
    assert!(error.to_string().contains("no `--`"), "{error}");
}

/// A command line shaped like Catwalk's (its namespaces, `--info-fd`, a deployment folder bound
/// as HOME), rewritten, runs the fixture under real bwrap. Needs bubblewrap, as Catwalk's sandbox
/// does.
#[tokio::test]
async fn a_replayed_command_line_runs_in_bwrap() {
    let root = tempfile::tempdir().unwrap();
    let folder = replay::scratch_folder(root.path(), "catwalks").unwrap();
    let scratch = replay::scratch_folder(root.path(), "benchs").unwrap();
    let home = folder.join("home").display().to_string();
    let program = fleet::fixture().join("index.mjs").display().to_string();
    let mut argv = strings(&[
        "bwrap",
        "--unshare-user",
        "--disable-userns",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--cap-drop",
        "ALL",
        "--ro-bind",
        "/",
        "/",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",
    ]);
    // The fixture, shown again over the private /tmp in case the checkout lives under /tmp (as
    // Catwalk binds its package folder).
    let fixture_dir = fleet::fixture().display().to_string();
    argv.extend([
        "--ro-bind".into(),
        fixture_dir.clone(),
        fixture_dir,
        "--bind".into(),
        home.clone(),
        home.clone(),
        "--chdir".into(),
        home,
    ]);
    // A descriptor the bench does not have: bwrap would fail on it if it were kept.
    argv.extend(strings(&["--info-fd", "87", "--"]));
    argv.push(program);
    let replay = replay::rewrite(&argv, &folder, &scratch).unwrap();
    assert!(!replay.sandboxed.iter().any(|arg| arg.contains("catwalks")));
    let (program, args) = replay.sandboxed.split_first().unwrap();
    let mut command = Command::new(program);
    command.args(args);
    fixture_answers(command).await;
}
