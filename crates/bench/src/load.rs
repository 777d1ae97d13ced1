//! The closed-loop load generator: N workers, each sending its next call as soon as the previous
//! one is answered, for a fixed time; every call's latency is kept (a few hundred thousand numbers
//! at most), so percentiles are exact.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use serde::Serialize;

use crate::http::{Conn, Session};
use crate::stdio::Pipe;

/// How one worker reaches the target.
pub enum Caller {
    Http {
        conn: Conn,
        session: Arc<Session>,
    },
    Stdio {
        pipe: Arc<Pipe>,
    },
    /// Not MCP: a GET the gateway answers by itself, to see what HTTP alone costs.
    Get {
        conn: Conn,
        path: &'static str,
    },
}

impl Caller {
    /// One `tools/call` of `echo` with `{"message":"bench"}`, checked for a result.
    pub async fn call(&mut self, id: u64) -> Result<()> {
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"echo","arguments":{{"message":"bench"}}}}}}"#
        );
        match self {
            Caller::Http { conn, session } => {
                conn.request(Some(session), id, Bytes::from(body)).await?;
            }
            Caller::Stdio { pipe } => {
                pipe.call(id, &body).await?;
            }
            Caller::Get { conn, path } => conn.get_ok(path).await?,
        }
        Ok(())
    }

    /// One call whose answer must carry the echoed text: proof the path really reaches the tool.
    pub async fn check_echo(&mut self) -> Result<()> {
        let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"bench"}}}"#;
        let answer = match self {
            Caller::Http { conn, session } => {
                let (_, message) = conn
                    .request(Some(session), 1, Bytes::from_static(body.as_bytes()))
                    .await?;
                String::from_utf8_lossy(&message).into_owned()
            }
            Caller::Stdio { pipe } => pipe.call(1, body).await?,
            Caller::Get { conn, path } => return conn.get_ok(path).await,
        };
        anyhow::ensure!(
            answer.contains("Echo: bench"),
            "echo did not echo: {answer}"
        );
        Ok(())
    }
}

/// What one measurement saw.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    pub calls: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub seconds: f64,
    pub calls_per_sec: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// After this many failures in a row a worker stops: the target is broken, not slow.
const MAX_CONSECUTIVE_ERRORS: u32 = 20;

/// Runs `workers` concurrently for `duration`. Ids are unique per worker (worker index in the
/// high bits), so concurrent requests on one session never share an id.
pub async fn run(workers: &mut [Caller], duration: Duration) -> Sample {
    let start = Instant::now();
    let end = start + duration;
    let mut tasks: FuturesUnordered<_> = workers
        .iter_mut()
        .enumerate()
        .map(|(index, worker)| async move {
            let mut latencies = Vec::with_capacity(64 * 1024);
            let mut errors = 0u64;
            let mut first_error = None;
            let mut consecutive = 0u32;
            let mut next_id = (index as u64 + 1) << 32;
            while Instant::now() < end && consecutive < MAX_CONSECUTIVE_ERRORS {
                next_id += 1;
                let sent = Instant::now();
                match worker.call(next_id).await {
                    Ok(()) => {
                        latencies.push(sent.elapsed().as_nanos() as u64);
                        consecutive = 0;
                    }
                    Err(error) => {
                        errors += 1;
                        consecutive += 1;
                        first_error.get_or_insert_with(|| format!("{error:#}"));
                    }
                }
            }
            (latencies, errors, first_error)
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    while let Some((worker_latencies, worker_errors, worker_error)) = tasks.next().await {
        latencies.extend(worker_latencies);
        errors += worker_errors;
        if first_error.is_none() {
            first_error = worker_error;
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let percentile = |p: f64| -> f64 {
        if latencies.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * latencies.len() as f64).ceil() as usize;
        latencies[rank.clamp(1, latencies.len()) - 1] as f64 / 1e6
    };
    Sample {
        calls: latencies.len() as u64,
        errors,
        first_error,
        seconds,
        calls_per_sec: latencies.len() as f64 / seconds,
        p50_ms: percentile(50.0),
        p90_ms: percentile(90.0),
        p99_ms: percentile(99.0),
        max_ms: percentile(100.0),
    }
}
