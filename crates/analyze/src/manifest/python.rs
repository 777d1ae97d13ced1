//! Python metadata: wheel `METADATA` and `entry_points.txt`, sdist `PKG-INFO`,
//! `pyproject.toml` (`[project]` and `[tool.poetry]`) and `setup.cfg`.
//!
//! `setup.py` is deliberately not read: its values are code, and running it is out of question.

use crate::files::{SourceFile, SourceTree, line_of};
use crate::spec::Evidence;

/// What the analyzer uses from Python metadata, merged over all the files found.
#[derive(Debug, Default)]
pub(crate) struct PythonManifest {
    pub name: Option<String>,
    pub version: Option<String>,
    pub summary: Option<String>,
    pub requires_python: Option<String>,
    /// The long description (usually the README) from `METADATA` or `PKG-INFO`, with its file.
    pub long_description: Option<(String, String)>,
    /// `(script name, "module:function")`.
    pub scripts: Vec<(String, String)>,
    /// Where the scripts and the name/version came from.
    pub scripts_evidence: Vec<Evidence>,
    pub name_evidence: Option<Evidence>,
    /// Whether any Python manifest was found at all.
    pub found: bool,
}

/// Reads every Python manifest present at the package root (and the wheel's `.dist-info`).
pub(crate) fn read(tree: &SourceTree) -> PythonManifest {
    let mut manifest = PythonManifest::default();
    if let Some(file) = tree
        .files
        .iter()
        .find(|f| is_top_dist_info(&f.rel, "METADATA"))
    {
        apply_core_metadata(&mut manifest, file);
    }
    if let Some(file) = tree
        .files
        .iter()
        .find(|f| is_top_dist_info(&f.rel, "entry_points.txt"))
    {
        manifest.found = true;
        for (name, target, line) in ini_section_pairs(&file.text, "console_scripts") {
            manifest.scripts_evidence.push(Evidence::new(
                &file.rel,
                Some(line),
                format!("console script {name} in entry_points.txt"),
            ));
            manifest.scripts.push((name, target));
        }
    }
    if let Some(file) = tree.get("PKG-INFO") {
        apply_core_metadata(&mut manifest, file);
    }
    if let Some(file) = tree.get("pyproject.toml") {
        apply_pyproject(&mut manifest, file);
    }
    if let Some(file) = tree.get("setup.cfg") {
        apply_setup_cfg(&mut manifest, file);
    }
    if tree.get("setup.py").is_some() {
        manifest.found = true;
    }
    manifest
}

fn is_top_dist_info(rel: &str, name: &str) -> bool {
    match rel.split_once('/') {
        Some((dir, file)) => dir.ends_with(".dist-info") && file == name,
        None => false,
    }
}

/// Core metadata (RFC 822 style headers, then the long description as the body).
fn apply_core_metadata(manifest: &mut PythonManifest, file: &SourceFile) {
    manifest.found = true;
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut body_start = file.text.len();
    let mut offset = 0;
    for line in file.text.split_inclusive('\n') {
        let trimmed_end = line.trim_end_matches(['\r', '\n']);
        if trimmed_end.is_empty() {
            body_start = offset + line.len();
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some(last) = headers.last_mut() {
                last.1.push('\n');
                last.1
                    .push_str(trimmed_end.trim_start().trim_start_matches('|'));
            }
        } else if let Some((key, value)) = trimmed_end.split_once(':') {
            headers.push((key.trim().to_string(), value.trim().to_string()));
        }
        offset += line.len();
    }
    let header = |key: &str| {
        headers
            .iter()
            .find(|(k, v)| k.eq_ignore_ascii_case(key) && !v.is_empty() && v != "UNKNOWN")
            .map(|(_, v)| v.clone())
    };
    if manifest.name.is_none() {
        manifest.name = header("Name");
        manifest.name_evidence = manifest.name.as_ref().map(|_| {
            Evidence::new(
                &file.rel,
                line_of(&file.text, "Name:"),
                "project name in core metadata",
            )
        });
    }
    manifest.version = manifest.version.take().or_else(|| header("Version"));
    manifest.summary = manifest.summary.take().or_else(|| header("Summary"));
    manifest.requires_python = manifest
        .requires_python
        .take()
        .or_else(|| header("Requires-Python"));
    let body = file.text[body_start.min(file.text.len())..].trim();
    let long = if body.is_empty() {
        header("Description").unwrap_or_default()
    } else {
        body.to_string()
    };
    if manifest.long_description.is_none() && !long.trim().is_empty() {
        manifest.long_description = Some((file.rel.clone(), file.text.clone()));
    }
}

