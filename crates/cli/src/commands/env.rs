//! `catwalk env NAME -e KEY=VALUE --unset KEY ...`: changes a deployment's values and waits
//! until its server runs again with them.

use std::time::Duration;

use tokio::time::Instant;

use crate::client::{ApiClient, Deployment, decode};
use crate::commands::not_found_as;
use crate::error::{CliError, ExitStatus};
use crate::output::{print_json, print_out};
use crate::settings::EnvSettings;

const POLL_INTERVAL: Duration = Duration::from_millis(300);

pub async fn run(
    client: &ApiClient,
    settings: &EnvSettings,
    json: bool,
) -> Result<ExitStatus, CliError> {
    let name = &settings.name;
    let shown = client
        .set_credentials(name, &settings.change)
        .await
        .map_err(|error| not_found_as(name, error))?;
    let mut deployment: Deployment = decode("PATCH /api/deployments/{name}/credentials", &shown)?;
    let mut last = shown;
    eprintln!("{name}: values changed; the server restarts with them");
    let deadline = Instant::now() + settings.timeout;
    let mut reported = String::new();
    while !matches!(
        deployment.status.as_str(),
        "running" | "sleeping" | "failed" | "stopped"
    ) {
        if deployment.status != reported {
            eprintln!("==> {}", deployment.status);
            reported = deployment.status.clone();
        }
        if Instant::now() >= deadline {
            eprintln!(
                "error: {name} is still {} after {} s; it keeps going on the server",
                deployment.status,
                settings.timeout.as_secs()
            );
            return Ok(ExitStatus::Failure);
        }
        tokio::time::sleep(POLL_INTERVAL).await;
        last = client
            .deployment(name)
            .await
            .map_err(|error| not_found_as(name, error))?;
        deployment = decode("GET /api/deployments/{name}", &last)?;
    }
    if json {
        print_json(&last)?;
    } else {
        print_out(&format!("{name} is {}\n", deployment.status))?;
    }
    if deployment.status == "failed" {
        eprintln!(
            "error: {name} failed with its new values: {}",
            deployment
                .status_reason
                .as_deref()
                .unwrap_or("no reason given")
        );
        eprintln!("hint: see `catwalk logs {name}`");
        return Ok(ExitStatus::Failure);
    }
    Ok(ExitStatus::Success)
}
