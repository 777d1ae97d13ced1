//! The per-session process model: each client session of such a deployment gets a server
//! process of its own, started when the session opens and stopped when it ends.
//!
//! The trade-off, against the default of one process shared by every session: sessions cannot
//! see each other's state in the server (its memory, its open files, its logging level), a
//! crash interrupts one session only, and the server sees its real client: a session's process
//! is initialized with that client's own `initialize` parameters (client info, capabilities,
//! version), and so is every restart of it; but every session pays a process's start-up time and
//! memory, which for a Node or Python server is tens of megabytes. The processes share the
//! deployment's home folder, so files a server writes are not isolated. Stateless (2026-07-28)
//! requests have no session and keep using the deployment's shared process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use catwalk_bridge::Upstream;
use catwalk_gateway::Refusal;
use catwalk_runtime::{ExitInfo, Instance, LogSink};
use serde_json::value::RawValue;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::deployments::{HANDSHAKE_TIMEOUT, STOP_GRACE};
use crate::logs::StoreLogs;
use crate::process::{self, CrashLoop, Launch, Restarted, describe_exit, spawn};

/// What it takes to start one more process of a deployment.
pub struct Template {
    pub launch: Launch,
    pub logs: Arc<StoreLogs>,
    pub call_timeout: Option<Duration>,
}

/// A session's process: its upstream, and the task that stops it when the session ends.
type SessionProcess = (Upstream, JoinHandle<()>);

/// The processes started for single sessions, by deployment.
#[derive(Default)]
pub struct Dedicated {
    by_deployment: Mutex<HashMap<String, Vec<SessionProcess>>>,
}

impl Dedicated {
    /// Starts a process for one new session, initialized with the client's own `initialize`
    /// parameters, and watches it: it stops when the session ends, and when it crashes it is
    /// restarted (with backoff) and initialized with the same parameters, so the session lives
    /// on; a crash loop ends the session.
    pub async fn start(
        &self,
        deployment: &str,
        template: Arc<Template>,
        client_params: Option<&RawValue>,
    ) -> Result<Upstream, Refusal> {
        let (instance, exit, stdout) = spawn(&template.launch, &template.logs)
            .await
            .map_err(Refusal::Unavailable)?;
        let started = Upstream::start_for_client(
            process::input(&instance),
            stdout,
            HANDSHAKE_TIMEOUT,
            client_params.map(ToOwned::to_owned),
        )
        .await;
        let upstream = match started {
            Ok((upstream, _)) => upstream,
            Err(error) => {
                let info = instance.stop(STOP_GRACE).await;
                return Err(Refusal::Unavailable(format!(
                    "the session's own process failed to start: {error}; it {info}"
                )));
            }
        };
        upstream.set_call_timeout(template.call_timeout);
        let watcher = tokio::spawn(watch(upstream.clone(), instance, exit, template));
        let mut all = self.lock();
        let list = all.entry(deployment.to_string()).or_default();
        list.retain(|(_, watcher)| !watcher.is_finished());
        list.push((upstream.clone(), watcher));
        Ok(upstream)
    }

    /// Stops every session process of a deployment (it is removed, or Catwalk stops).
    pub async fn stop_all(&self, deployment: &str) {
        let processes = self.lock().remove(deployment).unwrap_or_default();
        for (upstream, watcher) in processes {
            upstream.close("the deployment was stopped");
            let _ = watcher.await;
        }
    }

    pub fn deployments(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Vec<SessionProcess>>> {
        self.by_deployment.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Keeps a session's process running for as long as its session lives.
async fn watch(
    upstream: Upstream,
    mut instance: Instance,
    mut exit: oneshot::Receiver<ExitInfo>,
    template: Arc<Template>,
) {
    // Made once: `sessions_gone` waits for a session to open first, and it opened long ago.
    let gone = upstream.sessions_gone();
    tokio::pin!(gone);
    let mut crashes = CrashLoop::default();
    loop {
        let ended = tokio::select! {
            info = &mut exit => describe_exit(info),
            () = &mut gone => {
                upstream.close("the session ended");
                instance.stop(STOP_GRACE).await;
                return;
            }
            _ = upstream.closed() => {
                instance.stop(STOP_GRACE).await;
                return;
            }
        };
        let logs = template.logs.clone();
        let restarted = process::restart(
            &upstream,
            &template.launch,
            &template.logs,
            &mut crashes,
            ended,
            |reason| {
                logs.line(
                    "catwalk",
                    &format!("restarting a session's process: {reason}"),
                );
                std::future::ready(())
            },
            &mut gone,
        )
        .await;
        (instance, exit) = match restarted {
            Restarted::Running(instance, exit, _) => (*instance, exit),
            Restarted::GaveUp(reason) => {
                upstream.close(&format!("the session's process failed: {reason}"));
                return;
            }
            Restarted::Stopped(()) => {
                upstream.close("the session ended");
                return;
            }
        };
    }
}
