//! Part 1: how long a cached server takes from the start of its process to its first answered
//! `tools/list`, over a raw pipe and through Catwalk, taking turns in every round. Two servers:
//! server-everything (the issue's subject, about half a second of Node start-up) and the tiny
//! fixture (tens of milliseconds, so that what Catwalk adds is not lost in the start-up's noise).
//!
//! - raw pipe: the bench spawns the server's program with the arguments and the environment
//!   Catwalk gives it, sends `initialize`, `notifications/initialized` and `tools/list`, and
//!   times the answers;
//! - raw pipe in Catwalk's sandbox: the same under `bwrap` with Catwalk's own command line for
//!   that server, read from its running sandbox (see `replay.rs`): what the sandbox alone costs;
//! - Catwalk wake-up: the deployment (`--sleep-after 1`) is in deep sleep (no session left, so
//!   nothing of it in Catwalk's memory but an entry); a fresh session's
//!   `initialize` (answered from the remembered handshake), `notifications/initialized` and
//!   `tools/list` through the gateway, which makes the supervisor spawn the sandboxed server;
//! - Catwalk cold start: `POST /stop`, then from `POST /start` until a fresh session's
//!   `tools/list` is answered, polling every [`POLL`] while the gateway answers that the
//!   deployment is still starting.
//!
//! Catwalk's own `catwalk_process_start_seconds` (spawn to completed handshake) is read around each
//! Catwalk start: the time outside it, paired start by start, is what Catwalk does besides
//! starting the process.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use hyper::Method;
use serde::Serialize;
use tokio::process::Command;

use crate::http::{Conn, Endpoint};
use crate::lifecycle::replay;
use crate::lifecycle::serve::{self, Catwalk};
use crate::lifecycle::stats::Timing;
use crate::lifecycle::{fleet, memory};
use crate::prepare::{EVERYTHING_PACKAGE, EVERYTHING_VERSION, Tools};
use crate::procs::Proc;
use crate::stdio::Pipe;

/// How often the cold start polls the gateway while the deployment starts.
pub const POLL: Duration = Duration::from_millis(5);
const TOOLS_LIST: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;

/// A server whose start is measured.
struct Subject {
    label: &'static str,
    /// Its deployment's name in Catwalk.
    deployment: &'static str,
    /// What `catwalk deploy` is given.
    source: String,
}

#[derive(Debug, Serialize)]
pub struct ColdReport {
    pub rounds: usize,
    pub poll_ms: u64,
    pub subjects: Vec<SubjectReport>,
}

