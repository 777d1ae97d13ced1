//! `catwalk access NAME public|token`: who may use a deployment's endpoint.

use serde_json::json;

use crate::args::AccessMode;
use crate::client::ApiClient;
use crate::commands::not_found_as;
use crate::error::{CliError, ExitStatus};
use crate::output::print_json;

pub async fn run(
    client: &ApiClient,
    name: &str,
    mode: AccessMode,
    json: bool,
) -> Result<ExitStatus, CliError> {
    let public = mode == AccessMode::Public;
    let deployment = client
        .update_deployment(name, &json!({ "public": public }))
        .await
        .map_err(|error| not_found_as(name, error))?;
    if json {
        print_json(&deployment)?;
    } else if public {
        eprintln!("{name} is now PUBLIC: anyone who knows its URL can use it, without a token");
    } else {
        eprintln!("{name} now needs its access token again; tokenless sessions were ended");
    }
    Ok(ExitStatus::Success)
}
