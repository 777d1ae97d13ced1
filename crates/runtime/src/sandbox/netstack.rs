//! The network of a sandbox with network on: a network namespace of its own, connected to the
//! outside by slirp4netns, a user-mode TCP/IP stack that makes the sandbox's connections from
//! Catwalk's side with ordinary sockets.
//!
//! Sharing the host's network namespace would let a server reach every service listening on the
//! host's loopback: Catwalk's own API, and a database that trusts local connections. In its own
//! namespace, 127.0.0.1 is the sandbox's own loopback, and slirp4netns runs with
//! `--disable-host-loopback`, so the gateway address does not lead to the host's loopback
//! either. Everything else (the internet, the local network, the host's non-loopback
//! addresses) is reachable as from Catwalk itself.
//!
//! The order of a start: bwrap creates the namespaces and reports the sandbox's pid on its
//! `--info-fd`, then waits on `--block-fd` before it executes the server; slirp4netns attaches
//! to that pid, creates and configures `tap0`, and says so on `--ready-fd`; only then is the
//! server released. So the server never runs without its network.
//!
//! Lifetime: slirp4netns exits when its `--exit-fd` sees the other end close. Catwalk holds that
//! end alone and drops it when the sandbox is gone; if Catwalk dies (even by `kill -9`) the
//! kernel closes it. Nothing outlives the server or Catwalk.
//!
//! Name resolution: when the host's resolvers are not on loopback, the sandbox reads the host's
//! own `resolv.conf` and reaches them like any other address, and slirp4netns's built-in DNS
//! forwarder stays off (it forwards every port of its address to the host's first resolver, a
//! loopback address included). A host whose `resolv.conf` names only a loopback resolver (a
//! local caching resolver) gets systemd-resolved's upstream list when there is one, and otherwise
//! the forwarder, which the status line then mentions.

use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::binds;

/// How long bwrap and slirp4netns together may take to bring a sandbox's network up.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// slirp4netns's built-in DNS forwarder, at network address + 3 of its default 10.0.2.0/24.
const FORWARDER: &str = "10.0.2.3";
/// systemd-resolved's list of upstream resolvers, behind its loopback stub.
const RESOLVED_UPSTREAMS: &str = "/run/systemd/resolve/resolv.conf";

/// slirp4netns, found and seen to work. Cheap to clone.
#[derive(Clone, Debug)]
pub struct NetStack {
    program: PathBuf,
    version: String,
    resolv: Resolv,
}

/// Where a sandbox's `/etc/resolv.conf` comes from.
#[derive(Clone, Debug)]
pub(crate) enum Resolv {
    /// The host's own, bound like the rest of `/etc`.
    Host,
    /// Another host file, bound at `/etc/resolv.conf`.
    File(PathBuf),
    /// Generated text naming the forwarder (given to bwrap through a pipe).
    Forwarder(String),
}

impl NetStack {
    /// Finds `program` (a path, or a name on Catwalk's PATH) and reads its version. Whether it
    /// works is seen by [`super::Sandbox::probe`], which starts a sandbox with it.
    pub(crate) fn find(program: &Path) -> Result<NetStack, String> {
        let path_var = std::env::var("PATH").ok();
        let Some(found) = binds::resolve_program(program, path_var.as_deref(), Path::new("/"))
        else {
            return Err(format!(
                "slirp4netns ({}) was not found: install it to give sandboxed servers a \
                 network without the host's loopback (Debian and Ubuntu: `apt-get install \
                 slirp4netns`; Fedora: `dnf install slirp4netns`)",
                program.display()
            ));
        };
        let output = Command::new(&found)
            .arg("--version")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .map_err(|error| format!("`{} --version` failed: {error}", found.display()))?;
        let text = String::from_utf8_lossy(&output.stdout);
        let version = text.lines().next().unwrap_or_default().trim().to_string();
        if !output.status.success() || version.is_empty() {
            return Err(format!(
                "`{} --version` failed ({})",
                found.display(),
                output.status
            ));
        }
        let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let upstreams = std::fs::read_to_string(RESOLVED_UPSTREAMS).unwrap_or_default();
        Ok(NetStack {
            program: found,
            version,
            resolv: choose_resolv(&host, &upstreams),
        })
    }

    pub fn program(&self) -> &Path {
        &self.program
    }

