//! `catwalk analyze SOURCE`: shows what Catwalk finds in a source, without deploying it.

use serde_json::Value;

use crate::client::ApiClient;
use crate::error::{CliError, ExitStatus};
use crate::output::{print_json, print_out, table, yes_no};
use crate::spec_view::{IntrospectionView, SpecView};

/// Resources listed by name at most; the rest are counted.
const RESOURCES_SHOWN: usize = 20;

pub async fn run(
    client: &ApiClient,
    source: &str,
    introspect: bool,
    json: bool,
) -> Result<ExitStatus, CliError> {
    if introspect {
        eprintln!(
            "analyzing {source}, then installing it and starting it once in the sandbox to list \
             its tools (this downloads the package and may take a while; --no-introspect skips \
             the start)..."
        );
    } else {
        eprintln!("analyzing {source} (this downloads the package and may take a while)...");
    }
    let spec = client.analyze(source, introspect).await?;
    if json {
        print_json(&spec)?;
    } else {
        print_out(&render(source, &spec))?;
    }
    Ok(ExitStatus::Success)
}

/// The human-readable report of a ServerSpec.
pub fn render(source: &str, spec: &Value) -> String {
    let view = SpecView::from_value(spec);
    let unknown = || "unknown".to_owned();
    let mut text = String::new();
    text.push_str(&format!("Source:      {source}\n"));
    if let Some(name) = &view.name {
        text.push_str(&format!("Name:        {name}\n"));
    }
    text.push_str(&format!(
        "Runtime:     {}\n",
        view.runtime.clone().unwrap_or_else(unknown)
    ));
    text.push_str(&format!(
        "Package:     {}\n",
        view.package.clone().unwrap_or_else(unknown)
    ));
    text.push_str(&format!(
        "Launch:      {}\n",
        view.launch.clone().unwrap_or_else(unknown)
    ));
    if let Some(description) = &view.description {
        text.push_str(&format!("Description: {description}\n"));
    }

    text.push('\n');
    if view.env.is_empty() {
        text.push_str("Environment variables: none found\n");
    } else {
        text.push_str("Environment variables:\n");
        let rows: Vec<Vec<String>> = view
            .env
            .iter()
            .map(|var| {
                let mut description = var.description.clone();
                if !var.choices.is_empty() {
                    description = format!("{description} (one of: {})", var.choices.join(", "));
                }
                if let Some(default) = &var.default {
                    description = format!("{description} (default: {default})");
                }
                let description = description.trim().to_owned();
                vec![
                    var.name.clone(),
                    yes_no(var.required).to_owned(),
                    yes_no(var.secret).to_owned(),
                    description,
                ]
            })
            .collect();
        text.push_str(&table(
            &["NAME", "REQUIRED", "SECRET", "DESCRIPTION"],
            &rows,
        ));
    }

    let env_evidence: Vec<String> = view
        .env
        .iter()
        .flat_map(|var| {
            var.evidence
                .iter()
                .map(move |place| format!("{}: {place}", var.name))
        })
        .collect();
    let count = env_evidence.len() + view.evidence.len();
    if count > 0 {
        text.push_str(&format!("\nEvidence ({count}):\n"));
        for line in view.evidence.iter().chain(&env_evidence) {
            text.push_str(&format!("  {line}\n"));
        }
    }
    if !view.warnings.is_empty() {
        text.push_str("\nWarnings:\n");
        for warning in &view.warnings {
            text.push_str(&format!("  {warning}\n"));
        }
    }
    text.push_str(&render_left_out(spec));
    text.push_str(&render_assist(spec));
    if let Some(introspection) = &view.introspection {
        text.push('\n');
        text.push_str(&render_introspection(introspection));
    }
    text
}

/// The variables seen but not asked for, and why.
fn render_left_out(spec: &Value) -> String {
    let Some(left) = spec["leftOut"].as_array().filter(|l| !l.is_empty()) else {
        return String::new();
    };
    let mut text = format!("\nLeft out ({}):\n", left.len());
    for item in left {
        text.push_str(&format!(
            "  {}: {}\n",
            item["name"].as_str().unwrap_or("?"),
            item["reason"].as_str().unwrap_or("")
        ));
    }
    text
}

/// What the LLM changed, or why it could not help.
fn render_assist(spec: &Value) -> String {
    let assist = &spec["assist"];
    if !assist.is_object() {
        return String::new();
    }
    let who = format!(
        "{} ({})",
        assist["model"].as_str().unwrap_or("?"),
        assist["provider"].as_str().unwrap_or("?")
    );
    if let Some(error) = assist["error"].as_str() {
        return format!("\nLLM help: {who} failed, evidence only: {error}\n");
    }
    let changes: Vec<&str> = assist["changes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if changes.is_empty() {
        return format!("\nLLM help: {who} changed nothing\n");
    }
    let mut text = format!("\nLLM help: {who}, {} change(s):\n", changes.len());
    for change in changes {
        text.push_str(&format!("  {change}\n"));
    }
    text
}

/// What the server listed when it was started with placeholder values.
fn render_introspection(seen: &IntrospectionView) -> String {
    let status = match seen.status.as_str() {
        "ok" => "ok".to_owned(),
        "needs_credentials" => "needs credentials".to_owned(),
        other => other.to_owned(),
    };
    let mut about = Vec::new();
    if let Some(server) = &seen.server {
        about.push(server.clone());
    }
    if let Some(version) = &seen.protocol_version {
        about.push(format!("protocol {version}"));
    }
    if let Some(ms) = seen.duration_ms {
        about.push(format!("{:.1} s", ms as f64 / 1000.0));
    }
    let mut text = format!("Started with placeholder values: {status}");
    if !about.is_empty() {
        text.push_str(&format!(" ({})", about.join(", ")));
    }
    text.push('\n');
    if let Some(message) = &seen.message {
        text.push_str(&format!("  {message}\n"));
    }
    if !seen.placeholders.is_empty() {
        text.push_str(&format!(
            "  Placeholders for: {}\n",
            seen.placeholders.join(", ")
        ));
    }
    if seen.status != "ok" && !seen.stderr.is_empty() {
        text.push_str("  Its last output:\n");
        for line in &seen.stderr {
            text.push_str(&format!("    {line}\n"));
        }
    }
    for (title, items, limit) in [
        ("Tools", &seen.tools, usize::MAX),
        ("Prompts", &seen.prompts, usize::MAX),
        ("Resources", &seen.resources, RESOURCES_SHOWN),
    ] {
        if items.is_empty() {
            if title == "Tools" && seen.status == "ok" {
                text.push_str("Tools: none\n");
            }
            continue;
        }
        text.push_str(&format!("{title} ({}):\n", items.len()));
        let width = items
            .iter()
            .take(limit)
            .map(|(id, _)| id.len())
            .max()
            .unwrap_or(0);
        for (id, label) in items.iter().take(limit) {
            text.push_str(format!("  {id:width$}  {label}").trim_end());
            text.push('\n');
        }
        if items.len() > limit {
            text.push_str(&format!("  ... and {} more\n", items.len() - limit));
        }
    }
    text
}
