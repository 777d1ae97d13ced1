//! catwalk-analyze: from a source string (`npm:`, `pypi:`, a folder, a git URL) to a
//! [`ServerSpec`]: how to install and launch an MCP stdio server, which environment variables
//! it needs, and the evidence for each finding.
//!
//! The pipeline is: [`parse_source`] → fetch (the user's own `npm`, `pip` and `git`, into
//! `<work_dir>/sources`, archives extracted by [`extract`] with safety limits) → read the
//! interesting files (never following symlinks, with size caps) → manifests, `server.json`,
//! code and README findings → merge into the spec. The output format is documented in
//! `crates/analyze/SPEC.md`.
//!
//! Invariants: no registry host is named in this crate; no package code is executed (with the
//! one documented exception of pip preparing an sdist's metadata when no wheel exists); no
//! environment variable value is ever read.

mod build;
mod code_env;
mod env;
mod error;
pub mod extract;
mod fetch;
mod files;
mod launch;
mod manifest;
mod process;
mod readme;
mod source;
mod spec;

use std::path::PathBuf;

pub use build::deployment_name;
pub use env::{IGNORED_ENV_VARS, is_secret_name};
pub use error::{ACCEPTED_SOURCES, AnalyzeError};
pub use extract::ExtractLimits;
pub use fetch::git::cache_key as git_cache_key;
pub use fetch::npm::compare_versions;
pub use fetch::pypi::version_from_file_name;
pub use source::{Source, parse_source, redact_url};
pub use spec::{EnvVar, Evidence, Launch, PackageRef, Registry, Runtime, SPEC_VERSION, ServerSpec};

/// Analyzes sources using the given tools and working folder.
#[derive(Debug, Clone)]
pub struct Analyzer {
    /// Where downloads, extracted packages and clones are kept:
    /// `sources/npm/<name>@<version>/`, `sources/pypi/<name>==<version>/`,
    /// `sources/git/<16 hex>/`, and `tmp/` for downloads in progress.
    pub work_dir: PathBuf,
    /// The npm executable (default `npm`).
    pub npm: String,
    /// The Python executable whose pip is used (default `python3`).
    pub python: String,
    /// The git executable (default `git`).
    pub git: String,
    /// Caps applied to every extracted archive and cloned repository.
    pub limits: ExtractLimits,
}

impl Analyzer {
    /// An analyzer with the default tools (`npm`, `python3`, `git` from `PATH`) and limits.
    pub fn new(work_dir: PathBuf) -> Analyzer {
        Analyzer {
            work_dir,
            npm: "npm".into(),
            python: "python3".into(),
            git: "git".into(),
            limits: ExtractLimits::default(),
        }
    }

    /// Fetches `source` and describes how to run it.
    ///
    /// `progress` receives short human-readable lines ("resolving npm:x", "downloading
    /// x@1.2.3", "reading package.json", ...) as the work advances.
    pub async fn analyze(
        &self,
        source: &str,
        progress: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<ServerSpec, AnalyzeError> {
        let parsed = parse_source(source)?;
        let fetched = match &parsed {
            Source::Npm { name, version } => {
                fetch::npm::fetch(self, name, version.as_deref(), progress).await?
            }
            Source::Pypi { name, version } => {
                fetch::pypi::fetch(self, name, version.as_deref(), progress).await?
            }
            Source::Git { url, rev } => {
                fetch::git::fetch(self, url, rev.as_deref(), progress).await?
            }
            Source::Local { path } => {
                progress(&format!("reading {}", path.display()));
                fetch::Fetched {
                    root: path.clone(),
                    registry: None,
                    path: Some(path.clone()),
                    revision: None,
                    warnings: Vec::new(),
                }
            }
        };
        let root = fetched.root.clone();
        let tree = fetch::blocking(move || Ok(files::scan(&root))).await?;
        let spec = build::build(&parsed, &fetched, &tree, progress)?;
        progress(&format!(
            "analyzed {}: {} {}",
            spec.package.name,
            spec.launch.command,
            spec.launch.args.join(" ")
        ));
        Ok(spec)
    }
}

#[cfg(test)]
mod tests;
