//! npm packages: `npm view` to pin the version, `npm pack` to download the tarball.
//!
//! Both go through the user's `npm`, so its configured registry, scopes, mirrors and tokens
//! apply; no registry host is named here. `npm pack` of a registry version only downloads the
//! tarball; `--ignore-scripts` makes sure no lifecycle script could run anyway.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::{Fetched, blocking, publish, temp_dir_in};
use crate::Analyzer;
use crate::error::AnalyzeError;
use crate::extract::extract_tar_gz;
use crate::process::Cmd;
use crate::spec::Registry;

const NPM_TIMEOUT: Duration = Duration::from_secs(120);

/// Resolves, downloads (or reuses) and extracts an npm package.
pub(crate) async fn fetch(
    analyzer: &Analyzer,
    name: &str,
    requested: Option<&str>,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<Fetched, AnalyzeError> {
    let spec = match requested {
        Some(v) => format!("{name}@{v}"),
        None => name.to_string(),
    };
    progress(&format!("resolving npm:{spec}"));
    let (version, integrity) =
        resolve(analyzer, name, &spec, requested.unwrap_or("latest")).await?;
    let dest = analyzer
        .work_dir
        .join("sources")
        .join("npm")
        .join(format!("{name}@{version}"));
    if dest.is_dir() {
        progress(&format!("using cached {name}@{version}"));
    } else {
        progress(&format!("downloading {name}@{version}"));
        let download = temp_dir_in(&analyzer.work_dir.join("tmp"), "npm-pack-")?;
        let archive = pack(analyzer, &format!("{name}@{version}"), download.path()).await?;
        progress(&format!("extracting {name}@{version}"));
        let staging = temp_dir_in(dest.parent().unwrap_or(&analyzer.work_dir), ".staging-")?;
        let staging_path = staging.path().to_path_buf();
        let limits = analyzer.limits;
        // npm tarballs wrap everything in one folder (usually `package/`), which npm strips.
        blocking(move || extract_tar_gz(&archive, &staging_path, 1, &limits)).await?;
        publish(staging, &dest)?;
    }
    Ok(Fetched {
        root: dest,
        content: Some(format!(
            "npm {name}@{version} {}",
            integrity.as_deref().unwrap_or("")
        )),
        registry: Some((Registry::Npm, name.to_string(), version)),
        path: None,
        revision: None,
        warnings: Vec::new(),
    })
}

/// `npm view <spec> name version dist.integrity --json`, reduced to the highest matching
/// version and its integrity hash (when the registry reports one).
async fn resolve(
    analyzer: &Analyzer,
    name: &str,
    spec: &str,
    requested: &str,
) -> Result<(String, Option<String>), AnalyzeError> {
    let out = Cmd::new(&analyzer.npm, NPM_TIMEOUT)
        .arg("view")
        .arg(spec)
        .arg("name")
        .arg("version")
        .arg("dist.integrity")
        .arg("--json")
        .run()
        .await?;
    let parsed: Option<Value> = serde_json::from_str(out.stdout.trim()).ok();
    if let Some(error) = parsed.as_ref().and_then(|v| v.get("error")) {
        let code = error.get("code").and_then(Value::as_str).unwrap_or("");
        let summary = error.get("summary").and_then(Value::as_str).unwrap_or("");
        if code == "E404" && summary.contains("No match found for version") {
            return Err(AnalyzeError::NpmVersionNotFound {
                name: name.into(),
                spec: requested.into(),
            });
        }
        if code == "E404" {
            return Err(AnalyzeError::NpmNotFound { name: name.into() });
        }
        return Err(AnalyzeError::CommandFailed {
            command: format!("npm view {spec}"),
            detail: format!("{code}: {summary}"),
        });
    }
    if !out.success {
        return Err(AnalyzeError::CommandFailed {
            command: format!("npm view {spec}"),
            detail: npm_error_line(&out.stderr),
        });
    }
    let versions: Vec<(String, Option<String>)> = match parsed {
        Some(Value::Array(items)) => items.iter().filter_map(version_of).collect(),
        Some(item @ Value::Object(_)) => version_of(&item).into_iter().collect(),
        _ => Vec::new(),
    };
    versions
        .into_iter()
        .max_by(|a, b| compare_versions(&a.0, &b.0))
        .ok_or_else(|| AnalyzeError::NpmVersionNotFound {
            name: name.into(),
            spec: requested.into(),
        })
}

fn version_of(item: &Value) -> Option<(String, Option<String>)> {
    let version = item.get("version").and_then(Value::as_str)?;
    let integrity = item
        .get("dist.integrity")
        .and_then(Value::as_str)
        .map(String::from);
    Some((version.to_string(), integrity))
}

/// `npm pack <name>@<version>`; returns the path of the downloaded tarball.
async fn pack(analyzer: &Analyzer, spec: &str, into: &Path) -> Result<PathBuf, AnalyzeError> {
    let out = Cmd::new(&analyzer.npm, NPM_TIMEOUT)
        .arg("pack")
        .arg(spec)
        .arg("--pack-destination")
        .arg(into)
        .arg("--json")
        .arg("--ignore-scripts")
        .run()
        .await?;
    if !out.success {
        return Err(AnalyzeError::CommandFailed {
            command: format!("npm pack {spec}"),
            detail: npm_error_line(&out.stderr),
        });
    }
    let named = serde_json::from_str::<Value>(out.stdout.trim())
        .ok()
        .and_then(|v| v.get(0)?.get("filename")?.as_str().map(String::from))
        .map(|file| into.join(file))
        .filter(|p| p.is_file());
    // Older npm versions print a differently shaped JSON; the tarball is the only .tgz there.
    let found = named.or_else(|| {
        std::fs::read_dir(into)
            .ok()?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "tgz"))
    });
    found.ok_or_else(|| AnalyzeError::CommandFailed {
        command: format!("npm pack {spec}"),
        detail: "it reported success but no tarball was written".into(),
    })
}

