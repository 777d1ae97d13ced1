//! The analyzer's output: a serialisable description of how to run one stdio MCP server.
//!
//! The JSON form (camelCase) is documented field by field in `crates/analyze/SPEC.md`; keep the
//! two in step. Every finding carries [`Evidence`] so that a user (or a later check) can see why
//! the analyzer believes it.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The version of the [`ServerSpec`] format; bump it when a field changes meaning.
pub const SPEC_VERSION: u32 = 1;

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
    /// Why the analyzer chose this runtime, package and launch command.
    pub evidence: Vec<Evidence>,
    /// Things a human should check: ambiguities, guesses, skipped inputs.
    pub warnings: Vec<String>,
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
