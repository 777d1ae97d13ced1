//! A server's stdin and stdout as the bridge uses them: written and read by whichever task has a
//! message to send or is waiting for one, with no task in between. Every request of every client
//! passes here, so a hand-off to a pump task would cost each call two extra wake-ups.

use std::fmt;
use std::sync::Arc;

use futures::FutureExt;
use tokio::io::AsyncWriteExt;
use tokio::process::{ChildStdin, ChildStdout};
use tokio::sync::{Mutex, OwnedMutexGuard, watch};

use super::LogSink;
use super::lines::{BoundedLines, Line, MAX_MESSAGE_LEN};

/// The server's stdin is closed (the process is stopping or gone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StdinClosed;

impl fmt::Display for StdinClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the server's stdin is closed")
    }
}

impl std::error::Error for StdinClosed {}

/// Writes messages to a server's stdin, one per line. Clones share the pipe; a message is never
/// interleaved with another, and never cut short by a caller that stops waiting.
#[derive(Clone)]
pub struct Stdin {
    pipe: Arc<Mutex<Option<ChildStdin>>>,
    closed: watch::Receiver<bool>,
    logs: Arc<dyn LogSink>,
}

impl Stdin {
    pub(crate) fn new(
        stdin: ChildStdin,
        closed: watch::Receiver<bool>,
        logs: Arc<dyn LogSink>,
    ) -> Stdin {
        let pipe = Arc::new(Mutex::new(Some(stdin)));
        // Closing drops the pipe (the child reads end of file) once no write holds it; a write
        // blocked on a full pipe gives it up as soon as `closed` turns true.
        let closer = pipe.clone();
        let mut watching = closed.clone();
        tokio::spawn(async move {
            let _ = watching.wait_for(|closed| *closed).await;
            closer.lock().await.take();
        });
        Stdin { pipe, closed, logs }
    }

    /// Writes one message (a newline is added when it has none).
    pub async fn send(&self, message: String) -> Result<(), StdinClosed> {
        let mut line = message;
        if !line.ends_with('\n') {
            line.push('\n');
        }
        let mut pipe = self.pipe.clone().lock_owned().await;
        let Some(writer) = pipe.as_mut() else {
            return Err(StdinClosed);
        };
        // The usual case: the pipe has room and the whole line goes in one non-blocking write,
        // finished before any await point.
        let written = match writer.write(line.as_bytes()).now_or_never() {
            Some(Ok(written)) if written == line.len() => return Ok(()),
            Some(Ok(written)) => written,
            Some(Err(error)) => return Err(self.failed(&mut pipe, &error)),
            None => 0,
        };
        // The pipe is full (a slow server) or the line is long: the rest is written by a task of
        // its own that holds the pipe until the line is complete, so a caller that stops waiting
        // cannot leave half a message behind for the next one to be glued to.
        let stdin = self.clone();
        let rest = line.split_off(written);
        tokio::spawn(async move { stdin.finish(pipe, rest).await })
            .await
            .unwrap_or(Err(StdinClosed))
    }

    async fn finish(
        &self,
        mut pipe: OwnedMutexGuard<Option<ChildStdin>>,
        rest: String,
    ) -> Result<(), StdinClosed> {
        let mut closed = self.closed.clone();
        let Some(writer) = pipe.as_mut() else {
            return Err(StdinClosed);
        };
        let written = tokio::select! {
            biased;
            _ = closed.wait_for(|closed| *closed) => {
                pipe.take();
                return Err(StdinClosed);
            }
            written = writer.write_all(rest.as_bytes()) => written,
        };
        written.map_err(|error| self.failed(&mut pipe, &error))
    }

    fn failed(&self, pipe: &mut Option<ChildStdin>, error: &std::io::Error) -> StdinClosed {
        self.logs.line(
            "catwalk",
            &format!("writing to the server's stdin failed: {error}"),
        );
        pipe.take();
        StdinClosed
    }
}

/// Reads a server's stdout, one message per line: blank lines are skipped, and lines that are not
/// UTF-8 or longer than [`MAX_MESSAGE_LEN`] are dropped with a log line.
pub struct Stdout {
    lines: Option<BoundedLines<ChildStdout>>,
    logs: Arc<dyn LogSink>,
}

impl Stdout {
    pub(crate) fn new(stdout: ChildStdout, logs: Arc<dyn LogSink>) -> Stdout {
        Stdout {
            lines: Some(BoundedLines::new(stdout, MAX_MESSAGE_LEN)),
            logs,
        }
    }

    /// A stdout that is already at its end (what is left behind by [`Stdout::take`]).
    pub fn ended(logs: Arc<dyn LogSink>) -> Stdout {
        Stdout { lines: None, logs }
    }

    /// Takes the reading end out, leaving an ended one in its place.
    pub fn take(&mut self) -> Stdout {
        std::mem::replace(self, Stdout::ended(self.logs.clone()))
    }

    /// The next message, or `None` once the process has closed its stdout (normally at exit).
    pub async fn recv(&mut self) -> Option<String> {
        loop {
            let lines = self.lines.as_mut()?;
            match lines.next_line().await {
                Ok(None) => {
                    self.lines = None;
                    return None;
                }
                Err(error) => {
                    self.logs.line(
                        "catwalk",
                        &format!("reading the server's stdout failed: {error}"),
                    );
                    self.lines = None;
                    return None;
                }
                Ok(Some(Line::TooLong { len, .. })) => self.logs.line(
                    "catwalk",
                    &format!(
                        "dropped a stdout message of {len} bytes: larger than the limit of \
                         {MAX_MESSAGE_LEN} bytes"
                    ),
                ),
                Ok(Some(Line::Complete(bytes))) => {
                    if bytes.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    match String::from_utf8(bytes) {
                        Ok(message) => return Some(message),
                        Err(_) => self.logs.line(
                            "catwalk",
                            "dropped a stdout line that is not valid UTF-8 (JSON-RPC messages \
                             must be)",
                        ),
                    }
                }
            }
        }
    }
}
