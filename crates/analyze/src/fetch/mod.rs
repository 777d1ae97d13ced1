//! Getting a source onto disk: npm and PyPI through the user's own clients, git (and GitHub)
//! through `git`, archives and the MCP registry over HTTP, local folders in place.
//!
//! Downloads land in `<work_dir>/tmp` and are extracted into a staging folder next to their
//! final place, then renamed, so that a cached folder under `<work_dir>/sources` is always
//! complete: an interrupted extraction leaves only a staging folder, which is never reused.

pub(crate) mod archive;
pub(crate) mod git;
pub(crate) mod github;
pub(crate) mod http;
pub(crate) mod monorepo;
pub(crate) mod network;
pub(crate) mod npm;
pub(crate) mod pypi;
pub(crate) mod registry;
pub(crate) mod spec_cache;
pub(crate) mod subdir;

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::AnalyzeError;
use crate::spec::Registry;

/// A source on disk, ready to be read.
#[derive(Debug)]
pub(crate) struct Fetched {
    /// The package root (where package.json or the wheel's contents are).
    pub root: PathBuf,
    /// For registry sources: the registry, the exact name and the pinned version.
    pub registry: Option<(Registry, String, String)>,
    /// For local and git sources: the folder to install from.
    pub path: Option<PathBuf>,
    /// For git sources: the commit checked out.
    pub revision: Option<String>,
    pub warnings: Vec<String>,
    /// What identifies the content (a commit, an archive digest, an exact package version),
    /// for the spec cache; `None` for local folders, which are never cached.
    pub content: Option<String>,
}

/// Creates `dir` (and its parents), with a useful error.
pub(crate) fn ensure_dir(dir: &Path) -> Result<(), AnalyzeError> {
    fs::create_dir_all(dir)
        .map_err(|e| AnalyzeError::io(format!("cannot create {}", dir.display()), e))
}

/// A fresh temporary folder under `parent`, removed when dropped.
pub(crate) fn temp_dir_in(parent: &Path, prefix: &str) -> Result<tempfile::TempDir, AnalyzeError> {
    ensure_dir(parent)?;
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(parent)
        .map_err(|e| {
            AnalyzeError::io(
                format!("cannot create a temporary folder in {}", parent.display()),
                e,
            )
        })
}

/// Moves a fully extracted `staging` folder to `dest`. When another analysis got there first,
/// its copy is kept and ours is dropped.
pub(crate) fn publish(staging: tempfile::TempDir, dest: &Path) -> Result<(), AnalyzeError> {
    if let Some(parent) = dest.parent() {
        ensure_dir(parent)?;
    }
    let staging_path = staging.keep();
    match fs::rename(&staging_path, dest) {
        Ok(()) => Ok(()),
        Err(_) if dest.is_dir() => {
            let _ = fs::remove_dir_all(&staging_path);
            Ok(())
        }
        Err(e) => {
            let _ = fs::remove_dir_all(&staging_path);
            Err(AnalyzeError::io(
                format!("cannot move the extracted package to {}", dest.display()),
                e,
            ))
        }
    }
}

/// Runs blocking file work (extraction, copying) off the async runtime.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, AnalyzeError> + Send + 'static,
) -> Result<T, AnalyzeError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| AnalyzeError::Io {
            context: "a background extraction task failed".into(),
            source: std::io::Error::other(e.to_string()),
        })?
}
