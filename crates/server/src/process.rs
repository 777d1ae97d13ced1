//! Starting a deployment's server process and watching it: the pieces the supervisor in
//! `deployments.rs` and the per-session processes share.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use catwalk_analyze::{Registry, ServerSpec, ToolInfo};
use catwalk_bridge::{BridgeError, InitInfo, PipeFuture, ServerInput, ServerOutput, Upstream};
use catwalk_runtime::{
    ExitInfo, Installed, Instance, LogSink, PackageKind, PackageToInstall, ProcessSpec,
    SandboxPolicy, Stdin, Stdout,
};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tokio::sync::oneshot;

use crate::deployments::{HANDSHAKE_TIMEOUT, STOP_GRACE};
use crate::isolation::Isolation;
use crate::logs::StoreLogs;
use crate::options::DeploymentOptions;

/// Everything it takes to start one more process of a deployment.
#[derive(Clone)]
pub(crate) struct Launch {
    pub spec: ProcessSpec,
    pub policy: SandboxPolicy,
    pub isolation: Arc<Isolation>,
}

impl Launch {
    /// How to start an installed server in its `home` (created here, its working directory)
    /// with its writable `data` folder: `env` on top of the base environment, `args` after the
    /// program, the installed package read-only, the network and limits of `options`.
    pub(crate) fn new(
        installed: Installed,
        args: Vec<String>,
        env: BTreeMap<String, String>,
        (home, data): (PathBuf, PathBuf),
        options: &DeploymentOptions,
        isolation: Arc<Isolation>,
    ) -> Result<Launch, String> {
        for dir in [&home, &data] {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create the server's folder {}: {e}", dir.display()))?;
        }
        let mut process_env = catwalk_runtime::base_env(&home);
        process_env.extend(env);
        Ok(Launch {
            spec: ProcessSpec {
                program: installed.program,
                args,
                env: process_env,
                cwd: home.clone(),
            },
            policy: SandboxPolicy {
                home,
                data,
                read_only: vec![installed.prefix],
                network: options.network,
                limits: options.limits.to_runtime(),
            },
            isolation,
        })
    }
}

/// What the installer is asked to install for a spec.
pub(crate) fn package_of(spec: &ServerSpec) -> PackageToInstall {
    PackageToInstall {
        kind: match spec.package.registry {
            Registry::Npm => PackageKind::Npm,
            Registry::Pypi => PackageKind::Pypi,
        },
        name: spec.package.name.clone(),
        version: spec.package.version.clone(),
        path: spec.package.path.clone(),
        command: spec.launch.command.clone(),
    }
}

/// Starts the process and hands back its output for the bridge.
pub(crate) async fn spawn<L: LogSink + Send + Sync + 'static>(
    launch: &Launch,
    logs: &Arc<L>,
) -> Result<(Instance, oneshot::Receiver<ExitInfo>, Output), String> {
    // A sandbox's start blocks for a while (bwrap's setup, and its private network coming up
    // before the server's exec: some 15 ms): off the runtime's worker threads, which meanwhile
    // serve every other request.
    let (launch, logs) = (launch.clone(), logs.clone());
    tokio::task::spawn_blocking(move || {
        let mut instance = launch.isolation.spawn(&launch.spec, &launch.policy, logs)?;
        let exit = instance.take_exit();
        let output = Output(instance.stdout.take());
        Ok((instance, exit, output))
    })
    .await
    .map_err(|error| format!("the process could not be started: {error}"))?
}

/// A process's stdin as the bridge writes to it.
pub(crate) struct Input(pub Stdin);

impl ServerInput for Input {
    fn send(&self, message: String) -> PipeFuture<'_, bool> {
        Box::pin(async move { self.0.send(message).await.is_ok() })
    }
}

/// A process's stdout as the bridge reads it.
pub(crate) struct Output(Stdout);

impl ServerOutput for Output {
    fn recv(&mut self) -> PipeFuture<'_, Option<String>> {
        Box::pin(self.0.recv())
    }
}

/// The stdin of `instance`, for the bridge.
pub(crate) fn input(instance: &Instance) -> Input {
    Input(instance.stdin.clone())
}

