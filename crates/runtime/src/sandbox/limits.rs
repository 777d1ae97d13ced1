//! Resource limits of one server, and how this host enforces each.
//!
//! The kernel enforces them, not Catwalk: memory, processes and CPU through a cgroup of the
//! server's own (`cgroup.rs`), open files through `RLIMIT_NOFILE`. Where no usable cgroup
//! hierarchy exists (cgroup v2 only, or no permission), memory falls back to `RLIMIT_AS` and the
//! process and CPU limits are not enforced; [`limit_support`] says which, so the caller can show
//! it, and every start logs it.

use std::fmt;

use nix::sys::resource::Resource;

use super::cgroup::{self, CgroupLimits, Controller, InstanceCgroup};

const MIB: u64 = 1024 * 1024;

/// The resources one server may use. `None` leaves a resource unlimited.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResourceLimits {
    /// Memory in MiB: resident memory, page cache and files in its private `/tmp` together.
    /// Exceeding it gets the largest process of the server killed and the exit reported as
    /// [`crate::LimitExceeded::Memory`].
    pub memory_mib: Option<u64>,
    /// Processes and threads together (a Node.js server uses about ten threads). Past it,
    /// `fork` and thread creation fail with `EAGAIN`.
    pub processes: Option<u32>,
    /// Open file descriptors of each process. Past it, `open` fails with `EMFILE`.
    pub open_files: Option<u64>,
    /// CPU time in thousandths of a core (`500` = half a core, `2000` = two cores): the server
    /// is throttled, not stopped.
    pub cpu_millicores: Option<u32>,
}

impl ResourceLimits {
    pub fn is_unlimited(&self) -> bool {
        *self == ResourceLimits::default()
    }

    fn validate(&self) -> Result<(), String> {
        let zero = [
            (self.memory_mib == Some(0), "memory"),
            (self.processes == Some(0), "process"),
            (self.open_files == Some(0), "open-file"),
            (self.cpu_millicores == Some(0), "CPU"),
        ];
        match zero.iter().find(|(is_zero, _)| *is_zero) {
            Some((_, name)) => Err(format!(
                "the {name} limit must be positive (0 would forbid everything)"
            )),
            None => Ok(()),
        }
    }
}

/// How this host enforces one kind of limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Enforcement {
    /// A cgroup of the server's own: over its whole process tree.
    Cgroup,
    /// A per-process rlimit, inherited by every process of the server; the text says which.
    Rlimit(String),
    /// Not enforced here, for the reason given.
    NotEnforced(String),
}

impl fmt::Display for Enforcement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Enforcement::Cgroup => write!(f, "enforced by a cgroup"),
            Enforcement::Rlimit(what) => write!(f, "enforced by {what}"),
            Enforcement::NotEnforced(reason) => write!(f, "not enforced: {reason}"),
        }
    }
}

/// How each limit of [`ResourceLimits`] is enforced on this host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LimitSupport {
    pub memory: Enforcement,
    pub processes: Enforcement,
    pub cpu: Enforcement,
    pub open_files: Enforcement,
}

/// Inspects the host once (cgroup mounts and permissions) and reports how limits are enforced.
pub fn limit_support() -> LimitSupport {
    let hierarchies = cgroup::hierarchies();
    let by_cgroup =
        |controller, fallback: &dyn Fn(&str) -> Enforcement| match hierarchies.get(controller) {
            Ok(_) => Enforcement::Cgroup,
            Err(reason) => fallback(reason),
        };
    LimitSupport {
        memory: by_cgroup(Controller::Memory, &|reason| {
            Enforcement::Rlimit(address_space_note(reason))
        }),
        processes: by_cgroup(Controller::Pids, &|reason| {
            Enforcement::NotEnforced(format!(
                "{reason}; RLIMIT_NPROC is no substitute (it counts every process of Catwalk's \
                 user, and none of root's)"
            ))
        }),
        cpu: by_cgroup(Controller::Cpu, &|reason| {
            Enforcement::NotEnforced(format!(
                "{reason}; RLIMIT_CPU is no substitute (it ends a server after a total of CPU \
                 seconds instead of throttling it)"
            ))
        }),
        open_files: Enforcement::Rlimit("RLIMIT_NOFILE, per process".to_string()),
    }
}

