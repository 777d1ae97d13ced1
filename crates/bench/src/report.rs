//! The results: every measurement, the medians across rounds, the ratios the issue sets goals
//! for, and whether each goal is met; printed as a table or as JSON.

use std::fmt::Write as _;

use serde::Serialize;

use crate::load::Sample;
use crate::rss::RssReport;
use crate::targets::Kind;

#[derive(Debug, Serialize)]
pub struct Report {
    pub machine: Machine,
    pub versions: Versions,
    pub duration_secs: f64,
    pub warmup_secs: f64,
    pub rounds: usize,
    /// How concurrency is applied: N in-flight requests on one shared session, one connection
    /// per in-flight request.
    pub method: &'static str,
    pub measurements: Vec<Measurement>,
    pub summary: Vec<Summary>,
    pub rss: Option<RssReport>,
    pub catwalk_after_load: Option<Memory>,
    pub goals: Vec<Goal>,
}

#[derive(Debug, Serialize)]
pub struct Machine {
    pub nproc: usize,
    pub cpu_model: String,
    pub mem_total_mb: u64,
    pub kernel: String,
}

#[derive(Debug, Serialize)]
pub struct Versions {
    pub catwalk_commit: String,
    pub server_everything: &'static str,
    pub mcp_proxy: &'static str,
    pub supergateway: &'static str,
    pub node: String,
    pub python: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Measurement {
    pub target: Kind,
    pub concurrency: usize,
    pub round: usize,
    pub sample: Sample,
    pub cpu: CpuPerCall,
}

/// CPU time per completed call, in microseconds, of each party during one measurement.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct CpuPerCall {
    /// The gateway process itself (none for direct stdio).
    pub gateway_us: Option<f64>,
    /// The MCP server process(es) below the gateway (or the server itself for direct stdio).
    pub server_us: f64,
    /// The bench's own client.
    pub client_us: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub target: Kind,
    pub concurrency: usize,
    pub calls_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: u64,
    pub cpu: CpuPerCall,
}

