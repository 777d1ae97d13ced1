//! The local runtime: install MCP server packages once into a cache, and run stdio MCP servers as
//! child processes that Catwalk fully owns.
//!
//! Two independent halves:
//!
//! - [`Installer`] turns `npm:<name>@<version>` or `pypi:<name>==<version>` (or a local folder)
//!   into an executable on disk, once per version, so that starting or waking a server never
//!   needs the network.
//! - [`spawn`] starts one server process with exactly the environment it is given, exposes its
//!   stdin and stdout as message pipes used directly by the tasks that send and wait, sends its stderr to a [`LogSink`], and [`Instance::stop`]
//!   takes down the whole process group. [`spawn_sandboxed`] does the same inside a bubblewrap
//!   sandbox ([`Sandbox`], [`SandboxPolicy`]) with enforced [`ResourceLimits`];
//!   [`spawn_with_limits`] applies the limits without the sandbox.
//!
//! The [`Installer`] runs npm and pip in the same kind of sandbox when given one.
//!
//! Supervision (restarts with backoff, health checks, idle sleep) is the server crate's, built on
//! [`Instance::take_exit`] and [`Instance::stop`]. This crate knows nothing about HTTP or MCP
//! sessions.

mod error;
mod install;
mod process;
mod sandbox;

pub use error::RuntimeError;
pub use install::{Installed, Installer, PackageKind, PackageToInstall};
pub use process::{
    ExitInfo, Instance, LimitExceeded, LogSink, ProcessSpec, Stdin, StdinClosed, Stdout, base_env,
    spawn, spawn_sandboxed, spawn_with_limits,
};
pub use sandbox::{
    Enforcement, LimitSupport, NetStack, ResourceLimits, Sandbox, SandboxPolicy,
    SandboxUnavailable, limit_support,
};
