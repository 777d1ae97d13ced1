//! The processes the bench starts, and what it reads about processes from /proc.
//!
//! Every child runs in its own process group, so that the terminal's Ctrl-C reaches only the bench,
//! and the bench alone decides how its children end: when a [`Proc`] drops (normal end, an error,
//! or Ctrl-C dropping the main future), its group gets SIGTERM, then SIGKILL after a grace period,
//! and so does every descendant that moved to another group (a gateway's own server processes).

use std::collections::HashMap;
use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

/// A running child process and its log file.
pub struct Proc {
    pub name: String,
    child: Child,
    pid: u32,
    log: PathBuf,
    grace: Duration,
}

impl Proc {
    /// Starts `command` in a new process group with stderr (and stdout unless piped by the
    /// caller) going to `log`.
    pub fn spawn(name: &str, mut command: Command, log: &Path, grace: Duration) -> Result<Proc> {
        let file = File::create(log).with_context(|| format!("creating {}", log.display()))?;
        command
            .stderr(file.try_clone()?)
            .stdin(Stdio::null())
            .stdout(file)
            .process_group(0);
        Self::spawn_configured(name, command, log, grace)
    }

    /// Like [`Proc::spawn`], but stdin and stdout are pipes the caller takes from [`Proc::child`].
    pub fn spawn_piped(
        name: &str,
        mut command: Command,
        log: &Path,
        grace: Duration,
    ) -> Result<Proc> {
        let file = File::create(log).with_context(|| format!("creating {}", log.display()))?;
        command
            .stderr(file)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .process_group(0);
        Self::spawn_configured(name, command, log, grace)
    }

    fn spawn_configured(
        name: &str,
        mut command: Command,
        log: &Path,
        grace: Duration,
    ) -> Result<Proc> {
        let child = command
            .spawn()
            .with_context(|| format!("starting {name} ({:?})", command.as_std().get_program()))?;
        let pid = child
            .id()
            .context("the child has a pid until it is reaped")?;
        Ok(Proc {
            name: name.to_string(),
            child,
            pid,
            log: log.to_path_buf(),
            grace,
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// An error carrying the end of the log when the process has exited.
    pub fn check_alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "{} exited ({status}); last lines of {}:\n{}",
                self.name,
                self.log.display(),
                log_tail(&self.log, 20)
            );
        }
        Ok(())
    }

    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.log, lines)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let pid = Pid::from_raw(self.pid as i32);
        // Collected before signalling: once the parent dies, its children are reparented and
        // can no longer be found by walking down from it.
        let descendants = descendants(self.pid);
        let _ = killpg(pid, Signal::SIGTERM);
        let deadline = Instant::now() + self.grace;
        while Instant::now() < deadline && !matches!(self.child.try_wait(), Ok(Some(_))) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = killpg(pid, Signal::SIGKILL);
        for descendant in descendants {
            let _ = kill(Pid::from_raw(descendant as i32), Signal::SIGKILL);
        }
        // Reaps it; it cannot block long after SIGKILL.
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && !matches!(self.child.try_wait(), Ok(Some(_)) | Err(_)) {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// The last `lines` lines of a log file (empty when it cannot be read).
pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Waits until something accepts TCP connections on `addr`, failing early if `proc` exits.
pub async fn wait_listening(proc: &mut Proc, addr: SocketAddr, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        proc.check_alive()?;
        if Instant::now() > deadline {
            bail!(
                "{} did not listen on {addr} within {timeout:?}; last lines of its log:\n{}",
                proc.name,
                proc.log_tail(20)
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every process below `root` (children, grandchildren, ...), found through /proc's parent links.
pub fn descendants(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for (pid, stat) in all_stats() {
        children.entry(stat.ppid).or_default().push(pid);
    }
    let mut found = Vec::new();
    let mut queue = vec![root];
    while let Some(pid) = queue.pop() {
        for &child in children.get(&pid).map(Vec::as_slice).unwrap_or_default() {
            found.push(child);
            queue.push(child);
        }
    }
    found
}

/// CPU time used so far by one process (user + system), in microseconds.
pub fn cpu_micros(pid: u32) -> u64 {
    read_stat(pid).map(|s| s.cpu_micros).unwrap_or(0)
}

/// CPU time used so far by every current descendant of `root`, in microseconds.
pub fn descendants_cpu_micros(root: u32) -> u64 {
    descendants(root).into_iter().map(cpu_micros).sum()
}

/// A line of /proc/PID/status in kB (`VmRSS`, `VmHWM`).
pub fn status_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.trim().strip_suffix("kB")?.trim().parse().ok()
    })
}

struct Stat {
    ppid: u32,
    cpu_micros: u64,
}

/// /proc reports CPU time in USER_HZ ticks, which Linux fixes at 100 per second for user space.
const MICROS_PER_TICK: u64 = 10_000;

fn read_stat(pid: u32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses; the fields after its last ')'
    // are plain numbers: state, ppid, ..., utime (14th overall) and stime (15th).
    let after_name = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ppid = fields.get(1)?.parse().ok()?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Stat {
        ppid,
        cpu_micros: (utime + stime) * MICROS_PER_TICK,
    })
}

fn all_stats() -> Vec<(u32, Stat)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, read_stat(pid)?)))
        .collect()
}

/// A line of /proc/PID/smaps_rollup in kB (`Pss`: the process's share of the pages it maps,
/// shared pages divided among their users, so that a sum over processes counts each page once).
pub fn rollup_kb(pid: u32, field: &str) -> Option<u64> {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    rollup.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.trim().strip_suffix("kB")?.trim().parse().ok()
    })
}

/// A process's command line, one string per argument (empty when it cannot be read).
pub fn cmdline(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|bytes| {
            bytes
                .split(|&b| b == 0)
                .filter(|arg| !arg.is_empty())
                .map(|arg| String::from_utf8_lossy(arg).into_owned())
                .collect()
        })
        .unwrap_or_default()
}
