//! `catwalk-bench`: one `tools/call` of `echo` on server-everything, measured in one run directly
//! over stdio, through Catwalk, through mcp-proxy and through supergateway, at each concurrency,
//! plus Catwalk's memory with many idle sessions; `catwalk-bench lifecycle` measures starting,
//! sleeping and holding many deployments instead; `catwalk-bench corpus` scores the analyzer over
//! a corpus of real servers checked by hand. See BENCHMARKS.md for the method.
//!
//! Everything it starts runs in a process group of its own and is stopped when the run ends, fails
//! or is interrupted (Ctrl-C, SIGTERM, SIGHUP).

mod corpus;
mod http;
mod lifecycle;
mod load;
mod prepare;
mod procs;
mod report;
mod rss;
mod stdio;
mod targets;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use crate::report::{CpuPerCall, Machine, Measurement, Memory, Report, Versions};
use crate::targets::{Kind, Running};

/// Benchmarks Catwalk against direct stdio, mcp-proxy and supergateway on server-everything's
/// `echo` tool, and checks the goals (throughput ratios, p50 overhead, idle-session RSS).
///
/// Installs what it needs under target/bench/ on first use (npm and pip, as configured for this
/// user) and builds the Catwalk release binary unless --no-build.
#[derive(Debug, Parser)]
#[command(name = "catwalk-bench")]
struct Args {
    /// Another benchmark instead of the default call benchmark
    #[command(subcommand)]
    mode: Option<Mode>,

    /// Seconds per measurement
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    duration: f64,

    /// Seconds of unmeasured calls before each measurement
    #[arg(long, value_name = "SECS", default_value_t = 1.0)]
    warmup: f64,

    /// Targets to run, comma-separated
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "TARGETS",
        default_value = "direct,catwalk,mcp-proxy,supergateway"
    )]
    only: Vec<Kind>,

    /// Concurrency levels (requests in flight on one session), comma-separated
    #[arg(long, value_delimiter = ',', value_name = "N", default_values_t = [1, 16])]
    concurrency: Vec<usize>,

    /// Rounds: every target is measured at every concurrency once per round, targets taking
    /// turns, and medians are reported (spreads the machine's noise over all targets)
    #[arg(long, default_value_t = 1)]
    rounds: usize,

    /// Give each concurrent worker its own MCP session instead of sharing one (supergateway then
    /// runs one server process per session; direct stdio always has one)
    #[arg(long)]
    session_per_worker: bool,

    /// Idle sessions to open on Catwalk for the memory measurement (0: skip it)
    #[arg(long, default_value_t = 1000)]
    sessions: usize,

    /// Print the report as JSON on stdout (progress stays on stderr)
    #[arg(long, global = true)]
    json: bool,

    /// Use target/release/catwalk as it is instead of running cargo build --release first
    #[arg(long, global = true)]
    no_build: bool,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// Cold start, wake-up, memory per deployment and API latency with many deployments
    Lifecycle(lifecycle::LifecycleArgs),
    /// The analyzer's accuracy and speed over a corpus of real MCP servers checked by hand
    Corpus(corpus::CorpusArgs),
}

fn main() -> ExitCode {
    let args = Args::parse();
    // One thread for the client: it leaves the most CPU to the processes under test on a small
    // machine, and costs every target the same.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("catwalk-bench: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        // When a signal wins, `run` is dropped here, and with it every process it started.
        tokio::select! {
            result = run_mode(&args) => match result {
                Ok(output) => {
                    print!("{output}");
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("catwalk-bench: {error:#}");
                    ExitCode::FAILURE
                }
            },
            signal = interrupted() => {
                eprintln!("catwalk-bench: {signal}; stopping everything it started");
                ExitCode::from(130)
            }
        }
    })
}

async fn interrupted() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        let _ = tokio::signal::ctrl_c().await;
        return "interrupted";
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "interrupted",
        _ = term.recv() => "terminated",
        _ = hup.recv() => "hung up",
    }
}