    /// As `slirp4netns --version` prints it first, e.g. `slirp4netns version 1.2.0`.
    pub fn version(&self) -> &str {
        &self.version
    }
}

impl std::fmt::Display for NetStack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.version, self.program.display())?;
        match &self.resolv {
            Resolv::Host => Ok(()),
            Resolv::File(file) => write!(f, "; names resolved through {}", file.display()),
            Resolv::Forwarder(_) => write!(
                f,
                "; the host's resolver is on loopback, so sandboxes resolve names through \
                 slirp4netns's forwarder ({FORWARDER}), which reaches that loopback address on \
                 every port"
            ),
        }
    }
}

/// Picks the sandbox's resolver configuration from the host's `resolv.conf` and
/// systemd-resolved's upstream list.
pub(crate) fn choose_resolv(host: &str, resolved_upstreams: &str) -> Resolv {
    let reachable = |text: &str| nameservers(text).iter().any(|ip| !ip.is_loopback());
    if reachable(host) {
        Resolv::Host
    } else if reachable(resolved_upstreams) {
        Resolv::File(PathBuf::from(RESOLVED_UPSTREAMS))
    } else {
        let mut text = format!("nameserver {FORWARDER}\n");
        for line in host.lines() {
            let first = line.split_whitespace().next().unwrap_or_default();
            if matches!(first, "search" | "domain" | "options") {
                text.push_str(line);
                text.push('\n');
            }
        }
        Resolv::Forwarder(text)
    }
}

fn nameservers(text: &str) -> Vec<IpAddr> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some("nameserver"))
                .then(|| words.next())
                .flatten()
                .and_then(|address| address.split('%').next()?.parse().ok())
        })
        .collect()
}

/// The descriptors of one start with a private network, made before bwrap is spawned. bwrap
/// inherits the child ends ([`PrivateNet::child_fds`]); [`PrivateNet::attach`] drops them in
/// Catwalk and does the rest.
pub(crate) struct PrivateNet {
    info_read: OwnedFd,
    info_write: OwnedFd,
    block_read: OwnedFd,
    block_write: OwnedFd,
    resolv_read: Option<OwnedFd>,
    stack: NetStack,
}

impl PrivateNet {
    pub(crate) fn new(stack: &NetStack) -> io::Result<PrivateNet> {
        let (info_read, info_write) = cloexec_pipe()?;
        let (block_read, block_write) = cloexec_pipe()?;
        let resolv_read = match &stack.resolv {
            Resolv::Forwarder(text) => {
                let (read, write) = cloexec_pipe()?;
                // A few hundred bytes: the pipe's buffer holds them, so this cannot block.
                std::fs::File::from(write).write_all(text.as_bytes())?;
                Some(read)
            }
            _ => None,
        };
        Ok(PrivateNet {
            info_read,
            info_write,
            block_read,
            block_write,
            resolv_read,
            stack: stack.clone(),
        })
    }

    pub(crate) fn info_fd(&self) -> RawFd {
        self.info_write.as_raw_fd()
    }

    pub(crate) fn block_fd(&self) -> RawFd {
        self.block_read.as_raw_fd()
    }

    /// The descriptor bwrap reads the generated `resolv.conf` from, if there is one.
    pub(crate) fn resolv_fd(&self) -> Option<RawFd> {
        self.resolv_read.as_ref().map(AsRawFd::as_raw_fd)
    }

    pub(crate) fn stack(&self) -> &NetStack {
        &self.stack
    }

    /// What bwrap must inherit across its exec.
    pub(crate) fn child_fds(&self) -> Vec<RawFd> {
        let mut fds = vec![self.info_fd(), self.block_fd()];
        fds.extend(self.resolv_fd());
        fds
    }

