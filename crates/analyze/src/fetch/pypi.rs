//! PyPI projects: `python -m pip download --no-deps`, wheels first.
//!
//! pip is the user's own, so its configured index, extra indexes, find-links and certificates
//! apply; no index host is named here. A wheel is tried first (`--only-binary=:all:`) because
//! reading a wheel runs nothing. Only when no wheel exists is a source distribution allowed,
//! and then pip runs the project's build backend to read its metadata: the spec says so in a
//! warning. `--ignore-requires-python` lets us analyze a server that needs a newer Python than
//! the one running the analysis.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::Duration;

use regex::Regex;

use super::{Fetched, blocking, publish, temp_dir_in};
use crate::Analyzer;
use crate::error::AnalyzeError;
use crate::extract::{extract_tar_gz, extract_zip};
use crate::manifest::normalize;
use crate::process::Cmd;
use crate::spec::Registry;

const PIP_TIMEOUT: Duration = Duration::from_secs(180);

static FROM_VERSIONS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\(from versions: ([^)]*)\)").unwrap());

/// Downloads (or reuses) and extracts a PyPI project.
pub(crate) async fn fetch(
    analyzer: &Analyzer,
    name: &str,
    requested: Option<&str>,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<Fetched, AnalyzeError> {
    let requirement = match requested {
        Some(v) => format!("{name}=={v}"),
        None => name.to_string(),
    };
    progress(&format!("resolving pypi:{requirement}"));
    let cache_root = analyzer.work_dir.join("sources").join("pypi");
    let mut warnings = Vec::new();
    if let Some(version) = requested {
        let dest = cache_root.join(format!("{}=={version}", normalize(name)));
        if dest.is_dir() {
            progress(&format!("using cached {name}=={version}"));
            return Ok(fetched(dest, name, version, warnings));
        }
    }
    progress(&format!("downloading {requirement}"));
    let download = temp_dir_in(&analyzer.work_dir.join("tmp"), "pip-download-")?;
    let file = match download_one(analyzer, &requirement, download.path(), true).await? {
        Some(file) => file,
        None => {
            let file = download_one(analyzer, &requirement, download.path(), false)
                .await?
                .ok_or_else(|| AnalyzeError::PypiNotFound {
                    name: name.to_string(),
                })?;
            warnings.push(format!(
                "{name} publishes no wheel: pip ran the project's build backend to read the source distribution's metadata"
            ));
            file
        }
    };
    let file_name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let version =
        version_from_file_name(&file_name).ok_or_else(|| AnalyzeError::CommandFailed {
            command: format!("pip download {requirement}"),
            detail: format!("cannot read a version from the downloaded file name {file_name:?}"),
        })?;
    let dest = cache_root.join(format!("{}=={version}", normalize(name)));
    if dest.is_dir() {
        progress(&format!("using cached {name}=={version}"));
        return Ok(fetched(dest, name, &version, warnings));
    }
    progress(&format!("extracting {file_name}"));
    let staging = temp_dir_in(&cache_root, ".staging-")?;
    let staging_path = staging.path().to_path_buf();
    let limits = analyzer.limits;
    blocking(move || {
        if file_name.ends_with(".whl") {
            extract_zip(&file, &staging_path, &limits)
        } else if file_name.ends_with(".tar.gz") || file_name.ends_with(".tgz") {
            // Source distributions wrap everything in `name-version/`.
            extract_tar_gz(&file, &staging_path, 1, &limits)
        } else if file_name.ends_with(".zip") {
            extract_zip(&file, &staging_path, &limits)?;
            hoist_single_folder(&staging_path)
        } else {
            Err(AnalyzeError::Archive {
                archive: file_name,
                detail: "unsupported distribution format".into(),
            })
        }
    })
    .await?;
    publish(staging, &dest)?;
    Ok(fetched(dest, name, &version, warnings))
}

fn fetched(root: PathBuf, name: &str, version: &str, warnings: Vec<String>) -> Fetched {
    Fetched {
        root,
        registry: Some((Registry::Pypi, name.to_string(), version.to_string())),
        path: None,
        revision: None,
        warnings,
        content: Some(format!("pypi {}=={version}", normalize(name))),
    }
}

/// One `pip download`; `Ok(None)` when pip found no matching distribution of the wanted kind.
async fn download_one(
    analyzer: &Analyzer,
    requirement: &str,
    into: &Path,
    wheels_only: bool,
) -> Result<Option<PathBuf>, AnalyzeError> {
    let binary_flag = if wheels_only {
        "--only-binary=:all:"
    } else {
        "--prefer-binary"
    };
    let out = Cmd::new(&analyzer.python, PIP_TIMEOUT)
        .arg("-m")
        .arg("pip")
        .arg("download")
        .arg("--no-deps")
        .arg("--disable-pip-version-check")
        .arg("--no-input")
        .arg("--ignore-requires-python")
        .arg(binary_flag)
        .arg("-d")
        .arg(into)
        .arg(requirement)
        .env("PIP_NO_INPUT", "1")
        .run()
        .await?;
    if out.success {
        let file = std::fs::read_dir(into)
            .map_err(|e| AnalyzeError::io(format!("cannot list {}", into.display()), e))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.is_file());
        return Ok(file);
    }
    if out.stderr.contains("No module named pip") {
        return Err(AnalyzeError::ToolMissing {
            tool: format!("{} -m pip", analyzer.python),
            detail: "pip is not installed for this Python".into(),
        });
    }
    if !out.stderr.contains("No matching distribution found") {
        let detail = out
            .stderr
            .lines()
            .rfind(|l| l.starts_with("ERROR:"))
            .map(str::to_string)
            .unwrap_or_else(|| crate::process::last_line(&out.stderr));
        return Err(AnalyzeError::CommandFailed {
            command: format!("pip download {requirement}"),
            detail,
        });
    }
    let available = FROM_VERSIONS
        .captures(&out.stderr)
        .map(|c| c[1].trim().to_string())
        .unwrap_or_default();
    if let Some((name, version)) = requirement.split_once("==")
        && !available.is_empty()
        && available != "none"
        && !wheels_only
    {
        return Err(AnalyzeError::PypiVersionNotFound {
            name: name.into(),
            version: version.into(),
            available,
        });
    }
    Ok(None)
}

/// `name-1.2.3-py3-none-any.whl` → `1.2.3`; `name-1.2.3.tar.gz` → `1.2.3`.
pub fn version_from_file_name(file_name: &str) -> Option<String> {
    if let Some(stem) = file_name.strip_suffix(".whl") {
        return stem.split('-').nth(1).map(String::from);
    }
    let stem = file_name
        .strip_suffix(".tar.gz")
        .or_else(|| file_name.strip_suffix(".tgz"))
        .or_else(|| file_name.strip_suffix(".zip"))?;
    stem.rsplit_once('-')
        .map(|(_, v)| v.to_string())
        .filter(|v| !v.is_empty())
}

/// Moves the contents of a lone top-level folder up one level.
fn hoist_single_folder(dir: &Path) -> Result<(), AnalyzeError> {
    let io = |e| AnalyzeError::io(format!("cannot reorganise {}", dir.display()), e);
    let entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(Result::ok)
        .collect();
    if entries.len() != 1 || !entries[0].file_type().map_err(io)?.is_dir() {
        return Ok(());
    }
    let inner = entries[0].path();
    for entry in std::fs::read_dir(&inner)
        .map_err(io)?
        .filter_map(Result::ok)
    {
        std::fs::rename(entry.path(), dir.join(entry.file_name())).map_err(io)?;
    }
    std::fs::remove_dir(&inner).map_err(io)
}
