//! Runs one installer command (npm, python, pip), streaming its output as progress lines and
//! keeping the last few lines to explain a failure.

use std::collections::VecDeque;
use std::io;
use std::path::Path;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc;

use super::jail::Jail;
use crate::sandbox::{Network, PrivateNet, Request, Tmp, inherit_fds};

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

/// Runs `program args` in `cwd` and returns `Err(message)` unless it exits 0.
///
/// Without a jail it runs with Catwalk's own environment (so the user's npm and pip
/// configuration, mirrors and credentials apply); in a jail, in bubblewrap with the jail's
/// environment and folders.
///
/// The child is killed if the returned future is dropped, so a cancelled install stops npm
/// (in a jail, bwrap's `--die-with-parent` takes the rest of the sandbox with it).
pub(crate) async fn run(
    program: &str,
    args: &[&str],
    cwd: &Path,
    jail: Option<&Jail<'_>>,
    progress: Progress<'_>,
) -> Result<(), String> {
    let shown = format!("{program} {}", args.join(" "));
    progress(&format!("$ {shown}"));
    let cannot_run = |error: io::Error| {
        format!("could not run `{program}`: {error} (is it installed and on PATH?)")
    };
    // Installs reach the registry through the same private network as servers, unless the
    // configuration names a registry or proxy on the host's loopback (see `jail.rs`).
    if let Some(setting) = jail.and_then(|jail| jail.loopback_config.as_ref()) {
        progress(&format!(
            "(in the host's network: {setting} names a host on its loopback)"
        ));
    }
    let private_net = match jail {
        Some(jail) if jail.loopback_config.is_none() => match jail.sandbox.network_stack() {
            Ok(stack) => Some(PrivateNet::new(stack).map_err(cannot_run)?),
            Err(_) => None,
        },
        _ => None,
    };
    let mut command = match jail {
        None => {
            let mut command = Command::new(program);
            command.args(args);
            command
        }
        Some(jail) => {
            let (resolved, bwrap_args) = jail
                .sandbox
                .command_args(&Request {
                    program: Path::new(program),
                    path_var: jail.env.get("PATH").map(String::as_str),
                    cwd,
                    read_only: &jail.read_only,
                    writable: &jail.writable,
                    network: match &private_net {
                        Some(private) => private.layout(),
                        None => Network::Host,
                    },
                    tmp: Tmp::Host(jail.tmp.clone()),
                    info_fd: private_net.as_ref().map(PrivateNet::info_fd),
                })
                .map_err(cannot_run)?;
            let mut command = Command::new(jail.sandbox.program());
            if let Some(private) = &private_net {
                inherit_fds(command.as_std_mut(), private.child_fds());
            }
            command
                .args(bwrap_args)
                .arg("--")
                .arg(resolved)
                .args(args)
                .env_clear()
                .envs(&jail.env);
            command
        }
    };
    let mut child = command
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(cannot_run)?;
    // Kept until the install ends: dropping it ends the network.
    let _network = match private_net {
        Some(private) => {
            let attached = tokio::task::spawn_blocking(move || private.attach(Stdio::null()))
                .await
                .unwrap_or_else(|error| Err(error.to_string()));
            match attached {
                Ok(attached) => Some(attached),
                Err(error) => {
                    let _ = child.start_kill();
                    let _ = child.wait().await;
                    return Err(format!(
                        "could not run `{program}`: the sandbox's network did not start: {error}"
                    ));
                }
            }
        }
        None => None,
    };

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
