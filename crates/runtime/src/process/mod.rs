//! Runs one stdio MCP server as a child process that Catwalk fully owns.
//!
//! Ownership means no orphans:
//! - the child leads its own session and process group, and stopping signals the whole group, so
//!   wrapper chains (`sh` -> `npm` -> `node`) die together;
//! - the child gets `PR_SET_PDEATHSIG(SIGKILL)`, so it dies if Catwalk dies, even by `kill -9`
//!   (see `spawner.rs` for why every fork happens on one dedicated thread). The death signal
//!   reaches the direct child only; grandchildren are covered by the group kill of
//!   [`Instance::stop`] and `Drop`, and after a `kill -9` of Catwalk by the sandbox;
//! - when the child exits, whatever is left in its group is SIGKILLed at once (a server that is
//!   gone has no business leaving helpers behind, and right after the exit the group id cannot
//!   yet belong to anyone else), and so is whatever is left in its cgroup when it has one;
//! - dropping an [`Instance`] whose process still runs kills the group.
//!
//! A process that calls `setsid` itself leaves the group. In a sandbox ([`spawn_sandboxed`]) it
//! still cannot escape: the child is then bwrap, whose PID namespace dies with it (bwrap's PID 1
//! is in the group and has `--die-with-parent`; the kernel kills a namespace with its PID 1).
//!
//! Sandboxed, the group holds bwrap's monitor process too, and bwrap does not forward signals:
//! a SIGTERM reaching it would end the sandbox at once. So the graceful SIGTERM of
//! [`Instance::stop`] goes to every other member of the group, and only the final SIGKILL goes
//! to the whole group.

mod child;
mod leftovers;
mod lines;
mod pipes;
mod spawner;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::Command;
use tokio::runtime::Handle;
use tokio::sync::{oneshot, watch};

pub use pipes::{Stdin, StdinClosed, Stdout};

use crate::RuntimeError;
use crate::sandbox::{
    Attached, InstanceCgroup, Network, PreparedLimits, PrivateNet, Request, ResourceLimits,
    Sandbox, SandboxPolicy, Tmp, inherit_fds, prepare_limits,
};
use child::ChildSetup;
use leftovers::{finish_confinement, kill_leftovers, read_init_pid, signal_group_members};

/// How long [`Instance::stop`] waits for the exit after SIGKILL. Only a process stuck in
/// uninterruptible sleep (a hung disk or NFS mount) outlasts it.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// What to run, exactly.
#[derive(Clone)]
pub struct ProcessSpec {
    /// The executable; a bare name is looked up in `env["PATH"]`, not in Catwalk's PATH.
    pub program: PathBuf,
    pub args: Vec<String>,
    /// The complete environment of the child: nothing is inherited from Catwalk.
    pub env: BTreeMap<String, String>,
    pub cwd: PathBuf,
}

/// Shows variable names only: values are often credentials.
impl fmt::Debug for ProcessSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessSpec")
            .field("program", &self.program)
            .field("args", &self.args.len())
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .field("cwd", &self.cwd)
            .finish()
    }
}

/// Receives the log lines of one instance.
pub trait LogSink: Send + Sync + 'static {
    /// `stream` is `"stderr"` for the server's own stderr and `"catwalk"` for what the runtime
    /// reports about it (start, exit, signals sent, dropped lines).
    fn line(&self, stream: &str, line: &str);
}

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitInfo {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    /// The resource limit that the process ran into, when one did (then the kernel usually
    /// killed it, and `signal` is 9).
    pub limit: Option<LimitExceeded>,
}

/// A resource limit a server exceeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitExceeded {
    /// The OOM killer ended one of its processes at the memory limit of its cgroup.
    Memory { limit_mib: u64 },
}

impl fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitExceeded::Memory { limit_mib } => {
                write!(f, "memory limit exceeded ({limit_mib} MiB)")
            }
        }
    }
}

