//! The baseline: the MCP server driven directly over its stdin and stdout, as a local client
//! would, with any number of requests in flight under distinct ids.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::ChildStdin;
use tokio::sync::oneshot;

use crate::procs::Proc;

const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The shared pipe: a writer, and the requests waiting for their answer line (`None` once the
/// server's output has closed, so that later calls fail at once instead of waiting forever).
pub struct Pipe {
    stdin: tokio::sync::Mutex<ChildStdin>,
    pending: Mutex<Option<HashMap<u64, oneshot::Sender<String>>>>,
}

#[derive(Deserialize)]
struct Envelope {
    id: Option<u64>,
    error: Option<serde_json::Value>,
    result: Option<serde::de::IgnoredAny>,
}

impl Pipe {
    /// Takes over the server's pipes, starts the reader and performs the MCP handshake.
    pub async fn start(server: &mut Proc) -> Result<Arc<Pipe>> {
        let child = server.child();
        let stdin = child.stdin.take().context("the server's stdin is piped")?;
        let stdout = child
            .stdout
            .take()
            .context("the server's stdout is piped")?;
        let pipe = Arc::new(Pipe {
            stdin: tokio::sync::Mutex::new(stdin),
            pending: Mutex::new(Some(HashMap::new())),
        });
        let reader = pipe.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let Ok(envelope) = serde_json::from_str::<Envelope>(&line) else {
                    continue;
                };
                let Some(id) = envelope.id else { continue };
                let waiter = reader.lock().as_mut().and_then(|p| p.remove(&id));
                if let Some(waiter) = waiter {
                    let _ = waiter.send(line);
                }
            }
            // The server's output closed: every waiter gets a dropped sender, hence an error.
            *reader.lock() = None;
        });
        let init = format!(
            r#"{{"jsonrpc":"2.0","id":0,"method":"initialize","params":{{"protocolVersion":"{}","capabilities":{{}},"clientInfo":{{"name":"catwalk-bench","version":"1"}}}}}}"#,
            crate::http::PROTOCOL_VERSION
        );
        let answer = tokio::time::timeout(Duration::from_secs(60), pipe.call_raw(0, &init))
            .await
            .map_err(|_| anyhow!("the server did not answer initialize within 60 s"))??;
        if !answer.contains("\"result\"") {
            bail!("initialize failed: {answer}");
        }
        pipe.write(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
            .await?;
        Ok(pipe)
    }

    /// One `tools/call` of `echo`, checked for a result.
    pub async fn call(&self, id: u64, request: &str) -> Result<String> {
        let line = tokio::time::timeout(CALL_TIMEOUT, self.call_raw(id, request))
            .await
            .map_err(|_| {
                anyhow!("the server did not answer request {id} within {CALL_TIMEOUT:?}")
            })??;
        let envelope: Envelope = serde_json::from_str(&line)?;
        if let Some(error) = envelope.error {
            bail!("the server answered with an error: {error}");
        }
        if envelope.result.is_none() {
            bail!("the server's answer has no result: {line}");
        }
        Ok(line)
    }

    async fn call_raw(&self, id: u64, request: &str) -> Result<String> {
        let (tx, rx) = oneshot::channel();
        self.lock()
            .as_mut()
            .ok_or_else(|| anyhow!("the server closed its output"))?
            .insert(id, tx);
        self.write(request).await?;
        rx.await
            .map_err(|_| anyhow!("the server closed its output before answering request {id}"))
    }

    async fn write(&self, message: &str) -> Result<()> {
        let mut line = String::with_capacity(message.len() + 1);
        line.push_str(message);
        line.push('\n');
        let mut stdin = self.stdin.lock().await;
        stdin
            .write_all(line.as_bytes())
            .await
            .context("writing to the server's stdin")
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<HashMap<u64, oneshot::Sender<String>>>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}
