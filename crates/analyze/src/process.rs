//! Running the user's own `npm`, `pip` and `git` with a deadline.
//!
//! Each command runs in its own process group so that a timeout also stops the helpers it
//! started (git spawns `ssh` and `git-remote-https`, npm spawns nothing we want left behind).
//! Arguments are passed as a vector, never through a shell.

use std::ffi::OsStr;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::error::AnalyzeError;

/// What a finished command printed.
pub(crate) struct Output {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// One command to run.
pub(crate) struct Cmd<'a> {
    pub program: &'a str,
    pub args: Vec<&'a OsStr>,
    pub envs: Vec<(&'a str, &'a str)>,
    pub timeout: Duration,
}

impl<'a> Cmd<'a> {
    pub fn new(program: &'a str, timeout: Duration) -> Cmd<'a> {
        Cmd {
            program,
            args: Vec::new(),
            envs: Vec::new(),
            timeout,
        }
    }

    pub fn arg(mut self, arg: &'a (impl AsRef<OsStr> + ?Sized)) -> Cmd<'a> {
        self.args.push(arg.as_ref());
        self
    }

    pub fn env(mut self, key: &'a str, value: &'a str) -> Cmd<'a> {
        self.envs.push((key, value));
        self
    }

    /// The command line for messages (arguments are package names and paths, never secrets;
    /// URLs are redacted by the caller before they get here).
    pub fn display(&self) -> String {
        let mut line = self.program.to_string();
        for arg in &self.args {
            line.push(' ');
            line.push_str(&arg.to_string_lossy());
        }
        line
    }

    /// Runs the command to completion or until the deadline.
    pub async fn run(self) -> Result<Output, AnalyzeError> {
        let mut command = tokio::process::Command::new(self.program);
        command
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0);
        for (key, value) in &self.envs {
            command.env(key, value);
        }
        let child = command.spawn().map_err(|e| AnalyzeError::ToolMissing {
            tool: self.program.to_string(),
            detail: e.to_string(),
        })?;
        let pid = child.id();
        match tokio::time::timeout(self.timeout, child.wait_with_output()).await {
            Ok(Ok(out)) => Ok(Output {
                success: out.status.success(),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            }),
            Ok(Err(e)) => Err(AnalyzeError::CommandFailed {
                command: self.display(),
                detail: format!("waiting for it failed: {e}"),
            }),
            Err(_) => {
                // The dropped future already killed the direct child; stop its helpers too.
                if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
                    let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
                }
                Err(AnalyzeError::Timeout {
                    command: self.display(),
                    seconds: self.timeout.as_secs(),
                })
            }
        }
    }
}

/// The last non-empty line of a command's stderr, for short error messages.
pub(crate) fn last_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("(no output)")
        .to_string()
}