impl From<std::process::ExitStatus> for ExitInfo {
    fn from(status: std::process::ExitStatus) -> Self {
        use std::os::unix::process::ExitStatusExt;
        ExitInfo {
            code: status.code(),
            signal: status.signal(),
            limit: None,
        }
    }
}

impl ExitInfo {
    /// How a sandboxed server ended, from bwrap's status. bwrap reports the server's death by
    /// signal N as exit code 128 + N (a shell's convention); it is read back as the signal, so
    /// an exit code above 128 of the server itself reads as a signal too.
    fn from_sandbox(status: std::process::ExitStatus) -> Self {
        let mut info = ExitInfo::from(status);
        if let Some(code) = info.code
            && (129..=128 + 64).contains(&code)
        {
            info.code = None;
            info.signal = Some(code - 128);
        }
        info
    }
}

impl fmt::Display for ExitInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(limit) = self.limit {
            write!(f, "{limit}: ")?;
        }
        match (self.code, self.signal) {
            (Some(code), _) => write!(f, "exited with code {code}"),
            (None, Some(signal)) => match Signal::try_from(signal) {
                Ok(name) => write!(f, "killed by signal {signal} ({name})"),
                Err(_) => write!(f, "killed by signal {signal}"),
            },
            (None, None) => write!(f, "ended with an unknown status"),
        }
    }
}

/// The environment every server starts from: Catwalk's `PATH` (so `node` and `python` are
/// found), `HOME` set to `home`, `LANG=C.UTF-8`, and nothing else.
pub fn base_env(home: &Path) -> BTreeMap<String, String> {
    let path = std::env::var_os("PATH")
        .map(|path| path.to_string_lossy().into_owned())
        .unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".to_string());
    BTreeMap::from([
        ("PATH".to_string(), path),
        ("HOME".to_string(), home.to_string_lossy().into_owned()),
        ("LANG".to_string(), "C.UTF-8".to_string()),
    ])
}

/// A running server process.
pub struct Instance {
    /// One JSON-RPC message per `send`, without a trailing newline (the writer adds it).
    pub stdin: Stdin,
    /// One stdout line per `recv`; `None` when the process closes its stdout (normally at exit).
    pub stdout: Stdout,
    pid: u32,
    sandboxed: bool,
    exit: watch::Receiver<Option<ExitInfo>>,
    close_stdin: watch::Sender<bool>,
    logs: Arc<dyn LogSink>,
}

impl fmt::Debug for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Instance")
            .field("pid", &self.pid)
            .field("sandboxed", &self.sandboxed)
            .field("exit", &*self.exit.borrow())
            .finish()
    }
}

/// Starts `spec` as a child process, unsandboxed and unlimited. Must be called inside a Tokio
/// runtime; the I/O tasks run on it.
pub fn spawn(spec: &ProcessSpec, logs: Arc<dyn LogSink>) -> Result<Instance, RuntimeError> {
    launch(spec, None, &ResourceLimits::default(), logs)
}

/// Starts `spec` unsandboxed, with resource limits (see [`ResourceLimits`] for how each is
/// enforced). For hosts where the operator allowed running without bubblewrap.
pub fn spawn_with_limits(
    spec: &ProcessSpec,
    limits: &ResourceLimits,
    logs: Arc<dyn LogSink>,
) -> Result<Instance, RuntimeError> {
    launch(spec, None, limits, logs)
}

/// Starts `spec` inside a bubblewrap sandbox described by `policy` (see [`crate::Sandbox`] for
/// what it shows), with the policy's resource limits.
///
/// `spec.cwd` must lie inside the policy's home, data or read-only folders. The server's
/// environment is exactly `spec.env`, plus `PWD` (bwrap sets it to the working directory).
pub fn spawn_sandboxed(
    spec: &ProcessSpec,
    sandbox: &Sandbox,
    policy: &SandboxPolicy,
    logs: Arc<dyn LogSink>,
) -> Result<Instance, RuntimeError> {
    launch(spec, Some((sandbox, policy)), &policy.limits, logs)
}

