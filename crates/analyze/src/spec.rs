//! The analyzer's output: a serialisable description of how to run one stdio MCP server.
//!
//! The JSON form (camelCase) is documented field by field in `crates/analyze/SPEC.md`; keep the
//! two in step. Every finding carries [`Evidence`] so that a user (or a later check) can see why
//! the analyzer believes it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The version of the [`ServerSpec`] format; bump it when a field changes meaning.
///
/// 2 added `args` (command-line arguments the user supplies), `confidence` on the spec, on each
/// variable and on each argument, and readers for `smithery.yaml`, `Dockerfile` and
/// `.env.example`. 3 added `leftOut` (variables seen but not asked for, with the reason) and
/// left HTTP-transport, container-only and bundled-dependency variables out of `env`, and the
/// optional LLM's `assist` report and `verified` on variables. Older
/// specs still deserialize: the new fields take their defaults.
pub const SPEC_VERSION: u32 = 3;

/// How to install and launch one MCP stdio server, and which environment it needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerSpec {
    /// Always [`SPEC_VERSION`] for specs produced by this crate.
    pub spec_version: u32,
    /// The normalised source string; [`crate::parse_source`] accepts it back.
    pub source: String,
    /// A suggested deployment name: lowercase `[a-z0-9-]`, at most 63 characters.
    pub name: String,
    /// A one-line description from the package metadata or server.json.
    pub description: Option<String>,
    /// The MCP registry name (`io.github.owner/name`) if the package declares one.
    pub mcp_name: Option<String>,
    /// The language runtime the server needs.
    pub runtime: Runtime,
    /// The version constraint on the runtime (`engines.node`, `Requires-Python`), if declared.
    pub runtime_requirement: Option<String>,
    /// What to install.
    pub package: PackageRef,
    /// How to start the server once installed.
    pub launch: Launch,
    /// The environment variables the server reads or documents.
    pub env: Vec<EnvVar>,
    /// Variables the package reads or documents that a stdio deployment does not set (HTTP
    /// transport settings, container-only examples, bundled dependencies), with the reason.
    #[serde(default)]
    pub left_out: Vec<LeftOutVar>,
    /// Command-line arguments the user supplies at deploy time (a database URL, allowed
    /// folders, `--repository PATH`); [`ServerSpec::command_args`] puts them after
    /// `launch.args`.
    #[serde(default)]
    pub args: Vec<ArgField>,
    /// How sure the analyzer is that `launch` starts the server, and why.
    #[serde(default)]
    pub confidence: Confidence,
    /// Why the analyzer chose this runtime, package and launch command.
    pub evidence: Vec<Evidence>,
    /// Things a human should check: ambiguities, guesses, skipped inputs.
    pub warnings: Vec<String>,
    /// What the server itself listed when it was started with placeholder values; `None`
    /// when it was not started (the analyzer never starts servers; the server crate fills it).
    #[serde(default)]
    pub introspection: Option<Introspection>,
    /// What an LLM added, when one was configured; `null` when none was.
    #[serde(default)]
    pub assist: Option<AssistReport>,
}

