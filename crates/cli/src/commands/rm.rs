//! `catwalk rm NAME`: stops and removes a deployment.

use crate::client::ApiClient;
use crate::commands::not_found_as;
use crate::error::{CliError, ExitStatus};
use crate::output::print_out;

pub async fn run(client: &ApiClient, name: &str, json: bool) -> Result<ExitStatus, CliError> {
    client
        .delete_deployment(name)
        .await
        .map_err(|error| not_found_as(name, error))?;
    // The API answers 204 with no body, so `--json` has nothing to print.
    if !json {
        print_out(&format!("removed {name}\n"))?;
    }
    Ok(ExitStatus::Success)
}
