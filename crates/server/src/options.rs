//! Per-deployment options, stored as a JSON object in the deployment's `options_json` column.

use std::time::Duration;

use catwalk_runtime::ResourceLimits;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentOptions {
    /// A call that gets neither an answer nor progress for this many seconds is cancelled.
    /// `None`: no limit (the default; long calls are legitimate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_timeout_secs: Option<u64>,
    /// One process for every session (the default), or one per session.
    #[serde(default)]
    pub process_model: ProcessModel,
    /// With no client request for this many seconds, the server process is stopped (the
    /// deployment sleeps) until the next request wakes it. `None`: it never sleeps (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sleep_after_secs: Option<u64>,
    /// Whether the sandboxed server may use the network (the default); servers that need none
    /// can be cut off entirely.
    #[serde(default = "yes")]
    pub network: bool,
    /// Memory, processes, open files and CPU, enforced by the runtime. None by default.
    #[serde(default, skip_serializing_if = "Limits::is_none")]
    pub limits: Limits,
    /// Whether the audit trail records the arguments of tool calls (off by default: they may
    /// hold personal data).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub audit_arguments: bool,
}

/// The stored form of [`ResourceLimits`] (see there for what each means).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mib: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processes: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_files: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_millicores: Option<u32>,
}

impl Limits {
    fn is_none(&self) -> bool {
        *self == Limits::default()
    }

    pub fn to_runtime(self) -> ResourceLimits {
        ResourceLimits {
            memory_mib: self.memory_mib,
            processes: self.processes,
            open_files: self.open_files,
            cpu_millicores: self.cpu_millicores,
        }
    }
}

fn yes() -> bool {
    true
}

impl Default for DeploymentOptions {
    fn default() -> DeploymentOptions {
        DeploymentOptions {
            call_timeout_secs: None,
            process_model: ProcessModel::default(),
            sleep_after_secs: None,
            network: true,
            limits: Limits::default(),
            audit_arguments: false,
        }
    }
}

/// See `per_session.rs` for the trade-off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessModel {
    #[default]
    Shared,
    PerSession,
}

impl DeploymentOptions {
    /// Reads stored options; unreadable ones fall back to the defaults (and say so in the log).
    pub fn from_stored(json: &str) -> DeploymentOptions {
        serde_json::from_str(json).unwrap_or_else(|error| {
            tracing::warn!(%error, "a deployment's stored options are unreadable; using defaults");
            DeploymentOptions::default()
        })
    }

    pub fn to_stored(&self) -> String {
        serde_json::to_string(self).expect("options serialize")
    }

    pub fn call_timeout(&self) -> Option<Duration> {
        self.call_timeout_secs.map(Duration::from_secs)
    }

    pub fn sleep_after(&self) -> Option<Duration> {
        self.sleep_after_secs.map(Duration::from_secs)
    }
}
