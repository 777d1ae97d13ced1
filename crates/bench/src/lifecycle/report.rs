//! The lifecycle results side by side, the targets judged on them, as a table or JSON.

use std::fmt::Write as _;

use serde::Serialize;

use crate::lifecycle::cold::{ColdReport, SubjectReport};
use crate::lifecycle::memory::MemoryReport;
use crate::lifecycle::scale::ScaleReport;
use crate::lifecycle::stats::Timing;
use crate::report::{Machine, Versions};

#[derive(Debug, Serialize)]
pub struct LifecycleReport {
    pub machine: Machine,
    pub versions: Versions,
    pub bwrap: String,
    pub loads: Vec<Load>,
    pub cold: Option<ColdReport>,
    pub memory: Option<MemoryReport>,
    pub scale: Option<ScaleReport>,
    pub goals: Vec<Verdict>,
}

/// The load average when a part ended (the machine is shared), and the run's time so far.
#[derive(Debug, Serialize)]
pub struct Load {
    pub when: &'static str,
    pub elapsed_secs: f64,
    pub one: f64,
    pub five: f64,
    pub fifteen: f64,
}

impl Load {
    pub fn now(when: &'static str, began: std::time::Instant) -> Load {
        let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        let mut fields = text
            .split_whitespace()
            .map(|f| f.parse::<f64>().unwrap_or(f64::NAN));
        let mut next = || fields.next().unwrap_or(f64::NAN);
        Load {
            when,
            elapsed_secs: began.elapsed().as_secs_f64(),
            one: next(),
            five: next(),
            fifteen: next(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Verdict {
    pub goal: String,
    pub measured: Option<f64>,
    pub unit: &'static str,
    /// `None`: not measured, or measured below the size the goal names and not already missed.
    pub met: Option<bool>,
    pub note: Option<String>,
}

/// Added start time allowed over a raw pipe, in ms.
pub const START_BUDGET_MS: f64 = 50.0;
/// Catwalk memory allowed per running deployment, in kB (1 MB = 1024 kB, as /proc counts).
pub const RUNNING_BUDGET_KB: f64 = 1024.0;
/// "About nothing" per sleeping deployment: a tenth of a running one's budget.
pub const SLEEPING_BUDGET_KB: f64 = 102.4;
pub const API_P99_BUDGET_MS: f64 = 100.0;
pub const TARGET_SLEEPING: usize = 2000;
pub const TARGET_RUNNING: usize = 200;

pub fn goals(
    cold: Option<&ColdReport>,
    memory: Option<&MemoryReport>,
    scale: Option<&ScaleReport>,
) -> Vec<Verdict> {
    let mut goals = Vec::new();
    for subject in cold.map_or(&[][..], |c| &c.subjects[..]) {
        for (what, timing) in [("wake-up", &subject.wake), ("cold start", &subject.cold)] {
            let delta = timing.median_ms - subject.raw.median_ms;
            goals.push(Verdict {
                goal: format!(
                    "{what} of {}: catwalk - raw pipe (medians) <= 50 ms",
                    subject.subject
                ),
                measured: Some(delta),
                unit: "ms",
                met: Some(delta <= START_BUDGET_MS),
                note: None,
            });
        }
    }
    if cold.is_none() {
        goals.push(Verdict {
            goal: "wake-up and cold start: catwalk - raw pipe (medians) <= 50 ms".into(),
            measured: None,
            unit: "ms",
            met: None,
            note: None,
        });
    }
    let running = memory.map(MemoryReport::per_running_kb);
    goals.push(Verdict {
        goal: "catwalk RSS per running deployment <= 1 MB".into(),
        measured: running,
        unit: "kB",
        met: running.map(|kb| kb <= RUNNING_BUDGET_KB),
        note: memory.map(|m| format!("K = {}", m.deployments)),
    });
    let sleeping = memory.map(MemoryReport::per_slept_kb);
    goals.push(Verdict {
        goal: "catwalk RSS per sleeping deployment ~ 0 (< 0.1 MB)".into(),
        measured: sleeping,
        unit: "kB",
        met: sleeping.map(|kb| kb < SLEEPING_BUDGET_KB),
        note: memory.map(|m| {
            format!(
                "K = {}, after they ran and fell asleep; asleep since a restart: {:.0} kB",
                m.deployments,
                m.per_dormant_kb()
            )
        }),
    });
    for (index, goal) in [
        "GET /api/deployments p99 < 100 ms at 2,000 sleeping + 200 running",
        "GET /api/deployments/NAME p99 < 100 ms at 2,000 sleeping + 200 running",
        "GET / (dashboard) p99 < 100 ms at 2,000 sleeping + 200 running",
    ]
    .into_iter()
    .enumerate()
    {
        let p99 = scale
            .and_then(|s| s.api.get(index))
            .map(|r| r.latency.p99_ms);
        let full = scale.is_some_and(|s| {
            s.sleeping.count >= TARGET_SLEEPING && s.running.count >= TARGET_RUNNING
        });
        goals.push(Verdict {
            goal: goal.into(),
            measured: p99,
            unit: "ms",
            met: p99.and_then(|p| match (p < API_P99_BUDGET_MS, full) {
                (false, _) => Some(false),
                (true, true) => Some(true),
                (true, false) => None,
            }),
            note: scale.map(|s| {
                format!(
                    "measured with {} sleeping + {} running{}",
                    s.sleeping.count,
                    s.running.count,
                    if full { "" } else { " (below the target size)" }
                )
            }),
        });
    }
    goals
}

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

fn timing_row(out: &mut String, label: &str, t: &Timing, reference: Option<&Timing>) {
    let delta = reference.map_or(String::new(), |r| {
        format!(
            "{:>+9.1} {:>+9.1}",
            t.median_ms - r.median_ms,
            t.p90_ms - r.p90_ms
        )
    });
    let _ = writeln!(
        out,
        "{label:<58} {:>8.1} {:>8.1} {:>8.1} {delta}",
        t.median_ms, t.p90_ms, t.max_ms
    );
}

fn subject_rows(out: &mut String, subject: &SubjectReport) {
    let _ = writeln!(
        out,
        "{:<58} {:>8} {:>8} {:>8} {:>9} {:>9}",
        subject.subject, "p50 ms", "p90 ms", "max ms", "Δp50 raw", "Δp90 raw"
    );
    let raw = Some(&subject.raw);
    timing_row(
        out,
        "  raw pipe: spawn -> initialize answered",
        &subject.raw_handshake,
        None,
    );
    timing_row(
        out,
        "  raw pipe: spawn -> tools/list answered",
        &subject.raw,
        None,
    );
    timing_row(
        out,
        "  raw pipe in catwalk's sandbox: spawn -> tools/list",
        &subject.raw_bwrap,
        raw,
    );
    timing_row(
        out,
        "  catwalk wake-up: new session -> tools/list answered",
        &subject.wake,
        raw,
    );
    timing_row(
        out,
        "    of which catwalk's metric: spawn -> handshake",
        &subject.wake_metric,
        None,
    );
    timing_row(
        out,
        "    the rest, start by start",
        &subject.wake_outside_metric,
        None,
    );
    timing_row(
        out,
        "  catwalk cold start: POST /start -> tools/list answered",
        &subject.cold,
        raw,
    );
    timing_row(
        out,
        "    of which catwalk's metric: spawn -> handshake",
        &subject.cold_metric,
        None,
    );
    timing_row(
        out,
        "    the rest, start by start",
        &subject.cold_outside_metric,
        None,
    );
}

pub fn text(report: &LifecycleReport) -> String {
    let mut out = String::new();
    let m = &report.machine;
    let _ = writeln!(
        out,
        "machine: {} cores, {}, {} MB RAM, Linux {}\ncatwalk {} | {} | node {}",
        m.nproc,
        m.cpu_model,
        m.mem_total_mb,
        m.kernel,
        report.versions.catwalk_commit,
        report.bwrap,
        report.versions.node,
    );
    let loads: Vec<String> = report
        .loads
        .iter()
        .map(|l| {
            format!(
                "{} ({:.0} s) {:.2} {:.2} {:.2}",
                l.when, l.elapsed_secs, l.one, l.five, l.fifteen
            )
        })
        .collect();
    let _ = writeln!(out, "load average (1/5/15 min): {}\n", loads.join(" | "));

    if let Some(cold) = &report.cold {
        let _ = writeln!(
            out,
            "START of a cached server, from spawning its process to its first tools/list answered, \
             {} rounds (cold start polls every {} ms while the deployment starts)",
            cold.rounds, cold.poll_ms
        );
        for subject in &cold.subjects {
            subject_rows(&mut out, subject);
        }
        let _ = writeln!(out);
    }

    if let Some(memory) = &report.memory {
        let k = memory.deployments;
        let _ = writeln!(
            out,
            "MEMORY: catwalk serve's own VmRSS (servers not counted), K = {k} tiny-server deployments"
        );
        let _ = writeln!(
            out,
            "  running:  fresh {:.1} MB, after API warm-up {:.1} MB, with {k} running {:.1} MB -> {:.0} kB per running deployment",
            mb(memory.running.fresh_kb),
            mb(memory.running.warmed_kb),
            mb(memory.running.with_deployments_kb),
            memory.per_running_kb(),
        );
        let _ = writeln!(
            out,
            "  sleeping: fresh {:.1} MB, after API warm-up {:.1} MB, with {k} that ran and slept {:.1} MB -> {:.0} kB per sleeping deployment",
            mb(memory.sleeping.fresh_kb),
            mb(memory.sleeping.warmed_kb),
            mb(memory.sleeping.with_deployments_kb),
            memory.per_slept_kb(),
        );
        let _ = writeln!(
            out,
            "  restarted on the same data directory, {k} asleep from the start: {:.1} MB -> {:.0} kB per sleeping deployment\n",
            mb(memory.restarted_kb),
            memory.per_dormant_kb(),
        );
    }

    if let Some(scale) = &report.scale {
        let _ = writeln!(
            out,
            "SCALE: {} sleeping (asked {}) + {} running (asked {}) tiny-server deployments on one catwalk",
            scale.sleeping.count, scale.sleeping_asked, scale.running.count, scale.running_asked,
        );
        for (what, creation) in [("sleeping", &scale.sleeping), ("running", &scale.running)] {
            let _ = writeln!(
                out,
                "  created {} {what} in {:.1} s ({:.1} per second; POSTs alone {:.1} s){}",
                creation.count,
                creation.seconds,
                creation.count as f64 / creation.seconds.max(1e-9),
                creation.post_seconds,
                creation
                    .stopped_early
                    .as_ref()
                    .map_or(String::new(), |why| format!("; {why}")),
            );
        }
        let _ = writeln!(
            out,
            "  catwalk RSS: fresh {:.1} MB, warmed {:.1} MB, with the sleeping {:.1} MB ({:.1} kB each), \
             with the running too {:.1} MB ({:.0} kB each), after the requests {:.1} MB",
            mb(scale.rss_fresh_kb),
            mb(scale.rss_warmed_kb),
            mb(scale.rss_with_sleeping_kb),
            scale.per_sleeping_kb(),
            mb(scale.rss_with_all_kb),
            scale.per_running_kb(),
            mb(scale.rss_after_requests_kb),
        );
        let _ = writeln!(
            out,
            "  servers: {} processes below catwalk, {:.0} MB PSS together; MemAvailable {} MB before, {} MB with all",
            scale.server_processes,
            scale.server_pss_mb,
            scale.mem_available_mb_before,
            scale.mem_available_mb_with_all,
        );
        let _ = writeln!(
            out,
            "  {:<28} {:>10} {:>8} {:>8} {:>8} {:>8}   ({} requests each, one at a time)",
            "route", "body", "p50 ms", "p90 ms", "p99 ms", "max ms", scale.requests
        );
        for route in &scale.api {
            let _ = writeln!(
                out,
                "  {:<28} {:>10} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
                route.route,
                route.body_bytes,
                route.latency.median_ms,
                route.latency.p90_ms,
                route.latency.p99_ms,
                route.latency.max_ms,
            );
        }
        let _ = writeln!(out);
    }

    for goal in &report.goals {
        let verdict = match goal.met {
            Some(true) => "MET",
            Some(false) => "MISSED",
            None if goal.measured.is_some() => "not judged",
            None => "not measured",
        };
        let measured = match goal.measured {
            Some(v) if goal.unit == "ms" && goal.goal.contains(" - raw") => format!("{v:+.1} ms"),
            Some(v) => format!("{v:.1} {}", goal.unit),
            None => "-".to_string(),
        };
        let note = goal
            .note
            .as_ref()
            .map_or(String::new(), |n| format!(" ({n})"));
        let _ = writeln!(
            out,
            "{verdict:<12} {:<72} measured {measured}{note}",
            goal.goal
        );
    }
    out
}
