//! Starting each target the same way a user would, and opening the session(s) its workers use.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use clap::ValueEnum;
use serde::Serialize;
use tokio::process::Command;

use crate::http::{Conn, Endpoint};
use crate::load::Caller;
use crate::prepare::{EVERYTHING_PACKAGE, EVERYTHING_VERSION, Tools};
use crate::procs::{self, Proc};
use crate::stdio::Pipe;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// server-everything over its own stdin/stdout, no gateway
    Direct,
    /// Catwalk's gateway (release build), one shared server process
    Catwalk,
    /// mcp-proxy (Python) exposing the stdio server over Streamable HTTP
    McpProxy,
    /// supergateway (Node) with --outputTransport streamableHttp --stateful
    Supergateway,
    /// Diagnostic, not in the default set: GET /api/health on a Catwalk with no deployment, the
    /// cost of HTTP alone (client, loopback TCP, Catwalk's HTTP stack)
    Floor,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Direct,
        Kind::Floor,
        Kind::Catwalk,
        Kind::McpProxy,
        Kind::Supergateway,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Kind::Direct => "direct stdio",
            Kind::Catwalk => "catwalk",
            Kind::McpProxy => "mcp-proxy 0.13.0",
            Kind::Supergateway => "supergateway 4.0.0",
            Kind::Floor => "catwalk HTTP floor",
        }
    }
}

/// A started target, with one worker per unit of the highest concurrency, all on one session.
pub struct Running {
    pub kind: Kind,
    /// The gateway process (for `Direct`, the server itself).
    pub proc: Proc,
    pub endpoint: Option<Endpoint>,
    pub workers: Vec<Caller>,
    /// Catwalk's data directory, removed when the target stops.
    pub _data_dir: Option<tempfile::TempDir>,
}

impl Running {
    /// Whose CPU time counts as the gateway's: none for `Direct`.
    pub fn gateway_pid(&self) -> Option<u32> {
        (self.kind != Kind::Direct).then(|| self.proc.pid())
    }
}

const START_TIMEOUT: Duration = Duration::from_secs(60);

/// How many workers a target gets, and whether they share one session (the default, as one MCP
/// client with parallel tool calls) or each open their own (as many clients).
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub workers: usize,
    pub session_per_worker: bool,
}

pub async fn start(kind: Kind, tools: &Tools, plan: Plan) -> Result<Running> {
    let workers = plan.workers;
    let log = tools.logs.join(format!("{kind:?}.log").to_lowercase());
    match kind {
        Kind::Direct => {
            let bin = tools.everything_bin.as_ref().expect("prepared for direct");
            let mut command = Command::new(bin);
            command.arg("stdio");
            let mut proc =
                Proc::spawn_piped("server-everything", command, &log, Duration::from_secs(2))?;
            let pipe = Pipe::start(&mut proc).await.with_context(|| {
                format!(
                    "talking to server-everything over stdio; its log:\n{}",
                    proc.log_tail(20)
                )
            })?;
            let workers = (0..workers)
                .map(|_| Caller::Stdio { pipe: pipe.clone() })
                .collect();
            Ok(Running {
                kind,
                proc,
                endpoint: None,
                workers,
                _data_dir: None,
            })
        }
        Kind::Catwalk => start_catwalk(tools, &log, plan, true).await,
        Kind::Floor => start_catwalk(tools, &log, plan, false).await,
        Kind::McpProxy => {
            let port = procs::free_port()?;
            let mut command = Command::new(tools.mcp_proxy_bin.as_ref().expect("prepared"));
            command
                .args(["--port", &port.to_string(), "--host", "127.0.0.1", "--"])
                .arg(tools.everything_bin.as_ref().expect("prepared"))
                .arg("stdio");
            let proc = Proc::spawn("mcp-proxy", command, &log, Duration::from_secs(5))?;
            http_target(
                kind,
                proc,
                &format!("http://127.0.0.1:{port}/mcp"),
                None,
                plan,
            )
            .await
        }
        Kind::Supergateway => {
            let port = procs::free_port()?;
            let everything = tools.everything_bin.as_ref().expect("prepared");
            let mut command = Command::new("node");
            command
                .arg(tools.supergateway_js.as_ref().expect("prepared"))
                .arg("--stdio")
                .arg(format!("{} stdio", everything.display()))
                .args(["--outputTransport", "streamableHttp", "--stateful"])
                .args(["--port", &port.to_string()]);
            let proc = Proc::spawn("supergateway", command, &log, Duration::from_secs(5))?;
            http_target(
                kind,
                proc,
                &format!("http://127.0.0.1:{port}/mcp"),
                None,
                plan,
            )
            .await
        }
    }
}

