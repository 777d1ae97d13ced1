//! Part 1: how long a cached server-everything takes from the start of its process to its first
//! answered `tools/list`, over a raw pipe and through Catwalk, taking turns in every round.
//!
//! - raw pipe: the bench spawns `mcp-server-everything stdio` with the environment Catwalk gives
//!   its servers, sends `initialize`, `notifications/initialized` and `tools/list`, and times
//!   the answers;
//! - raw pipe in bwrap: the same under `bwrap` with the namespaces Catwalk's sandbox uses (one
//!   read-only bind of `/` instead of Catwalk's list of binds): what the sandbox alone costs;
//! - Catwalk wake-up: the deployment (`--sleep-after 1`) is asleep; a fresh session's
//!   `initialize` (answered from the remembered handshake), `notifications/initialized` and
//!   `tools/list` through the gateway, which makes the supervisor spawn the sandboxed server;
//! - Catwalk cold start: `POST /stop`, then from `POST /start` until a fresh session's
//!   `tools/list` is answered, polling every [`POLL`] while the gateway answers that the
//!   deployment is still starting.
//!
//! Catwalk's own `catwalk_process_start_seconds` (spawn to completed handshake) is read around each
//! Catwalk start as a cross-check.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use hyper::Method;
use serde::Serialize;
use tokio::process::Command;

use crate::http::{Conn, Endpoint};
use crate::lifecycle::serve::{self, Catwalk, Serve};
use crate::lifecycle::stats::Timing;
use crate::prepare::{EVERYTHING_PACKAGE, EVERYTHING_VERSION, Tools};
use crate::procs::Proc;
use crate::stdio::Pipe;

/// How often the cold start polls the gateway while the deployment starts.
pub const POLL: Duration = Duration::from_millis(5);
/// The deployment's name in Catwalk.
const NAME: &str = "cold";
const TOOLS_LIST: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;

#[derive(Debug, Serialize)]
pub struct ColdReport {
    pub rounds: usize,
    pub poll_ms: u64,
    /// Spawn to the answer of `initialize` (the handshake), raw pipe.
    pub raw_handshake: Timing,
    /// Spawn to the answer of `tools/list`, raw pipe: the reference.
    pub raw: Timing,
    /// The same under bwrap, if bwrap could run it.
    pub raw_bwrap: Option<Timing>,
    /// Fresh session to `tools/list` answered, waking a sleeping deployment.
    pub wake: Timing,
    /// `POST /start` of a stopped deployment to `tools/list` answered.
    pub cold: Timing,
    /// Catwalk's `catwalk_process_start_seconds` for the wake-ups.
    pub wake_metric: Timing,
    /// The same for the cold starts.
    pub cold_metric: Timing,
    pub bwrap_error: Option<String>,
}

pub async fn measure(tools: &Tools, rounds: usize) -> Result<ColdReport> {
    let everything = tools.everything_bin.as_ref().expect("prepared");
    let data_dir = tempfile::Builder::new()
        .prefix("catwalk-bench-cold-")
        .tempdir()?;
    let mut catwalk = Catwalk::start(&Serve {
        binary: tools.catwalk_bin.as_ref().expect("prepared"),
        cache_dir: &tools.catwalk_cache,
        data_dir: data_dir.path(),
        // Idleness is checked at this interval: one second lets the deployment fall asleep one
        // to two seconds after its last request.
        health_interval_secs: 1,
        log: tools.logs.join("lifecycle-cold.log"),
    })
    .await?;
    deploy_everything(&mut catwalk, tools, data_dir.path()).await?;
    catwalk
        .wait_status(NAME, &["running", "sleeping"], Duration::from_secs(120))
        .await?;
    let endpoint = catwalk.endpoint(NAME)?;
    // The raw pipe's HOME and working directory, as Catwalk gives each server its own.
    let home = tempfile::Builder::new()
        .prefix("catwalk-bench-home-")
        .tempdir()?;

    let mut samples = Samples::default();
    let mut bwrap_error = None;
    // Round 0 warms the page cache and Catwalk's own paths; it is not recorded.
    for round in 0..=rounds {
        let raw = raw_pipe(everything, None, home.path(), &tools.logs).await?;
        let bwrap = match &bwrap_error {
            Some(_) => None,
            None => match raw_pipe(everything, Some(&bwrap_args()), home.path(), &tools.logs).await
            {
                Ok(times) => Some(times),
                Err(error) => {
                    bwrap_error = Some(format!("{error:#}"));
                    None
                }
            },
        };
        let (wake, wake_metric) = wake(&mut catwalk, &endpoint).await?;
        let (cold, cold_metric) = cold_start(&mut catwalk, &endpoint).await?;
        eprintln!(
            "bench: cold start round {round}{}: raw {:.1} ms, raw in bwrap {}, wake {:.1} ms \
             (catwalk's metric {:.1}), cold start {:.1} ms (metric {:.1})",
            if round == 0 { " (warm-up)" } else { "" },
            raw.tools_list_ms,
            bwrap
                .as_ref()
                .map_or("-".to_string(), |b| format!("{:.1} ms", b.tools_list_ms)),
            wake,
            wake_metric,
            cold,
            cold_metric,
        );
        if round == 0 {
            continue;
        }
        samples.raw_handshake.push(raw.handshake_ms);
        samples.raw.push(raw.tools_list_ms);
        if let Some(bwrap) = bwrap {
            samples.raw_bwrap.push(bwrap.tools_list_ms);
        }
        samples.wake.push(wake);
        samples.wake_metric.push(wake_metric);
        samples.cold.push(cold);
        samples.cold_metric.push(cold_metric);
    }
    Ok(ColdReport {
        rounds,
        poll_ms: POLL.as_millis() as u64,
        raw_handshake: Timing::of(samples.raw_handshake),
        raw: Timing::of(samples.raw),
        raw_bwrap: (!samples.raw_bwrap.is_empty()).then(|| Timing::of(samples.raw_bwrap)),
        wake: Timing::of(samples.wake),
        cold: Timing::of(samples.cold),
        wake_metric: Timing::of(samples.wake_metric),
        cold_metric: Timing::of(samples.cold_metric),
        bwrap_error,
    })
}

