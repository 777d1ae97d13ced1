//! Tests of the lifecycle benchmark's parts: reading Catwalk's metrics, percentiles, judging the
//! goals, and the tiny fixture server answering over a real pipe, directly and in bwrap.

use std::time::Duration;

use tokio::process::Command;

use super::cold::{self, ColdReport};
use super::fleet::{self, Creation};
use super::memory::{MemoryReport, Steps};
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

fn cold_report(raw: f64, wake: f64, cold: f64) -> ColdReport {
    ColdReport {
        rounds: 1,
        poll_ms: 5,
        raw_handshake: timing(raw / 2.0),
        raw: timing(raw),
        raw_bwrap: None,
        wake: timing(wake),
        cold: timing(cold),
        wake_metric: timing(wake),
        cold_metric: timing(cold),
        bwrap_error: None,
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

fn verdicts(goals: &[Verdict]) -> Vec<Option<bool>> {
    goals.iter().map(|g| g.met).collect()
}

#[test]
fn start_goals_compare_catwalk_with_the_raw_pipe_of_the_same_run() {
    let goals = report::goals(Some(&cold_report(300.0, 349.0, 351.0)), None, None);
    assert_eq!(goals[0].measured, Some(49.0));
    assert_eq!(goals[1].measured, Some(51.0));
    assert_eq!(&verdicts(&goals)[..2], [Some(true), Some(false)]);
    // What was not run is not judged.
    assert!(goals[2..].iter().all(|g| g.met.is_none()));
}

#[test]
fn memory_goals_are_per_deployment_against_the_warmed_up_empty_catwalk() {
    // 10 deployments: +5,000 kB running (500 kB each), +2,000 kB slept (200 kB each).
    let memory = memory_report(20_000, 25_000, 22_000);
    assert_eq!(memory.per_running_kb(), 500.0);
    assert_eq!(memory.per_slept_kb(), 200.0);
    let goals = report::goals(None, Some(&memory), None);
    assert_eq!(&verdicts(&goals)[2..4], [Some(true), Some(false)]);
    let goals = report::goals(None, Some(&memory_report(20_000, 40_000, 20_500)), None);
    assert_eq!(&verdicts(&goals)[2..4], [Some(false), Some(true)]);
}

#[test]
fn api_goals_are_met_only_at_the_target_size_but_missed_at_any() {
    let at = |s, r, p99| {
        verdicts(&report::goals(None, None, Some(&scale_report(s, r, p99))))[4..].to_vec()
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

/// Needs bubblewrap, as Catwalk's sandbox does.
#[tokio::test]
async fn the_raw_pipe_runs_in_bwrap_with_the_sandbox_namespaces() {
    let mut command = Command::new("bwrap");
    command
        .args(cold::bwrap_args())
        .arg(fleet::fixture().join("index.mjs"));
    fixture_answers(command).await;
}
