//! Runs one stdio MCP server as a child process that Catwalk fully owns.
//!
//! Ownership means no orphans:
//! - the child leads its own process group, and stopping signals the whole group, so wrapper
//!   chains (`sh` -> `npm` -> `node`) die together;
//! - the child gets `PR_SET_PDEATHSIG(SIGKILL)`, so it dies if Catwalk dies, even by `kill -9`
//!   (see `spawner.rs` for why every fork happens on one dedicated thread). The death signal
//!   reaches the direct child only; grandchildren are covered by the group kill of
//!   [`Instance::stop`] and `Drop`, and after a `kill -9` of Catwalk only by the PID namespace of
//!   the bubblewrap sandbox that will wrap this spawn;
//! - when the child exits, whatever is left in its group is SIGKILLed at once (a server that is
//!   gone has no business leaving helpers behind, and right after the exit the group id cannot
//!   yet belong to anyone else);
//! - dropping an [`Instance`] whose process still runs kills the group.
//!
//! A process that calls `setsid` itself leaves the group and escapes all of this; the sandbox's
//! PID namespace is the answer to that too.

mod lines;
mod spawner;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::Command;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot, watch};

use crate::RuntimeError;

/// Messages buffered in each direction before the sender waits: enough to absorb bursts, small
/// enough that a stuck server pushes back on its clients instead of growing memory.
const CHANNEL_CAPACITY: usize = 64;
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
}

impl From<std::process::ExitStatus> for ExitInfo {
    fn from(status: std::process::ExitStatus) -> Self {
        use std::os::unix::process::ExitStatusExt;
        ExitInfo {
            code: status.code(),
            signal: status.signal(),
        }
    }
}

impl fmt::Display for ExitInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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
    /// One JSON-RPC message per item, without a trailing newline (the writer adds it).
    pub stdin: mpsc::Sender<String>,
    /// One stdout line per item. Closes when the process closes its stdout (normally at exit).
    pub stdout: mpsc::Receiver<String>,
    pid: u32,
    exit: watch::Receiver<Option<ExitInfo>>,
    close_stdin: watch::Sender<bool>,
    logs: Arc<dyn LogSink>,
}

impl fmt::Debug for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Instance")
            .field("pid", &self.pid)
            .field("exit", &*self.exit.borrow())
            .finish()
    }
}

/// Starts `spec` as a child process. Must be called inside a Tokio runtime; the I/O tasks run
/// on it.
pub fn spawn(spec: &ProcessSpec, logs: Arc<dyn LogSink>) -> Result<Instance, RuntimeError> {
    let fail = |source: io::Error| RuntimeError::Spawn {
        program: spec.program.clone(),
        source,
    };
    let runtime = Handle::try_current()
        .map_err(|_| fail(io::Error::other("spawn was called outside a Tokio runtime")))?;

    let mut command = Command::new(&spec.program);
    command
        .args(&spec.args)
        .env_clear()
        .envs(&spec.env)
        .current_dir(&spec.cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        // Last resort: if the task owning the child is dropped (runtime shutdown), kill it.
        .kill_on_drop(true);
    die_with_parent(&mut command);

    let mut child = spawner::spawn(command, runtime).map_err(fail)?;
    let pid = child.id().ok_or_else(|| {
        fail(io::Error::other(
            "the process exited before it could be tracked",
        ))
    })?;
    let (Some(stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(fail(io::Error::other("the process pipes were not created")));
    };
    logs.line(
        "catwalk",
        &format!("started {} (pid {pid})", spec.program.display()),
    );

    let (stdin_tx, stdin_rx) = mpsc::channel(CHANNEL_CAPACITY);
    let (stdout_tx, stdout_rx) = mpsc::channel(CHANNEL_CAPACITY);
    let (close_tx, close_rx) = watch::channel(false);
    let (exit_tx, exit_rx) = watch::channel(None);
    tokio::spawn(lines::pump_stdin(stdin, stdin_rx, close_rx, logs.clone()));
    tokio::spawn(lines::pump_stdout(stdout, stdout_tx, logs.clone()));
    tokio::spawn(lines::pump_stderr(stderr, logs.clone()));
    let waiter_logs = logs.clone();
    tokio::spawn(async move {
        let info = match child.wait().await {
            Ok(status) => ExitInfo::from(status),
            Err(error) => {
                waiter_logs.line("catwalk", &format!("waiting for pid {pid} failed: {error}"));
                ExitInfo {
                    code: None,
                    signal: None,
                }
            }
        };
        // Before publishing the exit, so that a returned `stop` means the whole group is gone.
        kill_leftovers(pid, waiter_logs.as_ref());
        waiter_logs.line("catwalk", &format!("process {pid} {info}"));
        exit_tx.send_replace(Some(info));
    });

    Ok(Instance {
        stdin: stdin_tx,
        stdout: stdout_rx,
        pid,
        exit: exit_rx,
        close_stdin: close_tx,
        logs,
    })
}

/// Makes the kernel SIGKILL the child when its parent goes away.
#[allow(unsafe_code)]
fn die_with_parent(command: &mut Command) {
    let parent = nix::unistd::getpid();
    // SAFETY: the closure runs in the forked child before exec. It only makes the prctl and
    // getppid system calls, which are async-signal-safe, and allocates nothing (errors are raw
    // OS errors).
    unsafe {
        command.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
            // The parent may have died between fork and prctl; then no signal would ever come.
            if nix::unistd::getppid() != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

/// Kills what an exited server left running in its group (a grandchild it spawned and forgot).
///
/// Called right after the process was reaped. Its pid is then free again, but a group id stays
/// reserved while any member lives, and if none does, a new group could only get this id after
/// the pid counter wrapped around in the meantime.
fn kill_leftovers(pid: u32, logs: &dyn LogSink) {
    if killpg(group_of(pid), Signal::SIGKILL).is_ok() {
        logs.line(
            "catwalk",
            &format!("killed processes left behind in the process group of pid {pid}"),
        );
    }
}

fn group_of(pid: u32) -> Pid {
    Pid::from_raw(pid as i32)
}

impl Instance {
    /// The process id, which is also its process group id.
    pub fn pid(&self) -> u32 {
        self.pid
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
    /// input), then SIGTERMs its process group and waits `grace` again, then SIGKILLs the group.
    /// When it returns, whatever was left of the group has been SIGKILLed too.
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
        self.signal_group(Signal::SIGTERM);
        if let Some(info) = self.wait_exit(grace).await {
            return info;
        }
        self.logs.line(
            "catwalk",
            &format!("pid {pid} still running {grace:?} after SIGTERM: sending SIGKILL"),
        );
        self.signal_group(Signal::SIGKILL);
        if let Some(info) = self.wait_exit(KILL_WAIT).await {
            return info;
        }
        self.logs.line(
            "catwalk",
            &format!("pid {pid} has not exited {KILL_WAIT:?} after SIGKILL; giving up on it"),
        );
        ExitInfo {
            code: None,
            signal: Some(Signal::SIGKILL as i32),
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