#[derive(Debug, Serialize)]
pub struct SubjectReport {
    pub subject: &'static str,
    /// Spawn to the answer of `initialize` (the handshake), raw pipe.
    pub raw_handshake: Timing,
    /// Spawn to the answer of `tools/list`, raw pipe: the reference.
    pub raw: Timing,
    /// The same in Catwalk's sandbox (its own bwrap command line, replayed).
    pub raw_bwrap: Timing,
    /// The command line replayed.
    pub command: Vec<String>,
    /// Fresh session to `tools/list` answered, waking a sleeping deployment.
    pub wake: Timing,
    /// Catwalk's `catwalk_process_start_seconds` of each wake-up.
    pub wake_metric: Timing,
    /// Each wake-up's time minus its own metric.
    pub wake_outside_metric: Timing,
    /// `POST /start` of a stopped deployment to `tools/list` answered.
    pub cold: Timing,
    pub cold_metric: Timing,
    pub cold_outside_metric: Timing,
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

impl Samples {
    fn report(self, subject: &'static str, command: Vec<String>) -> SubjectReport {
        let outside = |total: &[f64], metric: &[f64]| {
            Timing::of(total.iter().zip(metric).map(|(t, m)| t - m).collect())
        };
        SubjectReport {
            subject,
            wake_outside_metric: outside(&self.wake, &self.wake_metric),
            cold_outside_metric: outside(&self.cold, &self.cold_metric),
            raw_handshake: Timing::of(self.raw_handshake),
            raw: Timing::of(self.raw),
            raw_bwrap: Timing::of(self.raw_bwrap),
            command,
            wake: Timing::of(self.wake),
            wake_metric: Timing::of(self.wake_metric),
            cold: Timing::of(self.cold),
            cold_metric: Timing::of(self.cold_metric),
        }
    }
}

pub async fn measure(tools: &Tools, rounds: usize) -> Result<ColdReport> {
    let fixture = fleet::fixture().canonicalize()?;
    let subjects = [
        Subject {
            label: "server-everything",
            deployment: "everything",
            source: format!("npm:{EVERYTHING_PACKAGE}@{EVERYTHING_VERSION}"),
        },
        Subject {
            label: "tiny-server",
            deployment: "tiny",
            source: fixture.display().to_string(),
        },
    ];
    let data_dir = tempfile::Builder::new()
        .prefix("catwalk-bench-cold-")
        .tempdir()?;
    // Idleness is checked every second: a deployment falls asleep one to two seconds after its
    // last request.
    let mut catwalk = Catwalk::start(&memory::serve_in(
        tools,
        data_dir.path(),
        "lifecycle-cold.log",
    ))
    .await?;
    // The raw pipe's stand-ins for the deployments' folders (HOME, working directory, data).
    let scratch = tempfile::Builder::new()
        .prefix("catwalk-bench-raw-")
        .tempdir()?;
    let mut endpoints = Vec::new();
    let mut replays = Vec::new();
    let mut homes = Vec::new();
    for subject in &subjects {
        deploy(&mut catwalk, tools, data_dir.path(), subject).await?;
        catwalk
            .wait_status(
                subject.deployment,
                &["running", "sleeping"],
                Duration::from_secs(120),
            )
            .await?;
        endpoints.push(catwalk.endpoint(subject.deployment)?);
        let folder = replay::scratch_folder(scratch.path(), subject.deployment)?;
        replays.push(replay::capture(&mut catwalk, subject.deployment, &folder).await?);
        homes.push(folder.join("home"));
    }

    let mut samples: Vec<Samples> = subjects.iter().map(|_| Samples::default()).collect();
    // Round 0 warms the page cache and Catwalk's own paths; it is not recorded.
    for round in 0..=rounds {
        let mut line = Vec::new();
        let mut raws = Vec::new();
        for (replay, home) in replays.iter().zip(&homes) {
            let raw = raw_pipe(&replay.plain, home, &tools.logs).await?;
            let bwrap = raw_pipe(&replay.sandboxed, home, &tools.logs).await?;
            raws.push((raw, bwrap));
        }
        let mut wakes = Vec::new();
        for subject in &subjects {
            catwalk
                .wait_status(subject.deployment, &["sleeping"], Duration::from_secs(30))
                .await?;
        }
        // Woken from deep sleep, as a deployment nobody used for a while is.
        memory::wait_deep_sleep(&mut catwalk, subjects.len()).await?;
        for (subject, endpoint) in subjects.iter().zip(&endpoints) {
            wakes.push(wake(&mut catwalk, subject.deployment, endpoint).await?);
        }
        let mut colds = Vec::new();
        for (subject, endpoint) in subjects.iter().zip(&endpoints) {
            colds.push(cold_start(&mut catwalk, subject.deployment, endpoint).await?);
        }
        for (index, subject) in subjects.iter().enumerate() {
            let (raw, bwrap) = &raws[index];
            let (wake, wake_metric) = wakes[index];
            let (cold, cold_metric) = colds[index];
            line.push(format!(
                "{}: raw {:.1} ms, in catwalk's sandbox {:.1} ms, wake {wake:.1} ms (metric \
                 {wake_metric:.1}), cold start {cold:.1} ms (metric {cold_metric:.1})",
                subject.label, raw.tools_list_ms, bwrap.tools_list_ms,
            ));
            if round == 0 {
                continue;
            }
            let samples = &mut samples[index];
            samples.raw_handshake.push(raw.handshake_ms);
            samples.raw.push(raw.tools_list_ms);
            samples.raw_bwrap.push(bwrap.tools_list_ms);
            samples.wake.push(wake);
            samples.wake_metric.push(wake_metric);
            samples.cold.push(cold);
            samples.cold_metric.push(cold_metric);
        }
        eprintln!(
            "bench: start round {round}{}: {}",
            if round == 0 { " (warm-up)" } else { "" },
            line.join("; ")
        );
    }
    Ok(ColdReport {
        rounds,
        poll_ms: POLL.as_millis() as u64,
        subjects: subjects
            .iter()
            .zip(samples)
            .zip(replays)
            .map(|((subject, samples), replay)| samples.report(subject.label, replay.sandboxed))
            .collect(),
    })
}

/// `catwalk deploy`, as a user would (for the npm package the analysis asks the registry through
/// `npm`; the install is a cache hit once the bench has run before).
async fn deploy(
    catwalk: &mut Catwalk,
    tools: &Tools,
    data_dir: &Path,
    subject: &Subject,
) -> Result<()> {
    eprintln!("bench: catwalk deploy {} --sleep-after 1", subject.source);
    let output = Command::new(tools.catwalk_bin.as_ref().expect("prepared"))
        .arg("deploy")
        .arg(&subject.source)
        .args([
            "--name",
            subject.deployment,
            "--public",
            "--sleep-after",
            "1",
        ])
        .args(["--json", "--timeout", "600"])
        .env("CATWALK_URL", &catwalk.base)
        .env("CATWALK_DATA_DIR", data_dir)
        .env_remove("CATWALK_TOKEN")
        .kill_on_drop(true)
        .output()
        .await
        .context("running catwalk deploy")?;
    if !output.status.success() {
        bail!(
            "catwalk deploy {} failed ({}): {}\n--- catwalk serve log ---\n{}",
            subject.source,
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

/// Spawns `argv` (a server, or bwrap running one) and times its handshake and first
/// `tools/list` from just before the spawn.
async fn raw_pipe(argv: &[String], home: &Path, logs: &Path) -> Result<RawTimes> {
    let (program, args) = argv.split_first().context("an empty command line")?;
    let sandboxed = program.ends_with("bwrap");
    let log = logs.join(match sandboxed {
        true => "lifecycle-raw-sandboxed.log",
        false => "lifecycle-raw-pipe.log",
    });
    let mut command = Command::new(program);
    // The environment Catwalk gives its servers (PATH, HOME, LANG), so that both start the same
    // program the same way: variables such as NODE_EXTRA_CA_CERTS change Node's start-up time.
    command
        .args(args)
        .env_clear()
        .env(
            "PATH",
            std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()),
        )
        .env("HOME", home)
        .env("LANG", "C.UTF-8")
        .current_dir(home);
    let began = Instant::now();
    let mut server = Proc::spawn_piped("a server", command, &log, Duration::from_secs(2))?;
    let pipe = Pipe::start(&mut server).await.with_context(|| {
        format!(
            "{argv:?} over a raw pipe; its log:\n{}",
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
async fn wake(catwalk: &mut Catwalk, name: &str, endpoint: &Endpoint) -> Result<(f64, f64)> {
    catwalk
        .wait_status(name, &["sleeping"], Duration::from_secs(30))
        .await?;
    let before = start_metric(catwalk, name).await?;
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
    let metric = metric_delta(name, before, start_metric(catwalk, name).await?)?;
    Ok((ms(elapsed), metric))
}

/// Stops the deployment, then times `POST /start` up to a fresh session's `tools/list` answer.
async fn cold_start(catwalk: &mut Catwalk, name: &str, endpoint: &Endpoint) -> Result<(f64, f64)> {
    catwalk
        .call(Method::POST, &format!("/api/deployments/{name}/stop"), None)
        .await?;
    let before = start_metric(catwalk, name).await?;
    let began = Instant::now();
    catwalk
        .call(
            Method::POST,
            &format!("/api/deployments/{name}/start"),
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
    let metric = metric_delta(name, before, start_metric(catwalk, name).await?)?;
    Ok((ms(answer.0), metric))
}

async fn start_metric(catwalk: &mut Catwalk, name: &str) -> Result<(f64, u64)> {
    Ok(serve::start_seconds(&catwalk.metrics().await?, name).unwrap_or((0.0, 0)))
}

/// The one start between two readings of the metric, in ms.
fn metric_delta(name: &str, before: (f64, u64), after: (f64, u64)) -> Result<f64> {
    if after.1 != before.1 + 1 {
        bail!(
            "expected one process start of {name} in catwalk_process_start_seconds, counted {}",
            after.1.saturating_sub(before.1)
        );
    }
    Ok((after.0 - before.0) * 1000.0)
}

/// Both servers list an `echo` tool; anything else is not the answer the bench wants.
fn check_tools(answer: &str) -> Result<()> {
    if !answer.contains("\"echo\"") {
        bail!("tools/list did not list echo: {answer}");
    }
    Ok(())
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
