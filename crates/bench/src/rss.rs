//! The gateway's memory with many idle sessions: Catwalk's own resident set (VmRSS of the
//! `catwalk serve` process; the MCP server is a separate process and is not counted) before and
//! after opening the sessions, and again with each session holding its standalone GET stream, as
//! MCP clients keep one open.

use std::time::Duration;

use anyhow::{Context, Result};
use futures::StreamExt;
use serde::Serialize;

use crate::http::{self, Conn, Endpoint, Session};
use crate::procs;

#[derive(Debug, Clone, Serialize)]
pub struct RssReport {
    pub sessions: usize,
    /// After deploy, with the bench's own worker session only.
    pub before_kb: u64,
    /// With `sessions` more sessions initialized and left idle (no open stream).
    pub with_sessions_kb: u64,
    /// The same sessions, each also holding its GET stream on a connection of its own.
    pub with_streams_kb: Option<u64>,
    pub streams_error: Option<String>,
}

/// Lets the allocator and the gateway's background tasks settle before reading VmRSS.
const SETTLE: Duration = Duration::from_millis(1500);
/// Sessions are opened this many at a time (each on its own connection).
const PARALLEL: usize = 16;

pub async fn measure(pid: u32, endpoint: &Endpoint, sessions: usize) -> Result<RssReport> {
    tokio::time::sleep(SETTLE).await;
    let before_kb = procs::status_kb(pid, "VmRSS").context("reading the gateway's VmRSS")?;

    let mut conns = Vec::with_capacity(PARALLEL);
    for _ in 0..PARALLEL {
        conns.push(Conn::open(endpoint).await?);
    }
    let mut opened: Vec<Session> = Vec::with_capacity(sessions);
    let per_conn = sessions.div_ceil(PARALLEL);
    let mut tasks: futures::stream::FuturesUnordered<_> = conns
        .iter_mut()
        .enumerate()
        .map(|(index, conn)| async move {
            let count = per_conn.min(sessions.saturating_sub(index * per_conn));
            let mut mine = Vec::with_capacity(count);
            for _ in 0..count {
                mine.push(conn.open_session().await?);
            }
            anyhow::Ok(mine)
        })
        .collect();
    while let Some(result) = tasks.next().await {
        opened.extend(result.context("opening idle sessions")?);
    }
    drop(tasks);
    tokio::time::sleep(SETTLE).await;
    let with_sessions_kb = procs::status_kb(pid, "VmRSS").context("reading VmRSS")?;

    let (with_streams_kb, streams_error) = match open_streams(endpoint, &opened).await {
        Ok(streams) => {
            tokio::time::sleep(SETTLE).await;
            let kb = procs::status_kb(pid, "VmRSS");
            drop(streams);
            (kb, None)
        }
        Err(error) => (None, Some(format!("{error:#}"))),
    };

    // The sessions end so that the load runs that follow see the same gateway the peers do.
    for (index, session) in opened.iter().enumerate() {
        let _ = conns[index % PARALLEL].close_session(session).await;
    }
    Ok(RssReport {
        sessions,
        before_kb,
        with_sessions_kb,
        with_streams_kb,
        streams_error,
    })
}

async fn open_streams(endpoint: &Endpoint, sessions: &[Session]) -> Result<Vec<http::Stream>> {
    let mut streams = Vec::with_capacity(sessions.len());
    for chunk in sessions.chunks(PARALLEL) {
        let opened =
            futures::future::join_all(chunk.iter().map(|s| http::open_stream(endpoint, s))).await;
        for stream in opened {
            streams.push(stream.context("opening a GET stream")?);
        }
    }
    Ok(streams)
}