/// The sandbox's processes besides the server: bwrap's monitor and the namespace's PID 1.
const SANDBOX_TASKS: u64 = 2;

fn launch(
    spec: &ProcessSpec,
    sandbox: Option<(&Sandbox, &SandboxPolicy)>,
    limits: &ResourceLimits,
    logs: Arc<dyn LogSink>,
) -> Result<Instance, RuntimeError> {
    let fail = |source: io::Error| RuntimeError::Spawn {
        program: spec.program.clone(),
        source,
    };
    let runtime = Handle::try_current()
        .map_err(|_| fail(io::Error::other("spawn was called outside a Tokio runtime")))?;

    // With network on, the sandbox gets a network namespace of its own that slirp4netns
    // connects, where this host has a working one.
    let private_net = match sandbox {
        Some((sandbox, policy)) if policy.network => match sandbox.network_stack() {
            Ok(stack) => Some(PrivateNet::new(stack).map_err(fail)?),
            Err(_) => None,
        },
        _ => None,
    };
    // bwrap reports the host pid of the sandbox's PID 1 on this pipe (a private network has
    // its own).
    let info_pipe = match sandbox {
        Some(_) if private_net.is_none() => {
            Some(nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| fail(e.into()))?)
        }
        _ => None,
    };
    let mut command = match sandbox {
        None => Command::new(&spec.program),
        Some((sandbox, policy)) => {
            let path_var = spec.env.get("PATH").map(String::as_str);
            let writable = [policy.home.clone(), policy.data.clone()];
            let (program, bwrap_args) = sandbox
                .command_args(&Request {
                    program: &spec.program,
                    path_var,
                    cwd: &spec.cwd,
                    read_only: &policy.read_only,
                    writable: &writable,
                    network: match &private_net {
                        Some(private) => private.layout(),
                        None if policy.network => Network::Host,
                        None => Network::Off,
                    },
                    tmp: Tmp::Tmpfs(policy.limits.memory_mib.map(|mib| mib * 1024 * 1024)),
                    info_fd: match &private_net {
                        Some(private) => Some(private.info_fd()),
                        None => info_pipe.as_ref().map(|(_, write)| write.as_raw_fd()),
                    },
                })
                .map_err(fail)?;
            let mut command = Command::new(sandbox.program());
            command.args(bwrap_args).arg("--").arg(program);
            if let Some(private) = &private_net {
                inherit_fds(command.as_std_mut(), private.child_fds());
            }
            command
        }
    };
    let prepared = prepare_limits(limits, if sandbox.is_some() { SANDBOX_TASKS } else { 0 })
        .map_err(|message| fail(io::Error::other(message)))?;
    command
        .args(&spec.args)
        .env_clear()
        .envs(&spec.env)
        .current_dir(&spec.cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Last resort: if the task owning the child is dropped (runtime shutdown), kill it.
        .kill_on_drop(true);
    child::prepare(
        &mut command,
        ChildSetup {
            cgroup_procs: prepared
                .cgroup
                .as_ref()
                .map(InstanceCgroup::procs_files)
                .unwrap_or_default(),
            rlimits: prepared.rlimits.clone(),
            keep_fd: info_pipe.as_ref().map(|(_, write)| write.as_raw_fd()),
        },
    );

    let spawned = spawner::spawn(command, runtime);
    // Only the child may hold the write end now, so the read end sees EOF when bwrap is done.
    let info_read = info_pipe.map(|(read, _)| read);
    let tracked = spawned.and_then(|mut child| {
        let pid = child
            .id()
            .ok_or_else(|| io::Error::other("the process exited before it could be tracked"))?;
        match (child.stdin.take(), child.stdout.take(), child.stderr.take()) {
            (Some(stdin), Some(stdout), Some(stderr)) => Ok((child, pid, stdin, stdout, stderr)),
            _ => Err(io::Error::other("the process pipes were not created")),
        }
    });
    let network_stack = private_net
        .as_ref()
        .map(|private| private.stack().to_string());
    // bwrap waits before its exec until the network is up.
    let tracked = tracked.and_then(|tracked| match private_net {
        None => Ok((tracked, None)),
        Some(private) => match private.attach(Stdio::null()) {
            Ok(attached) => Ok((tracked, Some(attached))),
            Err(message) => {
                let (mut child, pid, ..) = tracked;
                let _ = killpg(group_of(pid), Signal::SIGKILL);
                let _ = child.start_kill();
                Err(io::Error::other(format!(
                    "the sandbox's network did not start: {message}"
                )))
            }
        },
    });
    let ((mut child, pid, stdin, stdout, stderr), attached) = match tracked {
        Ok(tracked) => tracked,
        Err(error) => {
            if let Some(cgroup) = &prepared.cgroup {
                cgroup.remove_now();
            }
            return Err(fail(error));
        }
    };
    logs.line(
        "catwalk",
        &start_line(spec, sandbox, pid, &prepared, network_stack.as_deref()),
    );
    for warning in &prepared.warnings {
        logs.line("catwalk", warning);
    }

    let (close_tx, close_rx) = watch::channel(false);
    let (exit_tx, exit_rx) = watch::channel(None);
    let stdin = Stdin::new(stdin, close_rx, logs.clone());
    let stdout = Stdout::new(stdout, logs.clone());
    tokio::spawn(lines::pump_stderr(stderr, logs.clone()));
    let (known_init, helper) = match attached {
        Some(Attached { init_pid, helper }) => (Some(init_pid), Some(helper)),
        None => (None, None),
    };
    let sandbox_init =
        info_read.map(|read| tokio::task::spawn_blocking(move || read_init_pid(read)));
    let sandboxed = sandbox.is_some();
    let waiter_logs = logs.clone();
    tokio::spawn(async move {
        let status = child.wait().await;
        // Before publishing the exit, so that a returned `stop` means the whole tree is gone.
        kill_leftovers(pid, waiter_logs.as_ref());
        let init = match sandbox_init {
            Some(task) => task.await.ok().flatten(),
            None => known_init,
        };
        let limit = finish_confinement(pid, init, &prepared, waiter_logs.as_ref()).await;
        // The network goes with the sandbox (its namespace is gone by now).
        if let Some(mut helper) = helper {
            let _ = tokio::task::spawn_blocking(move || helper.stop()).await;
        }
        let mut info = match status {
            Ok(status) if sandboxed => ExitInfo::from_sandbox(status),
            Ok(status) => ExitInfo::from(status),
            Err(error) => {
                waiter_logs.line("catwalk", &format!("waiting for pid {pid} failed: {error}"));
                ExitInfo {
                    code: None,
                    signal: None,
                    limit: None,
                }
            }
        };
        info.limit = limit;
        waiter_logs.line("catwalk", &format!("process {pid} {info}"));
        exit_tx.send_replace(Some(info));
    });

    Ok(Instance {
        stdin,
        stdout,
        pid,
        sandboxed,
        exit: exit_rx,
        close_stdin: close_tx,
        logs,
    })
}

