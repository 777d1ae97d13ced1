//! A deployment's stderr, redacted, into the store; the last lines kept for error messages.

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

pub struct StoreLogs {
    tx: mpsc::UnboundedSender<LogLine>,
    redactor: Redactor,
    recent: Mutex<VecDeque<String>>,
}

impl StoreLogs {
    /// Starts the writer task; it ends when the last handle is dropped, after writing everything.
    pub fn start(store: Store, deployment: String, redactor: Redactor) -> Arc<StoreLogs> {
        let (tx, mut rx) = mpsc::unbounded_channel::<LogLine>();
        tokio::spawn(async move {
            let mut batch = Vec::new();
            while rx.recv_many(&mut batch, BATCH).await > 0 {
                if let Err(error) = store.append_logs(&deployment, &batch).await {
                    tracing::warn!(%error, "cannot store logs of {deployment}");
                }
                batch.clear();
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
