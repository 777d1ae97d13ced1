//! `catwalk token ...`: a deployment's access tokens (several, named, each revocable).

use reqwest::Method;
use serde_json::{Value, json};

use crate::args::TokenCommand;
use crate::client::ApiClient;
use crate::commands::not_found_as;
use crate::error::{CliError, ExitStatus};
use crate::output::{cell, json_table, print_json, print_out};

pub async fn run(
    client: &ApiClient,
    action: &TokenCommand,
    json: bool,
) -> Result<ExitStatus, CliError> {
    match action {
        TokenCommand::Rotate { name, token_name } => {
            let body = json!({ "name": token_name });
            let made = client
                .request(Method::POST, &["deployments", name, "token"], Some(&body))
                .await
                .map_err(|error| not_found_as(name, error))?;
            show_new(
                &made,
                json,
                &format!(
                    "new access token {token_name:?} for {name}: it is shown only once, and the old one \
                 no longer works; update your MCP clients"
                ),
            )
        }
        TokenCommand::New { name, token_name } => {
            let body = json!({ "name": token_name });
            let made = client
                .request(Method::POST, &["deployments", name, "tokens"], Some(&body))
                .await
                .map_err(|error| not_found_as(name, error))?;
            show_new(
                &made,
                json,
                &format!("access token {token_name:?} for {name}: it is shown only once"),
            )
        }
        TokenCommand::Ls { name } => {
            let tokens = client
                .request(Method::GET, &["deployments", name, "tokens"], None)
                .await
                .map_err(|error| not_found_as(name, error))?;
            if json {
                print_json(&tokens)?;
            } else {
                let shown = json_table(&["NAME", "ID"], &tokens, |t| {
                    vec![cell(&t["name"]), cell(&t["id"])]
                });
                print_out(&shown)?;
            }
            Ok(ExitStatus::Success)
        }
        TokenCommand::Revoke { name, id } => {
            client
                .request(Method::DELETE, &["deployments", name, "tokens", id], None)
                .await?;
            if json {
                print_json(&json!({ "revoked": id }))?;
            } else {
                print_out(&format!(
                    "revoked {id}; sessions opened with it have ended\n"
                ))?;
            }
            Ok(ExitStatus::Success)
        }
    }
}

/// Prints a token just made: only the token on stdout (so `TOKEN=$(catwalk token ...)` works),
/// the note on stderr; or the whole answer as JSON.
fn show_new(made: &Value, json: bool, note: &str) -> Result<ExitStatus, CliError> {
    if json {
        print_json(made)?;
        return Ok(ExitStatus::Success);
    }
    let token = made
        .get("token")
        .and_then(Value::as_str)
        .ok_or_else(|| CliError::Failed("the server's answer has no token".to_owned()))?;
    print_out(&format!("{token}\n"))?;
    eprintln!("{note}");
    Ok(ExitStatus::Success)
}
