//! A cgroup (v1) per server process: the kernel then enforces its memory, process and CPU
//! limits over the whole process tree, and tells afterwards whether the OOM killer acted.
//!
//! Each instance gets `catwalk-<catwalk pid>-<n>` under Catwalk's *own* cgroup in each
//! hierarchy (read from `/proc/self/cgroup`), so a service manager that delegated a subtree to
//! Catwalk keeps accounting for it. The directories are removed once the process tree is gone;
//! ones left by a Catwalk that died are removed at the next start.
//!
//! Only cgroup v1 is driven for now: on a cgroup v2 host the limits fall back to rlimits (see
//! `limits.rs`) and [`super::limit_support`] says so.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// CFS bandwidth period: CPU quotas are a share of each 100 ms.
const CPU_PERIOD_US: u64 = 100_000;
/// How long removing a cgroup is retried: the kernel detaches exiting tasks asynchronously.
const REMOVE_WAIT: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Controller {
    Memory,
    Pids,
    Cpu,
}

impl Controller {
    fn name(self) -> &'static str {
        match self {
            Controller::Memory => "memory",
            Controller::Pids => "pids",
            Controller::Cpu => "cpu",
        }
    }
}

/// Catwalk's own cgroup directory in each hierarchy, or why that controller cannot be used.
pub(crate) struct Hierarchies {
    memory: Result<PathBuf, String>,
    pids: Result<PathBuf, String>,
    cpu: Result<PathBuf, String>,
}

impl Hierarchies {
    pub(crate) fn get(&self, controller: Controller) -> Result<&Path, &str> {
        let entry = match controller {
            Controller::Memory => &self.memory,
            Controller::Pids => &self.pids,
            Controller::Cpu => &self.cpu,
        };
        entry.as_deref().map_err(String::as_str)
    }
}

/// Discovered once per process: mounts do not change under a running Catwalk.
pub(crate) fn hierarchies() -> &'static Hierarchies {
    static HIERARCHIES: OnceLock<Hierarchies> = OnceLock::new();
    HIERARCHIES.get_or_init(|| {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let usable = |controller| {
            let dir = own_dir(controller, &mountinfo, &own)?;
            check_writable(&dir)?;
            remove_stale(&dir);
            Ok(dir)
        };
        Hierarchies {
            memory: usable(Controller::Memory),
            pids: usable(Controller::Pids),
            cpu: usable(Controller::Cpu),
        }
    })
}

/// One mount of `/proc/self/mountinfo`: its root inside the filesystem, where it is mounted,
/// its type and its super options.
struct MountLine<'a> {
    root: &'a str,
    mount_point: String,
    fs_type: &'a str,
    super_options: &'a str,
}

fn parse_mountinfo_line(line: &str) -> Option<MountLine<'_>> {
    let (before, after) = line.split_once(" - ")?;
    let mut fields = before.split(' ');
    let root = fields.nth(3)?;
    let mount_point = unescape_mount_path(fields.next()?);
    let mut after = after.split(' ');
    let fs_type = after.next()?;
    let super_options = after.nth(1).unwrap_or("");
    Some(MountLine {
        root,
        mount_point,
        fs_type,
        super_options,
    })
}

/// Mountinfo writes space, tab, newline and backslash as `\ooo` octal escapes.
fn unescape_mount_path(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && let Ok(digits) = std::str::from_utf8(&bytes[i + 1..i + 4])
            && let Ok(value) = u8::from_str_radix(digits, 8)
        {
            out.push(value);
            i += 4;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Catwalk's own cgroup directory in the v1 hierarchy of `controller`.
pub(crate) fn own_dir(
    controller: Controller,
    mountinfo: &str,
    own: &str,
) -> Result<PathBuf, String> {
    let name = controller.name();
    let has = |list: &str| list.split(',').any(|item| item == name);
    let mount = mountinfo
        .lines()
        .filter_map(parse_mountinfo_line)
        .find(|mount| mount.fs_type == "cgroup" && has(mount.super_options));
    let Some(mount) = mount else {
        let v2 = mountinfo
            .lines()
            .filter_map(parse_mountinfo_line)
            .any(|mount| mount.fs_type == "cgroup2");
        return Err(if v2 {
            format!(
                "this host has no cgroup v1 {name} hierarchy (only cgroup v2, which Catwalk \
                 does not drive yet)"
            )
        } else {
            format!("this host has no cgroup {name} hierarchy mounted")
        });
    };
    let path = own
        .lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            has(controllers).then_some(path)
        })
        .next()
        .ok_or_else(|| format!("/proc/self/cgroup names no {name} cgroup for Catwalk"))?;
    let relative = Path::new(path).strip_prefix(mount.root).map_err(|_| {
        format!(
            "Catwalk's {name} cgroup {path} lies outside the mounted part {} of the hierarchy",
            mount.root
        )
    })?;
    Ok(Path::new(&mount.mount_point).join(relative))
}

fn check_writable(dir: &Path) -> Result<(), String> {
    let probe = dir.join(format!("catwalk-{}-probe", std::process::id()));
    let _ = std::fs::remove_dir(&probe);
    std::fs::create_dir(&probe).map_err(|error| {
        format!(
            "cannot create cgroups under {}: {error} (Catwalk needs to run as root or in a \
             cgroup delegated to its user)",
            dir.display()
        )
    })?;
    let _ = std::fs::remove_dir(&probe);
    Ok(())
}

