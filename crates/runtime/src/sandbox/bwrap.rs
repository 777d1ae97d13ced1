//! The `bwrap` command line of a sandbox.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::Sandbox;
use super::binds::{ETC_PATHS, Mount, SYSTEM_DIRS};

/// Where the sandbox's `/tmp` comes from.
#[derive(Clone, Debug)]
pub(crate) enum Tmp {
    /// A fresh tmpfs, optionally capped in bytes (its pages count against the memory cgroup).
    Tmpfs(Option<u64>),
    /// A host directory (installs, whose builds may need more room than memory holds).
    Host(PathBuf),
}

/// A sandbox's network.
#[derive(Clone, Debug)]
pub(crate) enum Network {
    /// A network namespace of its own with only a loopback.
    Off,
    /// The host's network namespace, its loopback included (when no network stack works).
    Host,
    /// A network namespace of its own that a network stack connects (see `netstack.rs`): bwrap
    /// waits on `block_fd` before its exec until the stack is up. Needs `info_fd`.
    Private {
        block_fd: i32,
        /// A host file to show at `/etc/resolv.conf` instead of the host's.
        resolv_file: Option<PathBuf>,
        /// A descriptor bwrap reads `/etc/resolv.conf` from instead.
        resolv_fd: Option<i32>,
    },
}

/// Everything of one sandbox besides the system part.
#[derive(Clone, Debug)]
pub(crate) struct Layout {
    /// Shown at the same path inside; read-only ones are mounted first, so a writable folder
    /// inside a read-only one stays writable.
    pub mounts: Vec<Mount>,
    pub network: Network,
    pub tmp: Tmp,
    pub cwd: PathBuf,
    /// A descriptor inherited by bwrap, on which it writes the host pid of the sandbox's PID 1.
    pub info_fd: Option<i32>,
}

/// The arguments of `bwrap` up to and excluding `--`.
///
/// No `--setenv`: a command line is readable by every user of the host through `/proc`, and
/// environments carry credentials. bwrap passes its own environment, which the caller sets to
/// exactly the server's, to the server (adding only `PWD`).
///
/// No `--new-session`: it would move the server into a process group of its own, out of reach
/// of the group signals that stop it. The spawner's `setsid` already detaches the whole sandbox
/// from any controlling terminal, which is what `--new-session` protects against.
pub(crate) fn args(sandbox: &Sandbox, layout: &Layout) -> Vec<OsString> {
    let mut args = Args::default();
    let private = matches!(layout.network, Network::Off | Network::Private { .. });
    namespaces(&mut args, sandbox, !private);
    system(&mut args);
    if let Network::Private {
        resolv_file,
        resolv_fd,
        ..
    } = &layout.network
    {
        // Over the host's file, which `system` bound.
        if let Some(file) = resolv_file {
            args.paths("--ro-bind", file, Path::new("/etc/resolv.conf"));
        }
        if let Some(fd) = resolv_fd {
            args.push(["--ro-bind-data", &fd.to_string(), "/etc/resolv.conf"]);
        }
    }
    match &layout.tmp {
        Tmp::Tmpfs(size) => {
            if let Some(size) = size
                && sandbox.sizes_tmpfs
            {
                args.push(["--size", &size.to_string()]);
            }
            args.push(["--tmpfs", "/tmp"]);
        }
        Tmp::Host(dir) => args.paths("--bind", dir, Path::new("/tmp")),
    }
    let (writable, read_only): (Vec<&Mount>, Vec<&Mount>) =
        layout.mounts.iter().partition(|mount| mount.writable);
    for mount in read_only {
        args.paths("--ro-bind", &mount.source, &mount.source);
    }
    for mount in writable {
        args.paths("--bind", &mount.source, &mount.source);
    }
    // The root is bwrap's own tmpfs: without this, uid 0 in the sandbox could write to it.
    args.push(["--remount-ro", "/"]);
    args.paths_one("--chdir", &layout.cwd);
    if let Some(fd) = layout.info_fd {
        args.push(["--info-fd", &fd.to_string()]);
    }
    if let Network::Private { block_fd, .. } = &layout.network {
        args.push(["--block-fd", &block_fd.to_string()]);
    }
    args.0
}

/// Adds to the probe's arguments what a start with a private network has besides them.
pub(crate) fn private_network_args(args: &mut Vec<OsString>, network: &Network, info_fd: i32) {
    if let Network::Private { block_fd, .. } = network {
        let mut extra = Args::default();
        extra.push(["--info-fd", &info_fd.to_string()]);
        extra.push(["--block-fd", &block_fd.to_string()]);
        args.extend(extra.0);
    }
}

/// The arguments of the availability probe: every namespace, the system part and a sized
/// `/tmp`, as a real sandbox without network has them.
pub(crate) fn probe_args(sandbox: &Sandbox) -> Vec<OsString> {
    let mut args = Args::default();
    namespaces(&mut args, sandbox, false);
    system(&mut args);
    if sandbox.sizes_tmpfs {
        args.push(["--size", "1048576"]);
    }
    args.push(["--tmpfs", "/tmp", "--remount-ro", "/"]);
    args.0
}

fn namespaces(args: &mut Args, sandbox: &Sandbox, network: bool) {
    // A user namespace even when Catwalk is root: it is what lets `--disable-userns` keep the
    // server from creating namespaces of its own (the kernel surface most escapes go through).
    args.push(["--unshare-user"]);
    if sandbox.blocks_nested_userns {
        args.push(["--disable-userns"]);
    }
    args.push([
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        // bwrap started by root keeps every capability unless told otherwise.
        "--cap-drop",
        "ALL",
    ]);
    if !network {
        args.push(["--unshare-net"]);
    }
}

fn system(args: &mut Args) {
    for dir in SYSTEM_DIRS {
        let path = Path::new(dir);
        let Ok(meta) = path.symlink_metadata() else {
            continue;
        };
        if meta.file_type().is_symlink() {
            if let Ok(target) = std::fs::read_link(path) {
                args.paths("--symlink", &target, path);
            }
        } else if meta.is_dir() {
            args.paths("--ro-bind", path, path);
        }
    }
    for path in ETC_PATHS {
        args.push(["--ro-bind-try", path, path]);
    }
    // A procfs of the sandbox's own PID namespace, read-only: as uid 0, even without
    // capabilities, the server could otherwise write to /proc/sys and /proc/sysrq-trigger.
    args.push(["--proc", "/proc", "--remount-ro", "/proc", "--dev", "/dev"]);
}

#[derive(Default)]
struct Args(Vec<OsString>);

impl Args {
    fn push<const N: usize>(&mut self, items: [&str; N]) {
        self.0.extend(items.iter().map(OsString::from));
    }

    fn paths(&mut self, flag: &str, source: &Path, dest: &Path) {
        self.0.push(flag.into());
        self.0.push(source.into());
        self.0.push(dest.into());
    }

    fn paths_one(&mut self, flag: &str, path: &Path) {
        self.0.push(flag.into());
        self.0.push(path.into());
    }
}