    /// After bwrap was spawned: reads the sandbox's pid, starts slirp4netns on it, waits until
    /// the network is up, then lets bwrap execute the program. On an error the caller must kill
    /// bwrap (it waits on its block descriptor forever otherwise; it also dies when this
    /// process does).
    pub(crate) fn attach(self, stderr: Stdio) -> Result<Attached, String> {
        let PrivateNet {
            info_read,
            info_write,
            block_read,
            block_write,
            resolv_read,
            stack,
        } = self;
        // Only bwrap holds these now, so a bwrap that dies is seen as an end of file.
        drop((info_write, block_read, resolv_read));
        let deadline = Instant::now() + START_TIMEOUT;
        let init_pid = read_child_pid(info_read, deadline)?;
        let owner = owning_userns(init_pid)?;
        wait_for_loopback(init_pid, deadline)?;

        let (exit_read, exit_write) = cloexec_pipe().map_err(|e| e.to_string())?;
        let (ready_read, ready_write) = cloexec_pipe().map_err(|e| e.to_string())?;
        let mut command = Command::new(&stack.program);
        command
            .args([
                "--configure",
                "--mtu=65520",
                "--disable-host-loopback",
                // As root it drops every capability but binding low ports and sees only /etc
                // and /run; as another user it keeps to the sandbox's user namespace.
                "--enable-sandbox",
                "--enable-seccomp",
            ])
            .arg(format!("--exit-fd={}", exit_read.as_raw_fd()))
            .arg(format!("--ready-fd={}", ready_write.as_raw_fd()))
            .arg(format!("--userns-path=/proc/self/fd/{}", owner.as_raw_fd()));
        if !matches!(stack.resolv, Resolv::Forwarder(_)) {
            command.arg("--disable-dns");
        }
        command
            .arg(init_pid.to_string())
            .arg("tap0")
            .env_clear()
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            // Out of Catwalk's process group: a Ctrl-C at Catwalk's terminal is Catwalk's to
            // handle; the network goes when the sandbox does.
            .process_group(0);
        inherit_fds(
            &mut command,
            vec![
                exit_read.as_raw_fd(),
                ready_write.as_raw_fd(),
                owner.as_raw_fd(),
            ],
        );
        let child = command
            .spawn()
            .map_err(|error| format!("cannot start {}: {error}", stack.program.display()))?;
        drop((exit_read, ready_write, owner));
        let mut helper = Helper {
            child,
            exit_write: Some(exit_write),
        };
        match wait_readable(&ready_read, deadline) {
            Ok(()) => {}
            Err(error) => {
                let status = helper.stop();
                return Err(format!(
                    "slirp4netns did not start the network ({error}; {status})"
                ));
            }
        }
        let mut ready = [0u8; 1];
        let read = std::fs::File::from(ready_read)
            .read(&mut ready)
            .unwrap_or(0);
        if read != 1 || ready[0] != b'1' {
            let status = helper.stop();
            return Err(format!(
                "slirp4netns could not set up the network ({status})"
            ));
        }
        std::fs::File::from(block_write)
            .write_all(b"1")
            .map_err(|error| format!("cannot release the sandbox: {error}"))?;
        Ok(Attached { init_pid, helper })
    }
}

/// A sandbox whose network is up.
pub(crate) struct Attached {
    /// The host pid of the sandbox's PID 1, as bwrap reported it.
    pub init_pid: u32,
    pub helper: Helper,
}

/// A running slirp4netns. Dropping it ends it.
pub(crate) struct Helper {
    child: Child,
    exit_write: Option<OwnedFd>,
}

impl Helper {
    /// Ends slirp4netns and reaps it; says how it ended.
    pub(crate) fn stop(&mut self) -> String {
        // Closing the exit descriptor is its own way out; the kill makes sure, the wait reaps.
        self.exit_write = None;
        let _ = self.child.kill();
        let mut said = match self.child.wait() {
            Ok(status) => format!("slirp4netns {status}"),
            Err(error) => format!("waiting for slirp4netns failed: {error}"),
        };
        // Only the probe captures what it says (see `attach`); its last line is the reason.
        if let Some(mut stderr) = self.child.stderr.take() {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            let mut last: Vec<&str> = text
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty())
                .rev()
                .take(3)
                .collect();
            last.reverse();
            if !last.is_empty() {
                said.push_str(&format!(": {}", last.join("; ")));
            }
        }
        said
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        self.stop();
    }
}

fn cloexec_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(nix::unistd::pipe2(OFlag::O_CLOEXEC)?)
}

