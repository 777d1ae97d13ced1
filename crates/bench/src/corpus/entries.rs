//! The corpus file: one entry per server, with the expectations checked by hand against the
//! package itself (see tests/corpus/README.md for how each kind of expectation was decided).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Corpus {
    #[serde(rename = "server")]
    pub servers: Vec<Entry>,
    /// Git repositories the runner builds from fixture files before the run.
    #[serde(default, rename = "repo")]
    pub repos: Vec<RepoRecipe>,
    /// Archives the runner serves itself.
    #[serde(default, rename = "archive")]
    pub archives: Vec<ArchiveRecipe>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub name: String,
    /// An analyzer source (`npm:pkg@1.2.3`, `pypi:pkg==1.2.3`), or a source built by the runner:
    /// `repo:<name>[#<rev>:<folder>]` or `archive:<name>`.
    pub source: String,
    /// How the expectations were checked, in one line.
    pub checked: String,
    /// What the analysis must give; absent when `error` is set.
    pub launch: Option<Launch>,
    #[serde(default)]
    pub env: Vec<ExpectedVar>,
    /// Tool names the server lists (introspection must find at least these); empty when the
    /// server cannot be started here (fixtures that are never run).
    #[serde(default)]
    pub tools: Vec<String>,
    /// The analysis must fail, with this text in its error.
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Launch {
    pub command: String,
    #[serde(default)]
    pub args: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedVar {
    pub name: String,
    pub required: bool,
    pub secret: bool,
}

/// A git repository made of fixture folders, optionally with hostile content.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepoRecipe {
    pub name: String,
    /// `[from, to]`: a folder relative to the corpus file, copied to `to` inside the repository.
    pub copy: Vec<[String; 2]>,
    /// `[path, target]`: symlinks committed as they are.
    #[serde(default)]
    pub symlinks: Vec<[String; 2]>,
    /// A path where another local repository is added as a git submodule.
    pub submodule: Option<String>,
}

/// An archive the runner serves on loopback.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchiveRecipe {
    pub name: String,
    pub kind: ArchiveKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArchiveKind {
    /// A `.tar.gz` whose entry climbs out with `../`.
    Escaping,
}

/// What kind of source an entry is, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Npm,
    Pypi,
    Repo,
    Archive,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Npm => "npm",
            Kind::Pypi => "pypi",
            Kind::Repo => "repo",
            Kind::Archive => "archive",
        }
    }
}

impl Entry {
    pub fn kind(&self) -> Kind {
        match self.source.split_once(':').map(|(k, _)| k) {
            Some("npm") => Kind::Npm,
            Some("pypi") => Kind::Pypi,
            Some("archive") => Kind::Archive,
            _ => Kind::Repo,
        }
    }

    /// Served by a registry: needs the network.
    pub fn is_remote(&self) -> bool {
        matches!(self.kind(), Kind::Npm | Kind::Pypi)
    }
}

impl Corpus {
    pub fn load(path: &Path) -> Result<Corpus> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the corpus {}", path.display()))?;
        let corpus: Corpus = toml::from_str(&text)
            .with_context(|| format!("{} is not a valid corpus file", path.display()))?;
        corpus
            .check()
            .with_context(|| format!("in {}", path.display()))?;
        Ok(corpus)
    }

    /// Every entry is complete, pinned, and refers to recipes that exist.
    pub fn check(&self) -> Result<()> {
        let mut names = BTreeSet::new();
        for entry in &self.servers {
            let name = &entry.name;
            ensure!(names.insert(name.as_str()), "two entries are named {name}");
            ensure!(
                !entry.checked.trim().is_empty(),
                "{name}: `checked` is empty"
            );
            match (&entry.launch, &entry.error) {
                (Some(_), None) => {}
                (None, Some(_)) => ensure!(
                    entry.env.is_empty() && entry.tools.is_empty(),
                    "{name}: an entry expecting an error expects nothing else"
                ),
                _ => bail!("{name}: give exactly one of `launch` and `error`"),
            }
            let mut vars = BTreeSet::new();
            for var in &entry.env {
                ensure!(
                    vars.insert(var.name.as_str()),
                    "{name}: {} is listed twice",
                    var.name
                );
            }
            match entry.kind() {
                Kind::Npm => {
                    let rest = &entry.source["npm:".len()..];
                    let version = rest[1..].split_once('@').map(|(_, v)| v);
                    ensure!(
                        version.is_some_and(is_exact_version),
                        "{name}: pin an exact npm version (npm:pkg@1.2.3)"
                    );
                }
                Kind::Pypi => {
                    let version = entry.source.split_once("==").map(|(_, v)| v);
                    ensure!(
                        version.is_some_and(is_exact_version),
                        "{name}: pin an exact PyPI version (pypi:pkg==1.2.3)"
                    );
                }
                Kind::Repo => {
                    let repo = repo_name(&entry.source)
                        .with_context(|| format!("{name}: unknown source form {}", entry.source))?;
                    ensure!(
                        self.repos.iter().any(|r| r.name == repo),
                        "{name}: no [[repo]] named {repo}"
                    );
                }
                Kind::Archive => {
                    let archive = &entry.source["archive:".len()..];
                    ensure!(
                        self.archives.iter().any(|a| a.name == archive),
                        "{name}: no [[archive]] named {archive}"
                    );
                }
            }
        }
        Ok(())
    }

    /// The entries named in `only` (all when empty); an unknown name is an error.
    pub fn select(&self, only: &[String]) -> Result<Vec<Entry>> {
        if only.is_empty() {
            return Ok(self.servers.clone());
        }
        for name in only {
            ensure!(
                self.servers.iter().any(|e| &e.name == name),
                "--only: no corpus entry is named {name}"
            );
        }
        Ok(self
            .servers
            .iter()
            .filter(|e| only.contains(&e.name))
            .cloned()
            .collect())
    }
}

/// `repo:<name>[#fragment]` → `<name>`.
pub fn repo_name(source: &str) -> Option<&str> {
    let rest = source.strip_prefix("repo:")?;
    Some(rest.split_once('#').map_or(rest, |(name, _)| name))
}

/// `1.2.3`, `2025.4.8`, `0.0.83`, `1.0.0-beta.1`: digits and dots, no range operators.
fn is_exact_version(version: &str) -> bool {
    let core = version.split(['-', '+']).next().unwrap_or("");
    !core.is_empty()
        && core
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// The corpus file shipped in the repository.
pub fn default_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus/servers.toml")
}