#[derive(Default)]
struct Samples {
    raw_handshake: Vec<f64>,
    raw: Vec<f64>,
    raw_bwrap: Vec<f64>,
    wake: Vec<f64>,
    wake_metric: Vec<f64>,
    cold: Vec<f64>,
    cold_metric: Vec<f64>,
}

/// `catwalk deploy`, as a user would (the analysis queries the npm registry through `npm`; the
/// install is a cache hit once the bench has run before).
async fn deploy_everything(catwalk: &mut Catwalk, tools: &Tools, data_dir: &Path) -> Result<()> {
    eprintln!(
        "bench: catwalk deploy npm:{EVERYTHING_PACKAGE}@{EVERYTHING_VERSION} --sleep-after 1"
    );
    let output = Command::new(tools.catwalk_bin.as_ref().expect("prepared"))
        .arg("deploy")
        .arg(format!("npm:{EVERYTHING_PACKAGE}@{EVERYTHING_VERSION}"))
        .args(["--name", NAME, "--public", "--sleep-after", "1", "--json"])
        .args(["--timeout", "600"])
        .env("CATWALK_URL", &catwalk.base)
        .env("CATWALK_DATA_DIR", data_dir)
        .env_remove("CATWALK_TOKEN")
        .kill_on_drop(true)
        .output()
        .await
        .context("running catwalk deploy")?;
    if !output.status.success() {
        bail!(
            "catwalk deploy failed ({}): {}\n--- catwalk serve log ---\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr),
            catwalk.proc.log_tail(30)
        );
    }
    Ok(())
}

struct RawTimes {
    handshake_ms: f64,
    tools_list_ms: f64,
}

/// The arguments of `bwrap` before the program: the namespaces and mounts of a Catwalk server,
/// except that the whole root is bound read-only instead of Catwalk's list of system folders.
pub fn bwrap_args() -> Vec<&'static str> {
    vec![
        "--ro-bind",
        "/",
        "/",
        "--tmpfs",
        "/tmp",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--unshare-user",
        "--disable-userns",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--cap-drop",
        "ALL",
        "--",
    ]
}

