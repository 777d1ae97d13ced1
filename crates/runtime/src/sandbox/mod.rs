//! Isolation of server processes and installs with bubblewrap (`bwrap`), and their resource
//! limits.
//!
//! A sandbox shows, at the same paths as on the host:
//! - read-only: the system (`/usr`, `/bin`, `/sbin`, `/lib*`), a short list of `/etc` entries
//!   (name resolution, TLS certificates, users, time zone; see `binds.rs`), the directories of
//!   the interpreters the program needs (found by following its `#!` line and the child's PATH,
//!   e.g. a pyenv or nvm installation), and the caller's read-only folders (the installed
//!   package);
//! - writable: the caller's folders (a deployment's HOME and data folder), which therefore
//!   persist across starts;
//! - private: a fresh `/tmp` (tmpfs), `/proc` of its own PID namespace (read-only), a minimal
//!   `/dev`.
//!
//! Nothing else of the host exists inside: not Catwalk's data directory, not other deployments'
//! folders, not other processes (own PID namespace), not the host's loopback services or abstract
//! Unix sockets (own network namespace, connected to the outside by slirp4netns: `netstack.rs`),
//! and no network at all when the policy says so (only a loopback). Every capability is dropped and the server
//! cannot create user namespaces of its own. Paths given as [`Sandbox::hide`] are checked
//! against every mount, so a layout that would show one is refused rather than run.
//!
//! Same paths inside and outside is deliberate: a virtual environment's scripts carry absolute
//! `#!` lines, and a HOME, working directory or path in the server's arguments means the same
//! thing sandboxed or not.

mod binds;
mod bwrap;
mod cgroup;
mod limits;
mod netstack;
#[cfg(test)]
mod tests;

use std::ffi::OsString;
use std::fmt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

pub(crate) use binds::{Mount, check_not_hidden};
pub(crate) use bwrap::{Layout, Network, Tmp};
pub(crate) use cgroup::InstanceCgroup;
pub use limits::{Enforcement, LimitSupport, ResourceLimits, limit_support};
pub(crate) use limits::{PreparedLimits, prepare as prepare_limits};
pub use netstack::NetStack;
pub(crate) use netstack::{Attached, PrivateNet, inherit_fds};

/// How long the availability probe may take before bwrap is declared unusable.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// A bubblewrap that was found and seen to work on this host. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Sandbox {
    bwrap: PathBuf,
    version: String,
    /// `--disable-userns` works (bubblewrap 0.8 and later).
    blocks_nested_userns: bool,
    /// `--size` for a tmpfs works (bubblewrap 0.7 and later); without it `/tmp` is unbounded
    /// but for the memory cgroup, which its pages count against.
    sizes_tmpfs: bool,
    hidden: Vec<PathBuf>,
    /// What connects sandboxes with network on, or why nothing does (then they share the
    /// host's network, its loopback included).
    network: Result<NetStack, String>,
}

/// Why processes cannot be sandboxed on this host; the message says what to do about it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct SandboxUnavailable {
    pub reason: String,
}

/// What one deployment's sandbox shows and allows.
#[derive(Clone, Debug)]
pub struct SandboxPolicy {
    /// The deployment's HOME on the host: writable, kept across starts. Must exist. The
    /// process's `HOME` variable should name it (see [`crate::base_env`]).
    pub home: PathBuf,
    /// The deployment's data folder on the host: writable, kept across starts. Must exist.
    pub data: PathBuf,
    /// Further folders shown read-only, typically [`crate::Installed::prefix`].
    pub read_only: Vec<PathBuf>,
    /// `false` gives the server a network namespace of its own with only a loopback: no
    /// connection leaves it. `true` gives it a network namespace of its own connected to the
    /// outside through slirp4netns, without the host's loopback (see
    /// [`Sandbox::network_stack`]); only where that does not work, the host's network.
    pub network: bool,
    pub limits: ResourceLimits,
}

impl SandboxPolicy {
    /// A policy with network, no further read-only folder and no limits.
    pub fn new(home: impl Into<PathBuf>, data: impl Into<PathBuf>) -> SandboxPolicy {
        SandboxPolicy {
            home: home.into(),
            data: data.into(),
            read_only: Vec::new(),
            network: true,
            limits: ResourceLimits::default(),
        }
    }
}

/// One sandboxed command, as the runtime's spawn and install paths describe it.
pub(crate) struct Request<'a> {
    pub program: &'a Path,
    /// The child's PATH, for finding the program and the interpreters it needs.
    pub path_var: Option<&'a str>,
    pub cwd: &'a Path,
    pub read_only: &'a [PathBuf],
    pub writable: &'a [PathBuf],
    pub network: Network,
    pub tmp: Tmp,
    pub info_fd: Option<i32>,
}

impl Sandbox {
    /// Finds `bwrap` on Catwalk's PATH and checks that it can create a sandbox here by running
    /// `true` in one with every namespace a server gets. Blocks for the probe (milliseconds).
    pub fn probe() -> Result<Sandbox, SandboxUnavailable> {
        Sandbox::probe_program(Path::new("bwrap"))
    }

