//! catwalk-analyze: from a source string (`npm:`, `pypi:`, a folder, a git or GitHub URL, an
//! archive URL, an MCP registry name) to a [`ServerSpec`]: how to install and launch an MCP
//! stdio server, which environment variables it needs, and the evidence for each finding.
//!
//! The pipeline is: [`parse_source`] → for registry names, the registry's entry → fetch (the
//! user's own `npm`, `pip` and `git`, reqwest for archives, into `<work_dir>/sources`, archives
//! extracted by [`extract`] with safety limits, private networks refused) → the subfolder, or a
//! pick among the servers of a monorepo → a spec cached for the same content, or: read the
//! interesting files (never following symlinks, with size caps) → manifests, `server.json`,
//! code and README findings → merge into the spec. The output format is documented in
//! `crates/analyze/SPEC.md`.
//!
//! Invariants: no registry host is named in this crate; no package code is executed (with the
//! one documented exception of pip preparing an sdist's metadata when no wheel exists); no
//! environment variable value is ever read.

pub mod assist;
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
mod transport;

use std::path::PathBuf;
use std::time::Duration;

pub use build::deployment_name;
pub use env::{IGNORED_ENV_PREFIXES, IGNORED_ENV_VARS, is_secret_name};
pub use error::{ACCEPTED_SOURCES, AnalyzeError};
pub use extract::ExtractLimits;
pub use fetch::git::cache_key as git_cache_key;
pub use fetch::monorepo::ServerCandidate;
pub use fetch::network::is_public as is_public_address;
pub use fetch::npm::compare_versions;
pub use fetch::pypi::version_from_file_name;
pub use source::{Source, parse_source, redact_url};
pub use spec::{
    ArgField, AssistReport, Confidence, EnvVar, Evidence, Introspection, IntrospectionStatus,
    Launch, LeftOutVar, Level, MissingArguments, PackageRef, PromptInfo, Registry, ResourceInfo,
    Runtime, SPEC_VERSION, ServerSpec, ToolInfo,
};

use fetch::git::GitTarget;
use fetch::registry::Resolved;
use fetch::{Fetched, monorepo, spec_cache};

/// Where GitHub repositories are cloned from unless [`Analyzer::github_base`] says otherwise.
pub const DEFAULT_GITHUB_BASE: &str = "https://github.com";
/// The official MCP registry, the default of [`Analyzer::registry_base`].
pub const DEFAULT_REGISTRY_BASE: &str = "https://registry.modelcontextprotocol.io";

/// Analyzes sources using the given tools and working folder.
#[derive(Debug, Clone)]
pub struct Analyzer {
    /// Where downloads, extracted packages, clones and finished specs are kept:
    /// `sources/npm/<name>@<version>/`, `sources/pypi/<name>==<version>/`,
    /// `sources/git/<16 hex>/`, `sources/archive/<16 hex>/`, `sources/registry/`,
    /// `specs/<digest>.json`, and `tmp/` for downloads in progress.
    pub work_dir: PathBuf,
    /// The npm executable (default `npm`).
    pub npm: String,
    /// The Python executable whose pip is used (default `python3`).
    pub python: String,
    /// The git executable (default `git`).
    pub git: String,
    /// Caps applied to every extracted archive and cloned repository.
    pub limits: ExtractLimits,
    /// The base URL GitHub sources are cloned and downloaded from (default
    /// [`DEFAULT_GITHUB_BASE`]): a GitHub Enterprise host, a mirror, or a local test server.
    pub github_base: String,
    /// The MCP registry that `registry:` names are looked up in (default
    /// [`DEFAULT_REGISTRY_BASE`]).
    pub registry_base: String,
    /// Whether hosts with private, loopback, link-local or unique-local addresses may be
    /// reached (default false: such URLs are refused before anything is sent).
    pub allow_private_network: bool,
    /// The most bytes one HTTP download (an archive source) may have (default 100 MB).
    pub max_download_bytes: u64,
    /// The deadline of one HTTP request (download included) and of one git command
    /// (default 120 s).
    pub fetch_timeout: Duration,
    /// Whether a spec made earlier from the same content is returned instead of analyzing
    /// again (default true).
    pub reuse_cached_specs: bool,
    /// An LLM that fills gaps in the evidence-only spec (default none). Specs made with and
    /// without it, or with another model, are cached apart.
    pub assist: Option<assist::AssistConfig>,
}

