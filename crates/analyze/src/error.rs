//! The one error type of the analyzer.
//!
//! Every message names the thing that failed and, where one exists, what the user can do about
//! it. Messages never contain a secret: URLs are shown with their password removed
//! (see [`crate::source::redact_url`]) and environment variable values are never read.

use std::path::PathBuf;

/// The source forms [`crate::parse_source`] accepts, repeated in every "bad source" error.
pub const ACCEPTED_SOURCES: &str = "accepted sources: npm:<name>[@<version-or-range>] \
(e.g. npm:@modelcontextprotocol/server-everything), pypi:<name>[==<version>] \
(e.g. pypi:mcp-server-time), a local folder (/abs/path, ./relative, ~/path or file:<path>), \
or a git URL (https://host/owner/repo.git, git@host:owner/repo.git, ssh://..., git://..., \
file:///path/to/repo) with an optional #<branch-tag-or-commit>";

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

    /// A file-system operation failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
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
