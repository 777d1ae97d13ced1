//! Exit statuses and the errors that end a command, with the one mapping between them.

use std::process::ExitCode;

use crate::client::ClientError;

/// How `catwalk` exits. Scripts may rely on these numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitStatus {
    /// The command did what was asked.
    Success = 0,
    /// The operation failed: an API error, a deployment that failed or timed out.
    Failure = 1,
    /// The command line or its inputs were wrong (clap errors, bad `--env`, unreadable env file).
    Usage = 2,
    /// The Catwalk server could not be reached.
    Unreachable = 3,
    /// No admin token, or the server rejected it (HTTP 401).
    Auth = 4,
    /// The user pressed Ctrl-C while `deploy` waited; the deployment goes on on the server.
    Interrupted = 130,
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        ExitCode::from(status as u8)
    }
}

/// Everything that ends a command early.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Client(#[from] ClientError),
    /// Wrong flags or inputs that clap cannot check itself.
    #[error("{0}")]
    Usage(String),
    /// No admin token could be found.
    #[error("{0}")]
    MissingToken(String),
    /// The operation did not succeed, for a reason the message explains.
    #[error("{0}")]
    Failed(String),
    /// Writing to stdout or stderr failed.
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}

impl CliError {
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            CliError::Client(client_error) => client_error.exit_status(),
            CliError::Usage(_) => ExitStatus::Usage,
            CliError::MissingToken(_) => ExitStatus::Auth,
            CliError::Failed(_) | CliError::Output(_) => ExitStatus::Failure,
        }
    }

    /// A line telling the user what to do next, when there is something useful to say.
    pub fn hint(&self) -> Option<String> {
        match self {
            CliError::Client(client_error) => client_error.hint(),
            CliError::MissingToken(_) => Some(
                "run `catwalk login`, pass --token TOKEN or set CATWALK_TOKEN; on the server's \
                 machine the admin's token is in <data-dir>/admin-token (written at first start)"
                    .to_owned(),
            ),
            _ => None,
        }
    }

    /// Prints the error to stderr and returns the exit status it maps to.
    pub fn report(self) -> ExitStatus {
        if let CliError::Output(io_error) = &self {
            // A closed pipe (`catwalk ls | head -1`) means the reader has all it wanted.
            if io_error.kind() == std::io::ErrorKind::BrokenPipe {
                return ExitStatus::Success;
            }
        }
        eprintln!("error: {self}");
        if let Some(hint) = self.hint() {
            eprintln!("hint: {hint}");
        }
        self.exit_status()
    }
}

#[cfg(test)]
mod tests;
