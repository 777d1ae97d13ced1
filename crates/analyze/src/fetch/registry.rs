//! The official MCP registry: a server name to the package (or repository) to analyze.
//!
//! The client follows the registry's documented API (OpenAPI `2025-12-01`, `server.json`
//! schema `2025-12-11`), on the stable `/v0.1` path (the registry serves the same API under
//! `/v0`, the development version):
//!
//! - `GET {base}/v0.1/servers/{url-encoded name}/versions/{version or "latest"}` returns
//!   `{"server": <server.json>, "_meta": {"io.modelcontextprotocol.registry/official":
//!   {"status", "isLatest", ...}}}`, or 404.
//! - On a 404, `GET {base}/v0.1/servers?search=<name>&version=latest` lists similar names for
//!   the error message.
//!
//! The entry's first stdio `npm` or `pypi` package with an exact version becomes an `npm:` or
//! `pypi:` source (fetched through the user's own npm/pip: `registryBaseUrl` is not used, so
//! private mirrors keep working); without one, its `repository` (with `subfolder`) becomes a git
//! source. Everything in the answer was written by the server's publisher, so it goes through
//! the same parser and checks as a source typed by a user: a repository URL can never name a
//! local folder. The `server.json` returned is saved under `<work_dir>/sources/registry/` and
//! analyzed as the package's own `server.json`.

use std::io::Write;
use std::path::PathBuf;

use reqwest::{StatusCode, Url};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{ensure_dir, http};
use crate::Analyzer;
use crate::error::AnalyzeError;
use crate::source::{Source, parse_source, validate_subdir};

/// The most bytes read from one registry answer.
const MAX_ANSWER_BYTES: u64 = 4 * 1024 * 1024;
const OFFICIAL_META: &str = "io.modelcontextprotocol.registry/official";

/// A registry entry turned into a source to analyze.
#[derive(Debug)]
pub(crate) struct Resolved {
    /// The npm, PyPI or git source the entry points to.
    pub inner: Source,
    /// The entry's `server.json`, pretty-printed (as saved).
    pub server_json: String,
    /// The registry version of the entry.
    pub version: String,
    /// Where the `server.json` was saved.
    pub saved_at: PathBuf,
    pub warnings: Vec<String>,
}

impl Resolved {
    /// Part of the spec cache key: the entry's `server.json` shapes the spec.
    pub fn content(&self) -> String {
        format!(
            "registry server.json {}",
            hex::encode(Sha256::digest(self.server_json.as_bytes()))
        )
    }
}

