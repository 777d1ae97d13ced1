//! Scoring one analysis against its hand-checked expectations, and summing the scores.
//!
//! The rules (also in BENCHMARKS.md):
//! - the launch is right when the command and the fixed arguments are both equal, word for word.
//!   The expected command is the bin or console script Catwalk runs from the installed package,
//!   never `npx -y pkg` or `uvx pkg`: Catwalk installs the package and runs its bin itself;
//! - a variable is found when the spec lists its exact name (names are case-sensitive);
//!   precision and recall are summed over all entries (micro-averaged);
//! - the `required` and `secret` flags are compared only on variables both expected and found;
//! - introspection succeeds when its status is `ok` and every expected tool is listed.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;

use super::entries::{Entry, ExpectedVar, Launch};

/// What the analyzer said about one variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundVar {
    pub name: String,
    pub required: bool,
    pub secret: bool,
}

/// The parts of a spec the corpus scores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub launch: Launch,
    pub env: Vec<FoundVar>,
}

/// What introspection reported, when it was asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Introspected {
    pub status: String,
    pub tools: Vec<String>,
    pub message: Option<String>,
}

impl Found {
    /// Reads a spec as `POST /api/analyze` returns it.
    pub fn from_spec(spec: &Value) -> Option<Found> {
        let launch = &spec["launch"];
        let command = launch["command"].as_str()?.to_string();
        let args = launch["args"]
            .as_array()?
            .iter()
            .map(|a| a.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()?;
        let env = spec["env"]
            .as_array()?
            .iter()
            .map(|v| {
                Some(FoundVar {
                    name: v["name"].as_str()?.to_string(),
                    required: v["required"].as_bool()?,
                    secret: v["secret"].as_bool()?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Found {
            launch: Launch { command, args },
            env,
        })
    }
}

impl Introspected {
    /// The spec's `introspection` field; `None` when it is absent or null.
    pub fn from_spec(spec: &Value) -> Option<Introspected> {
        let field = spec.get("introspection").filter(|v| !v.is_null())?;
        Some(Introspected {
            status: field["status"].as_str().unwrap_or("").to_string(),
            tools: field["tools"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t["name"].as_str().map(str::to_string))
                .collect(),
            message: field["message"].as_str().map(str::to_string),
        })
    }
}

/// The score of one entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryScore {
    /// The analysis ended as expected: a spec when one was expected, else an error with the
    /// expected text.
    pub outcome_ok: bool,
    /// `None` for entries expecting an error.
    pub launch_ok: Option<bool>,
    pub true_positives: usize,
    pub false_positives: Vec<String>,
    pub false_negatives: Vec<String>,
    /// Variables found and expected whose `required` flag differs.
    pub required_errors: Vec<String>,
    pub secret_errors: Vec<String>,
    /// `None` when not asked or when the entry lists no tools.
    pub tools_ok: Option<bool>,
    pub missing_tools: Vec<String>,
}

impl EntryScore {
    /// Flags compared: the variables both expected and found.
    pub fn flags_compared(&self) -> usize {
        self.true_positives
    }
}

pub fn launch_matches(expected: &Launch, found: &Launch) -> bool {
    expected.command == found.command && expected.args == found.args
}

/// Scores a successful analysis (`found`) or a failed one (`error`).
pub fn score(
    entry: &Entry,
    result: Result<&Found, &str>,
    introspection: Option<Option<&Introspected>>,
) -> EntryScore {
    let mut score = EntryScore::default();
    match (&entry.error, result) {
        (Some(expected), Err(error)) => {
            score.outcome_ok = error.contains(expected.as_str());
        }
        (Some(_), Ok(_)) => score.outcome_ok = false,
        (None, Err(_)) => {
            score.launch_ok = Some(false);
            score.false_negatives = entry.env.iter().map(|v| v.name.clone()).collect();
            score.tools_ok = tools_wanted(entry, introspection).then_some(false);
            score.missing_tools = match score.tools_ok {
                Some(false) => entry.tools.clone(),
                _ => Vec::new(),
            };
        }
        (None, Ok(found)) => {
            score.outcome_ok = true;
            let expected = entry.launch.as_ref().expect("checked when loading");
            score.launch_ok = Some(launch_matches(expected, &found.launch));
            score_env(&entry.env, &found.env, &mut score);
            if tools_wanted(entry, introspection) {
                let got = introspection.flatten();
                let listed: BTreeSet<&str> = got
                    .map(|i| i.tools.iter().map(String::as_str).collect())
                    .unwrap_or_default();
                score.missing_tools = entry
                    .tools
                    .iter()
                    .filter(|t| !listed.contains(t.as_str()))
                    .cloned()
                    .collect();
                score.tools_ok =
                    Some(got.is_some_and(|i| i.status == "ok") && score.missing_tools.is_empty());
            }
        }
    }
    score
}

/// Introspection was asked for (`Some`) and the entry has tools to compare.
fn tools_wanted(entry: &Entry, introspection: Option<Option<&Introspected>>) -> bool {
    introspection.is_some() && !entry.tools.is_empty()
}

fn score_env(expected: &[ExpectedVar], found: &[FoundVar], score: &mut EntryScore) {
    for var in expected {
        match found.iter().find(|f| f.name == var.name) {
            Some(f) => {
                score.true_positives += 1;
                if f.required != var.required {
                    score.required_errors.push(var.name.clone());
                }
                if f.secret != var.secret {
                    score.secret_errors.push(var.name.clone());
                }
            }
            None => score.false_negatives.push(var.name.clone()),
        }
    }
    let mut seen = BTreeSet::new();
    for f in found {
        if seen.insert(f.name.as_str()) && !expected.iter().any(|v| v.name == f.name) {
            score.false_positives.push(f.name.clone());
        }
    }
}

/// A share: `hits` of `total`, and the ratio (`None` when there is nothing to count).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Ratio {
    pub hits: usize,
    pub total: usize,
    pub value: Option<f64>,
}

impl Ratio {
    pub fn new(hits: usize, total: usize) -> Ratio {
        Ratio {
            hits,
            total,
            value: (total > 0).then(|| hits as f64 / total as f64),
        }
    }
}

/// The corpus-wide figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    /// Entries expecting a spec whose launch was right.
    pub launch: Ratio,
    pub env_precision: Ratio,
    pub env_recall: Ratio,
    pub required_flags: Ratio,
    pub secret_flags: Ratio,
    /// Entries expecting an error that failed with the expected text.
    pub refusals: Ratio,
    /// `None` when introspection was not asked for.
    pub introspection: Option<Ratio>,
}

pub fn totals(scores: &[&EntryScore], introspected: bool) -> Totals {
    let launches: Vec<bool> = scores.iter().filter_map(|s| s.launch_ok).collect();
    let tp: usize = scores.iter().map(|s| s.true_positives).sum();
    let fp: usize = scores.iter().map(|s| s.false_positives.len()).sum();
    let fneg: usize = scores.iter().map(|s| s.false_negatives.len()).sum();
    let compared: usize = scores.iter().map(|s| s.flags_compared()).sum();
    let required_errors: usize = scores.iter().map(|s| s.required_errors.len()).sum();
    let secret_errors: usize = scores.iter().map(|s| s.secret_errors.len()).sum();
    let refusals: Vec<bool> = scores
        .iter()
        .filter(|s| s.launch_ok.is_none())
        .map(|s| s.outcome_ok)
        .collect();
    let tools: Vec<bool> = scores.iter().filter_map(|s| s.tools_ok).collect();
    Totals {
        launch: Ratio::new(launches.iter().filter(|ok| **ok).count(), launches.len()),
        env_precision: Ratio::new(tp, tp + fp),
        env_recall: Ratio::new(tp, tp + fneg),
        required_flags: Ratio::new(compared - required_errors, compared),
        secret_flags: Ratio::new(compared - secret_errors, compared),
        refusals: Ratio::new(refusals.iter().filter(|ok| **ok).count(), refusals.len()),
        introspection: introspected
            .then(|| Ratio::new(tools.iter().filter(|ok| **ok).count(), tools.len())),
    }
}

/// The p-th percentile (nearest rank) of `values`, in their unit.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}
