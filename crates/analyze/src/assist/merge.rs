//! How the model's answer changes a spec: it fills gaps and nothing else.

use super::Claim;
use crate::env::{is_candidate, is_explicit_candidate, is_placeholder, is_secret_name};
use crate::files::SourceTree;
use crate::spec::{Confidence, EnvVar, Evidence, Level, ServerSpec};
use crate::transport::names_word;

/// A description longer than this is cut.
const DESCRIPTION_CHARS: usize = 300;

/// Merges the claims into the spec and returns what changed, one line each.
pub(crate) fn merge(spec: &mut ServerSpec, tree: &SourceTree, claims: Vec<Claim>) -> Vec<String> {
    let mut changes = Vec::new();
    for claim in claims {
        let name = claim.name.trim().to_string();
        if spec.left_out.iter().any(|l| l.name == name) {
            changes.push(format!(
                "{name}: named by the model, but the evidence leaves it out; kept out"
            ));
            continue;
        }
        if let Some(var) = spec.env.iter_mut().find(|v| v.name == name) {
            fill(var, &claim, &mut changes);
            continue;
        }
        if spec.env.iter().any(|v| v.name.eq_ignore_ascii_case(&name))
            || !(is_candidate(&name) || is_explicit_candidate(&name))
        {
            changes.push(format!(
                "{name}: not a variable name the analyzer reports; ignored"
            ));
            continue;
        }
        let found = tree.files.iter().find_map(|f| {
            f.text
                .lines()
                .position(|l| names_word(l, &name))
                .map(|i| (f.rel.clone(), i + 1))
        });
        let description = claim.description.as_deref().map(clean).unwrap_or_default();
        let secret = claim.secret || is_secret_name(&name);
        let (verified, evidence, reasons) = match found {
            Some((file, line)) => (
                true,
                vec![Evidence::new(
                    &file,
                    u32::try_from(line).ok(),
                    "named here; added by the LLM, which says the server reads it",
                )],
                vec![
                    format!("added by the LLM; the name is in {file}:{line}"),
                    "optional: a variable only the LLM reports is never required".to_string(),
                ],
            ),
            None => (
                false,
                Vec::new(),
                vec![
                    "claimed by the LLM; no file of the package names it (unverified)".to_string(),
                    "optional: an unverified variable is never required".to_string(),
                ],
            ),
        };
        changes.push(if verified {
            format!("{name}: added (the package names it)")
        } else {
            format!("{name}: listed as unverified (the package never names it)")
        });
        spec.env.push(EnvVar {
            name,
            description,
            required: false,
            secret,
            default: claim
                .default
                .filter(|d| !secret && !d.trim().is_empty() && !is_placeholder(d)),
            format: claim.format,
            choices: claim.choices,
            evidence,
            confidence: Confidence {
                level: Level::Low,
                reasons,
            },
            verified: Some(verified),
        });
    }
    changes
}

/// Fills the empty fields of a variable found from evidence; `required` and `secret` stay.
fn fill(var: &mut EnvVar, claim: &Claim, changes: &mut Vec<String>) {
    let name = var.name.clone();
    let mut note = |what: &str| changes.push(format!("{name}: {what} filled by the LLM"));
    if var.description.trim().is_empty()
        && let Some(description) = claim
            .description
            .as_deref()
            .map(clean)
            .filter(|d| !d.is_empty())
    {
        var.description = description;
        note("description");
    }
    if var.default.is_none()
        && !var.secret
        && let Some(default) = claim
            .default
            .as_deref()
            .filter(|d| !d.trim().is_empty() && !is_placeholder(d))
    {
        var.default = Some(default.to_string());
        note("default");
    }
    if var.format.is_none()
        && let Some(format) = &claim.format
    {
        var.format = Some(format.clone());
        note("format");
    }
    if var.choices.is_empty() && !claim.choices.is_empty() {
        var.choices = claim.choices.clone();
        note("choices");
    }
}

fn clean(text: &str) -> String {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() > DESCRIPTION_CHARS {
        let cut: String = collapsed.chars().take(DESCRIPTION_CHARS - 3).collect();
        format!("{cut}...")
    } else {
        collapsed
    }
}
