//! Part 3: one Catwalk holding S sleeping and R running deployments of the tiny fixture, and the
//! latency of its API at that size: `GET /api/deployments?limit=100` (the first page, what the
//! dashboard loads), `GET /api/deployments/NAME` and `GET /` (the dashboard page), taking turns,
//! one request at a time on one keep-alive connection; and, as a fourth row, one walk through
//! every page of the list (`limit=1000`, what `catwalk ls` does), timed as a whole.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use hyper::{Method, StatusCode};
use serde::Serialize;

use crate::http::Conn;
use crate::lifecycle::fleet::{self, Creation, Plan};
use crate::lifecycle::memory::{self, per};
use crate::lifecycle::serve::Catwalk;
use crate::lifecycle::stats::Timing;
use crate::prepare::Tools;
use crate::procs;

#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    pub sleeping: usize,
    pub running: usize,
    pub requests: usize,
    pub min_available_mb: u64,
}

#[derive(Debug, Serialize)]
pub struct ScaleReport {
    pub sleeping_asked: usize,
    pub running_asked: usize,
    pub sleeping: Creation,
    pub running: Creation,
    pub rss_fresh_kb: u64,
    pub rss_warmed_kb: u64,
    pub rss_with_sleeping_kb: u64,
    pub rss_with_all_kb: u64,
    pub rss_after_requests_kb: u64,
    /// Processes below `catwalk serve` with every running deployment up (bwrap's two and the
    /// server per deployment), and their proportional set size summed (shared pages split).
    pub server_processes: usize,
    pub server_pss_mb: f64,
    pub mem_available_mb_before: u64,
    pub mem_available_mb_with_all: u64,
    pub requests: usize,
    pub api: Vec<Route>,
}

#[derive(Debug, Serialize)]
pub struct Route {
    pub route: &'static str,
    /// Size of one answer's body.
    pub body_bytes: usize,
    pub latency: Timing,
}

impl ScaleReport {
    pub fn per_sleeping_kb(&self) -> f64 {
        per(
            self.rss_with_sleeping_kb,
            self.rss_warmed_kb,
            self.sleeping.count,
        )
    }

    pub fn per_running_kb(&self) -> f64 {
        per(
            self.rss_with_all_kb,
            self.rss_with_sleeping_kb,
            self.running.count,
        )
    }
}

pub async fn measure(tools: &Tools, sizes: Sizes) -> Result<ScaleReport> {
    let data_dir = tempfile::Builder::new()
        .prefix("catwalk-bench-scale-")
        .tempdir()?;
    let mut catwalk = Catwalk::start(&memory::serve_in(
        tools,
        data_dir.path(),
        "lifecycle-scale.log",
    ))
    .await?;
    let mem_available_mb_before = fleet::available_mb();
    let (rss_fresh_kb, rss_warmed_kb) = memory::fresh_and_warmed(&mut catwalk).await?;

    eprintln!("bench: creating {} sleeping deployments", sizes.sleeping);
    let sleeping = fleet::create(
        &mut catwalk,
        &Plan {
            prefix: "nap",
            count: sizes.sleeping,
            sleep_after_secs: Some(1),
            batch: 100,
            min_available_mb: 0,
        },
        0,
    )
    .await?;
    memory::wait_deep_sleep(&mut catwalk, sleeping.count).await?;
    let rss_with_sleeping_kb = memory::settled_rss(&mut catwalk).await?;

    eprintln!("bench: creating {} running deployments", sizes.running);
    let running = fleet::create(
        &mut catwalk,
        &Plan {
            prefix: "run",
            count: sizes.running,
            sleep_after_secs: None,
            batch: 25,
            min_available_mb: sizes.min_available_mb,
        },
        0,
    )
    .await?;
    let rss_with_all_kb = memory::settled_rss(&mut catwalk).await?;
    let mem_available_mb_with_all = fleet::available_mb();
    let servers = procs::descendants(catwalk.pid());
    let server_pss_mb = servers
        .iter()
        .filter_map(|&pid| procs::rollup_kb(pid, "Pss"))
        .sum::<u64>() as f64
        / 1024.0;

    let total = sleeping.count + running.count;
    eprintln!(
        "bench: {} requests to each API route with {total} deployments",
        sizes.requests
    );
    let api = api_latency(
        &mut catwalk,
        (sleeping.count, running.count),
        sizes.requests,
    )
    .await?;
    let rss_after_requests_kb = catwalk.rss_kb()?;
    catwalk.proc.check_alive()?;
    Ok(ScaleReport {
        sleeping_asked: sizes.sleeping,
        running_asked: sizes.running,
        sleeping,
        running,
        rss_fresh_kb,
        rss_warmed_kb,
        rss_with_sleeping_kb,
        rss_with_all_kb,
        rss_after_requests_kb,
        server_processes: servers.len(),
        server_pss_mb,
        mem_available_mb_before,
        mem_available_mb_with_all,
        requests: sizes.requests,
        api,
    })
}

