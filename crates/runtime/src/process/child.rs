//! What the forked child does before it executes the server (or bwrap): leave Catwalk's session,
//! arrange to die with Catwalk, join its cgroups, take its rlimits.

use std::ffi::CString;
use std::io;
use std::os::fd::RawFd;

use nix::sys::resource::{Resource, setrlimit};
use nix::sys::signal::Signal;
use tokio::process::Command;

#[derive(Default)]
pub(crate) struct ChildSetup {
    /// `cgroup.procs` files to write `0` (this process) into.
    pub cgroup_procs: Vec<CString>,
    /// Soft and hard limit alike, so the server cannot raise them back.
    pub rlimits: Vec<(Resource, u64)>,
    /// A descriptor to pass on across exec (bwrap's `--info-fd`).
    pub keep_fd: Option<RawFd>,
}

/// Installs the pre-exec steps:
/// - `setsid`: the child leads a new session and process group, so group signals reach its
///   whole tree, and it has no controlling terminal (nothing in it can inject input into the
///   terminal Catwalk was started from);
/// - `PR_SET_PDEATHSIG(SIGKILL)`, so it dies if Catwalk dies (see `spawner.rs`);
/// - joining its cgroups before exec, so every descendant is born inside them;
/// - its rlimits.
#[allow(unsafe_code)]
pub(crate) fn prepare(command: &mut Command, setup: ChildSetup) {
    let parent = nix::unistd::getpid();
    // SAFETY: the closure runs in the forked child before exec. It only makes system calls
    // (setsid, prctl, getppid, open, write, close, setrlimit, fcntl), all async-signal-safe, and
    // allocates nothing: the paths were built before the fork, errors are raw OS errors.
    unsafe {
        command.pre_exec(move || {
            nix::unistd::setsid()?;
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
            // The parent may have died between fork and prctl; then no signal would ever come.
            if nix::unistd::getppid() != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            for procs in &setup.cgroup_procs {
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd < 0 {
                    return Err(io::Error::last_os_error());
                }
                let written = libc::write(fd, b"0".as_ptr().cast(), 1);
                let error = io::Error::last_os_error();
                libc::close(fd);
                if written != 1 {
                    return Err(error);
                }
            }
            for (resource, value) in &setup.rlimits {
                setrlimit(*resource, *value, *value)?;
            }
            if let Some(fd) = setup.keep_fd
                && libc::fcntl(fd, libc::F_SETFD, 0) < 0
            {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}
