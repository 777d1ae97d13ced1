//! Helpers shared by the integration tests: a log sink that records, fixture paths, /proc checks
//! and a raw JSON-RPC exchange over an [`Instance`]'s channels.

#![allow(dead_code)] // Each test binary uses a different subset.

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use catwalk_runtime::{Instance, LogSink};
use serde_json::{Value, json};

/// Records every log line, for assertions.
#[derive(Default)]
pub struct RecordingSink {
    lines: Mutex<Vec<(String, String)>>,
}

impl LogSink for RecordingSink {
    fn line(&self, stream: &str, line: &str) {
        // Never panic here: the sink is also called from `Instance::drop`, maybe while unwinding.
        self.lines
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push((stream.to_string(), line.to_string()));
    }
}

impl RecordingSink {
    pub fn lines(&self, stream: &str) -> Vec<String> {
        let lines = self
            .lines
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        lines
            .iter()
            .filter(|(s, _)| s == stream)
            .map(|(_, line)| line.clone())
            .collect()
    }

    /// Waits until a line of `stream` contains `needle` (log lines arrive from other tasks).
    pub async fn wait_for(&self, stream: &str, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.lines(stream).iter().any(|line| line.contains(needle)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let all = self
            .lines
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        panic!("no {stream} line containing {needle:?}; all lines: {all:?}");
    }
}

/// The real Python interpreter (not a pyenv shim, which would add variables to the env).
pub fn python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let output = std::process::Command::new("python3")
                .args(["-c", "import sys; print(sys.executable)"])
                .output()
                .expect("python3 must be installed to run the runtime tests");
            assert!(output.status.success());
            PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
        })
        .clone()
}

pub fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    path.to_str().unwrap().to_string()
}

/// Whether a process exists and is not a zombie (a killed grandchild stays a zombie until
/// whoever inherited it reaps it, but it is no longer running).
pub fn is_running(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat[stat.rfind(')').unwrap() + 2..].chars().next().unwrap();
    !matches!(state, 'Z' | 'X')
}

/// The process group of a running process, from /proc.
pub fn process_group(pid: u32) -> u32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    fields[2].parse().unwrap()
}

pub async fn wait_until_gone(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if !is_running(pid) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("process {pid} is still running");
}

/// The next stdout line, failing the test after `secs` seconds.
pub async fn next_line(instance: &mut Instance, secs: u64) -> String {
    tokio::time::timeout(Duration::from_secs(secs), instance.stdout.recv())
        .await
        .expect("timed out waiting for a stdout line")
        .expect("stdout closed")
}

/// Sends a JSON-RPC request and returns the response with the same id, skipping notifications.
pub async fn request(instance: &mut Instance, id: i64, method: &str, params: Value) -> Value {
    let message = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
    instance.stdin.send(message.to_string()).await.unwrap();
    loop {
        let line = next_line(instance, 60).await;
        let Ok(value) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if value.get("id") == Some(&json!(id)) {
            return value;
        }
    }
}

/// `initialize`, `notifications/initialized`, then `tools/list`: the names of the tools.
pub async fn list_tools(instance: &mut Instance) -> Vec<String> {
    let initialize = request(
        instance,
        1,
        "initialize",
        json!({
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "catwalk-runtime-test", "version": "0"}
        }),
    )
    .await;
    assert!(
        initialize["result"]["serverInfo"].is_object(),
        "{initialize}"
    );
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    instance.stdin.send(initialized.to_string()).await.unwrap();
    let tools = request(instance, 2, "tools/list", json!({})).await;
    tools["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no tools in {tools}"))
        .iter()
        .map(|tool| tool["name"].as_str().unwrap().to_string())
        .collect()
}

/// A scratch folder laid out like a real host's: not under /tmp, which every sandbox replaces
/// with a tmpfs of its own (so a write there would "succeed" inside the sandbox). The build's
/// own folder will do, unless the checkout itself sits under /tmp.
pub fn host_scratch() -> tempfile::TempDir {
    let target = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let base = if target.starts_with("/tmp") {
        std::path::Path::new("/var/tmp")
    } else {
        target
    };
    tempfile::tempdir_in(base).unwrap()
}
