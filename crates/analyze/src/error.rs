//! The one error type of the analyzer.
//!
//! Every message names the thing that failed and, where one exists, what the user can do about
//! it. Messages never contain a secret: URLs are shown with their password removed
//! (see [`crate::source::redact_url`]) and environment variable values are never read.

use std::path::PathBuf;

use crate::fetch::monorepo::{ServerCandidate, describe_candidates};

/// The source forms [`crate::parse_source`] accepts, repeated in every "bad source" error.
pub const ACCEPTED_SOURCES: &str = "accepted sources: npm:<name>[@<version-or-range>] \
(e.g. npm:@modelcontextprotocol/server-everything), pypi:<name>[==<version>] \
(e.g. pypi:mcp-server-time), an MCP registry name registry:<namespace>/<name>[@<version>] \
(or io.github.owner/server without the prefix), a GitHub URL (https://github.com/owner/repo, \
github.com/owner/repo, git@github.com:owner/repo.git, .../tree/<branch>/<folder>, \
.../blob/<branch>/<file>, .../commit/<sha>), a git URL (https://host/owner/repo.git, \
git@host:owner/repo.git, ssh://..., git://..., file:///path/to/repo), an archive URL \
(https://host/x.tar.gz, .tgz or .zip), or a local folder (/abs/path, ./relative, ~/path or \
file:<path>); git and GitHub URLs take #<branch-tag-or-commit>, #<rev>:<folder> or #:<folder>, \
archives #:<folder>";

/// Everything that can go wrong while analyzing a source.
#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    /// The source string matches none of the accepted forms.
    #[error("cannot understand source {input:?}: {reason}; {ACCEPTED_SOURCES}")]
    InvalidSource { input: String, reason: String },

    /// A local folder source does not exist or is not a folder.
    #[error("local source {path} {problem}")]
    LocalPath { path: PathBuf, problem: String },

    /// npm answered E404 for the package name itself.
    #[error(
        "npm package {name} not found (npm view answered E404; check the name and your npm registry configuration)"
    )]
    NpmNotFound { name: String },

    /// The npm package exists but no version matches the requested version, range or tag.
    #[error("npm package {name} has no version matching {spec:?}")]
    NpmVersionNotFound { name: String, spec: String },

    /// pip found no distribution at all for the project name.
    #[error(
        "PyPI package {name} not found (pip found no distribution; check the name and your pip index configuration)"
    )]
    PypiNotFound { name: String },

    /// The PyPI project exists but the requested version does not.
    #[error("PyPI package {name} has no version {version} (available: {available})")]
    PypiVersionNotFound {
        name: String,
        version: String,
        available: String,
    },

    /// An external tool we rely on (npm, python, git) could not be started.
    #[error("cannot run {tool}: {detail} (install it or set the matching field of Analyzer)")]
    ToolMissing { tool: String, detail: String },

    /// An external command ran but failed for a reason we do not recognise.
    #[error("{command} failed: {detail}")]
    CommandFailed { command: String, detail: String },

    /// An external command did not finish in time and was killed.
    #[error("{command} did not finish within {seconds} s and was stopped")]
    Timeout { command: String, seconds: u64 },

    /// `git clone` (or the checkout of the requested revision) failed.
    #[error("cannot clone {url}: {detail}")]
    GitClone { url: String, detail: String },

    /// An archive contains an entry we refuse to extract.
    #[error("refusing to extract {archive}: entry {entry:?} {reason}")]
    UnsafeArchive {
        archive: String,
        entry: String,
        reason: String,
    },

    /// An archive or a cloned repository is larger than the configured limits.
    #[error("{what} exceeds the limit of {limit}")]
    TooLarge { what: String, limit: String },

    /// An archive could not be read (corrupt, truncated, unknown format).
    #[error("cannot read archive {archive}: {detail}")]
    Archive { archive: String, detail: String },

    /// No manifest that tells us how to run the server was found.
    #[error(
        "no package.json, pyproject.toml, setup.cfg or wheel metadata found in {path}: cannot tell how to run this server"
    )]
    NoManifest { path: PathBuf },

    /// A manifest was found but is malformed.
    #[error("cannot parse {file}: {detail}")]
    BadManifest { file: String, detail: String },

    /// The package declares nothing we can launch.
    #[error("no launch command found: {detail}")]
    NoLaunchCommand { detail: String },

    /// The source holds several servers (a monorepo) and none at its root: the user must pick
    /// one. Each candidate carries the source string that analyzes it.
    #[error(
        "{input} holds {} servers and none at its root; analyze one of them: {}",
        .candidates.len(),
        describe_candidates(.candidates)
    )]
    SeveralServers {
        input: String,
        candidates: Vec<ServerCandidate>,
    },

    /// The requested subfolder does not exist, is not a folder, or leaves the source.
    #[error("subfolder {subdir:?} of {input} {reason}")]
    BadSubdir {
        input: String,
        subdir: String,
        reason: String,
    },

    /// A host resolves to a private, loopback, link-local or unique-local address, and the
    /// analyzer is not allowed to reach those.
    #[error(
        "refusing to fetch from {host}: {detail}; private, loopback, link-local and unique-local addresses are refused unless the operator allows them (allow_private_network)"
    )]
    PrivateNetwork { host: String, detail: String },

    /// An HTTP download failed (connection, TLS or an HTTP error status).
    #[error("cannot download {url}: {detail}")]
    Download { url: String, detail: String },

    /// The MCP registry has no server of that name (or not that version).
    #[error("the MCP registry at {registry} has no server {name}{}", suggestion_text(.suggestions))]
    McpRegistryNotFound {
        registry: String,
        name: String,
        suggestions: Vec<String>,
    },

    /// The MCP registry answered, but the entry cannot be analyzed (deleted, no installable
    /// package or repository, a malformed answer), or the registry could not be read.
    #[error("MCP registry entry {name}: {detail}")]
    McpRegistry { name: String, detail: String },

    /// A file-system operation failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

fn suggestion_text(suggestions: &[String]) -> String {
    if suggestions.is_empty() {
        " (search the registry for the exact name)".into()
    } else {
        format!("; similar names: {}", suggestions.join(", "))
    }
}

impl AnalyzeError {
    /// Wraps an I/O error with a sentence saying what was being done.
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> AnalyzeError {
        AnalyzeError::Io {
            context: context.into(),
            source,
        }
    }
}
