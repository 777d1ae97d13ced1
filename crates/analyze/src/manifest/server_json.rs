//! A shipped `server.json` (MCP registry schema 2025-12-11, with the older snake_case keys
//! accepted too): the publisher's own statement of its packages, arguments and environment.
//!
//! This is the strongest evidence the analyzer has, so its flags override every guess.

use serde_json::Value;

use crate::files::{SourceFile, line_of};
use crate::spec::Registry;

/// The parts of `server.json` the analyzer uses.
#[derive(Debug, Default)]
pub(crate) struct ServerJson {
    pub file: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub packages: Vec<SjPackage>,
}

/// One `packages[]` entry.
#[derive(Debug, Default)]
pub(crate) struct SjPackage {
    pub registry_type: String,
    pub identifier: String,
    pub transport: Option<String>,
    /// `None` when the key is absent; `Some(empty)` when present and empty.
    pub package_arguments: Option<Vec<SjArgument>>,
    pub env: Vec<SjEnv>,
}

/// One `packageArguments[]` entry.
#[derive(Debug, Default)]
pub(crate) struct SjArgument {
    pub named: bool,
    pub name: Option<String>,
    pub value: Option<String>,
    pub default: Option<String>,
    pub value_hint: Option<String>,
    pub required: bool,
    pub repeated: bool,
    pub description: Option<String>,
    pub format: Option<String>,
    pub choices: Vec<String>,
    pub line: Option<u32>,
}

/// One `environmentVariables[]` entry.
#[derive(Debug, Default)]
pub(crate) struct SjEnv {
    pub name: String,
    pub description: Option<String>,
    pub required: bool,
    pub secret: bool,
    pub default: Option<String>,
    pub format: Option<String>,
    pub choices: Vec<String>,
    pub line: Option<u32>,
}

fn field<'a>(object: &'a Value, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().find_map(|k| object.get(*k))
}

fn text(object: &Value, keys: &[&str]) -> Option<String> {
    field(object, keys).and_then(|v| match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    })
}

fn flag(object: &Value, keys: &[&str]) -> bool {
    field(object, keys)
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

fn strings(object: &Value, key: &str) -> Vec<String> {
    field(object, &[key])
        .and_then(Value::as_array)
        .map(|c| {
            c.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Parses `server.json`; `None` when it is not JSON or not an object.
pub(crate) fn parse(file: &SourceFile) -> Option<ServerJson> {
    let value: Value = serde_json::from_str(&file.text).ok()?;
    value.as_object()?;
    let packages = field(&value, &["packages"])
        .and_then(Value::as_array)
        .map(|list| list.iter().map(|p| parse_package(p, &file.text)).collect())
        .unwrap_or_default();
    Some(ServerJson {
        file: file.rel.clone(),
        name: text(&value, &["name"]),
        description: text(&value, &["description"]),
        packages,
    })
}

fn parse_package(package: &Value, raw: &str) -> SjPackage {
    let env = field(package, &["environmentVariables", "environment_variables"])
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|e| {
                    let name = text(e, &["name"])?;
                    Some(SjEnv {
                        line: line_of(raw, &format!("\"{name}\"")),
                        description: text(e, &["description"]),
                        required: flag(e, &["isRequired", "is_required"]),
                        secret: flag(e, &["isSecret", "is_secret"]),
                        default: text(e, &["default"]),
                        format: text(e, &["format"]),
                        choices: strings(e, "choices"),
                        name,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let package_arguments = field(package, &["packageArguments", "package_arguments"])
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|a| {
                    let name = text(a, &["name"]);
                    let value_hint = text(a, &["valueHint", "value_hint"]);
                    let line = name
                        .as_ref()
                        .or(value_hint.as_ref())
                        .and_then(|n| line_of(raw, &format!("\"{n}\"")));
                    SjArgument {
                        named: text(a, &["type"]).as_deref() == Some("named"),
                        value: text(a, &["value"]),
                        default: text(a, &["default"]),
                        required: flag(a, &["isRequired", "is_required"]),
                        repeated: flag(a, &["isRepeated", "is_repeated"]),
                        description: text(a, &["description"]),
                        format: text(a, &["format"]),
                        choices: strings(a, "choices"),
                        name,
                        value_hint,
                        line,
                    }
                })
                .collect()
        });
    SjPackage {
        registry_type: text(package, &["registryType", "registry_type", "registry_name"])
            .unwrap_or_default(),
        identifier: text(package, &["identifier", "name"]).unwrap_or_default(),
        transport: field(package, &["transport"]).and_then(|t| text(t, &["type"])),
        package_arguments,
        env,
    }
}

impl ServerJson {
    /// The package entry that describes what we install: same registry and name if possible,
    /// else the first of the same registry, else the first.
    pub fn package_for(&self, registry: Registry, name: &str) -> Option<&SjPackage> {
        let wanted = match registry {
            Registry::Npm => "npm",
            Registry::Pypi => "pypi",
        };
        let same_registry = |p: &&SjPackage| p.registry_type.eq_ignore_ascii_case(wanted);
        self.packages
            .iter()
            .filter(same_registry)
            .find(|p| super::normalize(&p.identifier) == super::normalize(name))
            .or_else(|| self.packages.iter().find(same_registry))
            .or_else(|| self.packages.first())
    }
}
