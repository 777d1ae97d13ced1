//! Many deployments of the tiny fixture server, created through Catwalk's real API: `POST
//! /api/deployments` with the fixture's folder as the source, the call `catwalk deploy` makes. A
//! local folder is analyzed locally and installed once (its cache entry is keyed by its content),
//! so what remains per deployment is Catwalk's own work: analysis, storing, launching in the
//! sandbox, the handshake.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use futures::StreamExt;
use hyper::Method;
use serde::Serialize;
use serde_json::json;

use crate::http::Conn;
use crate::lifecycle::serve::{self, Catwalk};

/// The fixture, a dependency-free Node server with one `echo` tool.
pub fn fixture() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/tiny-server"))
}

/// Requests in flight while creating or checking deployments.
const PARALLEL: usize = 8;
/// Longest wait for one batch to reach its status.
const BATCH_TIMEOUT: Duration = Duration::from_secs(300);

/// How a set of deployments was created.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Creation {
    pub count: usize,
    /// From the first POST to the last deployment of the set in its final status.
    pub seconds: f64,
    /// The `POST /api/deployments` calls alone (201 received), summed over the batches.
    pub post_seconds: f64,
    /// Why fewer than asked were created (the machine's memory ran low).
    pub stopped_early: Option<String>,
}

/// The deployments of one kind: `{prefix}-{index}`.
pub struct Plan<'a> {
    pub prefix: &'a str,
    pub count: usize,
    /// `Some(secs)`: they sleep after that long without a request; `None`: they keep running.
    pub sleep_after_secs: Option<u64>,
    /// Created this many at a time, each batch waited for before the next.
    pub batch: usize,
    /// Stop creating running deployments when the machine's MemAvailable falls below this.
    pub min_available_mb: u64,
}

impl Plan<'_> {
    pub fn name(&self, index: usize) -> String {
        format!("{}-{index:05}", self.prefix)
    }

    /// The status each deployment of the plan ends in.
    fn status(&self) -> &'static str {
        match self.sleep_after_secs {
            Some(_) => "sleeping",
            None => "running",
        }
    }
}

/// Creates the plan's deployments batch by batch; each batch is done when as many deployments as
/// created so far (plus `already`, those of the same status from earlier plans) have reached
/// the plan's status. Running ones are then each asked for `tools/list` through the gateway.
pub async fn create(catwalk: &mut Catwalk, plan: &Plan<'_>, already: u64) -> Result<Creation> {
    let source = fixture();
    let source = source
        .canonicalize()
        .with_context(|| format!("the fixture {} is missing", source.display()))?;
    let began = Instant::now();
    let mut creation = Creation::default();
    let mut conns = Vec::with_capacity(PARALLEL);
    for _ in 0..PARALLEL {
        conns.push(catwalk.api_conn().await?);
    }
    while creation.count < plan.count {
        if plan.sleep_after_secs.is_none() {
            let available = available_mb();
            if available < plan.min_available_mb {
                creation.stopped_early = Some(format!(
                    "stopped at {} running deployments: MemAvailable {available} MB < {} MB",
                    creation.count, plan.min_available_mb
                ));
                eprintln!("bench: {}", creation.stopped_early.as_ref().expect("set"));
                break;
            }
        }
        let batch: Vec<String> = (creation.count..(creation.count + plan.batch).min(plan.count))
            .map(|index| plan.name(index))
            .collect();
        let posted = Instant::now();
        post_all(
            catwalk.token(),
            &mut conns,
            &source,
            &batch,
            plan.sleep_after_secs,
        )
        .await?;
        creation.post_seconds += posted.elapsed().as_secs_f64();
        creation.count += batch.len();
        catwalk
            .wait_count(
                plan.status(),
                already + creation.count as u64,
                BATCH_TIMEOUT,
            )
            .await?;
        eprintln!(
            "bench: {} {} deployments {} ({:.1} s)",
            creation.count,
            plan.prefix,
            plan.status(),
            began.elapsed().as_secs_f64()
        );
    }
    creation.seconds = began.elapsed().as_secs_f64();
    if plan.sleep_after_secs.is_none() {
        let names: Vec<String> = (0..creation.count).map(|i| plan.name(i)).collect();
        check_serving(catwalk, &names).await?;
    }
    Ok(creation)
}

async fn post_all(
    token: &str,
    conns: &mut [Conn],
    source: &Path,
    names: &[String],
    sleep_after_secs: Option<u64>,
) -> Result<()> {
    let per_conn = names.len().div_ceil(conns.len());
    let mut tasks: futures::stream::FuturesUnordered<_> = conns
        .iter_mut()
        .zip(names.chunks(per_conn.max(1)))
        .map(|(conn, mine)| async move {
            for name in mine {
                let mut body = json!({
                    "source": source,
                    "name": name,
                    "public": true,
                });
                if let Some(secs) = sleep_after_secs {
                    body["sleep_after_secs"] = json!(secs);
                }
                serve::rest(conn, token, Method::POST, "/api/deployments", Some(&body))
                    .await
                    .with_context(|| format!("creating deployment {name}"))?;
            }
            anyhow::Ok(())
        })
        .collect();
    while let Some(result) = tasks.next().await {
        result?;
    }
    Ok(())
}

/// Every named deployment answers `tools/list` with its `echo` tool through the gateway.
pub async fn check_serving(catwalk: &Catwalk, names: &[String]) -> Result<()> {
    let endpoints = names
        .iter()
        .map(|name| catwalk.endpoint(name).map(|e| (name, e)))
        .collect::<Result<Vec<_>>>()?;
    let mut checks =
        futures::stream::iter(endpoints.into_iter().map(|(name, endpoint)| async move {
            let mut conn = Conn::open(&endpoint).await?;
            let session = conn.open_session().await?;
            let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
            let (_, answer) = conn
                .request(Some(&session), 1, Bytes::from_static(body.as_bytes()))
                .await?;
            let _ = conn.close_session(&session).await;
            if !String::from_utf8_lossy(&answer).contains("\"echo\"") {
                bail!("{name}: tools/list did not list echo");
            }
            anyhow::Ok(())
        }))
        .buffer_unordered(PARALLEL);
    while let Some(result) = checks.next().await {
        result.context("a running deployment does not serve")?;
    }
    Ok(())
}

/// The kernel's estimate of memory available for new processes, in MB (MiB, as /proc counts).
pub fn available_mb() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|line| {
                line.strip_prefix("MemAvailable:")?
                    .trim()
                    .strip_suffix("kB")?
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
        })
        .map_or(0, |kb| kb / 1024)
}
