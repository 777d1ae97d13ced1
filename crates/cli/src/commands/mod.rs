//! One module per command; each takes resolved settings and returns an exit status.

pub mod access;
pub mod account;
pub mod analyze;
pub mod audit;
pub mod deploy;
pub mod env;
pub mod logs;
pub mod ls;
pub mod rm;
pub mod serve;
pub mod token;
pub mod vault;

use crate::client::ClientError;
use crate::error::CliError;

/// Turns the API's 404 into a message naming the deployment; other errors pass through.
pub(crate) fn not_found_as(name: &str, error: ClientError) -> CliError {
    if error.is_not_found() {
        CliError::Failed(format!("no deployment named {name:?} (see `catwalk ls`)"))
    } else {
        CliError::Client(error)
    }
}

#[cfg(test)]
mod tests;
