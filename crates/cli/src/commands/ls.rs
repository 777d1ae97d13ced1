//! `catwalk ls`: the deployments as a table.

use serde_json::Value;

use crate::args::LsArgs;
use crate::client::{ApiClient, Deployment, decode};
use crate::error::{CliError, ExitStatus};
use crate::output::{print_json, print_out, table};

/// Every deployment, however many pages the API answers in: `--json` prints them as one array.
pub async fn run(client: &ApiClient, args: &LsArgs, json: bool) -> Result<ExitStatus, CliError> {
    let list = Value::Array(
        client
            .list_deployments(args.status.as_deref(), args.page_size)
            .await?,
    );
    if json {
        print_json(&list)?;
        return Ok(ExitStatus::Success);
    }
    let deployments: Vec<Deployment> = decode("GET /api/deployments", &list)?;
    if deployments.is_empty() {
        match &args.status {
            Some(status) => eprintln!("no deployment is {status}"),
            None => eprintln!("no deployments yet; create one with `catwalk deploy SOURCE`"),
        }
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