/// Removes empty cgroups that a Catwalk process which no longer runs left behind.
fn remove_stale(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(owner) = name
            .to_str()
            .and_then(|name| name.strip_prefix("catwalk-"))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{owner}")).exists() {
            // Fails, harmlessly, if processes still live in it.
            let _ = std::fs::remove_dir(entry.path());
        }
    }
}

/// What one instance's cgroups limit.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct CgroupLimits {
    pub memory_bytes: Option<u64>,
    pub max_tasks: Option<u64>,
    pub cpu_millicores: Option<u32>,
}

/// The cgroups of one instance, one per hierarchy used.
#[derive(Debug)]
pub(crate) struct InstanceCgroup {
    dirs: Vec<(Controller, PathBuf)>,
}

impl InstanceCgroup {
    /// Creates the cgroups and writes the limits; on failure removes what it created.
    pub(crate) fn create(limits: CgroupLimits) -> Result<Option<InstanceCgroup>, String> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "catwalk-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let hierarchies = hierarchies();
        let mut cgroup = InstanceCgroup { dirs: Vec::new() };
        let wanted = [
            (Controller::Memory, limits.memory_bytes.is_some()),
            (Controller::Pids, limits.max_tasks.is_some()),
            (Controller::Cpu, limits.cpu_millicores.is_some()),
        ];
        for (controller, want) in wanted {
            if !want {
                continue;
            }
            let Ok(parent) = hierarchies.get(controller) else {
                continue;
            };
            let dir = parent.join(&name);
            if let Err(error) = std::fs::create_dir(&dir) {
                cgroup.remove_now();
                return Err(format!("cannot create cgroup {}: {error}", dir.display()));
            }
            cgroup.dirs.push((controller, dir));
        }
        if let Err(error) = cgroup.write_limits(limits) {
            cgroup.remove_now();
            return Err(error);
        }
        Ok((!cgroup.dirs.is_empty()).then_some(cgroup))
    }

    fn write_limits(&self, limits: CgroupLimits) -> Result<(), String> {
        for (controller, dir) in &self.dirs {
            match controller {
                Controller::Memory => {
                    let bytes = limits.memory_bytes.unwrap_or(u64::MAX).to_string();
                    write(dir, "memory.limit_in_bytes", &bytes)?;
                    // Only present with swap accounting; without it there is no swap to bound.
                    if dir.join("memory.memsw.limit_in_bytes").exists() {
                        write(dir, "memory.memsw.limit_in_bytes", &bytes)?;
                    }
                }
                Controller::Pids => {
                    let max = limits
                        .max_tasks
                        .map_or("max".to_string(), |n| n.to_string());
                    write(dir, "pids.max", &max)?;
                }
                Controller::Cpu => {
                    let millicores = u64::from(limits.cpu_millicores.unwrap_or(0));
                    // The kernel refuses quotas under 1 ms.
                    let quota = (millicores * CPU_PERIOD_US / 1000).max(1000);
                    write(dir, "cpu.cfs_period_us", &CPU_PERIOD_US.to_string())?;
                    write(dir, "cpu.cfs_quota_us", &quota.to_string())?;
                }
            }
        }
        Ok(())
    }

    /// The `cgroup.procs` files the child writes `0` into before exec, to join its cgroups.
    pub(crate) fn procs_files(&self) -> Vec<CString> {
        self.dirs
            .iter()
            .filter_map(|(_, dir)| {
                CString::new(dir.join("cgroup.procs").as_os_str().as_bytes()).ok()
            })
            .collect()
    }

    /// How many processes the OOM killer ended in this cgroup.
    pub(crate) fn oom_kills(&self) -> u64 {
        self.counter(Controller::Memory, "memory.oom_control", "oom_kill")
    }

    /// How many forks failed because the process limit was reached.
    pub(crate) fn process_limit_hits(&self) -> u64 {
        self.counter(Controller::Pids, "pids.events", "max")
    }

    fn counter(&self, controller: Controller, file: &str, key: &str) -> u64 {
        let Some((_, dir)) = self.dirs.iter().find(|(c, _)| *c == controller) else {
            return 0;
        };
        std::fs::read_to_string(dir.join(file))
            .unwrap_or_default()
            .lines()
            .find_map(|line| line.strip_prefix(key)?.trim().parse().ok())
            .unwrap_or(0)
    }

    /// The host pids of the processes in the cgroups.
    pub(crate) fn pids(&self) -> Vec<u32> {
        let mut pids: Vec<u32> = self
            .dirs
            .iter()
            .flat_map(|(_, dir)| {
                std::fs::read_to_string(dir.join("cgroup.procs"))
                    .unwrap_or_default()
                    .lines()
                    .filter_map(|line| line.trim().parse().ok())
                    .collect::<Vec<u32>>()
            })
            .collect();
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// Removes the cgroups, waiting briefly for the last tasks to be detached.
    pub(crate) async fn remove(&self) {
        let deadline = Instant::now() + REMOVE_WAIT;
        for (_, dir) in &self.dirs {
            while let Err(error) = std::fs::remove_dir(dir) {
                if error.kind() == std::io::ErrorKind::NotFound || Instant::now() > deadline {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }

    pub(crate) fn remove_now(&self) {
        for (_, dir) in &self.dirs {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

fn write(dir: &Path, file: &str, value: &str) -> Result<(), String> {
    let path = dir.join(file);
    std::fs::write(&path, value)
        .map_err(|error| format!("cannot write {value} to {}: {error}", path.display()))
}
