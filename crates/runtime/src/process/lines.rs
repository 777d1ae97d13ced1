//! Line framing of a child's pipes: bounded lines for stdout (see `pipes.rs`) and stderr, whose
//! lines become log lines.

use std::io;
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::ChildStderr;

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
