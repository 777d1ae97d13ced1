//! Example environment files (`.env.example`, `.env.sample`, `.env.template`, ...): the
//! variables a server expects, with the comments above them as descriptions.
//!
//! `KEY=value` and `export KEY=value` lines name a variable; their value is a default unless it
//! is a placeholder (`your-key-here`, `<token>`, empty; decided when merging, see
//! [`crate::env::is_placeholder`]). A commented-out assignment (`# KEY=value`) names an optional
//! variable. The comment lines directly above an assignment (no blank line between) describe
//! it; a short comment such as `# Required` or `# Optional settings` starts a section whose
//! variables are marked accordingly.

use std::sync::LazyLock;

use regex::Regex;

use crate::env::{Finding, Origin};
use crate::files::SourceFile;
use crate::spec::Evidence;

static ASSIGN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$").unwrap());
static SECTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^[\s=#*\-\[]*(required|optional|mandatory)(?:\s+(?:settings|variables|vars|values|config|configuration|environment\s+variables|parameters|keys|credentials))?[\s=#*\-\]:]*$").unwrap()
});

/// The variables of one example file.
pub(crate) fn findings(file: &SourceFile) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut comment: Vec<String> = Vec::new();
    let mut section: Option<bool> = None;
    for (index, raw) in file.text.lines().enumerate() {
        let line_no = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let line = raw.trim();
        if line.is_empty() {
            comment.clear();
            continue;
        }
        let (commented, body) = match line.strip_prefix('#') {
            Some(rest) => (true, rest.trim_start_matches('#').trim()),
            None => (false, line),
        };
        if commented && let Some(words) = SECTION.captures(body) {
            section = Some(!words[1].eq_ignore_ascii_case("optional"));
            comment.clear();
            continue;
        }
        let assignment = ASSIGN
            .captures(body)
            .filter(|c| !commented || c[1].chars().all(|ch| !ch.is_ascii_lowercase()));
        let Some(assignment) = assignment else {
            if commented {
                let text = body.trim_matches(['-', '=', '*', ' ']);
                if !text.is_empty() {
                    comment.push(text.to_string());
                }
            }
            continue;
        };
        let name = &assignment[1];
        let (value, inline) = split_value(&assignment[2]);
        let description = inline
            .filter(|_| comment.is_empty())
            .unwrap_or_else(|| comment.join(" "));
        let lower = description.to_ascii_lowercase();
        let stated = if lower.contains("optional") || lower.contains("not required") {
            Some(false)
        } else if lower.contains("required") || lower.contains("mandatory") {
            Some(true)
        } else {
            None
        };
        let required = if commented {
            Some(false)
        } else {
            stated.or(section)
        };
        let note = if commented {
            format!("commented out in {}: optional", file.rel)
        } else {
            format!("listed in {}", file.rel)
        };
        let mut finding = Finding::new(
            name,
            Origin::DotEnv,
            Evidence::new(&file.rel, Some(line_no), note),
        );
        finding.required = required;
        finding.default = Some(value).filter(|v| !v.is_empty());
        finding.description = Some(description).filter(|d| !d.is_empty());
        findings.push(finding);
        comment.clear();
    }
    findings
}

/// The value (unquoted) and an inline `# comment`, if any.
fn split_value(raw: &str) -> (String, Option<String>) {
    let raw = raw.trim();
    for quote in ['"', '\''] {
        if let Some(rest) = raw.strip_prefix(quote)
            && let Some(end) = rest.find(quote)
        {
            let comment = rest[end + 1..]
                .trim()
                .strip_prefix('#')
                .map(|c| c.trim().to_string());
            return (rest[..end].to_string(), comment.filter(|c| !c.is_empty()));
        }
    }
    match raw.find(" #") {
        Some(at) => (
            raw[..at].trim().to_string(),
            Some(raw[at + 2..].trim().to_string()).filter(|c| !c.is_empty()),
        ),
        None if raw.starts_with('#') => (String::new(), Some(raw[1..].trim().to_string())),
        None => (raw.to_string(), None),
    }
}