fn apply_pyproject(manifest: &mut PythonManifest, file: &SourceFile) {
    manifest.found = true;
    let Ok(doc) = file.text.parse::<toml::Table>() else {
        return;
    };
    let project = doc.get("project").and_then(|v| v.as_table());
    let poetry = doc
        .get("tool")
        .and_then(|t| t.get("poetry"))
        .and_then(|v| v.as_table());
    for table in [project, poetry].into_iter().flatten() {
        let get = |key: &str| table.get(key).and_then(|v| v.as_str()).map(String::from);
        if manifest.name.is_none() {
            manifest.name = get("name");
            manifest.name_evidence = manifest.name.as_ref().map(|_| {
                Evidence::new(
                    &file.rel,
                    key_line(&file.text, "name"),
                    "project name in pyproject.toml",
                )
            });
        }
        manifest.version = manifest.version.take().or_else(|| get("version"));
        manifest.summary = manifest.summary.take().or_else(|| get("description"));
        manifest.requires_python = manifest
            .requires_python
            .take()
            .or_else(|| get("requires-python"));
        if let Some(scripts) = table.get("scripts").and_then(|v| v.as_table()) {
            for (name, target) in scripts {
                let Some(target) = target.as_str() else {
                    continue;
                };
                if manifest.scripts.iter().any(|(n, _)| n == name) {
                    continue;
                }
                let line = script_line(&file.text, name);
                manifest.scripts_evidence.push(Evidence::new(
                    &file.rel,
                    line,
                    format!("script {name} in pyproject.toml"),
                ));
                manifest.scripts.push((name.clone(), target.to_string()));
            }
        }
    }
}

fn apply_setup_cfg(manifest: &mut PythonManifest, file: &SourceFile) {
    manifest.found = true;
    let metadata: Vec<_> = ini_section_pairs(&file.text, "metadata");
    let get = |key: &str| {
        metadata
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, v, _)| v.clone())
    };
    if manifest.name.is_none() {
        manifest.name = get("name");
        manifest.name_evidence = manifest
            .name
            .as_ref()
            .map(|_| Evidence::new(&file.rel, None, "project name in setup.cfg"));
    }
    manifest.version = manifest
        .version
        .take()
        .or_else(|| get("version").filter(|v| !v.starts_with("attr:") && !v.starts_with("file:")));
    manifest.summary = manifest.summary.take().or_else(|| get("description"));
    // `console_scripts =` is followed by indented `name = module:function` lines.
    let mut in_entry_points = false;
    let mut in_console = false;
    for (index, line) in file.text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            in_entry_points = trimmed == "[options.entry_points]";
            in_console = false;
            continue;
        }
        if !in_entry_points {
            continue;
        }
        if !line.starts_with([' ', '\t']) {
            in_console = trimmed.starts_with("console_scripts");
            continue;
        }
        if in_console && let Some((name, target)) = trimmed.split_once('=') {
            let name = name.trim().to_string();
            manifest.scripts_evidence.push(Evidence::new(
                &file.rel,
                u32::try_from(index + 1).ok(),
                format!("console script {name} in setup.cfg"),
            ));
            manifest.scripts.push((name, target.trim().to_string()));
        }
    }
}

/// `key = value` pairs of one `[section]` of an INI file, with their 1-based lines.
fn ini_section_pairs(text: &str, section: &str) -> Vec<(String, String, u32)> {
    let mut pairs = Vec::new();
    let mut inside = false;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') && trimmed.ends_with(']') {
            inside = trimmed[1..trimmed.len() - 1].trim() == section;
            continue;
        }
        if !inside || trimmed.is_empty() || trimmed.starts_with(['#', ';']) {
            continue;
        }
        if let Some((key, value)) = trimmed.split_once('=') {
            pairs.push((
                key.trim().to_string(),
                value.trim().to_string(),
                u32::try_from(index + 1).unwrap_or(u32::MAX),
            ));
        }
    }
    pairs
}

/// The first line that assigns `key` in a TOML file.
fn key_line(text: &str, key: &str) -> Option<u32> {
    script_line(text, key)
}

/// The line of `name = ...` (bare or quoted key) in a TOML file.
fn script_line(text: &str, name: &str) -> Option<u32> {
    text.lines()
        .position(|line| {
            let key = line
                .split('=')
                .next()
                .unwrap_or("")
                .trim()
                .trim_matches(['"', '\'']);
            line.contains('=') && key == name
        })
        .and_then(|i| u32::try_from(i + 1).ok())
}
