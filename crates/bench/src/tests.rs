//! Tests of the bench's own parts: reading answers (JSON and SSE), judging goals, and stopping
//! every process it starts, with real child processes.

use std::time::Duration;

use bytes::Bytes;

use crate::http::{Endpoint, answer_text};
use crate::load::Sample;
use crate::procs::{self, Proc};
use crate::report::{self, CpuPerCall, Measurement};
use crate::rss::RssReport;
use crate::targets::Kind;

fn response(content_type: &str) -> hyper::Response<()> {
    hyper::Response::builder()
        .header("content-type", content_type)
        .body(())
        .unwrap()
}

#[test]
fn a_json_answer_is_the_body_itself() {
    let body = Bytes::from_static(br#"{"jsonrpc":"2.0","id":7,"result":{}}"#);
    let text = answer_text(&response("application/json"), &body, 7).unwrap();
    assert_eq!(text, body);
}

#[test]
fn an_sse_answer_is_found_after_related_messages() {
    let body = Bytes::from_static(
        b"event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{}}\n\n\
          event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":42,\"result\":{\"content\":[]}}\n\n",
    );
    let text = answer_text(&response("text/event-stream"), &body, 42).unwrap();
    assert_eq!(
        &text[..],
        br#"{"jsonrpc":"2.0","id":42,"result":{"content":[]}}"#
    );
}

#[test]
fn an_sse_stream_without_the_answer_is_an_error() {
    let body = Bytes::from_static(
        b"event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n",
    );
    let error = answer_text(&response("text/event-stream"), &body, 2).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("without the answer to request 2"),
        "{error}"
    );
}

#[test]
fn endpoints_are_plain_http_loopback_addresses() {
    let endpoint = Endpoint::parse("http://127.0.0.1:8123/s/bench/mcp").unwrap();
    assert_eq!(endpoint.authority, "127.0.0.1:8123");
    assert_eq!(endpoint.path, "/s/bench/mcp");
    assert_eq!(endpoint.addr.port(), 8123);
    assert!(Endpoint::parse("https://127.0.0.1:8123/mcp").is_err());
    assert!(Endpoint::parse("http://localhost:8123/mcp").is_err());
}

fn measurement(target: Kind, concurrency: usize, calls_per_sec: f64, p50_ms: f64) -> Measurement {
    Measurement {
        target,
        concurrency,
        round: 0,
        sample: Sample {
            calls: 1000,
            errors: 0,
            first_error: None,
            seconds: 1.0,
            calls_per_sec,
            p50_ms,
            p90_ms: p50_ms,
            p99_ms: p50_ms,
            max_ms: p50_ms,
        },
        cpu: CpuPerCall {
            gateway_us: None,
            server_us: 0.0,
            client_us: 0.0,
        },
    }
}

#[test]
fn goals_are_judged_on_medians_of_this_runs_peers() {
    let all = [
        Kind::Direct,
        Kind::Catwalk,
        Kind::McpProxy,
        Kind::Supergateway,
    ];
    let mut measurements = Vec::new();
    // Three rounds; the medians are the middle values, whatever the order.
    for (round, catwalk16) in [12_000.0, 1.0, 11_000.0].into_iter().enumerate() {
        for mut m in [
            measurement(Kind::Direct, 1, 10_000.0, 0.05),
            measurement(Kind::Catwalk, 1, 4_000.0, 0.30),
            measurement(Kind::Catwalk, 16, catwalk16, 1.0),
            measurement(Kind::McpProxy, 16, 1_000.0, 10.0),
            measurement(Kind::Supergateway, 16, 2_000.0, 8.0),
        ] {
            m.round = round;
            measurements.push(m);
        }
    }
    let summary = report::summarize(&measurements, &all, &[1, 16]);
    let catwalk16 = summary
        .iter()
        .find(|s| s.target == Kind::Catwalk && s.concurrency == 16)
        .unwrap();
    assert_eq!(catwalk16.calls_per_sec, 11_000.0);
    let rss = RssReport {
        sessions: 1000,
        before_kb: 10_000,
        with_sessions_kb: 30_000,
        with_streams_kb: None,
        streams_error: None,
    };
    let goals = report::goals(&summary, Some(&rss));
    let met: Vec<Option<bool>> = goals.iter().map(|g| g.met).collect();
    // 11x mcp-proxy (met), 5.5x supergateway (missed), +0.25 ms (missed), 30.7 MB (missed).
    assert_eq!(met, [Some(true), Some(false), Some(false), Some(false)]);
    assert!((goals[0].measured.unwrap() - 11.0).abs() < 1e-9);
    assert!((goals[2].measured.unwrap() - 0.25).abs() < 1e-9);
}

#[test]
fn goals_without_their_targets_are_not_measured() {
    let summary = report::summarize(
        &[measurement(Kind::Catwalk, 16, 9_000.0, 1.0)],
        &[Kind::Catwalk],
        &[16],
    );
    let goals = report::goals(&summary, None);
    assert!(
        goals
            .iter()
            .all(|g| g.met.is_none() && g.measured.is_none())
    );
}

#[test]
fn fewer_idle_sessions_than_the_goal_names_are_not_judged() {
    let rss = RssReport {
        sessions: 200,
        before_kb: 10_000,
        with_sessions_kb: 11_000,
        with_streams_kb: None,
        streams_error: None,
    };
    let goals = report::goals(&[], Some(&rss));
    assert_eq!(goals[3].met, None);
}

#[tokio::test]
async fn dropping_a_proc_ends_its_whole_tree() {
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut command = tokio::process::Command::new("sh");
    // A grandchild in a process group of its own, as gateways' servers may be: reached only
    // through the descendants walk, not through the group signal.
    command.args(["-c", "setsid sleep 300 & sleep 300"]);
    let proc = Proc::spawn("sh", command, log.path(), Duration::from_millis(200)).unwrap();
    let root = proc.pid();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let tree = loop {
        let tree = procs::descendants(root);
        if tree.len() >= 2 || std::time::Instant::now() > deadline {
            break tree;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        tree.len() >= 2,
        "expected both sleeps below sh, found {tree:?}"
    );
    drop(proc);
    tokio::time::sleep(Duration::from_millis(100)).await;
    for pid in tree.iter().chain([&root]) {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Gone, or a zombie waiting for init to reap it: either way no longer running.
        assert!(
            state.is_empty() || state.contains(") Z"),
            "process {pid} still runs: {state}"
        );
    }
}

#[test]
fn own_memory_and_cpu_are_readable() {
    let me = std::process::id();
    assert!(procs::status_kb(me, "VmRSS").unwrap() > 0);
    assert!(procs::status_kb(me, "NoSuchField").is_none());
    let start = std::time::Instant::now();
    let mut x = 0u64;
    while start.elapsed() < Duration::from_millis(50) {
        x = x.wrapping_add(std::hint::black_box(1));
    }
    assert!(x > 0 && procs::cpu_micros(me) > 0);
}
