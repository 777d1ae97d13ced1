//! A display view of the analyzer's ServerSpec (crates/analyze/SPEC.md, camelCase JSON), read
//! leniently.
//!
//! The CLI only shows the spec, it never acts on it, so it reads the fields it knows and
//! tolerates the rest: a renamed or missing field shows as "unknown" instead of failing the
//! command, and a CLI talking to a newer server keeps working. `--json` prints the spec
//! untouched for anyone who needs every field.

use serde_json::{Map, Value};

use crate::output::shell_quote;

/// What `catwalk analyze` prints.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpecView {
    pub name: Option<String>,
    pub description: Option<String>,
    /// The runtime, with its version requirement when declared: `node (>=18)`.
    pub runtime: Option<String>,
    /// `package@version`, plus the commit for git sources.
    pub package: Option<String>,
    /// The launch command as one pasteable shell line.
    pub launch: Option<String>,
    pub env: Vec<EnvVarView>,
    /// Evidence for findings other than env vars (`file:line: what`).
    pub evidence: Vec<String>,
    /// Things the analyzer wants a human to check.
    pub warnings: Vec<String>,
    /// What the server listed when Catwalk started it with placeholder values.
    pub introspection: Option<IntrospectionView>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IntrospectionView {
    /// `ok`, `needs_credentials` or `failed`.
    pub status: String,
    pub message: Option<String>,
    /// `name version` from its `serverInfo`.
    pub server: Option<String>,
    pub protocol_version: Option<String>,
    pub duration_ms: Option<u64>,
    /// Tools, prompts and resources as (name or URI, first line of the description or name).
    pub tools: Vec<(String, String)>,
    pub prompts: Vec<(String, String)>,
    pub resources: Vec<(String, String)>,
    pub stderr: Vec<String>,
    pub placeholders: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnvVarView {
    pub name: String,
    pub required: bool,
    pub secret: bool,
    pub description: String,
    pub default: Option<String>,
    /// The allowed values, when restricted.
    pub choices: Vec<String>,
    /// Where the analyzer saw it (`file:line`).
    pub evidence: Vec<String>,
}

impl SpecView {
    pub fn from_value(spec: &Value) -> SpecView {
        let empty = Map::new();
        let object = spec.as_object().unwrap_or(&empty);
        let text = |keys: &[&str]| keys.iter().find_map(|key| as_text(object.get(*key)?));

        let package_value = object.get("package");
        let package_name = match package_value {
            Some(Value::Object(package)) => package.get("name").and_then(as_text),
            Some(other) => as_text(other),
            None => text(&["package_name"]),
        };
        let version = match package_value {
            Some(Value::Object(package)) => package.get("version").and_then(as_text),
            _ => None,
        }
        .or_else(|| text(&["version", "pinned_version"]));
        let revision = match package_value {
            Some(Value::Object(package)) => package.get("revision").and_then(as_text),
            _ => None,
        };
        let package = package_name.map(|name| {
            let pinned = match version {
                Some(version) if !name.ends_with(&format!("@{version}")) => {
                    format!("{name}@{version}")
                }
                _ => name,
            };
            match revision {
                Some(revision) => format!("{pinned} (commit {revision})"),
                None => pinned,
            }
        });

        let runtime = match object.get("runtime") {
            Some(Value::Object(runtime)) => ["kind", "type", "name"]
                .iter()
                .find_map(|key| runtime.get(*key).and_then(as_text)),
            Some(other) => as_text(other),
            None => None,
        }
        .map(
            |runtime| match text(&["runtimeRequirement", "runtime_requirement"]) {
                Some(requirement) => format!("{runtime} ({requirement})"),
                None => runtime,
            },
        );

        let env_value = ["env", "env_vars", "environment"]
            .iter()
            .find_map(|key| object.get(*key));
        let env = match env_value {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|item| env_var(None, item))
                .collect(),
            Some(Value::Object(map)) => map
                .iter()
                .filter_map(|(name, item)| env_var(Some(name), item))
                .collect(),
            _ => Vec::new(),
        };

        SpecView {
            name: text(&["name", "suggested_name"]),
            description: text(&["description"]),
            runtime,
            package,
            launch: launch_line(object),
            env,
            evidence: evidence_list(object.get("evidence")),
            warnings: match object.get("warnings") {
                Some(Value::Array(items)) => items.iter().filter_map(as_text).collect(),
                _ => Vec::new(),
            },
            introspection: object.get("introspection").and_then(introspection),
        }
    }
}