    /// [`Sandbox::probe`] with a given bwrap executable (a path, or a name looked up on PATH).
    pub fn probe_program(program: &Path) -> Result<Sandbox, SandboxUnavailable> {
        let unavailable = |reason: String| SandboxUnavailable { reason };
        let path_var = std::env::var("PATH").ok();
        let Some(bwrap) = binds::resolve_program(program, path_var.as_deref(), Path::new("/"))
        else {
            return Err(unavailable(format!(
                "bubblewrap ({}) was not found{}: install it to run servers sandboxed \
                 (Debian and Ubuntu: `apt-get install bubblewrap`; Fedora: `dnf install \
                 bubblewrap`)",
                program.display(),
                if program.is_absolute() {
                    ""
                } else {
                    " on PATH"
                }
            )));
        };
        let version = run_bounded(Command::new(&bwrap).arg("--version")).map_err(|error| {
            unavailable(format!("`{} --version` failed: {error}", bwrap.display()))
        })?;
        let version = version.trim().to_string();

        let mut sandbox = Sandbox {
            bwrap,
            version,
            blocks_nested_userns: true,
            sizes_tmpfs: true,
            hidden: Vec::new(),
            network: Err(String::new()),
        };
        // An older bubblewrap lacks some options; everything else still applies. Each retry
        // drops the option it complained about.
        let mut error = match sandbox.run_probe() {
            Ok(_) => return Ok(sandbox.with_network_stack(Path::new("slirp4netns"))),
            Err(error) => error,
        };
        for _ in 0..2 {
            if error.contains("--disable-userns") && sandbox.blocks_nested_userns {
                sandbox.blocks_nested_userns = false;
            } else if error.contains("--size") && sandbox.sizes_tmpfs {
                sandbox.sizes_tmpfs = false;
            } else {
                break;
            }
            error = match sandbox.run_probe() {
                Ok(_) => return Ok(sandbox.with_network_stack(Path::new("slirp4netns"))),
                Err(error) => error,
            };
        }
        Err(unavailable(format!(
            "{} cannot create a sandbox on this host: {error}. It needs to create namespaces: \
             as root that works unless a container forbids it; as another user, unprivileged \
             user namespaces must be enabled (kernel.unprivileged_userns_clone=1, and on Ubuntu \
             24.04 and later an AppArmor profile allowing bwrap to use them)",
            sandbox.bwrap.display()
        )))
    }

    fn run_probe(&self) -> Result<String, String> {
        let mut command = Command::new(&self.bwrap);
        command
            .args(bwrap::probe_args(self))
            .arg("--")
            .arg("true")
            .env_clear()
            .env("PATH", "/usr/bin:/bin");
        run_bounded(&mut command)
    }

    /// Finds the network stack `program` (slirp4netns: a path, or a name on Catwalk's PATH)
    /// and checks it by starting a sandbox with a private network; [`Sandbox::probe`] does this
    /// with `slirp4netns`. Blocks for the check (tens of milliseconds).
    pub fn with_network_stack(mut self, program: &Path) -> Sandbox {
        self.network = NetStack::find(program).and_then(|stack| {
            self.run_network_probe(&stack).map_err(|error| {
                format!(
                    "{stack} cannot connect a sandbox: {error}. It needs to open /dev/net/tun \
                     and to enter the sandbox's namespaces"
                )
            })?;
            Ok(stack)
        });
        self
    }

