//! `catwalk audit`: the audit trail, and the switch for recording tool call arguments.

use reqwest::Method;
use serde_json::{Value, json};

use crate::args::AuditArgs;
use crate::client::ApiClient;
use crate::commands::not_found_as;
use crate::error::{CliError, ExitStatus};
use crate::output::{print_json, print_out, table};

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
    let text = |value: &Value| match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let lines: Vec<Vec<String>> = rows
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|row| {
            vec![
                text(&row["id"]),
                text(&row["at"]),
                text(&row["actor"]),
                text(&row["deployment"]),
                text(&row["action"]),
                text(&row["outcome"]),
                row["duration_ms"]
                    .as_i64()
                    .map(|ms| format!("{ms} ms"))
                    .unwrap_or_default(),
            ]
        })
        .collect();
    print_out(&table(
        &[
            "ID",
            "AT (ms)",
            "WHO",
            "DEPLOYMENT",
            "WHAT",
            "OUTCOME",
            "TOOK",
        ],
        &lines,
    ))?;
    Ok(ExitStatus::Success)
}