/// The most useful line of npm's stderr (its `npm error` lines, minus the log-file pointer).
fn npm_error_line(stderr: &str) -> String {
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("npm error") || l.starts_with("npm ERR!"))
        .map(|l| {
            l.trim_start_matches("npm error")
                .trim_start_matches("npm ERR!")
                .trim()
        })
        .filter(|l| !l.is_empty() && !l.starts_with("A complete log") && !l.starts_with("code "))
        .collect();
    match errors.first() {
        Some(line) => line.to_string(),
        None => crate::process::last_line(stderr),
    }
}

/// Semantic-version order: numeric `major.minor.patch`, and a pre-release sorts before its
/// release (`1.0.0-rc.1 < 1.0.0`); build metadata is ignored.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let split = |v: &str| -> (Vec<u64>, Option<String>) {
        let v = v.trim().trim_start_matches('v');
        let v = v.split('+').next().unwrap_or(v);
        let (core, pre) = match v.split_once('-') {
            Some((c, p)) => (c, Some(p.to_string())),
            None => (v, None),
        };
        (
            core.split('.').map(|n| n.parse().unwrap_or(0)).collect(),
            pre,
        )
    };
    let (core_a, pre_a) = split(a);
    let (core_b, pre_b) = split(b);
    core_a.cmp(&core_b).then_with(|| match (pre_a, pre_b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => compare_prerelease(&x, &y),
    })
}

fn compare_prerelease(a: &str, b: &str) -> Ordering {
    let mut left = a.split('.');
    let mut right = b.split('.');
    loop {
        match (left.next(), right.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let order = match (x.parse::<u64>(), y.parse::<u64>()) {
                    (Ok(m), Ok(n)) => m.cmp(&n),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    (Err(_), Err(_)) => x.cmp(y),
                };
                if order != Ordering::Equal {
                    return order;
                }
            }
        }
    }
}
