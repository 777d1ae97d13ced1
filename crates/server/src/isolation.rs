//! How this Catwalk runs servers: inside bubblewrap (the default), or, only when the operator
//! allows it, as plain child processes. Decided once at start and shown by the API and the
//! dashboard.

use std::path::Path;
use std::sync::Arc;

use catwalk_runtime::{Instance, LogSink, ProcessSpec, Sandbox, SandboxPolicy};

use crate::auth::ADMIN_TOKEN_FILE;
use crate::setup::{DATABASE_FILE, LOCK_FILE};

pub enum Isolation {
    Sandboxed(Sandbox),
    /// No usable bubblewrap, and the operator allowed servers to run without it.
    Unsandboxed {
        reason: String,
    },
    /// No usable bubblewrap, and running without it was not allowed: servers do not start.
    Unavailable {
        reason: String,
    },
}

/// Said when sandboxes with network on cannot have a network of their own: they then run in
/// the host's, where every service on its loopback (Catwalk's API, a local database) is
/// reachable.
fn network_warning(sandbox: &Sandbox) -> Option<String> {
    sandbox.network_stack().err().map(|reason| {
        format!(
            "servers with network on run in the host's network and can reach every service on \
             its loopback (Catwalk's API, a local database): {reason}"
        )
    })
}

impl Isolation {
    /// Probes bubblewrap. Catwalk's own files in `data_dir` are hidden from every sandbox.
    pub fn detect(data_dir: &Path, allow_unsandboxed: bool) -> Isolation {
        match Sandbox::probe() {
            Ok(sandbox) => {
                let database = data_dir.join(DATABASE_FILE).display().to_string();
                let private = [
                    data_dir.join(catwalk_vault::KEY_FILE),
                    data_dir.join(ADMIN_TOKEN_FILE),
                    data_dir.join(LOCK_FILE),
                    database.clone().into(),
                    format!("{database}-wal").into(),
                    format!("{database}-shm").into(),
                ];
                let sandbox = sandbox.hide(private);
                tracing::info!("servers run sandboxed: {sandbox}");
                if let Some(warning) = network_warning(&sandbox) {
                    tracing::warn!("{warning}");
                }
                Isolation::Sandboxed(sandbox)
            }
            Err(unavailable) if allow_unsandboxed => {
                tracing::warn!(
                    "servers run WITHOUT a sandbox (allowed by --allow-unsandboxed): {}",
                    unavailable.reason
                );
                Isolation::Unsandboxed {
                    reason: unavailable.reason,
                }
            }
            Err(unavailable) => {
                tracing::error!(
                    "servers cannot start: {}; install bubblewrap, or allow running servers \
                     without a sandbox with --allow-unsandboxed",
                    unavailable.reason
                );
                Isolation::Unavailable {
                    reason: unavailable.reason,
                }
            }
        }
    }

    pub fn sandbox(&self) -> Option<&Sandbox> {
        match self {
            Isolation::Sandboxed(sandbox) => Some(sandbox),
            _ => None,
        }
    }

    /// For the API and the dashboard.
    pub fn describe(&self) -> serde_json::Value {
        match self {
            Isolation::Sandboxed(sandbox) => serde_json::json!({
                "sandboxed": true,
                "detail": sandbox.to_string(),
                "warning": network_warning(sandbox),
            }),
            Isolation::Unsandboxed { reason } => serde_json::json!({
                "sandboxed": false,
                "detail": format!(
                    "servers run WITHOUT a sandbox (allowed by --allow-unsandboxed): {reason}"
                ),
            }),
            Isolation::Unavailable { reason } => serde_json::json!({
                "sandboxed": false,
                "detail": format!(
                    "servers cannot start: {reason}; install bubblewrap, or start Catwalk with \
                     --allow-unsandboxed"
                ),
            }),
        }
    }

    pub fn spawn(
        &self,
        spec: &ProcessSpec,
        policy: &SandboxPolicy,
        logs: Arc<dyn LogSink>,
    ) -> Result<Instance, String> {
        let started = match self {
            Isolation::Sandboxed(sandbox) => {
                catwalk_runtime::spawn_sandboxed(spec, sandbox, policy, logs)
            }
            Isolation::Unsandboxed { .. } => {
                catwalk_runtime::spawn_with_limits(spec, &policy.limits, logs)
            }
            Isolation::Unavailable { reason } => {
                return Err(format!(
                    "Catwalk runs servers only in a sandbox, and it has none: {reason}; install \
                     bubblewrap, or start Catwalk with --allow-unsandboxed"
                ));
            }
        };
        started.map_err(|e| e.to_string())
    }
}
