//! `catwalk-bench corpus`: runs Catwalk's analyzer over a corpus of real MCP servers whose
//! launch command, variables and tools were checked by hand (tests/corpus/servers.toml), and
//! reports how often it is right and how long the analysis of a cached package takes. It drives
//! the `catwalk` binary: `catwalk serve` with a data folder of the run, `POST /api/analyze` with
//! the admin token. See BENCHMARKS.md for the method and the figures.

pub mod entries;
mod local;
pub mod report;
pub mod score;

#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use hyper::Method;
use serde_json::{Value, json};

use crate::lifecycle::serve::{Catwalk, Serve};
use entries::{Corpus, Entry};
use report::{CorpusReport, EntryReport};
use score::{Found, Introspected};

/// Analyzes every server of the corpus twice with `cache: false` (the first fetches the package,
/// the second measures the analysis of a cached one), optionally introspects each, and scores
/// the specs against the hand-checked expectations. Figures are figures: the exit code is 0
/// whatever they are, non-zero only when the run itself could not happen.
#[derive(Debug, Args)]
pub struct CorpusArgs {
    /// The corpus file (default: tests/corpus/servers.toml of this repository)
    #[arg(long, value_name = "PATH")]
    pub corpus: Option<PathBuf>,

    /// Entries to run, by name, comma-separated (default: all)
    #[arg(long, value_delimiter = ',', value_name = "NAME,...")]
    pub only: Vec<String>,

    /// Only the entries that need no registry (local repositories and archives)
    #[arg(long, conflicts_with = "only")]
    pub local: bool,

    /// Also ask for introspection (install, start in the sandbox, list the tools) on the first
    /// analysis of each entry, and compare the tool names
    #[arg(long)]
    pub introspect: bool,

    /// The catwalk binary to drive (default: target/release/catwalk, built first unless
    /// --no-build)
    #[arg(long, value_name = "PATH")]
    pub catwalk: Option<PathBuf>,
}

/// The first analysis may download and (with --introspect) install and start a server.
const FIRST_TIMEOUT: Duration = Duration::from_secs(900);
const SECOND_TIMEOUT: Duration = Duration::from_secs(300);

pub async fn run(args: &CorpusArgs, build: bool) -> Result<CorpusReport> {
    let corpus_path = args.corpus.clone().unwrap_or_else(entries::default_path);
    let corpus = Corpus::load(&corpus_path)?;
    let selected: Vec<Entry> = match args.local {
        true => corpus
            .servers
            .iter()
            .filter(|e| !e.is_remote())
            .cloned()
            .collect(),
        false => corpus.select(&args.only)?,
    };
    anyhow::ensure!(!selected.is_empty(), "no corpus entry selected");

    let target_dir = crate::target_dir();
    let binary = match &args.catwalk {
        Some(path) => {
            anyhow::ensure!(path.is_file(), "--catwalk {} is not a file", path.display());
            path.clone()
        }
        None => {
            let needs = crate::prepare::Needs {
                everything: false,
                supergateway: false,
                mcp_proxy: false,
                catwalk: true,
                build_catwalk: build,
            };
            let dir = target_dir.clone();
            let tools = tokio::task::spawn_blocking(move || crate::prepare::prepare(&dir, &needs))
                .await??;
            tools.catwalk_bin.expect("prepared")
        }
    };

    // Out of /tmp: sandboxed servers get a private /tmp, and introspection runs the installed
    // copies that live under the data folder.
    let runs = target_dir.join("bench/corpus");
    std::fs::create_dir_all(&runs)?;
    let scratch = tempfile::Builder::new()
        .prefix("run-")
        .tempdir_in(&runs)
        .with_context(|| format!("creating a run folder in {}", runs.display()))?;

    let corpus_dir = local::corpus_dir(&corpus_path);
    let repo_names: Vec<&str> = selected
        .iter()
        .filter_map(|e| entries::repo_name(&e.source))
        .collect();
    let recipes: Vec<_> = corpus
        .repos
        .iter()
        .filter(|r| repo_names.contains(&r.name.as_str()))
        .collect();
    let repos = local::build_repos(&recipes, &corpus_dir, &scratch.path().join("repos"))?;
    let archive_names: Vec<&str> = selected
        .iter()
        .filter_map(|e| e.source.strip_prefix("archive:"))
        .collect();
    let archive_recipes: Vec<_> = corpus
        .archives
        .iter()
        .filter(|a| archive_names.contains(&a.name.as_str()))
        .collect();
    let (archives, archive_server) = local::serve_archives(&archive_recipes).await?;

    let data_dir = scratch.path().join("data");
    let cache_dir = scratch.path().join("cache");
    std::fs::create_dir_all(&data_dir)?;
    std::fs::create_dir_all(&cache_dir)?;
    let log = scratch.path().join("catwalk-serve.log");
    eprintln!("corpus: starting catwalk serve ({})", binary.display());
    let mut catwalk = Catwalk::start(&Serve {
        binary: &binary,
        cache_dir: &cache_dir,
        data_dir: &data_dir,
        health_interval_secs: 60,
        log: log.clone(),
    })
    .await?;

    let began = Instant::now();
    let mut reports = Vec::new();
    for (i, entry) in selected.iter().enumerate() {
        let source = local::resolve(&entry.source, &repos, &archives)?;
        eprintln!(
            "corpus: [{}/{}] {} ({source})",
            i + 1,
            selected.len(),
            entry.name
        );
        let report = run_entry(&mut catwalk, entry, &source, args.introspect).await?;
        eprintln!("corpus:   {}", report::one_line(&report));
        reports.push(report);
    }
    let wall_secs = began.elapsed().as_secs_f64();
    drop(catwalk);
    archive_server.abort();

    Ok(report::build(
        reports,
        args.introspect,
        wall_secs,
        corpus_path.display().to_string(),
        crate::machine(),
        crate::versions().await.catwalk_commit,
    ))
}