fn start_line(
    spec: &ProcessSpec,
    sandbox: Option<(&Sandbox, &SandboxPolicy)>,
    pid: u32,
    prepared: &PreparedLimits,
    network_stack: Option<&str>,
) -> String {
    let mut line = format!("started {} (pid {pid})", spec.program.display());
    if let Some((sandbox, policy)) = sandbox {
        let network = match (policy.network, network_stack) {
            (false, _) => "off".to_string(),
            (true, Some(stack)) => format!("on, through {stack}"),
            (true, None) => "on, the host's, loopback included".to_string(),
        };
        line.push_str(&format!(
            " in a sandbox ({}, network {network})",
            sandbox.version()
        ));
    }
    if !prepared.summary.is_empty() {
        line.push_str(&format!(" with limits: {}", prepared.summary.join(", ")));
    }
    line
}

fn group_of(pid: u32) -> Pid {
    Pid::from_raw(pid as i32)
}

impl Instance {
    /// The process id, which is also its process group id. Sandboxed, it is bwrap's.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Whether the process runs in a bubblewrap sandbox.
    pub fn is_sandboxed(&self) -> bool {
        self.sandboxed
    }

    /// Resolves when the process exits, however it exits. Can be called any number of times;
    /// must be called inside a Tokio runtime (it spawns a small task).
    pub fn take_exit(&self) -> oneshot::Receiver<ExitInfo> {
        let (sender, receiver) = oneshot::channel();
        let mut exit = self.exit.clone();
        tokio::spawn(async move {
            if let Ok(info) = exit.wait_for(Option::is_some).await
                && let Some(info) = *info
            {
                let _ = sender.send(info);
            }
        });
        receiver
    }