/// Where a fetched source is recorded and how its folders can be picked.
struct Origin {
    /// What the spec records as its source.
    recorded: Source,
    /// The concrete source a monorepo pick is appended to (the registry entry's package or
    /// repository for registry sources, else `recorded`).
    pickable: Source,
    registry: Option<Resolved>,
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
            github_base: DEFAULT_GITHUB_BASE.into(),
            registry_base: DEFAULT_REGISTRY_BASE.into(),
            allow_private_network: false,
            max_download_bytes: 100 * 1024 * 1024,
            fetch_timeout: Duration::from_secs(120),
            reuse_cached_specs: true,
            assist: None,
        }
    }

    /// Fetches `source` and describes how to run it.
    ///
    /// `progress` receives short human-readable lines ("resolving npm:x", "downloading
    /// x@1.2.3", "reading package.json", ...) as the work advances. A source whose root holds
    /// several servers fails with [`AnalyzeError::SeveralServers`], which lists the source
    /// string of each.
    pub async fn analyze(
        &self,
        source: &str,
        progress: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<ServerSpec, AnalyzeError> {
        let parsed = parse_source(source)?;
        let (concrete, registry) = match &parsed {
            Source::McpRegistry { name, version } => {
                let resolved =
                    fetch::registry::resolve(self, name, version.as_deref(), progress).await?;
                (resolved.inner.clone(), Some(resolved))
            }
            other => (other.clone(), None),
        };
        let extra = self.cache_extra(registry.as_ref().map(Resolved::content));
        let record = |resolved: &Source| Origin {
            recorded: if registry.is_some() {
                parsed.clone()
            } else {
                resolved.clone()
            },
            pickable: resolved.clone(),
            registry: None,
        };
        let (fetched, mut origin) = match &concrete {
            Source::Npm { name, version } => (
                fetch::npm::fetch(self, name, version.as_deref(), progress).await?,
                record(&concrete),
            ),
            Source::Pypi { name, version } => (
                fetch::pypi::fetch(self, name, version.as_deref(), progress).await?,
                record(&concrete),
            ),
            Source::Local { path } => {
                progress(&format!("reading {}", path.display()));
                let fetched = Fetched {
                    root: path.clone(),
                    registry: None,
                    path: Some(path.clone()),
                    revision: None,
                    warnings: Vec::new(),
                    content: None,
                };
                (fetched, record(&concrete))
            }
            Source::Archive { url, .. } => (
                fetch::archive::fetch(self, url, progress).await?,
                record(&concrete),
            ),
            Source::Git { url, rev, subdir } => {
                let target =
                    fetch::git::target(self, url, rev.as_deref(), subdir.as_deref()).await?;
                let origin = record(&concrete);
                if let Some(spec) =
                    self.cached_checkout(&target, &origin, extra.as_deref(), progress)?
                {
                    return Ok(spec);
                }
                (fetch::git::fetch(self, &target, progress).await?, origin)
            }
            Source::GitHub {
                owner,
                repo,
                rev,
                subdir,
                tree,
            } => {
                let (target, resolved) = fetch::github::target(
                    self,
                    owner,
                    repo,
                    rev.as_deref(),
                    subdir.as_deref(),
                    tree.as_deref(),
                )
                .await?;
                let origin = record(&resolved);
                if let Some(spec) =
                    self.cached_checkout(&target, &origin, extra.as_deref(), progress)?
                {
                    return Ok(spec);
                }
                (fetch::git::fetch(self, &target, progress).await?, origin)
            }
            Source::McpRegistry { .. } => {
                return Err(AnalyzeError::McpRegistry {
                    name: parsed.to_string(),
                    detail: "the registry entry points to another registry entry".into(),
                });
            }
        };
        origin.registry = registry;
        self.finish(fetched, origin, extra, progress).await
    }

    /// What besides the content keys a cached spec: a registry entry's `server.json`, and the
    /// LLM that helped.
    fn cache_extra(&self, registry: Option<String>) -> Option<String> {
        let assist = self.assist.as_ref().map(assist::AssistConfig::cache_key);
        match (registry, assist) {
            (None, None) => None,
            (Some(r), None) => Some(r),
            (None, Some(a)) => Some(a),
            (Some(r), Some(a)) => Some(format!("{r}\n{a}")),
        }
    }

    /// For git sources whose commit is known before cloning: the cached spec, when the
    /// checkout it describes is still on disk.
    fn cached_checkout(
        &self,
        target: &GitTarget,
        origin: &Origin,
        extra: Option<&str>,
        progress: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<Option<ServerSpec>, AnalyzeError> {
        let Some(commit) = target.commit.as_deref().filter(|_| self.reuse_cached_specs) else {
            return Ok(None);
        };
        let content = with_extra(&format!("git {commit}"), extra);
        let digest = spec_cache::digest(&content, target.subdir.as_deref());
        let Some(spec) = spec_cache::load(&self.work_dir, &digest) else {
            return Ok(None);
        };
        if !fetch::git::checkout_holds(self, target, commit) {
            return Ok(None);
        }
        let checkout = fetch::git::checkout_dir(self, target);
        let root = match &target.subdir {
            Some(sub) => fetch::subdir::resolve(&checkout, sub, &origin.recorded.to_string())?,
            None => checkout,
        };
        progress(&format!(
            "using the cached analysis of commit {}",
            &commit[..12]
        ));
        Ok(Some(reused(
            spec,
            &origin.recorded,
            Some(root),
            Some(commit.to_string()),
        )))
    }

    /// The common end of every analysis: the subfolder, a monorepo pick, the spec cache, then
    /// reading the files and building the spec.
    async fn finish(
        &self,
        mut fetched: Fetched,
        mut origin: Origin,
        extra: Option<String>,
        progress: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<ServerSpec, AnalyzeError> {
        let top = fetched.root.clone();
        let mut subdir = origin.pickable.subdir().map(String::from);
        let mut root = match &subdir {
            Some(sub) => fetch::subdir::resolve(&top, sub, &origin.recorded.to_string())?,
            None => top.clone(),
        };
        let mut warnings = Vec::new();
        if fetched.registry.is_none() {
            let searched = root.clone();
            let found = fetch::blocking(move || {
                Ok(if monorepo::root_is_server(&searched) {
                    Vec::new()
                } else {
                    monorepo::find(&searched)
                })
            })
            .await?;
            match found.as_slice() {
                [] => {}
                [(sub, name, _)] => {
                    let picked = origin.pickable.with_subdir(sub);
                    if let Some(picked) = picked {
                        warnings.push(format!(
                            "{} holds no server at its root; analyzed its only server, {name}, in {sub}",
                            origin.pickable
                        ));
                        if origin.registry.is_none() {
                            origin.recorded = picked.clone();
                        }
                        origin.pickable = picked;
                        subdir = origin.pickable.subdir().map(String::from);
                        root = match &subdir {
                            Some(full) => {
                                fetch::subdir::resolve(&top, full, &origin.recorded.to_string())?
                            }
                            None => root.join(sub),
                        };
                    }
                }
                several => {
                    let candidates = several
                        .iter()
                        .map(|(sub, name, runtime)| ServerCandidate {
                            subdir: sub.clone(),
                            name: name.clone(),
                            runtime: *runtime,
                            source: origin
                                .pickable
                                .with_subdir(sub)
                                .map(|s| s.to_string())
                                .unwrap_or_default(),
                        })
                        .collect();
                    return Err(AnalyzeError::SeveralServers {
                        input: origin.recorded.to_string(),
                        candidates,
                    });
                }
            }
        }
        fetched.root = root.clone();
        fetched.path = fetched.path.map(|_| root.clone());

        let digest = fetched.content.as_deref().map(|content| {
            spec_cache::digest(&with_extra(content, extra.as_deref()), subdir.as_deref())
        });
        if self.reuse_cached_specs
            && let Some(digest) = &digest
            && let Some(spec) = spec_cache::load(&self.work_dir, digest)
        {
            progress(&format!("using the cached analysis {}", &digest[..12]));
            return Ok(reused(
                spec,
                &origin.recorded,
                fetched.path.clone(),
                fetched.revision.clone(),
            ));
        }

        let scanned = root.clone();
        let mut tree = fetch::blocking(move || Ok(files::scan(&scanned))).await?;
        if let Some(entry) = &origin.registry {
            // The registry's server.json is the one the user picked: it replaces a shipped one.
            tree.files.retain(|f| f.rel != "server.json");
            tree.files.insert(
                0,
                files::SourceFile {
                    rel: "server.json".into(),
                    text: entry.server_json.clone(),
                },
            );
        }
        let (mut spec, readme) = build::build(&origin.recorded, &fetched, &tree, progress)?;
        if let Some(config) = &self.assist {
            progress(&format!(
                "asking {} ({}) to fill what the evidence leaves empty",
                config.model, config.provider
            ));
            let readme = readme.as_ref().map(|(f, t)| (f.as_str(), t.as_str()));
            assist::assist(config, &mut spec, &tree, readme).await;
        }
        if let Some(entry) = &origin.registry {
            spec.evidence.insert(
                0,
                Evidence::new(
                    "server.json",
                    None,
                    format!(
                        "server.json of {} version {} from the MCP registry at {} (saved as {}); it points to {}",
                        origin.recorded,
                        entry.version,
                        self.registry_base,
                        entry.saved_at.display(),
                        entry.inner
                    ),
                ),
            );
            spec.warnings.extend(entry.warnings.iter().cloned());
        }
        spec.warnings.extend(warnings);
        progress(&format!(
            "analyzed {}: {} {}",
            spec.package.name,
            spec.launch.command,
            spec.launch.args.join(" ")
        ));
        // A spec whose LLM help failed is not kept: the next analysis asks again.
        let assist_failed = spec.assist.as_ref().is_some_and(|a| a.error.is_some());
        if let Some(digest) = &digest
            && !assist_failed
            && let Err(e) = spec_cache::store(&self.work_dir, digest, &spec)
        {
            tracing::warn!("the spec could not be cached: {e}");
        }
        Ok(spec)
    }
}

fn with_extra(content: &str, extra: Option<&str>) -> String {
    match extra {
        Some(extra) => format!("{content}\n{extra}"),
        None => content.to_string(),
    }
}

/// A cached spec, made to describe this request: its source string and, since the same
/// content may sit in another folder, the folder and commit of this fetch.
fn reused(
    mut spec: ServerSpec,
    recorded: &Source,
    path: Option<PathBuf>,
    revision: Option<String>,
) -> ServerSpec {
    spec.source = recorded.to_string();
    spec.package.path = path;
    if revision.is_some() {
        spec.package.revision = revision;
    }
    spec
}

#[cfg(test)]
mod reading_tests;
#[cfg(test)]
mod tests;