fn introspection(value: &Value) -> Option<IntrospectionView> {
    let object = value.as_object()?;
    let texts = |key: &str| -> Vec<String> {
        match object.get(key) {
            Some(Value::Array(items)) => items.iter().filter_map(as_text).collect(),
            _ => Vec::new(),
        }
    };
    let pairs = |key: &str, id: &str, label: &str| -> Vec<(String, String)> {
        let Some(Value::Array(items)) = object.get(key) else {
            return Vec::new();
        };
        items
            .iter()
            .filter_map(|item| {
                let id = item.get(id).and_then(as_text)?;
                let label = item.get(label).and_then(as_text).unwrap_or_default();
                let first = label.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
                Some((id, first.trim().to_owned()))
            })
            .collect()
    };
    let server = object.get("serverInfo").and_then(|info| {
        let name = info.get("name").and_then(as_text)?;
        Some(match info.get("version").and_then(as_text) {
            Some(version) => format!("{name} {version}"),
            None => name,
        })
    });
    Some(IntrospectionView {
        status: object.get("status").and_then(as_text)?,
        message: object.get("message").and_then(as_text),
        server,
        protocol_version: object.get("protocolVersion").and_then(as_text),
        duration_ms: object.get("durationMs").and_then(Value::as_u64),
        tools: pairs("tools", "name", "description"),
        prompts: pairs("prompts", "name", "description"),
        resources: pairs("resources", "uri", "name"),
        stderr: texts("stderr"),
        placeholders: texts("placeholders"),
    })
}

fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

fn launch_line(object: &Map<String, Value>) -> Option<String> {
    let launch = match object.get("launch") {
        Some(Value::Object(launch)) => launch,
        Some(Value::String(line)) => return Some(line.clone()),
        _ => object,
    };
    let command = launch.get("command").and_then(as_text)?;
    let mut words = vec![shell_quote(&command)];
    if let Some(Value::Array(args)) = launch.get("args") {
        words.extend(args.iter().filter_map(as_text).map(|arg| shell_quote(&arg)));
    }
    Some(words.join(" "))
}

fn env_var(key: Option<&String>, item: &Value) -> Option<EnvVarView> {
    let object = item.as_object()?;
    let name = key.cloned().or_else(|| {
        ["name", "key"]
            .iter()
            .find_map(|k| object.get(*k).and_then(as_text))
    })?;
    let flag = |key: &str| object.get(key).and_then(Value::as_bool).unwrap_or(false);
    Some(EnvVarView {
        name,
        required: flag("required"),
        secret: flag("secret"),
        description: object
            .get("description")
            .and_then(as_text)
            .unwrap_or_default(),
        default: object.get("default").and_then(as_text),
        choices: match object.get("choices") {
            Some(Value::Array(items)) => items.iter().filter_map(as_text).collect(),
            _ => Vec::new(),
        },
        evidence: evidence_list(object.get("evidence")),
    })
}

/// Evidence may be one item or a list; an item is a string or `{file|path, line, ...}` with an
/// optional note under `what`, `note`, `detail`, `text` or `snippet`.
fn evidence_list(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items.iter().filter_map(evidence_item).collect(),
        Some(item) => evidence_item(item).into_iter().collect(),
        None => Vec::new(),
    }
}

fn evidence_item(item: &Value) -> Option<String> {
    let object = match item {
        Value::Object(object) => object,
        other => return as_text(other),
    };
    let location = ["file", "path", "source"]
        .iter()
        .find_map(|key| object.get(*key).and_then(as_text))
        .map(|file| match object.get("line").and_then(as_text) {
            Some(line) => format!("{file}:{line}"),
            None => file,
        });
    let note = ["what", "note", "detail", "text", "snippet", "finding"]
        .iter()
        .find_map(|key| object.get(*key).and_then(as_text));
    match (location, note) {
        (Some(location), Some(note)) => Some(format!("{location}: {note}")),
        (Some(location), None) => Some(location),
        (None, note) => note,
    }
}

#[cfg(test)]
mod tests;