fn endpoint(analyzer: &Analyzer, segments: &[&str]) -> Result<Url, AnalyzeError> {
    let mut url = Url::parse(&analyzer.registry_base).map_err(|e| AnalyzeError::McpRegistry {
        name: segments.get(2).copied().unwrap_or("").to_string(),
        detail: format!(
            "the registry base URL {:?} is not valid: {e}",
            analyzer.registry_base
        ),
    })?;
    url.path_segments_mut()
        .map_err(|()| AnalyzeError::McpRegistry {
            name: String::new(),
            detail: format!(
                "the registry base URL {:?} cannot take a path",
                analyzer.registry_base
            ),
        })?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

/// Looks `name` up and picks what to analyze.
pub(crate) async fn resolve(
    analyzer: &Analyzer,
    name: &str,
    version: Option<&str>,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<Resolved, AnalyzeError> {
    let wanted = version.unwrap_or("latest");
    progress(&format!("looking up {name} ({wanted}) in the MCP registry"));
    let client = http::client(analyzer)?;
    let url = endpoint(analyzer, &["v0.1", "servers", name, "versions", wanted])?;
    let (status, body) = http::get(analyzer, &client, &url, MAX_ANSWER_BYTES).await?;
    let failed = |detail: String| AnalyzeError::McpRegistry {
        name: name.to_string(),
        detail,
    };
    if status == StatusCode::NOT_FOUND {
        let suggestions = search(analyzer, &client, name).await;
        return Err(AnalyzeError::McpRegistryNotFound {
            registry: analyzer.registry_base.clone(),
            name: match version {
                Some(v) => format!("{name} version {v}"),
                None => name.to_string(),
            },
            suggestions,
        });
    }
    let answer: Value = serde_json::from_slice(&body).map_err(|e| {
        failed(format!(
            "the registry answered HTTP {status} with something that is not JSON ({e})"
        ))
    })?;
    if !status.is_success() {
        let message = answer
            .get("error")
            .or_else(|| answer.get("detail"))
            .and_then(Value::as_str)
            .unwrap_or("no error message");
        return Err(failed(format!(
            "the registry answered HTTP {status}: {message}"
        )));
    }
    let server = answer
        .get("server")
        .filter(|s| s.is_object())
        .ok_or_else(|| failed("the registry's answer has no \"server\" object".into()))?;
    let returned_name = server.get("name").and_then(Value::as_str).unwrap_or("");
    if returned_name != name {
        return Err(failed(format!(
            "the registry answered with a different server ({returned_name:?})"
        )));
    }
    let entry_version = server
        .get("version")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let mut warnings = Vec::new();
    let official = answer.get("_meta").and_then(|m| m.get(OFFICIAL_META));
    match official
        .and_then(|o| o.get("status"))
        .and_then(Value::as_str)
    {
        Some("deleted") => {
            return Err(failed(format!(
                "version {entry_version} is marked deleted in the registry"
            )));
        }
        Some("deprecated") => {
            let why = official
                .and_then(|o| o.get("statusMessage"))
                .and_then(Value::as_str)
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            warnings.push(format!(
                "the MCP registry marks {name} {entry_version} as deprecated{why}"
            ));
        }
        _ => {}
    }
    let inner = choose(server, &mut warnings).map_err(failed)?;
    let server_json = serde_json::to_string_pretty(server)
        .map_err(|e| failed(format!("cannot re-serialise server.json: {e}")))?;
    let saved_at = save(analyzer, name, &entry_version, &server_json)?;
    progress(&format!(
        "{name} {entry_version} in the MCP registry points to {inner}"
    ));
    Ok(Resolved {
        inner,
        server_json,
        version: entry_version,
        saved_at,
        warnings,
    })
}

/// Server names similar to `name` from the registry's search (a substring match): by the
/// server part of the name, else by its namespace (the publisher's other servers). Empty when
/// the search fails.
async fn search(analyzer: &Analyzer, client: &reqwest::Client, name: &str) -> Vec<String> {
    let (namespace, server) = name.split_once('/').unwrap_or((name, name));
    for term in [server, namespace] {
        let found = search_term(analyzer, client, term).await;
        if !found.is_empty() {
            return found;
        }
    }
    Vec::new()
}

async fn search_term(analyzer: &Analyzer, client: &reqwest::Client, term: &str) -> Vec<String> {
    let Ok(mut url) = endpoint(analyzer, &["v0.1", "servers"]) else {
        return Vec::new();
    };
    url.query_pairs_mut()
        .append_pair("search", term)
        .append_pair("version", "latest")
        .append_pair("limit", "10");
    let Ok((status, body)) = http::get(analyzer, client, &url, MAX_ANSWER_BYTES).await else {
        return Vec::new();
    };
    if !status.is_success() {
        return Vec::new();
    }
    let Ok(list) = serde_json::from_slice::<Value>(&body) else {
        return Vec::new();
    };
    let mut names: Vec<String> = list
        .get("servers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.get("server")?.get("name")?.as_str())
        .map(String::from)
        .collect();
    names.dedup();
    names.truncate(5);
    names
}

fn text<'a>(value: &'a Value, keys: &[&str]) -> Option<&'a str> {
    keys.iter()
        .find_map(|k| value.get(*k))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The source an entry's packages or repository point to.
fn choose(server: &Value, warnings: &mut Vec<String>) -> Result<Source, String> {
    let packages: Vec<&Value> = server
        .get("packages")
        .and_then(Value::as_array)
        .map(|list| list.iter().collect())
        .unwrap_or_default();
    let installable = |p: &Value| {
        matches!(
            text(p, &["registryType", "registry_type"])
                .map(str::to_ascii_lowercase)
                .as_deref(),
            Some("npm" | "pypi")
        )
    };
    let is_stdio = |p: &Value| {
        p.get("transport")
            .and_then(|t| text(t, &["type"]))
            .is_none_or(|t| t == "stdio")
    };
    // Stdio packages first: those are what Catwalk runs.
    let ordered = packages
        .iter()
        .filter(|p| installable(p) && is_stdio(p))
        .chain(packages.iter().filter(|p| installable(p) && !is_stdio(p)));
    for package in ordered {
        let kind = text(package, &["registryType", "registry_type"])
            .unwrap_or("")
            .to_ascii_lowercase();
        let identifier = text(package, &["identifier", "name"]).unwrap_or("");
        let Some(version) = text(package, &["version"]).filter(|v| *v != "latest") else {
            warnings.push(format!(
                "the registry's {kind} package {identifier} has no exact version: skipped"
            ));
            continue;
        };
        let typed = match kind.as_str() {
            "npm" => format!("npm:{identifier}@{version}"),
            _ => format!("pypi:{identifier}=={version}"),
        };
        match parse_source(&typed) {
            Ok(source @ (Source::Npm { .. } | Source::Pypi { .. })) => return Ok(source),
            Ok(_) | Err(_) => warnings.push(format!(
                "the registry's {kind} package {identifier:?} {version:?} is not a valid package name and version: skipped"
            )),
        }
    }
    if let Some(repository) = server.get("repository")
        && let Some(url) = text(repository, &["url"])
    {
        // Written by the publisher: only an https repository, never a local path. Forges other
        // than GitHub are listed by their web URL, which git clones once `.git` is added.
        let source = parse_source(url)
            .or_else(|_| parse_source(&format!("{}.git", url.trim_end_matches('/'))))
            .ok()
            .filter(|s| match s {
                Source::GitHub {
                    rev: None,
                    subdir: None,
                    tree: None,
                    ..
                } => true,
                Source::Git {
                    url,
                    rev: None,
                    subdir: None,
                } => url.to_ascii_lowercase().starts_with("https://"),
                _ => false,
            })
            .ok_or_else(|| {
                format!("its repository URL {url:?} is not an https git or GitHub repository URL")
            })?;
        let source = match text(repository, &["subfolder"]) {
            Some(sub) => {
                let sub = validate_subdir(sub)?;
                source
                    .with_subdir(&sub)
                    .ok_or_else(|| format!("cannot apply the subfolder {sub:?}"))?
            }
            None => source,
        };
        if !packages.is_empty() {
            warnings.push(
                "the MCP registry lists no npm or PyPI package for this server: its repository was analyzed instead".into(),
            );
        }
        return Ok(source);
    }
    let kinds: Vec<String> = packages
        .iter()
        .filter_map(|p| {
            Some(format!(
                "{} {}",
                text(p, &["registryType", "registry_type"])?,
                text(p, &["identifier", "name"]).unwrap_or("?")
            ))
        })
        .collect();
    let remotes: Vec<&str> = server
        .get("remotes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| text(r, &["url"]))
        .collect();
    let mut detail =
        "it has no npm or PyPI package and no repository, so there is nothing Catwalk can install"
            .to_string();
    if !kinds.is_empty() {
        detail.push_str(&format!(" (its packages: {})", kinds.join(", ")));
    }
    if !remotes.is_empty() {
        detail.push_str(&format!(
            "; it is already served remotely at {}: connect to it directly",
            remotes.join(", ")
        ));
    }
    Err(detail)
}

/// Saves the entry's server.json as `<work_dir>/sources/registry/<name>@<version>.server.json`.
fn save(
    analyzer: &Analyzer,
    name: &str,
    version: &str,
    server_json: &str,
) -> Result<PathBuf, AnalyzeError> {
    let safe = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+') {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    let folder = analyzer.work_dir.join("sources").join("registry");
    ensure_dir(&folder)?;
    let dest = folder.join(format!("{}@{}.server.json", safe(name), safe(version)));
    let mut file = tempfile::Builder::new()
        .prefix(".server-json-")
        .tempfile_in(&folder)
        .map_err(|e| AnalyzeError::io(format!("cannot write in {}", folder.display()), e))?;
    file.write_all(server_json.as_bytes())
        .map_err(|e| AnalyzeError::io(format!("cannot write {}", dest.display()), e))?;
    file.persist(&dest)
        .map_err(|e| AnalyzeError::io(format!("cannot write {}", dest.display()), e.error))?;
    Ok(dest)
}