    fn run_network_probe(&self, stack: &NetStack) -> Result<(), String> {
        let private = PrivateNet::new(stack).map_err(|error| error.to_string())?;
        let mut args = bwrap::probe_args(self);
        let layout = private.layout();
        bwrap::private_network_args(&mut args, &layout, private.info_fd());
        let mut command = Command::new(&self.bwrap);
        command
            .args(args)
            .arg("--")
            .arg("true")
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        inherit_fds(&mut command, private.child_fds());
        let mut child = command.spawn().map_err(|error| error.to_string())?;
        let attached = private.attach(Stdio::piped());
        let helper = match attached {
            Ok(attached) => attached.helper,
            Err(error) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(error);
            }
        };
        let deadline = std::time::Instant::now() + PROBE_TIMEOUT;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(2));
                }
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!("the sandbox did not end within {PROBE_TIMEOUT:?}"));
                }
                Err(error) => return Err(error.to_string()),
            }
        };
        drop(helper);
        if status.success() {
            return Ok(());
        }
        let mut err = String::new();
        if let Some(mut stderr) = child.stderr.take() {
            let _ = stderr.read_to_string(&mut err);
        }
        Err(format!("the sandbox {status}: {}", err.trim()))
    }

    /// What gives sandboxes with network on their own network, or why nothing does: then they
    /// run in the host's network, where the host's loopback services are reachable.
    pub fn network_stack(&self) -> Result<&NetStack, &str> {
        self.network.as_ref().map_err(String::as_str)
    }

    /// Paths no sandbox may show (Catwalk's database, vault key, admin token). A sandbox
    /// whose mounts would include one, or lie inside one, is refused at start.
    pub fn hide(mut self, paths: impl IntoIterator<Item = PathBuf>) -> Sandbox {
        self.hidden.extend(paths);
        self
    }

    pub fn program(&self) -> &Path {
        &self.bwrap
    }

    pub(crate) fn hidden(&self) -> &[PathBuf] {
        &self.hidden
    }

    /// As `bwrap --version` prints it, e.g. `bubblewrap 0.8.0`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Whether sandboxed processes are kept from creating user namespaces (bubblewrap 0.8+).
    pub fn blocks_nested_userns(&self) -> bool {
        self.blocks_nested_userns
    }

    /// The `bwrap` arguments before `--` for one command, and the program's host path.
    pub(crate) fn command_args(
        &self,
        request: &Request<'_>,
    ) -> io::Result<(PathBuf, Vec<OsString>)> {
        let invalid = |message: String| io::Error::new(io::ErrorKind::InvalidInput, message);
        binds::check_system_hides(&self.hidden).map_err(invalid)?;
        let program = binds::resolve_program(request.program, request.path_var, request.cwd)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!(
                        "No such file or directory: no executable {} {}",
                        request.program.display(),
                        if request.program.components().count() > 1 {
                            "exists".to_string()
                        } else {
                            "on the server's PATH".to_string()
                        }
                    ),
                )
            })?;

        let mut mounts = Vec::new();
        for (paths, writable) in [(request.read_only, false), (request.writable, true)] {
            for path in paths {
                let source = std::path::absolute(path).map_err(|error| {
                    invalid(format!("invalid path {}: {error}", path.display()))
                })?;
                if !source.exists() {
                    return Err(io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("the sandbox folder {} does not exist", source.display()),
                    ));
                }
                binds::check_not_hidden(&source, &self.hidden).map_err(invalid)?;
                mounts.push(Mount { source, writable });
            }
        }
        let cwd = std::path::absolute(request.cwd)
            .map_err(|error| invalid(format!("invalid working directory: {error}")))?;
        if !mounts.iter().any(|mount| cwd.starts_with(&mount.source)) {
            return Err(invalid(format!(
                "the working directory {} is not inside a folder the sandbox shows",
                cwd.display()
            )));
        }

        let mut tools = binds::ToolFinder::new(request.path_var, &self.hidden);
        tools.program(&program);
        tools.interpreters_on_path();
        let tool_mounts = tools
            .into_dirs()
            .into_iter()
            .filter(|dir| !mounts.iter().any(|mount| dir.starts_with(&mount.source)))
            .map(|source| Mount {
                source,
                writable: false,
            });
        let mut all: Vec<Mount> = tool_mounts.collect();
        all.extend(mounts);

        let layout = Layout {
            mounts: all,
            network: request.network.clone(),
            tmp: request.tmp.clone(),
            cwd,
            info_fd: request.info_fd,
        };
        Ok((program, bwrap::args(self, &layout)))
    }
}

impl fmt::Display for Sandbox {
    /// One line for a start banner or the dashboard.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.version, self.bwrap.display())?;
        if !self.blocks_nested_userns {
            write!(
                f,
                "; too old to keep servers from creating user namespaces (0.8 or later does)"
            )?;
        }
        if !self.sizes_tmpfs {
            write!(f, "; too old to cap the size of /tmp (0.7 or later does)")?;
        }
        match &self.network {
            Ok(stack) => write!(f, "; network through {stack}"),
            Err(reason) => write!(
                f,
                "; servers with network on share the host's network, its loopback services \
                 included: {reason}"
            ),
        }
    }
}

/// Runs a short command with stdout and stderr captured, failing after [`PROBE_TIMEOUT`].
/// Returns stdout on success, and stderr (or the status) otherwise.
fn run_bounded(command: &mut Command) -> Result<String, String> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| error.to_string())?;
    let (mut stdout, mut stderr) = (child.stdout.take(), child.stderr.take());
    let readers = std::thread::spawn(move || {
        let mut out = String::new();
        let mut err = String::new();
        if let Some(stdout) = stdout.as_mut() {
            let _ = stdout.read_to_string(&mut out);
        }
        if let Some(stderr) = stderr.as_mut() {
            let _ = stderr.read_to_string(&mut err);
        }
        (out, err)
    });
    let deadline = std::time::Instant::now() + PROBE_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("no answer within {PROBE_TIMEOUT:?}"));
            }
            Err(error) => return Err(error.to_string()),
        }
    };
    let (out, err) = readers.join().unwrap_or_default();
    if status.success() {
        Ok(out)
    } else {
        let err = err.trim();
        Err(if err.is_empty() {
            format!("it {status}")
        } else {
            err.lines().last().unwrap_or(err).to_string()
        })
    }
}