impl ServerSpec {
    /// The arguments to start the server with: `launch.args`, then each argument field that
    /// has a value, named ones (`--flag value`, repeated for several values; the flag alone for
    /// a `boolean` field whose value is `true`) before positional ones (the values in order).
    ///
    /// `values` maps [`ArgField::name`] to the user's values; an empty list or empty strings
    /// count as no value, and a field without a value falls back to its `default`. Names that
    /// are not fields are ignored.
    pub fn command_args(
        &self,
        values: &BTreeMap<String, Vec<String>>,
    ) -> Result<Vec<String>, MissingArguments> {
        let mut command = self.launch.args.clone();
        let mut positional = Vec::new();
        let mut missing = Vec::new();
        for field in &self.args {
            let given: Vec<String> = values
                .get(&field.name)
                .map(|v| v.iter().filter(|s| !s.is_empty()).cloned().collect())
                .unwrap_or_default();
            let given = if given.is_empty() {
                field.default.clone().into_iter().collect()
            } else if field.repeated {
                given
            } else {
                given.into_iter().take(1).collect()
            };
            if given.is_empty() {
                if field.required {
                    missing.push(field.name.clone());
                }
                continue;
            }
            match &field.flag {
                Some(flag) if field.format.as_deref() == Some("boolean") => {
                    if given.iter().any(|v| v.eq_ignore_ascii_case("true")) {
                        command.push(flag.clone());
                    }
                }
                Some(flag) => {
                    for value in given {
                        command.push(flag.clone());
                        command.push(value);
                    }
                }
                None => positional.extend(given),
            }
        }
        if !missing.is_empty() {
            return Err(MissingArguments(missing));
        }
        command.extend(positional);
        Ok(command)
    }
}

/// Required argument fields that were given no value, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingArguments(pub Vec<String>);

impl fmt::Display for MissingArguments {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "missing required arguments: {}; give each a value",
            self.0.join(", ")
        )
    }
}

impl std::error::Error for MissingArguments {}

/// How sure the analyzer is of a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Guessed from a name or a single weak hint: check it.
    Low,
    /// Documented or observed in one kind of place.
    Medium,
    /// Declared by the publisher, or observed in the code and documented.
    High,
}

/// A confidence level with the reasons for it, in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confidence {
    pub level: Level,
    pub reasons: Vec<String>,
}

impl Default for Confidence {
    /// What a format-1 spec reads back as: nothing was assessed.
    fn default() -> Confidence {
        Confidence {
            level: Level::Low,
            reasons: Vec::new(),
        }
    }
}

/// One command-line argument the user supplies, shown as a form field like a variable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArgField {
    /// The field's key: the flag without its dashes (`repository`), or the documented name of
    /// a positional argument (`allowed-directory`).
    pub name: String,
    /// The flag (`--repository`); `null` for a positional argument.
    pub flag: Option<String>,
    /// What it is for; empty when nothing documents it.
    pub description: String,
    /// The server refuses to start (or is documented to need it) without it.
    pub required: bool,
    /// It takes several values (`<dir>...`): each becomes its own word (or `--flag value` pair).
    pub repeated: bool,
    /// Its value is a credential (by its name): store it encrypted, never display it.
    pub secret: bool,
    /// The value used when the user gives none, if known.
    pub default: Option<String>,
    /// `boolean` for a switch without a value; else `string`, `number`, `filepath` when known.
    pub format: Option<String>,
    /// The allowed values; empty when unrestricted.
    pub choices: Vec<String>,
    /// Where it was found.
    pub evidence: Vec<Evidence>,
    /// How sure the analyzer is that the server takes this argument.
    pub confidence: Confidence,
}

/// The language runtime of a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    /// Node.js; installed with npm.
    Node,
    /// Python; installed with pip (or uv) into a virtual environment.
    Python,
}

/// The package registry a package comes from (or would come from, for folders).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Registry {
    /// The npm registry configured for the user's `npm`.
    Npm,
    /// The package index configured for the user's `pip`.
    Pypi,
}

/// What to install.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageRef {
    /// The registry whose installer handles the package.
    pub registry: Registry,
    /// The package name as the registry spells it (`@scope/name`, `mcp-server-time`).
    pub name: String,
    /// The exact version (never a range); for folders, the version in their manifest.
    pub version: String,
    /// For local and git sources: install from this folder instead of the registry.
    pub path: Option<PathBuf>,
    /// For git sources: the commit that was checked out.
    pub revision: Option<String>,
}

/// The command that starts the server, resolved against the installed package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Launch {
    /// The npm bin or Python console-script name (or `python` for a `python -m` fallback).
    pub command: String,
    /// Arguments that select stdio mode or that the package always needs.
    pub args: Vec<String>,
}

