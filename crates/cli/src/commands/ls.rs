//! `catwalk ls`: the deployments as a table.

use crate::client::{ApiClient, Deployment, decode};
use crate::error::{CliError, ExitStatus};
use crate::output::{print_json, print_out, table};

pub async fn run(client: &ApiClient, json: bool) -> Result<ExitStatus, CliError> {
    let list = client.list_deployments().await?;
    if json {
        print_json(&list)?;
        return Ok(ExitStatus::Success);
    }
    let deployments: Vec<Deployment> = decode("GET /api/deployments", &list)?;
    if deployments.is_empty() {
        eprintln!("no deployments yet; create one with `catwalk deploy SOURCE`");
        return Ok(ExitStatus::Success);
    }
    let rows: Vec<Vec<String>> = deployments
        .into_iter()
        .map(|deployment| {
            vec![
                deployment.name,
                deployment.status,
                if deployment.public { "PUBLIC" } else { "token" }.to_owned(),
                deployment.source,
                deployment.endpoint.unwrap_or_else(|| "-".to_owned()),
            ]
        })
        .collect();
    print_out(&table(
        &["NAME", "STATUS", "ACCESS", "SOURCE", "ENDPOINT"],
        &rows,
    ))?;
    Ok(ExitStatus::Success)
}
