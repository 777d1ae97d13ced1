//! Environment variable findings and how they merge into the spec's [`EnvVar`] list.
//!
//! Findings come from three places, in decreasing authority: `server.json` (the publisher's
//! statement), the source code (what the server really reads, and whether it exits without
//! it), and the README (what the author documents). Merging keeps every piece of evidence.

use crate::spec::{EnvVar, Evidence};

/// Variables that configure the platform or the runtime, not the server: never reported.
///
/// `PORT` and `HOST` are here because stdio servers read them only for their HTTP modes.
pub const IGNORED_ENV_VARS: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "USERNAME",
    "LOGNAME",
    "SHELL",
    "PWD",
    "TMPDIR",
    "TEMP",
    "TMP",
    "LANG",
    "LANGUAGE",
    "TERM",
    "TZ",
    "HOSTNAME",
    "PORT",
    "HOST",
    "CI",
    "DEBUG",
    "NODE_ENV",
    "NODE_OPTIONS",
    "NODE_DEBUG",
    "NODE_PATH",
    "NO_COLOR",
    "FORCE_COLOR",
    "APPDATA",
    "LOCALAPPDATA",
    "USERPROFILE",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "XDG_CACHE_HOME",
    "XDG_STATE_HOME",
    "XDG_RUNTIME_DIR",
    "PYTHONPATH",
    "PYTHONUNBUFFERED",
    "PYTHONIOENCODING",
    "VIRTUAL_ENV",
    "PWSHELL",
    "COMSPEC",
];

/// Where a finding came from; earlier variants win when they disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Origin {
    ServerJson,
    Code,
    Readme,
}

/// One observation about one variable.
#[derive(Debug, Clone)]
pub(crate) struct Finding {
    pub name: String,
    pub origin: Origin,
    pub description: Option<String>,
    /// `Some(true)`: this place says the server needs it; `Some(false)`: says it is optional.
    pub required: Option<bool>,
    /// Only `server.json` states secrecy; elsewhere the name decides.
    pub secret: Option<bool>,
    pub default: Option<String>,
    pub format: Option<String>,
    pub choices: Vec<String>,
    pub evidence: Evidence,
}

impl Finding {
    pub fn new(name: &str, origin: Origin, evidence: Evidence) -> Finding {
        Finding {
            name: name.to_string(),
            origin,
            description: None,
            required: None,
            secret: None,
            default: None,
            format: None,
            choices: Vec::new(),
            evidence,
        }
    }
}

/// Whether a name looks like an environment variable worth reporting.
pub(crate) fn is_candidate(name: &str) -> bool {
    name.len() >= 2
        && name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && !IGNORED_ENV_VARS.contains(&name)
        && !name.starts_with("NPM_CONFIG_")
}

/// Whether a variable name denotes a credential: one of its `_`-separated words is (or ends
/// with) KEY, TOKEN, SECRET, PASSWORD, or is PASS, PASSWD, PASSPHRASE, CREDENTIAL(S), AUTH,
/// PRIVATE.
pub fn is_secret_name(name: &str) -> bool {
    name.split('_').any(|word| {
        matches!(
            word,
            "PASS"
                | "PASSWD"
                | "PASSPHRASE"
                | "CREDENTIAL"
                | "CREDENTIALS"
                | "AUTH"
                | "PRIVATE"
                | "PWD"
        ) || ["KEY", "TOKEN", "SECRET", "PASSWORD"]
            .iter()
            .any(|s| word.ends_with(s))
    })
}

/// Merges findings by name into the spec's list: server.json first, then variables the code
/// reads, then variables only the README mentions; within each group, in order of discovery.
pub(crate) fn merge(mut findings: Vec<Finding>) -> Vec<EnvVar> {
    findings.retain(|f| is_candidate(&f.name));
    let mut order: Vec<(Origin, usize, String)> = Vec::new();
    for (index, finding) in findings.iter().enumerate() {
        match order.iter_mut().find(|(_, _, name)| *name == finding.name) {
            Some(entry) => {
                if finding.origin < entry.0 {
                    *entry = (finding.origin, index, finding.name.clone());
                }
            }
            None => order.push((finding.origin, index, finding.name.clone())),
        }
    }
    order.sort();
    order
        .into_iter()
        .map(|(_, _, name)| {
            let mut mine: Vec<&Finding> = findings.iter().filter(|f| f.name == name).collect();
            mine.sort_by_key(|f| f.origin);
            merge_one(&name, &mine)
        })
        .collect()
}

/// server.json's words first, then the README's, then a comment next to the code.
fn describe(findings: &[&Finding]) -> String {
    [Origin::ServerJson, Origin::Readme, Origin::Code]
        .iter()
        .find_map(|origin| {
            findings
                .iter()
                .filter(|f| f.origin == *origin)
                .find_map(|f| f.description.clone().filter(|d| !d.trim().is_empty()))
        })
        .unwrap_or_default()
}

fn merge_one(name: &str, findings: &[&Finding]) -> EnvVar {
    let declared = findings.iter().find(|f| f.origin == Origin::ServerJson);
    let required = match declared.and_then(|f| f.required) {
        Some(flag) => flag,
        None => findings.iter().any(|f| f.required == Some(true)),
    };
    let secret = match declared.and_then(|f| f.secret) {
        Some(flag) => flag,
        None => is_secret_name(name),
    };
    let pick = |get: fn(&Finding) -> Option<String>| {
        findings
            .iter()
            .find_map(|f| get(f).filter(|v| !v.trim().is_empty()))
    };
    let mut evidence: Vec<Evidence> = Vec::new();
    for finding in findings {
        if !evidence.contains(&finding.evidence) {
            evidence.push(finding.evidence.clone());
        }
    }
    EnvVar {
        name: name.to_string(),
        description: describe(findings),
        required,
        secret,
        default: pick(|f| f.default.clone()),
        format: pick(|f| f.format.clone()),
        choices: findings
            .iter()
            .map(|f| f.choices.clone())
            .find(|c| !c.is_empty())
            .unwrap_or_default(),
        evidence,
    }
}
