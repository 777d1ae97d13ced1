//! `catwalk analyze SOURCE`: shows what Catwalk finds in a source, without deploying it.

use serde_json::Value;

use crate::client::ApiClient;
use crate::error::{CliError, ExitStatus};
use crate::output::{print_json, print_out, table, yes_no};
use crate::spec_view::SpecView;

pub async fn run(client: &ApiClient, source: &str, json: bool) -> Result<ExitStatus, CliError> {
    eprintln!("analyzing {source} (this downloads the package and may take a while)...");
    let spec = client.analyze(source).await?;
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
    text
}
