//! What is left once a server's process has exited or must go: its process group, its sandbox
//! and its cgroup.

use std::io::Read;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use super::{KILL_WAIT, LimitExceeded, LogSink, group_of};
use crate::sandbox::PreparedLimits;

/// Reads bwrap's `--info-fd` JSON (`{"child-pid": 1234, ...}`) up to its end.
pub(super) fn read_init_pid(read: OwnedFd) -> Option<u32> {
    let mut text = String::new();
    std::fs::File::from(read).read_to_string(&mut text).ok()?;
    let after = text.split_once("\"child-pid\"")?.1;
    let digits: String = after
        .trim_start_matches([':', ' ', '\t', '\n'])
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// After the child exited: waits until the sandbox's PID namespace is gone (its PID 1 exits last,
/// after the kernel has killed everything else in it), kills what is left in the cgroup, reads
/// what the cgroup saw, and removes it. Returns the limit the process ran into, if any.
pub(super) async fn finish_confinement(
    pid: u32,
    sandbox_init: Option<u32>,
    prepared: &PreparedLimits,
    logs: &dyn LogSink,
) -> Option<LimitExceeded> {
    let deadline = Instant::now() + KILL_WAIT;
    if let Some(init) = sandbox_init {
        while is_running(init) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let cgroup = prepared.cgroup.as_ref()?;
    let mut reported = false;
    loop {
        let left = cgroup.pids();
        if left.is_empty() {
            break;
        }
        if Instant::now() > deadline {
            logs.line(
                "catwalk",
                &format!(
                    "{} processes of pid {pid} are still alive {KILL_WAIT:?} after SIGKILL",
                    left.len()
                ),
            );
            break;
        }
        if !reported {
            reported = true;
            logs.line(
                "catwalk",
                &format!("killed processes left behind in the cgroup of pid {pid}"),
            );
        }
        for left in left {
            let _ = kill(Pid::from_raw(left as i32), Signal::SIGKILL);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let hits = cgroup.process_limit_hits();
    if hits > 0
        && let Some(limit) = prepared.process_limit
    {
        logs.line(
            "catwalk",
            &format!("pid {pid} reached its process limit ({limit}): {hits} forks failed"),
        );
    }
    let oom_kills = cgroup.oom_kills();
    cgroup.remove().await;
    let limit_mib = prepared.cgroup_memory_mib?;
    (oom_kills > 0).then_some(LimitExceeded::Memory { limit_mib })
}

/// Whether a process exists and is not a zombie.
fn is_running(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    stat.rfind(')')
        .and_then(|end| stat[end + 1..].trim_start().chars().next())
        .is_some_and(|state| !matches!(state, 'Z' | 'X'))
}

/// Kills what an exited server left running in its group (a grandchild it spawned and forgot).
///
/// Called right after the process was reaped. Its pid is then free again, but a group id stays
/// reserved while any member lives, and if none does, a new group could only get this id after
/// the pid counter wrapped around in the meantime.
pub(super) fn kill_leftovers(pid: u32, logs: &dyn LogSink) {
    if killpg(group_of(pid), Signal::SIGKILL).is_ok() {
        logs.line(
            "catwalk",
            &format!("killed processes left behind in the process group of pid {pid}"),
        );
    }
}

/// Sends `signal` to every member of the group `leader` leads except the leader itself (in a
/// sandbox, bwrap's monitor, which would end the sandbox at once on SIGTERM).
///
/// A process forked while /proc is read may be missed; the SIGKILL that follows a grace period
/// goes to the whole group and misses nothing.
pub(super) fn signal_group_members(leader: u32, signal: Signal) {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == leader {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after the command name: state, ppid, pgrp.
        let group = stat
            .rfind(')')
            .and_then(|end| stat[end + 1..].split_whitespace().nth(2))
            .and_then(|pgrp| pgrp.parse::<u32>().ok());
        if group == Some(leader) {
            let _ = kill(Pid::from_raw(pid as i32), signal);
        }
    }
}
