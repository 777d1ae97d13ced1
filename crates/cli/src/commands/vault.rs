//! `catwalk vault rotate`: re-encrypts every stored secret under a new vault key.

use serde_json::Value;

use crate::client::ApiClient;
use crate::error::{CliError, ExitStatus};
use crate::output::{print_json, print_out};

pub async fn rotate(client: &ApiClient, json: bool) -> Result<ExitStatus, CliError> {
    eprintln!("rotating the vault key; deployments keep running...");
    let report = client.rotate_vault_key().await?;
    if json {
        print_json(&report)?;
    } else {
        let count = report["reencrypted"].as_u64().unwrap_or(0);
        print_out(&format!(
            "re-encrypted the secrets of {count} deployment(s) under a new key\n"
        ))?;
        if let Some(key) = report["key"].as_str() {
            eprintln!("{key}");
        }
    }
    let unreadable: Vec<&str> = report["unreadable"]
        .as_array()
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !unreadable.is_empty() {
        eprintln!(
            "warning: no key could read the stored values of {}; give them again with \
             `catwalk env NAME --replace -e KEY=VALUE ...`",
            unreadable.join(", ")
        );
    }
    Ok(ExitStatus::Success)
}