    /// The exit as a watch: `None` while the process runs, then how it ended. For select loops
    /// that should not spawn a task per instance.
    pub fn exit_watch(&self) -> watch::Receiver<Option<ExitInfo>> {
        self.exit.clone()
    }

    /// How the process ended, or `None` while it runs.
    pub fn exited(&self) -> Option<ExitInfo> {
        *self.exit.borrow()
    }

    /// Stops the process: closes its stdin and waits `grace` (most servers exit on end of
    /// input), then SIGTERMs its process group (sandboxed: every process of it but bwrap's
    /// monitor) and waits `grace` again, then SIGKILLs the group. When it returns, whatever was
    /// left of the group, the sandbox and the cgroup has been SIGKILLed too.
    pub async fn stop(self, grace: Duration) -> ExitInfo {
        let pid = self.pid;
        self.close_stdin.send_replace(true);
        if let Some(info) = self.wait_exit(grace).await {
            return info;
        }
        self.logs.line(
            "catwalk",
            &format!("pid {pid} still running {grace:?} after its stdin closed: sending SIGTERM"),
        );
        if self.sandboxed {
            signal_group_members(pid, Signal::SIGTERM);
        } else {
            self.signal_group(Signal::SIGTERM);
        }
        if let Some(info) = self.wait_exit(grace).await {
            return info;
        }
        self.logs.line(
            "catwalk",
            &format!("pid {pid} still running {grace:?} after SIGTERM: sending SIGKILL"),
        );
        self.signal_group(Signal::SIGKILL);
        // The exit is published once the sandbox and cgroup are empty, which takes up to
        // KILL_WAIT more.
        if let Some(info) = self.wait_exit(KILL_WAIT * 2).await {
            return info;
        }
        self.logs.line(
            "catwalk",
            &format!("pid {pid} has not exited {KILL_WAIT:?} after SIGKILL; giving up on it"),
        );
        ExitInfo {
            code: None,
            signal: Some(Signal::SIGKILL as i32),
            limit: None,
        }
    }

    async fn wait_exit(&self, timeout: Duration) -> Option<ExitInfo> {
        let mut exit = self.exit.clone();
        match tokio::time::timeout(timeout, exit.wait_for(Option::is_some)).await {
            Ok(Ok(info)) => *info,
            // The time is up, or the waiter task is gone (the runtime is shutting down).
            Ok(Err(_)) | Err(_) => None,
        }
    }

    /// Only used while the process has not been seen to exit, so its pid is still its own.
    fn signal_group(&self, signal: Signal) {
        // ESRCH only means the group is already empty.
        let _ = killpg(group_of(self.pid), signal);
    }
}

impl Drop for Instance {
    /// A running instance dropped without [`Instance::stop`] (or with a cancelled stop) is
    /// killed: no one can talk to it any more. An exited one is left alone: its leftovers are
    /// already gone, and its pid may by now belong to someone else.
    fn drop(&mut self) {
        if self.exit.borrow().is_none() && killpg(group_of(self.pid), Signal::SIGKILL).is_ok() {
            self.logs.line(
                "catwalk",
                &format!(
                    "instance dropped while running: killed the process group of pid {}",
                    self.pid
                ),
            );
        }
    }
}
