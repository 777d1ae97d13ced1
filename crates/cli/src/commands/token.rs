//! `catwalk token rotate NAME`: replaces a deployment's access token.

use serde_json::Value;

use crate::client::ApiClient;
use crate::commands::not_found_as;
use crate::error::{CliError, ExitStatus};
use crate::output::{print_json, print_out};

pub async fn rotate(client: &ApiClient, name: &str, json: bool) -> Result<ExitStatus, CliError> {
    let response = client
        .rotate_token(name)
        .await
        .map_err(|error| not_found_as(name, error))?;
    if json {
        print_json(&response)?;
        return Ok(ExitStatus::Success);
    }
    let token = response
        .get("token")
        .and_then(Value::as_str)
        .ok_or_else(|| CliError::Failed("the server's answer has no token".to_owned()))?;
    // Only the token goes to stdout, so `TOKEN=$(catwalk token rotate NAME)` works.
    print_out(&format!("{token}\n"))?;
    eprintln!(
        "new access token for {name}: it is shown only once, and the old one no longer works; \
         update your MCP clients"
    );
    Ok(ExitStatus::Success)
}