#[derive(Debug, Serialize)]
pub struct Memory {
    pub rss_kb: Option<u64>,
    pub peak_rss_kb: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct Goal {
    pub goal: &'static str,
    pub measured: Option<f64>,
    pub unit: &'static str,
    pub met: Option<bool>,
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// The median of each figure across rounds, per target and concurrency.
pub fn summarize(
    measurements: &[Measurement],
    targets: &[Kind],
    concurrency: &[usize],
) -> Vec<Summary> {
    let mut summary = Vec::new();
    for &target in targets {
        for &c in concurrency {
            let rows: Vec<&Measurement> = measurements
                .iter()
                .filter(|m| m.target == target && m.concurrency == c)
                .collect();
            if rows.is_empty() {
                continue;
            }
            let of = |f: &dyn Fn(&Measurement) -> f64| median(rows.iter().map(|m| f(m)).collect());
            let gateway = rows
                .iter()
                .filter_map(|m| m.cpu.gateway_us)
                .collect::<Vec<_>>();
            summary.push(Summary {
                target,
                concurrency: c,
                calls_per_sec: of(&|m| m.sample.calls_per_sec),
                p50_ms: of(&|m| m.sample.p50_ms),
                p99_ms: of(&|m| m.sample.p99_ms),
                errors: rows.iter().map(|m| m.sample.errors).sum(),
                cpu: CpuPerCall {
                    gateway_us: (!gateway.is_empty()).then(|| median(gateway)),
                    server_us: of(&|m| m.cpu.server_us),
                    client_us: of(&|m| m.cpu.client_us),
                },
            });
        }
    }
    summary
}

/// The goals from the issue, judged on this run's own peers (never on reference figures).
pub fn goals(summary: &[Summary], rss: Option<&RssReport>) -> Vec<Goal> {
    let find = |target, c| {
        summary
            .iter()
            .find(|s| s.target == target && s.concurrency == c)
    };
    let ratio = |peer| {
        let catwalk = find(Kind::Catwalk, 16)?;
        let peer = find(peer, 16)?;
        Some(catwalk.calls_per_sec / peer.calls_per_sec)
    };
    let vs_mcp_proxy = ratio(Kind::McpProxy);
    let vs_supergateway = ratio(Kind::Supergateway);
    let p50_delta = find(Kind::Catwalk, 1)
        .zip(find(Kind::Direct, 1))
        .map(|(catwalk, direct)| catwalk.p50_ms - direct.p50_ms);
    // Fewer sessions (--sessions) say nothing about the goal either way.
    let rss_mb = rss
        .filter(|r| r.sessions >= 1000)
        .map(|r| r.with_sessions_kb as f64 * 1024.0 / 1e6);
    vec![
        Goal {
            goal: "catwalk throughput at concurrency 16 >= 10x mcp-proxy's",
            measured: vs_mcp_proxy,
            unit: "x",
            met: vs_mcp_proxy.map(|r| r >= 10.0),
        },
        Goal {
            goal: "catwalk throughput at concurrency 16 >= 6x supergateway's",
            measured: vs_supergateway,
            unit: "x",
            met: vs_supergateway.map(|r| r >= 6.0),
        },
        Goal {
            goal: "catwalk p50 at concurrency 1 <= direct stdio p50 + 0.15 ms",
            measured: p50_delta,
            unit: "ms",
            met: p50_delta.map(|d| d <= 0.15),
        },
        Goal {
            goal: "catwalk RSS with 1,000 idle sessions < 30 MB",
            measured: rss_mb,
            unit: "MB",
            met: rss_mb.map(|mb| mb < 30.0),
        },
    ]
}

/// What the issue measured on a similar machine, shown beside this run's peers to judge the
/// machine (the goals use only this run's numbers).
fn reference(target: Kind, concurrency: usize) -> &'static str {
    match (target, concurrency) {
        (Kind::Direct, 1) => "~7,200 / 0.10",
        (Kind::McpProxy, 1) => "~770 / 1.2",
        (Kind::McpProxy, 16) => "~1,060",
        (Kind::Supergateway, 1) => "~980 / 0.76",
        (Kind::Supergateway, 16) => "~1,500",
        _ => "",
    }
}

fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn opt(value: Option<f64>, decimals: usize) -> String {
    value.map_or("-".to_string(), |v| format!("{v:.decimals$}"))
}

pub fn text(report: &Report) -> String {
    let mut out = String::new();
    let m = &report.machine;
    let _ = writeln!(
        out,
        "machine: {} cores, {}, {} MB RAM, Linux {}\ncatwalk {} | server-everything {} | mcp-proxy {} | supergateway {} | node {} | {}",
        m.nproc,
        m.cpu_model,
        m.mem_total_mb,
        m.kernel,
        report.versions.catwalk_commit,
        report.versions.server_everything,
        report.versions.mcp_proxy,
        report.versions.supergateway,
        report.versions.node,
        report.versions.python,
    );
    let _ = writeln!(
        out,
        "{} s per measurement after {} s warm-up, {} round(s), medians shown; {}\n",
        report.duration_secs, report.warmup_secs, report.rounds, report.method
    );
    let _ = writeln!(
        out,
        "{:<20} {:>4} {:>9} {:>8} {:>8} {:>6} | {:>8} {:>8} {:>8} | issue's ref (calls/s / p50 ms)",
        "target", "conc", "calls/s", "p50 ms", "p99 ms", "errors", "gw µs", "srv µs", "cli µs",
    );
    for s in &report.summary {
        let _ = writeln!(
            out,
            "{:<20} {:>4} {:>9} {:>8.3} {:>8.3} {:>6} | {:>8} {:>8.1} {:>8.1} | {}",
            s.target.label(),
            s.concurrency,
            thousands(s.calls_per_sec),
            s.p50_ms,
            s.p99_ms,
            s.errors,
            opt(s.cpu.gateway_us, 1),
            s.cpu.server_us,
            s.cpu.client_us,
            reference(s.target, s.concurrency),
        );
    }
    let _ = writeln!(
        out,
        "(gw/srv/cli µs: CPU time per call of the gateway, the MCP server, the bench client)\n"
    );
    if let Some(rss) = &report.rss {
        let mb = |kb: u64| kb as f64 * 1024.0 / 1e6;
        let _ = writeln!(
            out,
            "catwalk RSS: {:.1} MB before, {:.1} MB with {} idle sessions ({:.1} kB per session), {}",
            mb(rss.before_kb),
            mb(rss.with_sessions_kb),
            rss.sessions,
            (rss.with_sessions_kb as f64 - rss.before_kb as f64) * 1.024
                / rss.sessions.max(1) as f64,
            match (rss.with_streams_kb, &rss.streams_error) {
                (Some(kb), _) => format!("{:.1} MB with each also holding its GET stream", mb(kb)),
                (None, Some(error)) => format!("GET streams failed: {error}"),
                (None, None) => "GET streams not measured".to_string(),
            }
        );
    }
    if let Some(after) = &report.catwalk_after_load {
        let _ = writeln!(
            out,
            "catwalk RSS after the load runs: {} MB (peak {} MB)",
            opt(after.rss_kb.map(|kb| kb as f64 * 1024.0 / 1e6), 1),
            opt(after.peak_rss_kb.map(|kb| kb as f64 * 1024.0 / 1e6), 1),
        );
    }
    let _ = writeln!(out);
    for goal in &report.goals {
        let verdict = match goal.met {
            Some(true) => "MET",
            Some(false) => "MISSED",
            None => "not measured",
        };
        let measured = match goal.measured {
            Some(v) if goal.unit == "x" => format!("{v:.2}x"),
            Some(v) if goal.unit == "ms" => format!("{v:+.3} ms"),
            Some(v) => format!("{v:.1} {}", goal.unit),
            None => "-".to_string(),
        };
        let _ = writeln!(out, "{verdict:<12} {:<60} measured {measured}", goal.goal);
    }
    out
}
