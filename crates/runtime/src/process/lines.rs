//! Line framing of a child's pipes: stdout lines become protocol messages, stderr lines become
//! log lines, stdin receives one message per line.

use std::io;
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::{ChildStderr, ChildStdin, ChildStdout};
use tokio::sync::{mpsc, watch};

use super::LogSink;

/// The largest stdout message accepted. MCP results carrying images or files run to megabytes;
/// past this a line is more likely a runaway server than a message, and buffering it would cost
/// memory for nothing.
pub(crate) const MAX_MESSAGE_LEN: usize = 16 * 1024 * 1024;
/// Stderr lines are for humans; longer ones are truncated in the log.
pub(crate) const MAX_LOG_LINE_LEN: usize = 64 * 1024;

/// One line read by [`BoundedLines`], without its line ending.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line {
    Complete(Vec<u8>),
    /// The line was longer than the limit: `head` is its first `limit` bytes, `len` its length.
    TooLong {
        head: Vec<u8>,
        len: usize,
    },
}

/// Reads lines without ever buffering more than `limit` bytes of one line.
pub(crate) struct BoundedLines<R> {
    reader: BufReader<R>,
    limit: usize,
    line: Vec<u8>,
    overflow: usize,
}

impl<R: AsyncRead + Unpin> BoundedLines<R> {
    pub(crate) fn new(reader: R, limit: usize) -> Self {
        BoundedLines {
            reader: BufReader::new(reader),
            limit,
            line: Vec::new(),
            overflow: 0,
        }
    }

    /// The next line, or `None` at end of stream. A last line without a newline still counts.
    pub(crate) async fn next_line(&mut self) -> io::Result<Option<Line>> {
        loop {
            let available = self.reader.fill_buf().await?;
            if available.is_empty() {
                if self.line.is_empty() && self.overflow == 0 {
                    return Ok(None);
                }
                return Ok(Some(self.take_line()));
            }
            let newline = available.iter().position(|&byte| byte == b'\n');
            let chunk = &available[..newline.unwrap_or(available.len())];
            let kept = chunk.len().min(self.limit - self.line.len());
            self.line.extend_from_slice(&chunk[..kept]);
            self.overflow += chunk.len() - kept;
            let consumed = newline.map_or(available.len(), |at| at + 1);
            self.reader.consume(consumed);
            if newline.is_some() {
                return Ok(Some(self.take_line()));
            }
        }
    }

    fn take_line(&mut self) -> Line {
        let mut line = std::mem::take(&mut self.line);
        let overflow = std::mem::take(&mut self.overflow);
        if overflow > 0 {
            let len = line.len() + overflow;
            return Line::TooLong { head: line, len };
        }
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Line::Complete(line)
    }
}

/// Forwards stdout lines to `messages` until the child closes its stdout; then `messages` is
/// dropped, which tells the reader the stream has ended.
pub(crate) async fn pump_stdout(
    stdout: ChildStdout,
    messages: mpsc::Sender<String>,
    logs: Arc<dyn LogSink>,
) {
    let mut lines = BoundedLines::new(stdout, MAX_MESSAGE_LEN);
    let mut reader_gone = false;
    loop {
        match lines.next_line().await {
            Ok(None) => break,
            Err(error) => {
                logs.line(
                    "catwalk",
                    &format!("reading the server's stdout failed: {error}"),
                );
                break;
            }
            Ok(Some(Line::TooLong { len, .. })) => logs.line(
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
                    // Once nobody listens, keep draining so the child never blocks on a full pipe.
                    Ok(message) if !reader_gone => {
                        reader_gone = messages.send(message).await.is_err();
                    }
                    Ok(_) => {}
                    Err(_) => logs.line(
                        "catwalk",
                        "dropped a stdout line that is not valid UTF-8 (JSON-RPC messages must be)",
                    ),
                }
            }
        }
    }
}

/// Sends each stderr line to the log sink, truncating very long ones.
pub(crate) async fn pump_stderr(stderr: ChildStderr, logs: Arc<dyn LogSink>) {
    let mut lines = BoundedLines::new(stderr, MAX_LOG_LINE_LEN);
    loop {
        match lines.next_line().await {
            Ok(None) => break,
            Err(error) => {
                logs.line(
                    "catwalk",
                    &format!("reading the server's stderr failed: {error}"),
                );
                break;
            }
            Ok(Some(Line::Complete(bytes))) => {
                logs.line("stderr", &String::from_utf8_lossy(&bytes));
            }
            Ok(Some(Line::TooLong { head, len })) => {
                let shown = String::from_utf8_lossy(&head);
                let rest = len - head.len();
                logs.line("stderr", &format!("{shown} [... {rest} more bytes]"));
            }
        }
    }
}

/// Writes each message plus a newline to the child's stdin. Closing stdin (dropping it, so the
/// child reads end of file) happens when `close` turns true or its sender is dropped, or when
/// every sender of `messages` is gone.
pub(crate) async fn pump_stdin(
    mut stdin: ChildStdin,
    mut messages: mpsc::Receiver<String>,
    mut close: watch::Receiver<bool>,
    logs: Arc<dyn LogSink>,
) {
    loop {
        let message = tokio::select! {
            biased;
            _ = close.wait_for(|closed| *closed) => break,
            message = messages.recv() => message,
        };
        let Some(mut message) = message else { break };
        if !message.ends_with('\n') {
            message.push('\n');
        }
        // Also raced against `close`: a child that stopped reading fills the pipe, and a write
        // blocked on it must not keep stdin open forever.
        let written = tokio::select! {
            biased;
            _ = close.wait_for(|closed| *closed) => break,
            written = stdin.write_all(message.as_bytes()) => written,
        };
        if let Err(error) = written {
            logs.line(
                "catwalk",
                &format!("writing to the server's stdin failed: {error}"),
            );
            break;
        }
    }
}
