//! `catwalk deploy SOURCE`: creates a deployment, follows its progress until it runs or fails,
//! and prints the endpoint, its access token and ready-to-paste client configs.
//!
//! The access token is returned only by the creation call, so every way out of the wait
//! (success, failure, timeout, Ctrl-C) still prints it: losing it would mean a rotation.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use crate::client::{ApiClient, ClientError, Deployment, Event, LogLine, decode};
use crate::commands::logs::fetch_after;
use crate::error::{CliError, ExitStatus};
use crate::output::{print_json, print_out, render_configs};
use crate::settings::DeploySettings;

const POLL_INTERVAL: Duration = Duration::from_millis(300);
const EVENT_PAGE: u32 = 100;
/// Log lines shown when a deployment fails.
const FAILURE_LOG_LINES: usize = 20;

/// How waiting for a deployment ended.
enum Outcome {
    /// It reached a status it will not leave by itself: `running` (or already `sleeping` after
    /// running), `failed` or `stopped`.
    Settled(Value, Deployment),
    TimedOut(Deployment),
    Interrupted,
}

pub async fn run(
    client: &ApiClient,
    settings: &DeploySettings,
    json: bool,
) -> Result<ExitStatus, CliError> {
    let mut body = json!({
        "source": settings.source,
        "env": settings.env,
        "args": settings.args,
        "public": settings.public,
        "network": settings.network,
        "limits": settings.limits,
        "audit_arguments": settings.audit_arguments,
    });
    if let Some(name) = &settings.name {
        body["name"] = json!(name);
    }
    if let Some(seconds) = settings.call_timeout {
        body["call_timeout_secs"] = json!(seconds);
    }
    if settings.process_per_session {
        body["process_model"] = json!("per_session");
    }
    if let Some(seconds) = settings.sleep_after {
        body["sleep_after_secs"] = json!(seconds);
    }
    eprintln!(
        "deploying {}: analyzing it first (this downloads the package)...",
        settings.source
    );
    let mut created = client.create_deployment(&body).await?;
    let deployment: Deployment = decode("POST /api/deployments", &created["deployment"])?;
    let name = deployment.name.clone();
    eprintln!("created deployment {name} ({})", deployment.status);
    if !settings.wait {
        print_result(&created, &deployment, json, true)?;
        return Ok(ExitStatus::Success);
    }

    let outcome = tokio::select! {
        outcome = wait_until_settled(client, &name, settings.timeout) => outcome?,
        _ = tokio::signal::ctrl_c() => Outcome::Interrupted,
    };
    match outcome {
        Outcome::Settled(final_value, final_deployment) => {
            created["deployment"] = final_value;
            if matches!(final_deployment.status.as_str(), "running" | "sleeping") {
                eprintln!("deployment {name} is {}", final_deployment.status);
                print_result(&created, &final_deployment, json, true)?;
                return Ok(ExitStatus::Success);
            }
            let reason = final_deployment
                .status_reason
                .clone()
                .unwrap_or_else(|| "no reason given".to_owned());
            eprintln!(
                "error: deployment {name} {}: {reason}",
                final_deployment.status
            );
            show_last_logs(client, &name).await;
            eprintln!(
                "hint: full log with `catwalk logs {name}`; remove it with `catwalk rm {name}`"
            );
            print_result(&created, &final_deployment, json, false)?;
            Ok(ExitStatus::Failure)
        }
        Outcome::TimedOut(last) => {
            eprintln!(
                "error: {name} is still {} after {} s; it keeps going on the server",
                last.status,
                settings.timeout.as_secs()
            );
            eprintln!("hint: follow it with `catwalk logs {name} -f` and `catwalk ls`");
            print_result(&created, &last, json, true)?;
            Ok(ExitStatus::Failure)
        }
        Outcome::Interrupted => {
            eprintln!(
                "interrupted: {name} keeps deploying on the server; check it with `catwalk ls`"
            );
            print_result(&created, &deployment, json, true)?;
            Ok(ExitStatus::Interrupted)
        }
    }
}

fn is_settled(status: &str) -> bool {
    matches!(status, "running" | "sleeping" | "failed" | "stopped")
}

