//! Runs one installer command (npm, python, pip), streaming its output as progress lines and
//! keeping the last few lines to explain a failure.

use std::collections::VecDeque;
use std::path::Path;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc;

/// How many trailing output lines a failure message quotes: enough for npm's
/// `npm error code E404` block or pip's `No matching distribution` line, short enough to read.
const TAIL_LINES: usize = 15;
/// Progress lines are for humans watching an install; a minified-JS error dump is cut here.
const MAX_PROGRESS_LINE: usize = 500;

pub(crate) type Progress<'a> = &'a (dyn Fn(&str) + Send + Sync);

/// Cuts a line to at most `max` bytes on a character boundary.
pub(crate) fn bound_line(line: &str, max: usize) -> &str {
    if line.len() <= max {
        return line;
    }
    let mut end = max;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    &line[..end]
}

/// Runs `program args` in `cwd` with Catwalk's own environment (so the user's npm and pip
/// configuration, mirrors and credentials apply) and returns `Err(message)` unless it exits 0.
///
/// The child is killed if the returned future is dropped, so a cancelled install stops npm.
pub(crate) async fn run(
    program: &str,
    args: &[&str],
    cwd: &Path,
    progress: Progress<'_>,
) -> Result<(), String> {
    let shown = format!("{program} {}", args.join(" "));
    progress(&format!("$ {shown}"));
    let mut child = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| {
            format!("could not run `{program}`: {error} (is it installed and on PATH?)")
        })?;

    let (line_tx, mut line_rx) = mpsc::channel::<String>(64);
    if let Some(stdout) = child.stdout.take() {
        tokio::spawn(forward_lines(stdout, line_tx.clone()));
    }
    if let Some(stderr) = child.stderr.take() {
        tokio::spawn(forward_lines(stderr, line_tx.clone()));
    }
    drop(line_tx);

    let mut tail = VecDeque::with_capacity(TAIL_LINES);
    while let Some(line) = line_rx.recv().await {
        let line = bound_line(line.trim(), MAX_PROGRESS_LINE);
        if line.is_empty() {
            continue;
        }
        progress(line);
        if tail.len() == TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(line.to_string());
    }

    let status = child
        .wait()
        .await
        .map_err(|error| format!("waiting for `{shown}` failed: {error}"))?;
    if status.success() {
        return Ok(());
    }
    let mut message = format!("`{shown}` failed ({status})");
    if tail.is_empty() {
        message.push_str(" without output");
    } else {
        message.push_str(":\n");
        message.push_str(&Vec::from(tail).join("\n"));
    }
    Err(message)
}

async fn forward_lines(stream: impl AsyncRead + Unpin, lines: mpsc::Sender<String>) {
    let mut reader = BufReader::new(stream);
    let mut buffer = Vec::new();
    // Bytes, not `lines()`: installer output is not guaranteed to be UTF-8, and one bad byte must
    // not end the stream.
    while let Ok(read) = reader.read_until(b'\n', &mut buffer).await {
        if read == 0 {
            break;
        }
        let line = String::from_utf8_lossy(&buffer).into_owned();
        buffer.clear();
        if lines.send(line).await.is_err() {
            break;
        }
    }
}
