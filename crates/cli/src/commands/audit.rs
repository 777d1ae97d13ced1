//! `catwalk audit`: the audit trail, and the switch for recording tool call arguments.

use reqwest::Method;
use serde_json::json;

use crate::args::AuditArgs;
use crate::client::ApiClient;
use crate::commands::not_found_as;
use crate::error::{CliError, ExitStatus};
use crate::output::{cell, json_table, print_json, print_out};

pub async fn run(client: &ApiClient, args: &AuditArgs, json: bool) -> Result<ExitStatus, CliError> {
    if let (Some(name), Some(switch)) = (&args.name, &args.record_arguments) {
        let body = json!({ "audit_arguments": switch == "on" });
        let shown = client
            .request(Method::PATCH, &["deployments", name], Some(&body))
            .await
            .map_err(|error| not_found_as(name, error))?;
        if json {
            print_json(&shown)?;
        } else {
            print_out(&format!(
                "{name}: tool call arguments are {} recorded from now on\n",
                if switch == "on" { "" } else { "no longer" }
            ))?;
        }
        return Ok(ExitStatus::Success);
    }
    let mut query = vec![
        ("after", args.after.to_string()),
        ("limit", args.limit.to_string()),
    ];
    if let Some(name) = &args.name {
        query.push(("deployment", name.clone()));
    }
    if args.instance {
        query.push(("instance", "true".to_string()));
    }
    let rows = client.get(&["audit"], &query).await?;
    if json {
        print_json(&rows)?;
        return Ok(ExitStatus::Success);
    }
    let shown = json_table(
        &[
            "ID",
            "AT (ms)",
            "WHO",
            "DEPLOYMENT",
            "WHAT",
            "OUTCOME",
            "TOOK",
        ],
        &rows,
        |row| {
            let took = row["duration_ms"].as_i64().map(|ms| format!("{ms} ms"));
            vec![
                cell(&row["id"]),
                cell(&row["at"]),
                cell(&row["actor"]),
                cell(&row["deployment"]),
                cell(&row["action"]),
                cell(&row["outcome"]),
                took.unwrap_or_default(),
            ]
        },
    );
    print_out(&shown)?;
    Ok(ExitStatus::Success)
}
