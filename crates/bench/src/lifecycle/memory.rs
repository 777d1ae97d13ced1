//! Part 2: Catwalk's own memory (VmRSS of `catwalk serve`; its servers are other processes) with
//! no deployment, with K running deployments of the tiny fixture, and with K sleeping ones, each
//! on a fresh `catwalk serve` so that one measurement's allocations do not hide in another's.
//!
//! The sleeping figure is read twice: after the K deployments ran and fell asleep (what a
//! long-running Catwalk holds, the allocator's retained memory included), and after Catwalk is
//! restarted on the same data directory, where they come back asleep without ever running.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use futures::StreamExt;
use hyper::Method;
use serde::Serialize;
use serde_json::json;

use crate::lifecycle::fleet::{self, Creation, Plan};
use crate::lifecycle::serve::{self, Catwalk, Serve};
use crate::prepare::Tools;

/// Lets the allocator and Catwalk's background tasks settle before VmRSS is read.
pub const SETTLE: Duration = Duration::from_secs(2);

#[derive(Debug, Serialize)]
pub struct MemoryReport {
    pub deployments: usize,
    /// Running: a fresh Catwalk right after start, then after the API warm-up (analyses and
    /// listings), then with K running deployments.
    pub running: Steps,
    /// Sleeping: the same steps on another fresh Catwalk, with K deployments that ran and fell
    /// asleep.
    pub sleeping: Steps,
    /// That Catwalk restarted on its data directory: K deployments asleep from the start.
    pub restarted_kb: u64,
    pub running_creation: Creation,
    pub sleeping_creation: Creation,
}

#[derive(Debug, Serialize)]
pub struct Steps {
    pub fresh_kb: u64,
    pub warmed_kb: u64,
    pub with_deployments_kb: u64,
}

impl MemoryReport {
    /// Catwalk's kB per running deployment, against the warmed-up empty Catwalk.
    pub fn per_running_kb(&self) -> f64 {
        per(
            self.running.with_deployments_kb,
            self.running.warmed_kb,
            self.deployments,
        )
    }

    /// kB per deployment that ran and fell asleep, against the warmed-up empty Catwalk.
    pub fn per_slept_kb(&self) -> f64 {
        per(
            self.sleeping.with_deployments_kb,
            self.sleeping.warmed_kb,
            self.deployments,
        )
    }

    /// kB per deployment asleep since Catwalk started, against a fresh empty Catwalk (neither
    /// has served API calls beyond metrics).
    pub fn per_dormant_kb(&self) -> f64 {
        per(self.restarted_kb, self.sleeping.fresh_kb, self.deployments)
    }
}

pub fn per(with: u64, without: u64, count: usize) -> f64 {
    (with as f64 - without as f64) / count.max(1) as f64
}

pub async fn measure(tools: &Tools, count: usize) -> Result<MemoryReport> {
    let running_dir = tempfile::Builder::new()
        .prefix("catwalk-bench-mem-")
        .tempdir()?;

    eprintln!("bench: memory with {count} running deployments");
    let (running, running_creation) = fleet_memory(
        tools,
        running_dir.path(),
        "lifecycle-mem-running.log",
        "run",
        None,
        count,
    )
    .await?;
    drop(running_dir);

    eprintln!("bench: memory with {count} sleeping deployments");
    let sleeping_dir = tempfile::Builder::new()
        .prefix("catwalk-bench-mem-")
        .tempdir()?;
    let (sleeping, sleeping_creation) = fleet_memory(
        tools,
        sleeping_dir.path(),
        "lifecycle-mem-sleeping.log",
        "nap",
        Some(1),
        count,
    )
    .await?;
    eprintln!("bench: restarting catwalk serve on the sleeping deployments' data directory");
    let restarted_kb = {
        let mut catwalk = Catwalk::start(&serve_in(
            tools,
            sleeping_dir.path(),
            "lifecycle-mem-restarted.log",
        ))
        .await?;
        catwalk
            .wait_count("sleeping", count as u64, Duration::from_secs(60))
            .await?;
        wait_deep_sleep(&mut catwalk, count).await?;
        settled_rss(&mut catwalk).await?
    };
    Ok(MemoryReport {
        deployments: count,
        running,
        sleeping,
        restarted_kb,
        running_creation,
        sleeping_creation,
    })
}