/// One entry: two analyses, scored.
async fn run_entry(
    catwalk: &mut Catwalk,
    entry: &Entry,
    source: &str,
    introspect: bool,
) -> Result<EntryReport> {
    let first = analyze(catwalk, source, introspect, FIRST_TIMEOUT).await?;
    let second = match &first.result {
        Ok(_) => Some(analyze(catwalk, source, false, SECOND_TIMEOUT).await?),
        Err(_) => None,
    };
    // Scored on the measured (second) analysis when there is one; introspection comes from the
    // first, the only one that asked for it.
    let scored = second.as_ref().unwrap_or(&first);
    let found = match &scored.result {
        Ok(spec) => match Found::from_spec(spec) {
            Some(found) => Ok(found),
            None => Err(format!(
                "the spec lacks launch or env fields: {}",
                truncate(&spec.to_string(), 300)
            )),
        },
        Err(error) => Err(error.clone()),
    };
    let introspection = match (&first.result, introspect) {
        (Ok(spec), true) => Some(Introspected::from_spec(spec)),
        (Err(_), true) => Some(None),
        (_, false) => None,
    };
    let score = score::score(
        entry,
        found.as_ref().map_err(String::as_str),
        introspection.as_ref().map(Option::as_ref),
    );
    let same_spec = match (&first.result, second.as_ref().map(|s| &s.result)) {
        (Ok(a), Some(Ok(b))) => Some(Found::from_spec(a) == Found::from_spec(b)),
        _ => None,
    };
    Ok(EntryReport {
        name: entry.name.clone(),
        kind: entry.kind(),
        source: source.to_string(),
        expected_launch: entry.launch.clone(),
        found_launch: found.as_ref().ok().map(|f| f.launch.clone()),
        error: found.as_ref().err().map(|e| truncate(e, 400)),
        expected_error: entry.error.clone(),
        first_secs: first.secs,
        cached_secs: second.as_ref().map(|s| s.secs),
        same_spec,
        introspection: introspection.flatten(),
        score,
    })
}

struct Analysis {
    result: std::result::Result<Value, String>,
    secs: f64,
}

/// `POST /api/analyze`; an answer other than 2xx is the analysis's error (its message), a
/// connection failure ends the run.
async fn analyze(
    catwalk: &mut Catwalk,
    source: &str,
    introspect: bool,
    timeout: Duration,
) -> Result<Analysis> {
    let body = json!({"source": source, "introspect": introspect, "cache": false});
    let mut conn = catwalk.api_conn().await?;
    let began = Instant::now();
    let (status, bytes) = conn
        .send_to_within(
            Method::POST,
            "/api/analyze",
            Some(catwalk.token()),
            Some(&body),
            timeout,
        )
        .await
        .with_context(|| format!("POST /api/analyze for {source}"))?;
    let secs = began.elapsed().as_secs_f64();
    catwalk.proc.check_alive()?;
    let result = match status.is_success() {
        true => serde_json::from_slice(&bytes).map_err(|e| format!("the answer is not JSON: {e}")),
        false => {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let message = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| {
                    // `{"error": {"code", "message"}}`, or a bare `{"error": "..."}`.
                    let error = &v["error"];
                    error["message"]
                        .as_str()
                        .or(error.as_str())
                        .map(str::to_string)
                })
                .unwrap_or(text);
            Err(format!("HTTP {}: {message}", status.as_u16()))
        }
    };
    Ok(Analysis { result, secs })
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}
