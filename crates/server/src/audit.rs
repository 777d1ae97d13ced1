//! The audit trail: every tool call (who, which tool, outcome, duration; arguments only where the
//! owner turned that on) and every change made through the API (who, what, outcome, duration;
//! never a request body, which may hold credentials). Rows go through a bounded queue to one
//! writer task, so recording never waits on the database.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use catwalk_bridge::{CallObserver, CallOutcome, FinishedCall};
use catwalk_store::{NewAuditEvent, Store};
use catwalk_vault::Redactor;
use tokio::sync::mpsc;

/// Rows waiting for the writer at most; beyond, new ones are dropped (and counted in the log).
const QUEUE: usize = 10_000;
const BATCH: usize = 512;
/// How long the writer lets rows gather before it writes them: with [`QUEUE`], the most rows
/// a second it takes without dropping any (100,000).
const GATHER: Duration = Duration::from_millis(100);
/// How long rows are kept.
pub const RETENTION: Duration = Duration::from_secs(90 * 24 * 3600);
/// Recorded arguments longer than this are cut (a call may carry a whole document).
const MAX_ARGUMENTS: usize = 16 * 1024;

pub struct Audit {
    tx: mpsc::Sender<NewAuditEvent>,
    dropped: AtomicU64,
}

impl Audit {
    /// Starts the writer task, which also deletes rows older than [`RETENTION`] now and then.
    pub fn start(store: Store) -> Arc<Audit> {
        let (tx, mut rx) = mpsc::channel::<NewAuditEvent>(QUEUE);
        tokio::spawn(async move {
            let mut batch = Vec::new();
            let mut trim = tokio::time::interval(Duration::from_secs(3600));
            loop {
                tokio::select! {
                    received = rx.recv_many(&mut batch, BATCH) => {
                        if received == 0 {
                            return;
                        }
                        // Rows come one per call. Waiting on the queue for each would wake this
                        // task once per call (often on the other worker thread: a futex wake and a
                        // context switch that the calls themselves pay for on a small machine).
                        // After the first row it sleeps instead, then takes all that came, so
                        // thousands of calls a second cost a few wake-ups and transactions.
                        tokio::time::sleep(GATHER).await;
                        loop {
                            while batch.len() < BATCH {
                                match rx.try_recv() {
                                    Ok(row) => batch.push(row),
                                    Err(_) => break,
                                }
                            }
                            let full = batch.len() == BATCH;
                            if let Err(error) = store.append_audit(&batch).await {
                                tracing::warn!(%error, rows = batch.len(), "cannot store audit rows");
                            }
                            batch.clear();
                            if !full {
                                break;
                            }
                        }
                    }
                    _ = trim.tick() => {
                        let horizon = catwalk_store::now_millis() - RETENTION.as_millis() as i64;
                        if let Err(error) = store.trim_audit(horizon).await {
                            tracing::warn!(%error, "cannot trim the audit trail");
                        }
                    }
                }
            }
        });
        Arc::new(Audit {
            tx,
            dropped: AtomicU64::new(0),
        })
    }

    pub fn record(&self, event: NewAuditEvent) {
        if self.tx.try_send(event).is_err() {
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped.is_power_of_two() {
                tracing::warn!(
                    dropped,
                    "the audit trail's queue is full: rows were dropped"
                );
            }
        }
    }
}

/// What the tool calls of one client session are recorded as.
pub struct SessionCalls {
    pub audit: Arc<Audit>,
    pub owner_id: Option<String>,
    pub deployment: String,
    /// Who: `token NAME` or `anonymous` (a public deployment).
    pub actor: String,
    /// The deployment's "record arguments" switch, shared so that turning it off applies at once.
    pub arguments: Arc<AtomicBool>,
    /// The deployment's secret values, kept out of recorded arguments.
    pub redactor: Redactor,
}

impl CallObserver for SessionCalls {
    fn wants_arguments(&self) -> bool {
        self.arguments.load(Ordering::Relaxed)
    }

    fn finished(&self, call: FinishedCall) {
        let outcome = match call.outcome {
            CallOutcome::Ok => "ok".to_string(),
            CallOutcome::ToolError => "tool error".to_string(),
            // A server's error message may quote a credential.
            CallOutcome::Error { code, message } => {
                format!("error {code}: {}", self.redactor.redact(&message))
            }
            CallOutcome::Abandoned => "abandoned by the client".to_string(),
        };
        let arguments = call.arguments.map(|raw| {
            let mut text = self.redactor.redact(raw.get()).into_owned();
            if text.len() > MAX_ARGUMENTS {
                let mut cut = MAX_ARGUMENTS;
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                text.truncate(cut);
                text.push_str("…(cut)");
            }
            text
        });
        self.audit.record(NewAuditEvent {
            at: catwalk_store::now_millis(),
            owner_id: self.owner_id.clone(),
            actor: self.actor.clone(),
            deployment: Some(self.deployment.clone()),
            kind: "tool_call".into(),
            action: call.tool,
            outcome,
            duration_ms: Some(call.duration.as_millis() as i64),
            arguments,
        });
    }
}