/// The rows of the API table. The first three are the routes the API goals judge (in this
/// order); the fourth is a walk through every page of the list, summed.
const ROUTES: [&str; 4] = [
    "GET /api/deployments",
    "GET /api/deployments/NAME",
    "GET /",
    "GET /api/deployments (all)",
];

/// The dashboard's request: the first page, at the dashboard's page size.
const FIRST_PAGE: &str = "/api/deployments?limit=100";
const DASHBOARD_PAGE: usize = 100;
/// The largest page the API gives, which a client that wants everything asks for.
const WALK_PAGE: usize = 1000;

async fn api_latency(
    catwalk: &mut Catwalk,
    (sleeping, running): (usize, usize),
    requests: usize,
) -> Result<Vec<Route>> {
    let mut conn = catwalk.api_conn().await?;
    let token = catwalk.token().to_string();
    let mut latencies: [Vec<f64>; ROUTES.len()] = Default::default();
    let mut sizes = [0usize; ROUTES.len()];
    let total = sleeping + running;
    // One unmeasured request per route first: it checks the answers and warms the connection.
    for index in 0..=requests {
        for route in 0..ROUTES.len() {
            let began = Instant::now();
            let body_bytes = match route {
                0 => {
                    let page = get(&mut conn, FIRST_PAGE, Some(&token)).await?;
                    if index == 0 {
                        let listed = names(FIRST_PAGE, &page)?;
                        if listed.len() != total.min(DASHBOARD_PAGE) {
                            bail!("{FIRST_PAGE} listed {} of {total}", listed.len());
                        }
                    }
                    page.len()
                }
                1 => {
                    let path = format!("/api/deployments/{}", name_for(index, sleeping, running));
                    get(&mut conn, &path, Some(&token)).await?.len()
                }
                2 => get(&mut conn, "/", None).await?.len(),
                _ => {
                    let (listed, bytes) = walk(&mut conn, &token).await?;
                    if index == 0 && listed != total {
                        bail!("the pages of /api/deployments listed {listed} of {total}");
                    }
                    bytes
                }
            };
            let elapsed = began.elapsed();
            if index == 0 {
                sizes[route] = body_bytes;
                continue;
            }
            latencies[route].push(duration_ms(elapsed));
        }
    }
    Ok(ROUTES
        .iter()
        .zip(latencies)
        .zip(sizes)
        .map(|((route, samples), body_bytes)| Route {
            route,
            body_bytes,
            latency: Timing::of(samples),
        })
        .collect())
}

/// A GET that must answer 200; its body.
async fn get(conn: &mut Conn, path: &str, bearer: Option<&str>) -> Result<bytes::Bytes> {
    let (status, body) = conn.send_to(Method::GET, path, bearer, None).await?;
    if status != StatusCode::OK {
        bail!(
            "{path} answered HTTP {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    Ok(body)
}

/// The names on one page of the list.
fn names(path: &str, body: &[u8]) -> Result<Vec<String>> {
    let listed: Vec<serde_json::Value> =
        serde_json::from_slice(body).with_context(|| format!("{path} is not a JSON array"))?;
    listed
        .iter()
        .map(|d| {
            d["name"]
                .as_str()
                .map(str::to_string)
                .with_context(|| format!("{path} listed a deployment without a name"))
        })
        .collect()
}

/// Every page of the list, each asked for after the last name of the one before, until a page
/// is not full: how many deployments, and the bytes of all pages.
async fn walk(conn: &mut Conn, token: &str) -> Result<(usize, usize)> {
    let (mut listed, mut bytes) = (0, 0);
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(last) => format!("/api/deployments?limit={WALK_PAGE}&after={last}"),
            None => format!("/api/deployments?limit={WALK_PAGE}"),
        };
        let page = get(conn, &path, Some(token)).await?;
        let names = names(&path, &page)?;
        listed += names.len();
        bytes += page.len();
        if names.len() < WALK_PAGE {
            return Ok((listed, bytes));
        }
        if names.last() == after.as_ref() {
            bail!("{path} did not move past {after:?}");
        }
        after = names.last().cloned();
    }
}

/// The deployment the `index`th request asks for: sleeping and running ones by turns, each kind
/// in order, while that kind has any.
pub fn name_for(index: usize, sleeping: usize, running: usize) -> String {
    let both = sleeping > 0 && running > 0;
    let turn = if both { index / 2 } else { index };
    if (index.is_multiple_of(2) && sleeping > 0) || running == 0 {
        format!("nap-{:05}", turn % sleeping.max(1))
    } else {
        format!("run-{:05}", turn % running)
    }
}

fn duration_ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
