//! The corpus report: per-entry rows, the totals, and the verdicts against the targets.

use std::fmt::Write;

use serde::Serialize;

use super::entries::{Kind, Launch};
use super::score::{self, EntryScore, Introspected, Ratio, Totals};
use crate::report::Machine;

/// The targets, without an LLM.
pub const LAUNCH_TARGET: f64 = 0.95;
pub const RECALL_TARGET: f64 = 0.95;
pub const PRECISION_TARGET: f64 = 0.90;
/// Analysis of a cached npm package, introspection excluded.
pub const CACHED_NPM_TARGET_SECS: f64 = 2.0;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryReport {
    pub name: String,
    pub kind: Kind,
    pub source: String,
    pub expected_launch: Option<Launch>,
    pub found_launch: Option<Launch>,
    /// The analysis's error, when it failed.
    pub error: Option<String>,
    pub expected_error: Option<String>,
    pub first_secs: f64,
    /// The second analysis (package cached, spec not reused).
    pub cached_secs: Option<f64>,
    /// Both analyses gave the same launch and variables.
    pub same_spec: Option<bool>,
    pub introspection: Option<Introspected>,
    pub score: EntryScore,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Timing {
    pub count: usize,
    pub p50_secs: Option<f64>,
    pub p95_secs: Option<f64>,
    pub max_secs: Option<f64>,
}

impl Timing {
    fn of(values: &[f64]) -> Timing {
        Timing {
            count: values.len(),
            p50_secs: score::percentile(values, 50.0),
            p95_secs: score::percentile(values, 95.0),
            max_secs: score::percentile(values, 100.0),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Goal {
    pub name: &'static str,
    pub target: String,
    pub measured: String,
    pub pass: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CorpusReport {
    pub corpus: String,
    pub machine: Machine,
    pub catwalk_commit: String,
    pub introspect: bool,
    pub wall_secs: f64,
    pub entries: Vec<EntryReport>,
    /// Over every entry.
    pub totals: Totals,
    /// Over the npm and PyPI entries only.
    pub registry_totals: Totals,
    /// Second analyses of npm packages.
    pub cached_npm: Timing,
    /// Second analyses of every entry that analyzed.
    pub cached_all: Timing,
    pub goals: Vec<Goal>,
}

pub fn build(
    entries: Vec<EntryReport>,
    introspect: bool,
    wall_secs: f64,
    corpus: String,
    machine: Machine,
    catwalk_commit: String,
) -> CorpusReport {
    let all: Vec<&EntryScore> = entries.iter().map(|e| &e.score).collect();
    let registry: Vec<&EntryScore> = entries
        .iter()
        .filter(|e| matches!(e.kind, Kind::Npm | Kind::Pypi))
        .map(|e| &e.score)
        .collect();
    let totals = score::totals(&all, introspect);
    let registry_totals = score::totals(&registry, introspect);
    let npm: Vec<f64> = entries
        .iter()
        .filter(|e| e.kind == Kind::Npm)
        .filter_map(|e| e.cached_secs)
        .collect();
    let every: Vec<f64> = entries.iter().filter_map(|e| e.cached_secs).collect();
    let cached_npm = Timing::of(&npm);
    let goals = goals(&totals, &cached_npm);
    CorpusReport {
        corpus,
        machine,
        catwalk_commit,
        introspect,
        wall_secs,
        entries,
        totals,
        registry_totals,
        cached_npm,
        cached_all: Timing::of(&every),
        goals,
    }
}

pub fn goals(totals: &Totals, cached_npm: &Timing) -> Vec<Goal> {
    let at_least = |name, ratio: &Ratio, target: f64| Goal {
        name,
        target: format!(">= {:.0}%", target * 100.0),
        measured: percent(ratio),
        pass: ratio.value.is_some_and(|v| v >= target),
    };
    vec![
        at_least("launch command right", &totals.launch, LAUNCH_TARGET),
        at_least("env-var recall", &totals.env_recall, RECALL_TARGET),
        at_least("env-var precision", &totals.env_precision, PRECISION_TARGET),
        Goal {
            name: "analysis of a cached npm package (max)",
            target: format!("< {CACHED_NPM_TARGET_SECS} s"),
            measured: cached_npm
                .max_secs
                .map_or("no npm entry".to_string(), |s| format!("{s:.2} s")),
            pass: cached_npm
                .max_secs
                .is_some_and(|s| s < CACHED_NPM_TARGET_SECS),
        },
    ]
}

fn percent(ratio: &Ratio) -> String {
    match ratio.value {
        Some(v) => format!("{:.1}% ({}/{})", v * 100.0, ratio.hits, ratio.total),
        None => "n/a (0/0)".to_string(),
    }
}

fn yes_no(value: Option<bool>) -> &'static str {
    match value {
        Some(true) => "ok",
        Some(false) => "MISS",
        None => "-",
    }
}

fn launch_text(launch: &Launch) -> String {
    std::iter::once(launch.command.as_str())
        .chain(launch.args.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The progress line of one entry.
pub fn one_line(e: &EntryReport) -> String {
    let s = &e.score;
    let mut line = format!(
        "launch {} env {}/{}/{} flags {}/{} tools {} {:.2}s",
        yes_no(s.launch_ok),
        s.true_positives,
        s.false_positives.len(),
        s.false_negatives.len(),
        s.required_errors.len(),
        s.secret_errors.len(),
        yes_no(s.tools_ok),
        e.cached_secs.unwrap_or(e.first_secs),
    );
    if let Some(error) = &e.error {
        let _ = write!(line, " error: {error}");
    }
    line
}

pub fn text(report: &CorpusReport) -> String {
    let mut out = String::new();
    let m = &report.machine;
    let _ = writeln!(
        out,
        "Corpus {} on {} ({} CPUs, {} MB), catwalk {}; introspection {}; {:.0} s in all\n",
        report.corpus,
        m.cpu_model,
        m.nproc,
        m.mem_total_mb,
        report.catwalk_commit,
        if report.introspect { "on" } else { "off" },
        report.wall_secs,
    );
    let _ = writeln!(
        out,
        "{:<34} {:<7} {:<6} {:>3} {:>3} {:>3} {:>4} {:>4} {:<6} {:>7} {:>7}",
        "entry", "kind", "launch", "TP", "FP", "FN", "req!", "sec!", "tools", "1st s", "2nd s"
    );
    for e in &report.entries {
        let s = &e.score;
        let launch = match (&e.expected_error, s.outcome_ok) {
            (Some(_), true) => "refuse",
            (Some(_), false) => "MISS",
            (None, _) => yes_no(s.launch_ok),
        };
        let _ = writeln!(
            out,
            "{:<34} {:<7} {:<6} {:>3} {:>3} {:>3} {:>4} {:>4} {:<6} {:>7.2} {:>7}",
            e.name,
            e.kind.label(),
            launch,
            s.true_positives,
            s.false_positives.len(),
            s.false_negatives.len(),
            s.required_errors.len(),
            s.secret_errors.len(),
            yes_no(s.tools_ok),
            e.first_secs,
            e.cached_secs.map_or("-".to_string(), |t| format!("{t:.2}")),
        );
    }

    let _ = writeln!(out, "\nMisses:");
    let mut any = false;
    for e in &report.entries {
        let s = &e.score;
        let mut notes = Vec::new();
        if let Some(expected) = &e.expected_error {
            if !s.outcome_ok {
                notes.push(format!(
                    "expected an error containing {expected:?}, got {}",
                    e.error.as_deref().unwrap_or("a spec")
                ));
            }
        } else if let Some(error) = &e.error {
            notes.push(format!("analysis failed: {error}"));
        } else if s.launch_ok == Some(false) {
            notes.push(format!(
                "launch `{}`, expected `{}`",
                e.found_launch.as_ref().map_or(String::new(), launch_text),
                e.expected_launch
                    .as_ref()
                    .map_or(String::new(), launch_text),
            ));
        }
        if !s.false_negatives.is_empty() && e.error.is_none() {
            notes.push(format!("missed {}", s.false_negatives.join(", ")));
        }
        if !s.false_positives.is_empty() {
            notes.push(format!("extra {}", s.false_positives.join(", ")));
        }
        if !s.required_errors.is_empty() {
            notes.push(format!(
                "required flag wrong on {}",
                s.required_errors.join(", ")
            ));
        }
        if !s.secret_errors.is_empty() {
            notes.push(format!(
                "secret flag wrong on {}",
                s.secret_errors.join(", ")
            ));
        }
        if s.tools_ok == Some(false) {
            let status = e
                .introspection
                .as_ref()
                .map_or("no introspection".to_string(), |i| {
                    format!(
                        "introspection {}{}",
                        i.status,
                        i.message
                            .as_ref()
                            .map_or(String::new(), |m| format!(" ({m})"))
                    )
                });
            notes.push(if s.missing_tools.is_empty() {
                status
            } else {
                format!("{status}; tools not listed: {}", s.missing_tools.join(", "))
            });
        }
        if e.same_spec == Some(false) {
            notes.push("the two analyses differ".to_string());
        }
        if !notes.is_empty() {
            any = true;
            let _ = writeln!(out, "  {}: {}", e.name, notes.join("; "));
        }
    }
    if !any {
        let _ = writeln!(out, "  none");
    }

    let t = &report.totals;
    let _ = writeln!(
        out,
        "\nTotals (all entries; npm and PyPI only in brackets):"
    );
    let r = &report.registry_totals;
    let row = |out: &mut String, name: &str, a: &Ratio, b: &Ratio| {
        let _ = writeln!(out, "  {name:<28} {:<22} [{}]", percent(a), percent(b));
    };
    row(&mut out, "launch command", &t.launch, &r.launch);
    row(
        &mut out,
        "env-var precision",
        &t.env_precision,
        &r.env_precision,
    );
    row(&mut out, "env-var recall", &t.env_recall, &r.env_recall);
    row(
        &mut out,
        "required flag",
        &t.required_flags,
        &r.required_flags,
    );
    row(&mut out, "secret flag", &t.secret_flags, &r.secret_flags);
    row(&mut out, "expected refusals", &t.refusals, &r.refusals);
    match (&t.introspection, &r.introspection) {
        (Some(a), Some(b)) => row(&mut out, "introspection (tools found)", a, b),
        _ => {
            let _ = writeln!(out, "  {:<28} not asked (--introspect)", "introspection");
        }
    }
    let timing = |out: &mut String, name: &str, t: &super::report::Timing| {
        let f = |v: Option<f64>| v.map_or("-".to_string(), |s| format!("{s:.2} s"));
        let _ = writeln!(
            out,
            "  {name:<28} p50 {}  p95 {}  max {}  (n={})",
            f(t.p50_secs),
            f(t.p95_secs),
            f(t.max_secs),
            t.count
        );
    };
    timing(&mut out, "cached analysis, npm", &report.cached_npm);
    timing(&mut out, "cached analysis, all", &report.cached_all);

    let _ = writeln!(out, "\nTargets (no LLM):");
    for g in &report.goals {
        let _ = writeln!(
            out,
            "  {:<4} {:<40} {:<10} measured {}",
            if g.pass { "PASS" } else { "MISS" },
            g.name,
            g.target,
            g.measured
        );
    }
    out
}