/// Lets `fds` (made close-on-exec, so that no other child of Catwalk inherits them) survive
/// the exec of `command`.
#[allow(unsafe_code)]
pub(crate) fn inherit_fds(command: &mut Command, fds: Vec<RawFd>) {
    // SAFETY: runs in the forked child before exec and only calls fcntl, which is
    // async-signal-safe; it allocates nothing (the vector was built before the fork).
    unsafe {
        command.pre_exec(move || {
            for fd in &fds {
                if libc::fcntl(*fd, libc::F_SETFD, 0) < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

/// Reads bwrap's `--info-fd` JSON up to its closing brace (the sandbox, blocked before its
/// exec, still holds the descriptor, so no end of file comes) and returns `child-pid`.
fn read_child_pid(info: OwnedFd, deadline: Instant) -> Result<u32, String> {
    let mut file = std::fs::File::from(info);
    let mut text = Vec::new();
    let mut buffer = [0u8; 512];
    while !text.contains(&b'}') {
        wait_readable(&file, deadline).map_err(|error| format!("bwrap {error}"))?;
        match file.read(&mut buffer) {
            Ok(0) => return Err("bwrap ended before it created the sandbox".to_string()),
            Ok(read) => text.extend_from_slice(&buffer[..read]),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(format!("reading bwrap's pid failed: {error}")),
        }
    }
    let text = String::from_utf8_lossy(&text);
    let digits: String = text
        .split_once("\"child-pid\"")
        .map(|(_, after)| after.trim_start_matches([':', ' ', '\t', '\n']))
        .unwrap_or_default()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits
        .parse()
        .map_err(|_| format!("bwrap reported no pid: {text}"))
}

/// The user namespace that owns the sandbox's network namespace, which slirp4netns must join to
/// configure it. Not simply the sandbox's current one: with `--disable-userns`, bwrap moves into
/// a nested user namespace just before its exec, and from there the network namespace is out of
/// reach.
#[allow(unsafe_code)]
fn owning_userns(init_pid: u32) -> Result<OwnedFd, String> {
    use std::os::fd::FromRawFd;
    // _IO(0xb7, 0x1) from linux/nsfs.h.
    const NS_GET_USERNS: libc::c_ulong = 0xb701;
    let netns = std::fs::File::open(format!("/proc/{init_pid}/ns/net"))
        .map_err(|error| format!("cannot open the sandbox's network namespace: {error}"))?;
    // SAFETY: NS_GET_USERNS takes no argument and returns a new descriptor, which is owned
    // from here on, or -1.
    let fd = unsafe { libc::ioctl(netns.as_raw_fd(), NS_GET_USERNS as _) };
    if fd < 0 {
        return Err(format!(
            "cannot find the owner of the sandbox's network namespace: {}",
            io::Error::last_os_error()
        ));
    }
    // SAFETY: `fd` was just returned by the kernel and nothing else holds it.
    let owner = unsafe { OwnedFd::from_raw_fd(fd) };
    nix::fcntl::fcntl(
        owner.as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    )
    .map_err(|error| error.to_string())?;
    Ok(owner)
}

/// Waits until bwrap has brought up the sandbox's loopback (it does so after it reported the
/// pid, while slirp4netns would bring it up too: when both do, bwrap's address request fails
/// and the sandbox with it). The kernel lists 127.0.0.1's local route only once `lo` is up with
/// its address; nothing of bwrap's touches the network after that.
fn wait_for_loopback(init_pid: u32, deadline: Instant) -> Result<(), String> {
    let routes = format!("/proc/{init_pid}/net/fib_trie");
    loop {
        match std::fs::read_to_string(&routes) {
            Ok(text) if text.contains("127.0.0.1") => return Ok(()),
            Ok(_) => {}
            Err(error) => return Err(format!("the sandbox ended while it started ({error})")),
        }
        if Instant::now() > deadline {
            return Err(format!(
                "bwrap did not bring up the loopback within {START_TIMEOUT:?}"
            ));
        }
        std::thread::sleep(Duration::from_micros(500));
    }
}

/// Waits until `fd` is readable (data or end of file) or `deadline` passes.
fn wait_readable(fd: &impl AsFd, deadline: Instant) -> Result<(), String> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("gave no answer within {START_TIMEOUT:?}"));
        }
        let timeout = PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, timeout) {
            Ok(0) => continue,
            Ok(_) => return Ok(()),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(error) => return Err(error.to_string()),
        }
    }
}

impl PrivateNet {
    /// The network part of bwrap's layout for this start.
    pub(crate) fn layout(&self) -> super::bwrap::Network {
        super::bwrap::Network::Private {
            block_fd: self.block_fd(),
            resolv_file: match &self.stack.resolv {
                Resolv::File(file) => Some(file.clone()),
                _ => None,
            },
            resolv_fd: self.resolv_fd(),
        }
    }
}