async fn wait_until_settled(
    client: &ApiClient,
    name: &str,
    timeout: Duration,
) -> Result<Outcome, CliError> {
    let deadline = Instant::now() + timeout;
    let mut after = 0;
    let mut phase = "deploying".to_owned();
    loop {
        print_new_events(client, name, &mut after, &mut phase).await?;
        let value = client
            .deployment(name)
            .await
            .map_err(|error| disappeared(name, error))?;
        let deployment: Deployment = decode("GET /api/deployments/{name}", &value)?;
        if is_settled(&deployment.status) {
            // The events that led to the final status may have come after the last read.
            print_new_events(client, name, &mut after, &mut phase).await?;
            return Ok(Outcome::Settled(value, deployment));
        }
        if Instant::now() >= deadline {
            return Ok(Outcome::TimedOut(deployment));
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Prints every event after `after` to stderr: status changes as `==> status`, progress lines
/// prefixed with the current phase (`  installing: npm install ...`).
async fn print_new_events(
    client: &ApiClient,
    name: &str,
    after: &mut i64,
    phase: &mut String,
) -> Result<(), CliError> {
    loop {
        let page = client
            .events(name, *after, EVENT_PAGE)
            .await
            .map_err(|error| disappeared(name, error))?;
        let events: Vec<Event> = decode("GET /api/deployments/{name}/events", &page)?;
        for event in &events {
            *after = (*after).max(event.id);
            match event.kind.as_str() {
                "status" => {
                    let status = event.message.split(':').next().unwrap_or_default();
                    *phase = status.trim().to_owned();
                    eprintln!("==> {}", event.message);
                }
                "progress" => eprintln!("  {phase}: {}", event.message),
                other => eprintln!("  {other}: {}", event.message),
            }
        }
        if events.len() < EVENT_PAGE as usize {
            return Ok(());
        }
    }
}

fn disappeared(name: &str, error: ClientError) -> CliError {
    if error.is_not_found() {
        CliError::Failed(format!(
            "deployment {name:?} disappeared while deploying (was it removed?)"
        ))
    } else {
        CliError::Client(error)
    }
}

async fn show_last_logs(client: &ApiClient, name: &str) {
    match fetch_after(client, name, 0).await {
        Ok((entries, _)) if entries.is_empty() => eprintln!("(the server wrote no log lines)"),
        Ok((entries, _)) => {
            eprintln!("last log lines:");
            let start = entries.len().saturating_sub(FAILURE_LOG_LINES);
            for entry in &entries[start..] {
                if let Ok(line) = decode::<LogLine>("log", entry) {
                    eprintln!("  {}", line.line);
                }
            }
        }
        Err(error) => eprintln!("(cannot fetch the log: {error})"),
    }
}

/// Prints the creation response: as JSON, or as endpoint, token and (when `with_configs`) the
/// client configs.
fn print_result(
    created: &Value,
    deployment: &Deployment,
    json: bool,
    with_configs: bool,
) -> Result<(), CliError> {
    if json {
        print_json(created)?;
        return Ok(());
    }
    print_out(&render_result(created, deployment, with_configs))?;
    Ok(())
}

/// The text shown after a deploy.
pub fn render_result(created: &Value, deployment: &Deployment, with_configs: bool) -> String {
    let endpoint = created
        .get("endpoint")
        .and_then(Value::as_str)
        .or(deployment.endpoint.as_deref())
        .unwrap_or("-");
    let token = created.get("token").and_then(Value::as_str).unwrap_or("-");
    let name = &deployment.name;
    let mut text = format!(
        "Deployment: {name} ({})\nEndpoint:   {endpoint}\nToken:      {token}\n            \
         (shown only once: store it now; `catwalk token rotate {name}` makes a new one)\n",
        deployment.status
    );
    if deployment.public {
        text.push_str(&format!(
            "Access:     PUBLIC: anyone with the URL can use it, no token needed \
             (`catwalk access {name} token` closes it)\n"
        ));
    }
    if with_configs && let Some(configs) = created.get("configs") {
        let rendered = render_configs(configs);
        if !rendered.is_empty() {
            text.push('\n');
            text.push_str(rendered.trim_end());
            text.push('\n');
        }
    }
    text
}
