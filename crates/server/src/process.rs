//! Starting a deployment's server process and watching it: the pieces the supervisor in
//! `deployments.rs` and the per-session processes share.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use catwalk_bridge::Upstream;
use catwalk_runtime::{ExitInfo, Instance, ProcessSpec};
use tokio::sync::{mpsc, oneshot};

use crate::deployments::{HANDSHAKE_TIMEOUT, STOP_GRACE};
use crate::logs::StoreLogs;

/// Starts the process and hands back its stdout for the bridge.
pub(crate) fn spawn(
    spec: &ProcessSpec,
    logs: &Arc<StoreLogs>,
) -> Result<
    (
        Instance,
        oneshot::Receiver<ExitInfo>,
        mpsc::Receiver<String>,
    ),
    String,
> {
    let mut instance = catwalk_runtime::spawn(spec, logs.clone()).map_err(|e| e.to_string())?;
    let exit = instance.take_exit();
    let (_, placeholder) = mpsc::channel(1);
    let stdout = std::mem::replace(&mut instance.stdout, placeholder);
    Ok((instance, exit, stdout))
}

pub(crate) fn describe_exit(info: Result<ExitInfo, oneshot::error::RecvError>) -> String {
    info.map(|i| i.to_string())
        .unwrap_or_else(|_| "ended".into())
}

/// `"N tools"` for the status, when the server lists them.
pub(crate) async fn count_tools(upstream: &Upstream) -> Option<String> {
    upstream
        .call("tools/list", None, HANDSHAKE_TIMEOUT)
        .await
        .ok()
        .and_then(|answer| answer.result_field::<Vec<serde_json::Value>>("tools"))
        .map(|tools| format!("{} tools", tools.len()))
}

/// Restarts allowed within a window, with exponential backoff between them.
#[derive(Default)]
pub(crate) struct CrashLoop {
    recent: Vec<std::time::Instant>,
}

impl CrashLoop {
    const WINDOW: Duration = Duration::from_secs(60);
    const MAX_RESTARTS: usize = 5;

    /// Records a crash; the delay before the next start, or `None` when it crashes too often.
    pub(crate) fn record(&mut self) -> Option<Duration> {
        self.recent.retain(|at| at.elapsed() < Self::WINDOW);
        self.recent.push(std::time::Instant::now());
        let crashes = self.recent.len();
        (crashes <= Self::MAX_RESTARTS)
            .then(|| Duration::from_millis(250) * 2u32.pow(crashes as u32 - 1))
    }

    pub(crate) fn verdict(&self) -> String {
        format!(
            "it crashed {} times within {} s, so Catwalk stopped restarting it",
            self.recent.len(),
            Self::WINDOW.as_secs()
        )
    }
}

/// How [`restart`] ended.
pub(crate) enum Restarted<S> {
    /// A new process runs and the upstream is initialized again.
    Running(Instance, oneshot::Receiver<ExitInfo>),
    /// Crashing too often, or it cannot start at all: the reason, for the user.
    GaveUp(String),
    /// `stop` resolved (with this) while waiting to restart.
    Stopped(S),
}

/// Starts a new process for `upstream` after its process `ended`, with backoff, until one
/// completes the handshake (the upstream re-initializes it with its original parameters, so its
/// sessions live on). `restarting` is told the reason before each attempt.
pub(crate) async fn restart<F, Fut, S>(
    upstream: &Upstream,
    spec: &ProcessSpec,
    logs: &Arc<StoreLogs>,
    crashes: &mut CrashLoop,
    mut ended: String,
    mut restarting: F,
    stop: impl Future<Output = S>,
) -> Restarted<S>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = ()>,
{
    tokio::pin!(stop);
    loop {
        let reason = format!("the process {ended}{}", logs.last_lines_suffix());
        let Some(delay) = crashes.record() else {
            return Restarted::GaveUp(format!("{}; {reason}", crashes.verdict()));
        };
        restarting(reason).await;
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            stopped = &mut stop => return Restarted::Stopped(stopped),
        }
        let (instance, exit, stdout) = match spawn(spec, logs) {
            Ok(started) => started,
            Err(error) => return Restarted::GaveUp(error),
        };
        match upstream
            .restart(instance.stdin.clone(), stdout, HANDSHAKE_TIMEOUT)
            .await
        {
            Ok(_) => return Restarted::Running(instance, exit),
            Err(error) => {
                tracing::warn!(%error, "a restarted server failed its handshake");
                ended = instance.stop(STOP_GRACE).await.to_string();
            }
        }
    }
}