/// One environment variable the server reads or documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvVar {
    /// The variable name, e.g. `BRAVE_API_KEY`.
    pub name: String,
    /// What it is for; empty when nothing documents it.
    pub description: String,
    /// The server refuses to start (or is documented to fail) without it.
    pub required: bool,
    /// Its value is a credential: store it encrypted, never display it.
    pub secret: bool,
    /// The value used when it is unset, if known.
    pub default: Option<String>,
    /// The value format declared in server.json (`string`, `number`, `boolean`, `filepath`).
    #[serde(default)]
    pub format: Option<String>,
    /// The allowed values declared in server.json; empty when unrestricted.
    #[serde(default)]
    pub choices: Vec<String>,
    /// Where it was found.
    pub evidence: Vec<Evidence>,
    /// How sure the analyzer is that the server reads it, and why it is (not) required.
    #[serde(default)]
    pub confidence: Confidence,
    /// `null` for a variable found from evidence; for one only an LLM reported, whether the
    /// package names it at all (`true`) or not (`false`).
    #[serde(default)]
    pub verified: Option<bool>,
}

/// What an LLM was asked and what it changed (see `assist` in SPEC.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssistReport {
    /// `openai` or `anthropic`.
    pub provider: String,
    pub model: String,
    /// One line per change: a field filled, a variable added or listed as unverified, a claim
    /// ignored.
    pub changes: Vec<String>,
    /// Why the model gave no usable answer; the spec is then the evidence-only one.
    pub error: Option<String>,
}

/// A variable seen in the package but not listed in [`ServerSpec::env`], and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeftOutVar {
    pub name: String,
    /// Why a stdio deployment does not need it.
    pub reason: String,
    /// Where it was seen.
    pub evidence: Vec<Evidence>,
}

/// One place in the package that supports a finding.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Evidence {
    /// The path relative to the package root, with `/` separators.
    pub file: String,
    /// The 1-based line, when the finding has one.
    pub line: Option<u32>,
    /// What was found there, e.g. `bin in package.json`, `read via process.env`.
    pub note: String,
}

impl Evidence {
    /// Builds an evidence entry.
    pub fn new(file: impl Into<String>, line: Option<u32>, note: impl Into<String>) -> Evidence {
        Evidence {
            file: file.into(),
            line,
            note: note.into(),
        }
    }
}

/// What a server answered when it was started in the sandbox with placeholder values and asked
/// for its tools, prompts and resources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Introspection {
    pub status: IntrospectionStatus,
    pub tools: Vec<ToolInfo>,
    pub prompts: Vec<PromptInfo>,
    pub resources: Vec<ResourceInfo>,
    /// The `serverInfo` of its `initialize` answer, as it sent it.
    pub server_info: Option<serde_json::Value>,
    /// The protocol version it agreed to.
    pub protocol_version: Option<String>,
    /// Why it is not `ok`, or what else went wrong along the way.
    pub message: Option<String>,
    /// Its last stderr lines.
    pub stderr: Vec<String>,
    /// The variables and argument fields that were given a made-up value.
    pub placeholders: Vec<String>,
    /// From the start of the install to the stop of the process.
    pub duration_ms: u64,
}

/// How an introspection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntrospectionStatus {
    /// It started and answered every list it declared.
    Ok,
    /// It exited, or refused a list, while placeholders stood in for its values: it wants real
    /// ones (it is listed again with them once deployed).
    NeedsCredentials,
    /// It could not be installed or started, or it failed without placeholders in play.
    Failed,
}

/// One tool a server lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolInfo {
    pub name: String,
    /// Empty when the server gives none.
    #[serde(default)]
    pub description: String,
}

/// One prompt a server lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromptInfo {
    pub name: String,
    /// Empty when the server gives none.
    #[serde(default)]
    pub description: String,
}

/// One resource a server lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceInfo {
    pub uri: String,
    /// Empty when the server gives none.
    #[serde(default)]
    pub name: String,
}
