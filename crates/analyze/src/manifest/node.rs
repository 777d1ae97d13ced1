//! `package.json`: name, version, bins, scripts, `mcpName`, `engines.node`.

use serde_json::Value;

use crate::error::AnalyzeError;
use crate::files::{SourceFile, line_of};

/// What the analyzer uses from a `package.json`.
#[derive(Debug, Default)]
pub(crate) struct NodeManifest {
    pub name: Option<String>,
    pub version: Option<String>,
    pub description: Option<String>,
    pub mcp_name: Option<String>,
    pub engines_node: Option<String>,
    /// `(command, file it runs)`, sorted by command.
    pub bins: Vec<(String, String)>,
    pub bin_line: Option<u32>,
    /// `(script name, command line)` from `scripts`.
    pub scripts: Vec<(String, String)>,
    pub main: Option<String>,
}

/// Parses `package.json`.
pub(crate) fn parse(file: &SourceFile) -> Result<NodeManifest, AnalyzeError> {
    let value: Value = serde_json::from_str(&file.text).map_err(|e| AnalyzeError::BadManifest {
        file: file.rel.clone(),
        detail: e.to_string(),
    })?;
    let text = |key: &str| {
        value
            .get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
    };
    let name = text("name");
    let mut bins = Vec::new();
    match value.get("bin") {
        Some(Value::String(target)) => {
            // npm names a string bin after the package, without its scope.
            if let Some(name) = &name {
                let command = name.rsplit('/').next().unwrap_or(name).to_string();
                bins.push((command, target.clone()));
            }
        }
        Some(Value::Object(map)) => {
            for (command, target) in map {
                if let Some(target) = target.as_str() {
                    bins.push((command.clone(), target.to_string()));
                }
            }
        }
        _ => {}
    }
    bins.sort();
    let scripts = value
        .get("scripts")
        .and_then(Value::as_object)
        .map(|map| {
            map.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default();
    Ok(NodeManifest {
        version: text("version"),
        description: text("description"),
        mcp_name: text("mcpName"),
        engines_node: value
            .get("engines")
            .and_then(|e| e.get("node"))
            .and_then(Value::as_str)
            .map(String::from),
        bin_line: line_of(&file.text, "\"bin\""),
        main: text("main"),
        name,
        bins,
        scripts,
    })
}

/// Strips `./` so that `./dist/index.js` and `dist/index.js` compare equal.
pub(crate) fn clean_path(path: &str) -> &str {
    let mut p = path.trim();
    while let Some(rest) = p.strip_prefix("./") {
        p = rest;
    }
    p
}