fn address_space_note(reason: &str) -> String {
    format!(
        "RLIMIT_AS, per process, because {reason}: it bounds address space, not memory in use \
         (Node.js reserves about 1 GiB of address space at start), and running out shows as an \
         allocation failure, not as a memory-limit stop"
    )
}

/// The limits of one start, ready to apply: cgroups already created, rlimits for the child.
#[derive(Debug, Default)]
pub(crate) struct PreparedLimits {
    pub cgroup: Option<InstanceCgroup>,
    pub rlimits: Vec<(Resource, u64)>,
    /// The memory limit when a cgroup enforces it, to report an OOM kill against.
    pub cgroup_memory_mib: Option<u64>,
    pub process_limit: Option<u32>,
    /// One phrase per limit, for the start log line.
    pub summary: Vec<String>,
    /// Limits that are weaker than asked, for the log.
    pub warnings: Vec<String>,
}

/// Creates the cgroups for `limits` and lists the rlimits to set. `extra_tasks` is added to the
/// process limit for the sandbox's own processes (bwrap's monitor and its PID 1).
pub(crate) fn prepare(limits: &ResourceLimits, extra_tasks: u64) -> Result<PreparedLimits, String> {
    limits.validate()?;
    let mut prepared = PreparedLimits {
        process_limit: limits.processes,
        ..PreparedLimits::default()
    };
    if limits.is_unlimited() {
        return Ok(prepared);
    }
    let support = limit_support();
    let cgroup_limits = CgroupLimits {
        memory_bytes: limits
            .memory_mib
            .filter(|_| support.memory == Enforcement::Cgroup)
            .map(|mib| mib * MIB),
        max_tasks: limits
            .processes
            .filter(|_| support.processes == Enforcement::Cgroup)
            .map(|n| u64::from(n) + extra_tasks),
        cpu_millicores: limits
            .cpu_millicores
            .filter(|_| support.cpu == Enforcement::Cgroup),
    };
    prepared.cgroup = InstanceCgroup::create(cgroup_limits)?;

    if let Some(mib) = limits.memory_mib {
        if cgroup_limits.memory_bytes.is_some() {
            prepared.cgroup_memory_mib = Some(mib);
            prepared.summary.push(format!("memory {mib} MiB (cgroup)"));
        } else {
            prepared.rlimits.push((Resource::RLIMIT_AS, mib * MIB));
            prepared
                .summary
                .push(format!("memory {mib} MiB (address space)"));
            prepared
                .warnings
                .push(format!("the memory limit is {}", support.memory));
        }
    }
    if let Some(processes) = limits.processes {
        if cgroup_limits.max_tasks.is_some() {
            prepared
                .summary
                .push(format!("{processes} processes (cgroup)"));
        } else {
            prepared.warnings.push(format!(
                "the process limit ({processes}) is {}",
                support.processes
            ));
        }
    }
    if let Some(files) = limits.open_files {
        prepared.rlimits.push((Resource::RLIMIT_NOFILE, files));
        prepared.summary.push(format!("{files} open files"));
    }
    if let Some(millicores) = limits.cpu_millicores {
        if cgroup_limits.cpu_millicores.is_some() {
            prepared.summary.push(format!(
                "CPU {}.{:03} cores (cgroup)",
                millicores / 1000,
                millicores % 1000
            ));
        } else {
            prepared.warnings.push(format!(
                "the CPU limit ({millicores} millicores) is {}",
                support.cpu
            ));
        }
    }
    Ok(prepared)
}