/// Catwalk with server-everything deployed (`deploy`), or bare, for the HTTP floor.
async fn start_catwalk(tools: &Tools, log: &Path, plan: Plan, deploy: bool) -> Result<Running> {
    let workers = plan.workers;
    let binary = tools.catwalk_bin.as_ref().expect("prepared for catwalk");
    let data_dir = tempfile::Builder::new()
        .prefix("catwalk-bench-")
        .tempdir()?;
    let port = procs::free_port()?;
    let url = format!("http://127.0.0.1:{port}");
    let mut command = Command::new(binary);
    command
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(data_dir.path())
        // One load generator sends thousands of calls a second with one token: rate limits so
        // high that they never refuse, so that what they cost is still measured.
        .args(["--rate-limit-per-token", "1000000000"])
        .args(["--rate-limit-per-deployment", "1000000000"])
        .env("CATWALK_CACHE_DIR", &tools.catwalk_cache);
    // Catwalk as a user gets it: its own defaults, not whatever this shell points it at.
    for var in [
        "DATABASE_URL",
        "CATWALK_VAULT_KEY",
        "CATWALK_URL",
        "CATWALK_TOKEN",
        "CATWALK_PUBLIC_URL",
        "CATWALK_LISTEN",
        "CATWALK_DATA_DIR",
        "RUST_LOG",
    ] {
        command.env_remove(var);
    }
    // Catwalk stops its servers itself on SIGTERM; give it the time to.
    let mut proc = Proc::spawn("catwalk serve", command, log, Duration::from_secs(15))?;
    let addr = format!("127.0.0.1:{port}").parse()?;
    procs::wait_listening(&mut proc, addr, START_TIMEOUT).await?;
    // `catwalk deploy` reads the admin token Catwalk writes while it starts up.
    let token_file = data_dir.path().join("admin-token");
    let deadline = Instant::now() + START_TIMEOUT;
    while !token_file.is_file() {
        proc.check_alive()?;
        if Instant::now() > deadline {
            bail!(
                "catwalk serve wrote no {} within {START_TIMEOUT:?}",
                token_file.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if !deploy {
        let endpoint = Endpoint::parse(&format!("{url}/api/health"))?;
        let mut callers = Vec::with_capacity(workers);
        for _ in 0..workers {
            callers.push(Caller::Get {
                conn: Conn::open(&endpoint).await?,
                path: "/api/health",
            });
        }
        return Ok(Running {
            kind: Kind::Floor,
            proc,
            endpoint: Some(endpoint),
            workers: callers,
            _data_dir: Some(data_dir),
        });
    }

    eprintln!(
        "bench: catwalk deploy npm:{EVERYTHING_PACKAGE}@{EVERYTHING_VERSION} (first run installs it)"
    );
    let deploy = Command::new(binary)
        .arg("deploy")
        .arg(format!("npm:{EVERYTHING_PACKAGE}@{EVERYTHING_VERSION}"))
        .args(["--name", "bench", "--public", "--json", "--timeout", "600"])
        .env("CATWALK_URL", &url)
        .env("CATWALK_DATA_DIR", data_dir.path())
        .env_remove("CATWALK_TOKEN")
        .kill_on_drop(true)
        .output()
        .await
        .context("running catwalk deploy")?;
    if !deploy.status.success() {
        bail!(
            "catwalk deploy failed ({}): {}\n--- catwalk serve log ---\n{}",
            deploy.status,
            String::from_utf8_lossy(&deploy.stderr),
            proc.log_tail(30)
        );
    }
    let created: serde_json::Value = serde_json::from_slice(&deploy.stdout).with_context(|| {
        format!(
            "catwalk deploy --json printed: {}",
            String::from_utf8_lossy(&deploy.stdout)
        )
    })?;
    let endpoint = created["endpoint"]
        .as_str()
        .or_else(|| created["deployment"]["endpoint"].as_str())
        .map(str::to_string)
        .unwrap_or_else(|| format!("{url}/s/bench/mcp"));
    http_target(Kind::Catwalk, proc, &endpoint, Some(data_dir), plan).await
}

/// Waits for the gateway, opens a session (retrying while the gateway's server starts) and gives
/// every worker its own connection, and its own session too when the plan says so.
async fn http_target(
    kind: Kind,
    mut proc: Proc,
    url: &str,
    data_dir: Option<tempfile::TempDir>,
    plan: Plan,
) -> Result<Running> {
    let endpoint = Endpoint::parse(url)?;
    procs::wait_listening(&mut proc, endpoint.addr, START_TIMEOUT).await?;
    let deadline = Instant::now() + START_TIMEOUT;
    let session = loop {
        let attempt = async { Conn::open(&endpoint).await?.open_session().await }.await;
        match attempt {
            Ok(session) => break Arc::new(session),
            Err(error) if Instant::now() < deadline => {
                proc.check_alive()?;
                let _ = error;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(error) => {
                return Err(anyhow!(
                    "no session on {} within {START_TIMEOUT:?}: {error:#}\n--- its log ---\n{}",
                    endpoint.url,
                    proc.log_tail(20)
                ));
            }
        }
    };
    let mut callers = Vec::with_capacity(plan.workers);
    for index in 0..plan.workers {
        let mut conn = Conn::open(&endpoint).await?;
        let session = match plan.session_per_worker && index > 0 {
            true => Arc::new(conn.open_session().await?),
            false => session.clone(),
        };
        callers.push(Caller::Http { conn, session });
    }
    Ok(Running {
        kind,
        proc,
        endpoint: Some(endpoint),
        workers: callers,
        _data_dir: data_dir,
    })
}
