//! One `catwalk serve` of the lifecycle benchmark and the REST calls the bench makes to it, with
//! the admin token Catwalk wrote into its data directory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use hyper::{Method, StatusCode};
use serde_json::Value;
use tokio::process::Command;

use crate::http::{Conn, Endpoint};
use crate::procs::{self, Proc};

const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `catwalk serve` and a keep-alive connection to its API.
pub struct Catwalk {
    pub proc: Proc,
    pub base: String,
    token: String,
    api: Conn,
}

/// How to start one.
pub struct Serve<'a> {
    pub binary: &'a Path,
    pub cache_dir: &'a Path,
    pub data_dir: &'a Path,
    /// `--health-interval`: also how often an idle deployment is checked for sleep.
    pub health_interval_secs: u64,
    pub log: PathBuf,
}

impl Catwalk {
    /// Starts `catwalk serve` on a free loopback port and waits for its API and admin token.
    pub async fn start(serve: &Serve<'_>) -> Result<Catwalk> {
        let port = procs::free_port()?;
        let mut command = Command::new(serve.binary);
        command
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(serve.data_dir)
            .arg("--cache-dir")
            .arg(serve.cache_dir)
            .args(["--health-interval", &serve.health_interval_secs.to_string()])
            // The fleet is made through the REST API thousands of times a minute, far beyond
            // a token's default budget; the limit's own cost is not what is measured here.
            .args(["--rate-limit-api", "0"]);
        // Catwalk as a user gets it: its own defaults, not whatever this shell points it at.
        for var in [
            "DATABASE_URL",
            "CATWALK_VAULT_KEY",
            "CATWALK_URL",
            "CATWALK_TOKEN",
            "CATWALK_PUBLIC_URL",
            "CATWALK_LISTEN",
            "CATWALK_DATA_DIR",
            "CATWALK_CACHE_DIR",
            "CATWALK_HEALTH_INTERVAL",
            "CATWALK_SSE_KEEPALIVE",
            "CATWALK_ALLOW_UNSANDBOXED",
            "RUST_LOG",
        ] {
            command.env_remove(var);
        }
        // Catwalk stops its servers itself on SIGTERM; past the grace period the bench kills
        // them (every descendant) anyway.
        let mut proc = Proc::spawn(
            "catwalk serve",
            command,
            &serve.log,
            Duration::from_secs(20),
        )?;
        let addr = format!("127.0.0.1:{port}").parse()?;
        procs::wait_listening(&mut proc, addr, START_TIMEOUT).await?;
        // The token file is written once, at the first start of a data directory, and reused by
        // later starts of the same one.
        let token_file = serve.data_dir.join("admin-token");
        let deadline = Instant::now() + START_TIMEOUT;
        let token = loop {
            if let Ok(text) = std::fs::read_to_string(&token_file)
                && !text.trim().is_empty()
            {
                break text.trim().to_string();
            }
            proc.check_alive()?;
            if Instant::now() > deadline {
                bail!(
                    "catwalk serve wrote no {} within {START_TIMEOUT:?}",
                    token_file.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let base = format!("http://127.0.0.1:{port}");
        let api = Conn::open(&Endpoint::parse(&format!("{base}/api"))?).await?;
        let mut catwalk = Catwalk {
            proc,
            base,
            token,
            api,
        };
        catwalk.call(Method::GET, "/api/health", None).await?;
        let system = catwalk.call(Method::GET, "/api/system", None).await?;
        if system["isolation"]["sandboxed"] != Value::Bool(true) {
            bail!(
                "this Catwalk does not sandbox its servers ({}); the lifecycle benchmark measures \
                 the sandboxed path: install bubblewrap (the `bubblewrap` package)",
                system["isolation"]["detail"]
            );
        }
        Ok(catwalk)
    }

    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    /// Catwalk's own resident set in kB (its servers are other processes).
    pub fn rss_kb(&self) -> Result<u64> {
        procs::status_kb(self.pid(), "VmRSS").context("reading catwalk serve's VmRSS")
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    /// The MCP endpoint of a deployment.
    pub fn endpoint(&self, name: &str) -> Result<Endpoint> {
        Endpoint::parse(&format!("{}/s/{name}/mcp", self.base))
    }

    /// A REST call with the admin token that must succeed; its JSON answer (`null` for none).
    pub async fn call(
        &mut self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value> {
        rest(&mut self.api, &self.token, method, path, body).await
    }

    /// Another keep-alive connection to the API, for calls made in parallel.
    pub async fn api_conn(&self) -> Result<Conn> {
        Conn::open(&Endpoint::parse(&format!("{}/api", self.base))?).await
    }

    /// `/metrics` as Prometheus text.
    pub async fn metrics(&mut self) -> Result<String> {
        let (status, bytes) = self
            .api
            .send_to(Method::GET, "/metrics", Some(&self.token), None)
            .await?;
        if status != StatusCode::OK {
            bail!("GET /metrics answered HTTP {status}");
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// How many deployments are in each status, from `/metrics` (cheaper than listing thousands
    /// of deployments with their specs).
    pub async fn status_counts(&mut self) -> Result<HashMap<String, u64>> {
        Ok(status_counts(&self.metrics().await?))
    }

    /// Waits until `name` is in one of `wanted`; fails at once when it is `failed`.
    pub async fn wait_status(
        &mut self,
        name: &str,
        wanted: &[&str],
        timeout: Duration,
    ) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let deployment = self
                .call(Method::GET, &format!("/api/deployments/{name}"), None)
                .await?;
            let status = deployment["status"].as_str().unwrap_or("");
            if wanted.contains(&status) {
                return Ok(());
            }
            if status == "failed" {
                bail!(
                    "deployment {name} failed: {}\n--- catwalk serve log ---\n{}",
                    deployment["status_reason"],
                    self.proc.log_tail(20)
                );
            }
            self.proc.check_alive()?;
            if Instant::now() > deadline {
                bail!(
                    "deployment {name} is {status} ({}), not {} after {timeout:?}",
                    deployment["status_reason"],
                    wanted.join(" or ")
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until at least `count` deployments are `status`; fails as soon as one has failed.
    pub async fn wait_count(&mut self, status: &str, count: u64, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let counts = self.status_counts().await?;
            if counts.get(status).copied().unwrap_or(0) >= count {
                return Ok(());
            }
            if counts.get("failed").copied().unwrap_or(0) > 0 {
                let failed = self.first_failed().await?;
                bail!("a deployment failed: {failed}");
            }
            self.proc.check_alive()?;
            if Instant::now() > deadline {
                bail!("waited {timeout:?} for {count} deployments to be {status}; now: {counts:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn first_failed(&mut self) -> Result<String> {
        // The list comes in pages: ask for the failed ones only.
        let failed = self
            .call(Method::GET, "/api/deployments?status=failed&limit=1", None)
            .await?;
        Ok(failed
            .as_array()
            .into_iter()
            .flatten()
            .find(|d| d["status"] == "failed")
            .map(|d| format!("{}: {}", d["name"], d["status_reason"]))
            .unwrap_or_else(|| "(none found any more)".to_string()))
    }
}

/// A REST call on `conn` with the admin `token` that must succeed; its JSON answer (`null` for
/// none).
pub async fn rest(
    conn: &mut Conn,
    token: &str,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> Result<Value> {
    let (status, bytes) = conn
        .send_to(method.clone(), path, Some(token), body)
        .await?;
    if !status.is_success() {
        bail!(
            "{method} {path} answered HTTP {status}: {}",
            String::from_utf8_lossy(&bytes)
        );
    }
    if bytes.is_empty() || status == StatusCode::NO_CONTENT {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&bytes)
        .with_context(|| format!("{method} {path} answered with something that is not JSON"))
}

/// `catwalk_deployments{status="..."} N` lines of a metrics text, by status.
pub fn status_counts(metrics: &str) -> HashMap<String, u64> {
    metrics
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("catwalk_deployments{status=\"")?;
            let (status, value) = rest.split_once("\"}")?;
            Some((status.to_string(), value.trim().parse::<f64>().ok()? as u64))
        })
        .collect()
}

/// The sum and count of `catwalk_process_start_seconds` for one deployment, if it started yet.
pub fn start_seconds(metrics: &str, deployment: &str) -> Option<(f64, u64)> {
    let find = |suffix: &str| -> Option<f64> {
        let prefix =
            format!("catwalk_process_start_seconds_{suffix}{{deployment=\"{deployment}\"}}");
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(&prefix)?.trim().parse().ok())
    };
    Some((find("sum")?, find("count")? as u64))
}