/// Spawns server-everything (under `bwrap` when given its arguments) and times its handshake and
/// first `tools/list` from just before the spawn.
async fn raw_pipe(
    everything: &Path,
    bwrap: Option<&[&str]>,
    home: &Path,
    logs: &Path,
) -> Result<RawTimes> {
    let (mut command, log) = match bwrap {
        Some(args) => {
            let mut command = Command::new("bwrap");
            command.args(args).arg(everything);
            (command, logs.join("lifecycle-raw-bwrap.log"))
        }
        None => (
            Command::new(everything),
            logs.join("lifecycle-raw-pipe.log"),
        ),
    };
    command.arg("stdio");
    // The environment Catwalk gives its servers (PATH, HOME, LANG), so that both start the same
    // program the same way: variables such as NODE_EXTRA_CA_CERTS change Node's start-up time.
    command
        .env_clear()
        .env(
            "PATH",
            std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()),
        )
        .env("HOME", home)
        .env("LANG", "C.UTF-8")
        .current_dir(home);
    let began = Instant::now();
    let mut server = Proc::spawn_piped("server-everything", command, &log, Duration::from_secs(2))?;
    let pipe = Pipe::start(&mut server).await.with_context(|| {
        format!(
            "server-everything over a raw pipe{}; its log:\n{}",
            if bwrap.is_some() { " in bwrap" } else { "" },
            server.log_tail(20)
        )
    })?;
    let handshake = began.elapsed();
    let answer = pipe.call(1, TOOLS_LIST).await?;
    let tools_list = began.elapsed();
    check_tools(&answer)?;
    drop(server);
    Ok(RawTimes {
        handshake_ms: ms(handshake),
        tools_list_ms: ms(tools_list),
    })
}

/// Waits for the deployment to sleep, then times a fresh session up to its `tools/list` answer;
/// also returns Catwalk's own start time for the process it woke.
async fn wake(catwalk: &mut Catwalk, endpoint: &Endpoint) -> Result<(f64, f64)> {
    catwalk
        .wait_status(NAME, &["sleeping"], Duration::from_secs(30))
        .await?;
    let before = start_metric(catwalk).await?;
    let began = Instant::now();
    let mut conn = Conn::open(endpoint).await?;
    let session = conn.open_session().await?;
    let (_, answer) = conn
        .request(Some(&session), 1, Bytes::from_static(TOOLS_LIST.as_bytes()))
        .await
        .context("tools/list waking the deployment")?;
    let elapsed = began.elapsed();
    check_tools(&String::from_utf8_lossy(&answer))?;
    let _ = conn.close_session(&session).await;
    let metric = metric_delta(before, start_metric(catwalk).await?)?;
    Ok((ms(elapsed), metric))
}

/// Stops the deployment, then times `POST /start` up to a fresh session's `tools/list` answer.
async fn cold_start(catwalk: &mut Catwalk, endpoint: &Endpoint) -> Result<(f64, f64)> {
    catwalk
        .call(Method::POST, &format!("/api/deployments/{NAME}/stop"), None)
        .await?;
    let before = start_metric(catwalk).await?;
    let began = Instant::now();
    catwalk
        .call(
            Method::POST,
            &format!("/api/deployments/{NAME}/start"),
            None,
        )
        .await?;
    let deadline = began + Duration::from_secs(60);
    let mut conn = Conn::open(endpoint).await?;
    let answer = loop {
        // Until the process has completed its handshake the gateway refuses new sessions
        // ("it is still starting"); a refusal costs one loopback round trip.
        let attempt = async {
            let session = conn.open_session().await?;
            let (_, answer) = conn
                .request(Some(&session), 1, Bytes::from_static(TOOLS_LIST.as_bytes()))
                .await?;
            anyhow::Ok((session, answer))
        }
        .await;
        match attempt {
            Ok((session, answer)) => {
                let elapsed = began.elapsed();
                let _ = conn.close_session(&session).await;
                break (elapsed, answer);
            }
            Err(error) if Instant::now() > deadline => {
                return Err(error.context("no tools/list answer within 60 s of POST /start"));
            }
            Err(_) => tokio::time::sleep(POLL).await,
        }
    };
    check_tools(&String::from_utf8_lossy(&answer.1))?;
    let metric = metric_delta(before, start_metric(catwalk).await?)?;
    Ok((ms(answer.0), metric))
}

async fn start_metric(catwalk: &mut Catwalk) -> Result<(f64, u64)> {
    Ok(serve::start_seconds(&catwalk.metrics().await?, NAME).unwrap_or((0.0, 0)))
}

/// The one start between two readings of the metric, in ms.
fn metric_delta(before: (f64, u64), after: (f64, u64)) -> Result<f64> {
    if after.1 != before.1 + 1 {
        bail!(
            "expected one process start of {NAME} in catwalk_process_start_seconds, counted {}",
            after.1.saturating_sub(before.1)
        );
    }
    Ok((after.0 - before.0) * 1000.0)
}

/// server-everything's tool list names `echo`; anything else is not the answer the bench wants.
fn check_tools(answer: &str) -> Result<()> {
    if !answer.contains("\"echo\"") {
        bail!("tools/list did not list echo: {answer}");
    }
    Ok(())
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