/// The selected benchmark's report, as JSON or as text.
async fn run_mode(args: &Args) -> Result<String> {
    Ok(match &args.mode {
        None => {
            let report = run(args).await?;
            match args.json {
                true => pretty(&report),
                false => report::text(&report),
            }
        }
        Some(Mode::Lifecycle(lifecycle)) => {
            let report = lifecycle::run(lifecycle, !args.no_build).await?;
            match args.json {
                true => pretty(&report),
                false => lifecycle::report::text(&report),
            }
        }
        Some(Mode::Corpus(corpus)) => {
            let report = corpus::run(corpus, !args.no_build).await?;
            match args.json {
                true => pretty(&report),
                false => corpus::report::text(&report),
            }
        }
    })
}

fn pretty<T: serde::Serialize>(value: &T) -> String {
    format!(
        "{}\n",
        serde_json::to_string_pretty(value).expect("serializable")
    )
}

async fn run(args: &Args) -> Result<Report> {
    anyhow::ensure!(
        args.duration > 0.0 && args.warmup >= 0.0,
        "--duration must be > 0 and --warmup >= 0"
    );
    anyhow::ensure!(args.rounds > 0, "--rounds must be at least 1");
    anyhow::ensure!(
        !args.concurrency.is_empty() && !args.concurrency.contains(&0),
        "--concurrency needs positive numbers"
    );
    let selected: Vec<Kind> = Kind::ALL
        .into_iter()
        .filter(|k| args.only.contains(k))
        .collect();
    // Read before building: the working tree may move on while the bench runs.
    let versions = versions().await;
    let target_dir = target_dir();
    let needs = prepare::Needs {
        everything: selected
            .iter()
            .any(|k| !matches!(k, Kind::Catwalk | Kind::Floor)),
        supergateway: selected.contains(&Kind::Supergateway),
        mcp_proxy: selected.contains(&Kind::McpProxy),
        catwalk: selected.contains(&Kind::Catwalk) || selected.contains(&Kind::Floor),
        build_catwalk: !args.no_build,
    };
    let tools =
        tokio::task::spawn_blocking(move || prepare::prepare(&target_dir, &needs)).await??;

    let plan = targets::Plan {
        workers: *args.concurrency.iter().max().expect("not empty"),
        session_per_worker: args.session_per_worker,
    };
    let mut running: Vec<Running> = Vec::new();
    let mut rss = None;
    for &kind in &selected {
        eprintln!("bench: starting {}", kind.label());
        let mut target = targets::start(kind, &tools, plan)
            .await
            .with_context(|| format!("starting {}", kind.label()))?;
        target.workers[0]
            .check_echo()
            .await
            .with_context(|| format!("the first echo through {}", kind.label()))?;
        if kind == Kind::Catwalk && args.sessions > 0 {
            eprintln!("bench: opening {} idle sessions on catwalk", args.sessions);
            let endpoint = target.endpoint.as_ref().expect("catwalk is an HTTP target");
            rss = Some(rss::measure(target.proc.pid(), endpoint, args.sessions).await?);
        }
        running.push(target);
    }

    let duration = Duration::from_secs_f64(args.duration);
    let warmup = Duration::from_secs_f64(args.warmup);
    let mut measurements = Vec::new();
    for round in 0..args.rounds {
        for &concurrency in &args.concurrency {
            for target in &mut running {
                let measurement = measure(target, concurrency, round, warmup, duration).await?;
                let s = &measurement.sample;
                eprintln!(
                    "bench: round {} {:<20} c={:<3} {:>9.0} calls/s  p50 {:.3} ms  p99 {:.3} ms{}",
                    round + 1,
                    target.kind.label(),
                    concurrency,
                    s.calls_per_sec,
                    s.p50_ms,
                    s.p99_ms,
                    s.first_error.as_ref().map_or(String::new(), |e| format!(
                        "  {} errors, first: {e}",
                        s.errors
                    )),
                );
                measurements.push(measurement);
            }
        }
    }

    let catwalk_after_load = running
        .iter()
        .find(|t| t.kind == Kind::Catwalk)
        .map(|t| Memory {
            rss_kb: procs::status_kb(t.proc.pid(), "VmRSS"),
            peak_rss_kb: procs::status_kb(t.proc.pid(), "VmHWM"),
        });
    eprintln!("bench: stopping the targets");
    drop(running);

    let summary = report::summarize(&measurements, &selected, &args.concurrency);
    let goals = report::goals(&summary, rss.as_ref());
    Ok(Report {
        machine: machine(),
        versions,
        duration_secs: args.duration,
        warmup_secs: args.warmup,
        rounds: args.rounds,
        method: if args.session_per_worker {
            "closed loop; concurrency N = N workers, each with its OWN session and its own \
             keep-alive HTTP/1.1 connection (stdio: N in flight on the one pipe)"
        } else {
            "closed loop; concurrency N = N requests in flight on ONE shared session, each on \
             its own keep-alive HTTP/1.1 connection (stdio: N in flight on the one pipe)"
        },
        measurements,
        summary,
        rss,
        catwalk_after_load,
        goals,
    })
}

