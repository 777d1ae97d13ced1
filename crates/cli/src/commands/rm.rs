//! `catwalk rm NAME`: stops and removes a deployment; `catwalk stop NAME` and `catwalk start
//! NAME` stop it and start it again.

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

pub async fn stop(client: &ApiClient, name: &str, json: bool) -> Result<ExitStatus, CliError> {
    let shown = client
        .deployment_action(name, "stop")
        .await
        .map_err(|error| not_found_as(name, error))?;
    if json {
        print_out(&format!("{shown:#}\n"))?;
    } else {
        print_out(&format!("stopped {name}\n"))?;
    }
    Ok(ExitStatus::Success)
}

pub async fn start(client: &ApiClient, name: &str, json: bool) -> Result<ExitStatus, CliError> {
    let shown = client
        .deployment_action(name, "start")
        .await
        .map_err(|error| not_found_as(name, error))?;
    if json {
        print_out(&format!("{shown:#}\n"))?;
    } else {
        print_out(&format!(
            "starting {name}; follow it with `catwalk ls` or `catwalk logs {name} -f`\n"
        ))?;
    }
    Ok(ExitStatus::Success)
}