/// A fresh Catwalk's memory, then with `count` deployments created (asleep after
/// `sleep_after_secs`, or running).
async fn fleet_memory(
    tools: &Tools,
    data_dir: &Path,
    log: &str,
    prefix: &'static str,
    sleep_after_secs: Option<u64>,
    count: usize,
) -> Result<(Steps, Creation)> {
    let mut catwalk = Catwalk::start(&serve_in(tools, data_dir, log)).await?;
    let (fresh_kb, warmed_kb) = fresh_and_warmed(&mut catwalk).await?;
    let plan = Plan {
        prefix,
        count,
        sleep_after_secs,
        batch: count.max(1),
        min_available_mb: 0,
    };
    let creation = fleet::create(&mut catwalk, &plan, 0).await?;
    if sleep_after_secs.is_some() {
        wait_deep_sleep(&mut catwalk, count).await?;
    }
    let with_deployments_kb = settled_rss(&mut catwalk).await?;
    Ok((
        Steps {
            fresh_kb,
            warmed_kb,
            with_deployments_kb,
        },
        creation,
    ))
}

/// Waits until Catwalk holds `count` deployments in deep sleep (nothing in memory but an entry;
/// a deployment gets there one health check after it fell asleep with no client session).
pub(crate) async fn wait_deep_sleep(catwalk: &mut Catwalk, count: usize) -> Result<()> {
    let wanted = format!("catwalk_deployments_held{{state=\"asleep\"}} {count}");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let metrics = catwalk.metrics().await?;
        if metrics.lines().any(|line| line == wanted) {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            let held: Vec<&str> = metrics
                .lines()
                .filter(|line| line.starts_with("catwalk_deployments_held{"))
                .collect();
            anyhow::bail!("waited 60 s for {count} deployments in deep sleep; now: {held:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// How the lifecycle parts start Catwalk: with this cache, and idleness checked every second.
pub(crate) fn serve_in<'a>(tools: &'a Tools, data_dir: &'a Path, log: &str) -> Serve<'a> {
    Serve {
        binary: tools.catwalk_bin.as_ref().expect("prepared"),
        cache_dir: &tools.catwalk_cache,
        data_dir,
        health_interval_secs: 1,
        log: tools.logs.join(log),
    }
}

/// VmRSS of a fresh Catwalk, then after the API warm-up.
pub async fn fresh_and_warmed(catwalk: &mut Catwalk) -> Result<(u64, u64)> {
    let fresh = settled_rss(catwalk).await?;
    warm_up(catwalk).await?;
    let warmed = settled_rss(catwalk).await?;
    Ok((fresh, warmed))
}

/// VmRSS after [`SETTLE`], with one metrics call before it as every reading has.
pub async fn settled_rss(catwalk: &mut Catwalk) -> Result<u64> {
    catwalk.metrics().await?;
    tokio::time::sleep(SETTLE).await;
    catwalk.rss_kb()
}

/// What creating deployments costs Catwalk once, whatever their number: analyses of the fixture
/// folder in parallel (as the creations run them) and a listing, so that the empty reading is
/// not lower only because Catwalk has not yet worked.
async fn warm_up(catwalk: &mut Catwalk) -> Result<()> {
    let source = fleet::fixture().canonicalize()?;
    let body = json!({ "source": source });
    let token = catwalk.token().to_string();
    let mut conns = Vec::new();
    for _ in 0..8 {
        conns.push(catwalk.api_conn().await?);
    }
    let mut analyses = futures::stream::iter(conns.iter_mut().map(|conn| {
        let (token, body) = (&token, &body);
        async move {
            for _ in 0..2 {
                serve::rest(conn, token, Method::POST, "/api/analyze", Some(body)).await?;
            }
            anyhow::Ok(())
        }
    }))
    .buffer_unordered(8);
    while let Some(result) = analyses.next().await {
        result?;
    }
    catwalk.call(Method::GET, "/api/deployments", None).await?;
    Ok(())
}
