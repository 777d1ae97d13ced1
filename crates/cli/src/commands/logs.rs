//! `catwalk logs NAME [-f]`: a deployment's server log (its stderr, secrets redacted by the
//! server).
//!
//! With `--json`, plain mode prints the entries as one JSON array; follow mode prints one
//! compact JSON entry per line (NDJSON), since an array could never be closed.

use std::time::Duration;

use serde_json::Value;

use crate::client::{ApiClient, ClientError, LogLine, decode};
use crate::commands::not_found_as;
use crate::error::{CliError, ExitStatus};
use crate::output::{print_json, print_out};

/// Entries asked for per request (the API's default page size).
const PAGE: u32 = 200;
/// Pause before a dropped live tail is opened again.
const RECONNECT_DELAY: Duration = Duration::from_millis(500);

pub async fn run(
    client: &ApiClient,
    name: &str,
    follow: bool,
    json: bool,
) -> Result<ExitStatus, CliError> {
    if !follow {
        let (entries, _) = fetch_after(client, name, 0)
            .await
            .map_err(|error| not_found_as(name, error))?;
        if json {
            print_json(&Value::Array(entries))?;
        } else {
            print_lines(&entries, false)?;
        }
        return Ok(ExitStatus::Success);
    }
    tokio::select! {
        result = follow_logs(client, name, json) => result,
        // Ctrl-C is how a follow ends, not a failure.
        _ = tokio::signal::ctrl_c() => Ok(ExitStatus::Success),
    }
}

/// Prints what is logged so far, then each new line as the server's live tail delivers it. A
/// dropped stream is opened again where it stopped; the end comes with Ctrl-C, or when the
/// deployment is removed.
async fn follow_logs(client: &ApiClient, name: &str, json: bool) -> Result<ExitStatus, CliError> {
    let mut after = 0;
    let mut first = true;
    loop {
        let mut stream = match client.log_stream(name, after).await {
            Ok(stream) => stream,
            Err(error) if error.is_not_found() && !first => {
                return Err(CliError::Failed(format!(
                    "deployment {name:?} no longer exists (it was removed)"
                )));
            }
            Err(error) => return Err(not_found_as(name, error)),
        };
        first = false;
        while let Ok(Some(entry)) = stream.next().await {
            let line: LogLine = decode("GET /logs/stream", &entry)?;
            after = after.max(line.id);
            print_lines(&[entry], json)?;
        }
        // Ended by the server (the deployment is gone: the next open says so) or dropped.
        tokio::time::sleep(RECONNECT_DELAY).await;
    }
}

/// Every entry after `after`, paging until a short page; returns them with the last id seen.
pub async fn fetch_after(
    client: &ApiClient,
    name: &str,
    mut after: i64,
) -> Result<(Vec<Value>, i64), ClientError> {
    let mut all = Vec::new();
    loop {
        let page = client.logs(name, after, PAGE).await?;
        let Value::Array(entries) = page else {
            return Err(ClientError::Protocol {
                url: format!("GET /api/deployments/{name}/logs"),
                detail: "the body is not a JSON array".to_owned(),
            });
        };
        let count = entries.len();
        for entry in &entries {
            let line: LogLine = decode("GET /logs", entry)?;
            after = after.max(line.id);
        }
        all.extend(entries);
        if count < PAGE as usize {
            return Ok((all, after));
        }
    }
}

/// Prints entries to stdout: the bare line, or one compact JSON object per line.
fn print_lines(entries: &[Value], json: bool) -> Result<(), CliError> {
    let mut text = String::new();
    for entry in entries {
        if json {
            text.push_str(&entry.to_string());
        } else {
            let line: LogLine = decode("GET /logs", entry)?;
            text.push_str(&line.line);
        }
        text.push('\n');
    }
    if !text.is_empty() {
        print_out(&text)?;
    }
    Ok(())
}
