//! A deployment's stderr, redacted, into the store (a bounded ring: the newest [`KEEP`] lines of
//! each deployment); the last lines kept in memory for error messages; a [`LogFeed`] that tells
//! live tails when new lines are stored.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use catwalk_runtime::LogSink;
use catwalk_store::{LogLine, Store};
use catwalk_vault::Redactor;
use tokio::sync::mpsc;

/// Lines kept in memory to explain a failure.
const RECENT: usize = 8;
/// Lines written to the store in one statement at most.
const BATCH: usize = 256;
/// Lines kept in the store per deployment; older ones are deleted as new ones come.
pub const KEEP: i64 = 10_000;
/// How many lines are written between two trims of the store.
const TRIM_EVERY: usize = 1_000;

/// Names the deployments whose log just grew, for live tails (`GET …/logs/stream`).
#[derive(Clone)]
pub struct LogFeed(tokio::sync::broadcast::Sender<String>);

impl Default for LogFeed {
    fn default() -> LogFeed {
        // A tail that lags this far behind only misses wake-ups, never lines: it reads from the
        // store, and also looks again every few seconds.
        LogFeed(tokio::sync::broadcast::channel(1024).0)
    }
}

impl LogFeed {
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<String> {
        self.0.subscribe()
    }
}

pub struct StoreLogs {
    tx: mpsc::UnboundedSender<LogLine>,
    redactor: Redactor,
    recent: Mutex<VecDeque<String>>,
}

impl StoreLogs {
    /// Starts the writer task; it ends when the last handle is dropped, after writing everything.
    pub fn start(
        store: Store,
        deployment: String,
        redactor: Redactor,
        feed: LogFeed,
    ) -> Arc<StoreLogs> {
        let (tx, mut rx) = mpsc::unbounded_channel::<LogLine>();
        tokio::spawn(async move {
            let mut batch = Vec::new();
            let mut since_trim = 0;
            while rx.recv_many(&mut batch, BATCH).await > 0 {
                if let Err(error) = store.append_logs(&deployment, &batch).await {
                    tracing::warn!(%error, "cannot store logs of {deployment}");
                }
                since_trim += batch.len();
                batch.clear();
                if since_trim >= TRIM_EVERY {
                    since_trim = 0;
                    if let Err(error) = store.trim_logs(&deployment, KEEP).await {
                        tracing::warn!(%error, "cannot trim the logs of {deployment}");
                    }
                }
                let _ = feed.0.send(deployment.clone());
            }
        });
        Arc::new(StoreLogs {
            tx,
            redactor,
            recent: Mutex::new(VecDeque::new()),
        })
    }

    /// `"; last output: a | b"`, or nothing when the server printed nothing.
    pub fn last_lines_suffix(&self) -> String {
        let recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        if recent.is_empty() {
            return String::new();
        }
        let lines: Vec<&str> = recent.iter().map(String::as_str).collect();
        format!("; last output: {}", lines.join(" | "))
    }
}

impl LogSink for StoreLogs {
    fn line(&self, stream: &str, line: &str) {
        let line = self.redactor.redact(line).into_owned();
        if stream == "stderr" {
            let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
            if recent.len() == RECENT {
                recent.pop_front();
            }
            recent.push_back(line.clone());
        }
        let _ = self.tx.send(LogLine {
            at: catwalk_store::now_millis(),
            stream: stream.to_string(),
            line,
        });
    }
}