pub(crate) fn describe_exit(info: Result<ExitInfo, oneshot::error::RecvError>) -> String {
    info.map(|i| i.to_string())
        .unwrap_or_else(|_| "ended".into())
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
    /// A new process runs and the upstream is initialized again, this long after it was spawned.
    Running(Box<Instance>, oneshot::Receiver<ExitInfo>, Duration),
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
    launch: &Launch,
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
        match attach(upstream, launch, logs).await {
            Attached::Running(instance, exit, took) => {
                return Restarted::Running(Box::new(instance), exit, took);
            }
            Attached::NotStarted(error) => return Restarted::GaveUp(error),
            Attached::Refused(error, info) => {
                tracing::warn!(%error, "a restarted server failed its handshake");
                ended = info.to_string();
            }
        }
    }
}

/// How [`attach`] went.
pub(crate) enum Attached {
    /// The new process runs and the upstream is initialized again, this long after the spawn.
    Running(Instance, oneshot::Receiver<ExitInfo>, Duration),
    /// The process could not be started at all.
    NotStarted(String),
    /// It started but failed the handshake, and was stopped: how it ended.
    Refused(catwalk_bridge::BridgeError, ExitInfo),
}

/// Starts a new process and attaches it to `upstream`, which re-initializes it with its original
/// parameters (a restart after a crash, or a wake-up).
pub(crate) async fn attach(
    upstream: &Upstream,
    launch: &Launch,
    logs: &Arc<StoreLogs>,
) -> Attached {
    let began = std::time::Instant::now();
    let (instance, exit, stdout) = match spawn(launch, logs).await {
        Ok(started) => started,
        Err(error) => return Attached::NotStarted(error),
    };
    match upstream
        .restart(input(&instance), stdout, HANDSHAKE_TIMEOUT)
        .await
    {
        Ok(_) => Attached::Running(instance, exit, began.elapsed()),
        Err(error) => Attached::Refused(error, instance.stop(STOP_GRACE).await),
    }
}

/// How long a health-check ping may take before the server counts as hung.
const PING_TIMEOUT: Duration = Duration::from_secs(10);

/// Pings the server; an error says why it counts as hung ("did not answer ..."). Any answer, even an error, shows it
/// is alive; an exit is left to the exit watcher.
pub(crate) async fn health_check(upstream: &Upstream) -> Result<(), String> {
    match upstream.call("ping", None, PING_TIMEOUT).await {
        Err(BridgeError::Timeout { .. }) => Err(format!(
            "did not answer a ping within {} s",
            PING_TIMEOUT.as_secs()
        )),
        Ok(_) | Err(BridgeError::Rejected { .. } | BridgeError::Exited(_)) => Ok(()),
    }
}

/// A server's last MCP handshake, kept in the store so that a sleeping deployment answers new
/// sessions without starting its process, even after Catwalk restarts.
#[derive(Serialize, Deserialize)]
pub(crate) struct Handshake {
    params: Box<RawValue>,
    protocol_version: String,
    result: Box<RawValue>,
    /// What the server listed in `tools/list` after that handshake, if it answered. Kept here
    /// rather than in Catwalk's memory, so a sleeping deployment costs nothing while the API
    /// still shows its tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) tools: Option<Vec<ToolInfo>>,
}

impl Handshake {
    /// The handshake of a running upstream with the tools it listed, as stored.
    pub(crate) fn of(upstream: &Upstream, tools: Option<Vec<ToolInfo>>) -> Option<String> {
        let info = upstream.init_info()?;
        let handshake = Handshake {
            params: upstream.init_params()?,
            protocol_version: info.protocol_version,
            result: info.result,
            tools,
        };
        serde_json::to_string(&handshake).ok()
    }

    pub(crate) fn parse(stored: &str) -> Option<Handshake> {
        serde_json::from_str(stored).ok()
    }

    /// A sleeping upstream that answers as this handshake did.
    pub(crate) fn dormant(self) -> Upstream {
        let info = InitInfo {
            protocol_version: self.protocol_version,
            result: self.result,
        };
        Upstream::dormant(self.params, info, SLEEPING)
    }
}

/// What requests waiting for a sleeping deployment are told if it does not wake in time.
pub(crate) const SLEEPING: &str = "the deployment sleeps; a request wakes it";

/// Kills the processes an earlier Catwalk left running in the deployments' folders (after a
/// `kill -9` of Catwalk, a server's own children may survive it: the kernel's parent-death
/// signal reaches direct children only). Their working directory gives them away. Called at
/// start, while this Catwalk holds the data directory's lock, so none of them is ours.
pub(crate) fn reap_leftovers(homes: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let mut killed = 0;
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let inside =
            std::fs::read_link(entry.path().join("cwd")).is_ok_and(|cwd| cwd.starts_with(homes));
        if inside
            && nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            )
            .is_ok()
        {
            killed += 1;
        }
    }
    killed
}