/// One warm-up and one measurement, with the CPU time each party spent during the measurement.
async fn measure(
    target: &mut Running,
    concurrency: usize,
    round: usize,
    warmup: Duration,
    duration: Duration,
) -> Result<Measurement> {
    let gateway = target.gateway_pid();
    let root = target.proc.pid();
    let workers = &mut target.workers[..concurrency];
    if !warmup.is_zero() {
        load::run(workers, warmup).await;
    }
    let server_cpu = || match gateway {
        Some(_) => procs::descendants_cpu_micros(root),
        None => procs::cpu_micros(root) + procs::descendants_cpu_micros(root),
    };
    let me = std::process::id();
    let before = (
        gateway.map(procs::cpu_micros),
        server_cpu(),
        procs::cpu_micros(me),
    );
    let sample = load::run(workers, duration).await;
    let after = (
        gateway.map(procs::cpu_micros),
        server_cpu(),
        procs::cpu_micros(me),
    );
    target.proc.check_alive()?;
    let per_call = |delta: u64| delta as f64 / sample.calls.max(1) as f64;
    let cpu = CpuPerCall {
        gateway_us: before
            .0
            .zip(after.0)
            .map(|(b, a)| per_call(a.saturating_sub(b))),
        server_us: per_call(after.1.saturating_sub(before.1)),
        client_us: per_call(after.2.saturating_sub(before.2)),
    };
    Ok(Measurement {
        target: target.kind,
        concurrency,
        round,
        sample,
        cpu,
    })
}

/// Cargo's target directory: CARGO_TARGET_DIR, or `target/` at the workspace root.
pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

pub(crate) fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split_once(':')
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kb: u64 = meminfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("MemTotal:")?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0);
    Machine {
        nproc: std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model,
        mem_total_mb: mem_kb / 1024,
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

pub(crate) async fn versions() -> Versions {
    async fn output(program: &str, args: &[&str]) -> String {
        match tokio::process::Command::new(program)
            .args(args)
            .output()
            .await
        {
            Ok(out) if out.status.success() => {
                let text = if out.stdout.is_empty() {
                    out.stderr
                } else {
                    out.stdout
                };
                String::from_utf8_lossy(&text).trim().to_string()
            }
            _ => "unknown".to_string(),
        }
    }
    let repo = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    // Read-only git queries: the lead commits while helpers work, so nothing here may take
    // git's index lock (GIT_OPTIONAL_LOCKS=0 keeps `status` from refreshing the index).
    let commit = output("git", &["-C", repo, "rev-parse", "--short", "HEAD"]).await;
    let changed = tokio::process::Command::new("git")
        .args(["-C", repo, "status", "--porcelain", "--untracked-files=no"])
        .env("GIT_OPTIONAL_LOCKS", "0")
        .output()
        .await
        .is_ok_and(|out| !out.stdout.is_empty());
    Versions {
        catwalk_commit: if changed {
            format!("{commit} + uncommitted changes")
        } else {
            commit
        },
        server_everything: prepare::EVERYTHING_VERSION,
        mcp_proxy: prepare::MCP_PROXY_VERSION,
        supergateway: prepare::SUPERGATEWAY_VERSION,
        node: output("node", &["--version"]).await,
        python: output("python3", &["--version"]).await,
    }
}

#[cfg(test)]
mod tests;
