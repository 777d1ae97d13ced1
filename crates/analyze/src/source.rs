//! Parsing of the source strings users type: `npm:`, `pypi:`, local folders, git URLs, GitHub
//! URLs in every form a browser or a "Code" button gives, archive URLs and MCP registry names.
//!
//! Names, versions, revisions and subfolders are validated here, before they reach `npm`, `pip`
//! or `git`, because they end up as command-line arguments or paths: a version such as
//! `https://evil/x.tgz` would make npm fetch an arbitrary tarball, a leading `-` would be read as
//! an option, and a `..` in a subfolder would leave the checkout.
//!
//! Parsing never touches the network. The one ambiguity it cannot settle, where a branch name
//! containing `/` ends in a GitHub `tree/` URL, is kept as [`Source::GitHub::tree`] and settled
//! against the repository's refs when fetching.

use std::fmt;
use std::path::PathBuf;
use std::sync::LazyLock;

use regex::Regex;
use reqwest::Url;

use crate::error::AnalyzeError;

/// A parsed source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An npm package, optionally with a version, range or dist-tag.
    Npm {
        name: String,
        version: Option<String>,
    },
    /// A PyPI project, optionally with an exact version.
    Pypi {
        name: String,
        version: Option<String>,
    },
    /// A folder on this machine (absolute, canonical).
    Local { path: PathBuf },
    /// A git repository, optionally at a branch, tag or commit, optionally one of its folders.
    Git {
        url: String,
        rev: Option<String>,
        /// A relative folder of the checkout that holds the server.
        subdir: Option<String>,
    },
    /// A repository on GitHub, cloned from `Analyzer::github_base` (`https://github.com`).
    GitHub {
        owner: String,
        repo: String,
        rev: Option<String>,
        subdir: Option<String>,
        /// The text after `tree/` (or the folder after `blob/`) of a web URL, when its first
        /// component is not a commit id: a branch or tag name, which may contain `/`, followed
        /// by a folder. Resolved against the repository's refs when fetching (the longest
        /// matching branch or tag wins). Never set together with `rev` or `subdir`.
        tree: Option<String>,
    },
    /// A `.tar.gz`, `.tgz` or `.zip` archive downloaded over HTTP(S).
    Archive { url: String, subdir: Option<String> },
    /// A server of the official MCP registry, by its name (`io.github.owner/server`).
    McpRegistry {
        name: String,
        /// An exact registry version; `None` means the latest.
        version: Option<String>,
    },
}

impl fmt::Display for Source {
    /// The normalised form, which [`parse_source`] accepts back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Npm {
                name,
                version: None,
            } => write!(f, "npm:{name}"),
            Source::Npm {
                name,
                version: Some(v),
            } => write!(f, "npm:{name}@{v}"),
            Source::Pypi {
                name,
                version: None,
            } => write!(f, "pypi:{name}"),
            Source::Pypi {
                name,
                version: Some(v),
            } => write!(f, "pypi:{name}=={v}"),
            Source::Local { path } => write!(f, "{}", path.display()),
            Source::Git { url, rev, subdir } => {
                write!(f, "{url}{}", fragment(rev.as_deref(), subdir.as_deref()))
            }
            Source::GitHub {
                owner,
                repo,
                tree: Some(tree),
                ..
            } => write!(
                f,
                "https://github.com/{owner}/{repo}/tree/{}",
                encode_path(tree)
            ),
            Source::GitHub {
                owner,
                repo,
                rev,
                subdir,
                tree: None,
            } => write!(
                f,
                "https://github.com/{owner}/{repo}{}",
                fragment(rev.as_deref(), subdir.as_deref())
            ),
            Source::Archive { url, subdir } => {
                write!(f, "{url}{}", fragment(None, subdir.as_deref()))
            }
            Source::McpRegistry {
                name,
                version: None,
            } => write!(f, "registry:{name}"),
            Source::McpRegistry {
                name,
                version: Some(v),
            } => write!(f, "registry:{name}@{v}"),
        }
    }
}

impl Source {
    /// The subfolder this source points into, if any.
    pub fn subdir(&self) -> Option<&str> {
        match self {
            Source::Git { subdir, .. }
            | Source::GitHub { subdir, .. }
            | Source::Archive { subdir, .. } => subdir.as_deref(),
            _ => None,
        }
    }

    /// The same source, pointing at `sub` below its current folder: how a user picks one
    /// server of a repository that holds several. `None` for sources that have no folders to
    /// pick from (packages, registry entries) and for GitHub `tree/` URLs not yet resolved.
    pub fn with_subdir(&self, sub: &str) -> Option<Source> {
        let joined = |current: &Option<String>| {
            Some(match current {
                Some(base) => format!("{base}/{sub}"),
                None => sub.to_string(),
            })
        };
        match self {
            Source::Git { url, rev, subdir } => Some(Source::Git {
                url: url.clone(),
                rev: rev.clone(),
                subdir: joined(subdir),
            }),
            Source::GitHub {
                owner,
                repo,
                rev,
                subdir,
                tree: None,
            } => Some(Source::GitHub {
                owner: owner.clone(),
                repo: repo.clone(),
                rev: rev.clone(),
                subdir: joined(subdir),
                tree: None,
            }),
            Source::Archive { url, subdir } => Some(Source::Archive {
                url: url.clone(),
                subdir: joined(subdir),
            }),
            Source::Local { path } => Some(Source::Local {
                path: path.join(sub),
            }),
            _ => None,
        }
    }
}

/// `#rev`, `#rev:subdir` or `#:subdir`.
fn fragment(rev: Option<&str>, subdir: Option<&str>) -> String {
    match (rev, subdir) {
        (None, None) => String::new(),
        (Some(rev), None) => format!("#{rev}"),
        (rev, Some(subdir)) => format!("#{}:{}", rev.unwrap_or(""), encode_path(subdir)),
    }
}

/// Escapes the few characters that would change how a URL-like source is split again.
fn encode_path(path: &str) -> String {
    path.replace('%', "%25")
        .replace('#', "%23")
        .replace('?', "%3F")
        .replace(' ', "%20")
}

static NPM_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(@[a-zA-Z0-9~][a-zA-Z0-9._~-]*/)?[a-zA-Z0-9~][a-zA-Z0-9._~-]*$").unwrap()
});
// Versions, ranges (`^1.2`, `>=1 <2`, `1.x || 2.x`) and dist-tags; no `:` or `/`, so no URLs.
static NPM_VERSION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-zA-Z0-9.+^~<>=|* _-]+$").unwrap());
static PYPI_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$").unwrap());
static PYPI_VERSION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9][A-Za-z0-9.+!_-]*$").unwrap());
static GIT_REV: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[A-Za-z0-9._/+-]+$").unwrap());
static SCP_LIKE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^/\s][^\s]*$").unwrap());
static GITHUB_OWNER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,38})$").unwrap());
static GITHUB_REPO: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9._-]{1,100}$").unwrap());
static COMMIT_ID: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[0-9a-fA-F]{7,40}$").unwrap());
/// The registry's own name pattern (server.json schema), namespace with at least one dot.
static REGISTRY_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-zA-Z0-9-]+(\.[a-zA-Z0-9-]+)+/[a-zA-Z0-9._-]+$").unwrap());
static REGISTRY_VERSION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9][A-Za-z0-9.+_-]{0,254}$").unwrap());

const ARCHIVE_SUFFIXES: &[&str] = &[".tar.gz", ".tgz", ".zip"];

/// Whether `text` is a full 40-hex commit id.
pub(crate) fn is_full_commit(text: &str) -> bool {
    text.len() == 40 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether `text` could be an (abbreviated) commit id.
pub(crate) fn looks_like_commit(text: &str) -> bool {
    COMMIT_ID.is_match(text)
}

/// Parses a source string typed by a user.
///
/// Local folders must exist; they are resolved to an absolute, canonical path.
pub fn parse_source(input: &str) -> Result<Source, AnalyzeError> {
    let s = input.trim();
    let bad = |reason: &str| AnalyzeError::InvalidSource {
        input: redact_url(s),
        reason: reason.to_string(),
    };
    if s.is_empty() {
        return Err(bad("it is empty"));
    }
    if let Some(rest) = s.strip_prefix("npm:") {
        return parse_npm(rest.trim()).map_err(|reason| bad(&reason));
    }
    if let Some(rest) = s.strip_prefix("pypi:") {
        return parse_pypi(rest.trim()).map_err(|reason| bad(&reason));
    }
    if let Some(rest) = s.strip_prefix("registry:") {
        return parse_registry(rest.trim()).map_err(|reason| bad(&reason));
    }
    if s.starts_with("file://") {
        return parse_git(s).map_err(|reason| bad(&reason));
    }
    if let Some(rest) = s.strip_prefix("file:") {
        return parse_local(input, rest);
    }
    if s.starts_with('/') || s.starts_with("./") || s.starts_with("../") || s == "." || s == ".." {
        return parse_local(input, s);
    }
    if s == "~" || s.starts_with("~/") {
        return parse_local(input, s);
    }
    let lower = s.to_ascii_lowercase();
    if let Some(rest) = lower
        .strip_prefix("git@github.com:")
        .map(|_| &s["git@github.com:".len()..])
    {
        return parse_github_ssh(rest).map_err(|reason| bad(&reason));
    }
    if lower.starts_with("https://") || lower.starts_with("http://") {
        return parse_web_url(s).map_err(|reason| bad(&reason));
    }
    if lower.starts_with("github.com/") || lower.starts_with("www.github.com/") {
        return parse_web_url(&format!("https://{s}")).map_err(|reason| bad(&reason));
    }
    if lower.starts_with("ssh://")
        || lower.starts_with("git://")
        || SCP_LIKE.is_match(split_fragment(s).0)
    {
        return parse_git(s).map_err(|reason| bad(&reason));
    }
    if REGISTRY_NAME.is_match(s.split('@').next().unwrap_or(s)) {
        return parse_registry(s).map_err(|reason| bad(&reason));
    }
    Err(bad("it matches none of the accepted forms"))
}

fn parse_npm(rest: &str) -> Result<Source, String> {
    // The version separator is the first `@` after the (optional) scope's leading `@`.
    let search_from = usize::from(rest.starts_with('@'));
    let (name, version) = match rest[search_from..].find('@') {
        Some(i) => (
            &rest[..search_from + i],
            Some(rest[search_from + i + 1..].trim()),
        ),
        None => (rest, None),
    };
    if !NPM_NAME.is_match(name) || name.len() > 214 {
        return Err(format!("{name:?} is not a valid npm package name"));
    }
    let version = match version {
        Some("") => return Err("the version after @ is empty".into()),
        Some(v) if !NPM_VERSION.is_match(v) || v.starts_with('-') => {
            return Err(format!("{v:?} is not an npm version, range or tag"));
        }
        Some(v) => Some(v.to_string()),
        None => None,
    };
    Ok(Source::Npm {
        name: name.to_string(),
        version,
    })
}

fn parse_pypi(rest: &str) -> Result<Source, String> {
    let (name, version) = if let Some((n, v)) = rest.split_once("==") {
        (n.trim(), Some(v.trim()))
    } else if let Some((n, v)) = rest.split_once('@') {
        (n.trim(), Some(v.trim()))
    } else {
        (rest, None)
    };
    if !PYPI_NAME.is_match(name) {
        return Err(format!("{name:?} is not a valid PyPI project name"));
    }
    let version = match version {
        Some("") => return Err("the version after == is empty".into()),
        Some(v) if !PYPI_VERSION.is_match(v) => {
            return Err(format!(
                "{v:?} is not an exact PyPI version (ranges are not supported)"
            ));
        }
        Some(v) => Some(v.to_string()),
        None => None,
    };
    Ok(Source::Pypi {
        name: name.to_string(),
        version,
    })
}

fn parse_registry(rest: &str) -> Result<Source, String> {
    let (name, version) = match rest.split_once('@') {
        Some((n, v)) => (n, Some(v)),
        None => (rest, None),
    };
    if !REGISTRY_NAME.is_match(name) || name.len() > 200 {
        return Err(format!(
            "{name:?} is not an MCP registry server name (namespace/name, e.g. io.github.owner/server)"
        ));
    }
    let version = match version {
        Some("") => return Err("the version after @ is empty".into()),
        Some("latest") | None => None,
        Some(v) if !REGISTRY_VERSION.is_match(v) => {
            return Err(format!("{v:?} is not an exact registry version"));
        }
        Some(v) => Some(v.to_string()),
    };
    Ok(Source::McpRegistry {
        name: name.to_string(),
        version,
    })
}

fn parse_local(input: &str, raw: &str) -> Result<Source, AnalyzeError> {
    let expanded: PathBuf = if raw == "~" || raw.starts_with("~/") {
        let home = dirs::home_dir().ok_or_else(|| AnalyzeError::InvalidSource {
            input: input.to_string(),
            reason: "~ cannot be expanded: no home folder is known".into(),
        })?;
        home.join(raw.trim_start_matches('~').trim_start_matches('/'))
    } else {
        PathBuf::from(raw)
    };
    let canonical = expanded
        .canonicalize()
        .map_err(|e| AnalyzeError::LocalPath {
            path: expanded.clone(),
            problem: format!("cannot be opened: {e}"),
        })?;
    if !canonical.is_dir() {
        return Err(AnalyzeError::LocalPath {
            path: canonical,
            problem: "is not a folder".into(),
        });
    }
    Ok(Source::Local { path: canonical })
}

/// Splits `url#fragment` at the last `#`.
fn split_fragment(s: &str) -> (&str, Option<&str>) {
    match s.rsplit_once('#') {
        Some((url, fragment)) => (url, Some(fragment)),
        None => (s, None),
    }
}

/// Reads the `#rev`, `#rev:subdir` or `#:subdir` fragment.
fn parse_fragment(fragment: Option<&str>) -> Result<(Option<String>, Option<String>), String> {
    let Some(fragment) = fragment else {
        return Ok((None, None));
    };
    let (rev, subdir) = match fragment.split_once(':') {
        Some((rev, subdir)) => (rev, Some(subdir)),
        None => (fragment, None),
    };
    let rev = match rev {
        "" if subdir.is_some() => None,
        "" => return Err("the revision after # is empty".into()),
        r if !GIT_REV.is_match(r) || r.starts_with('-') => {
            return Err(format!("{r:?} is not a branch, tag or commit name"));
        }
        r => Some(r.to_string()),
    };
    let subdir = subdir.map(|s| validate_subdir(&decode(s))).transpose()?;
    Ok((rev, subdir))
}

/// A subfolder must be a plain relative path inside the source: no `..`, no absolute path.
/// (Symlinks are checked against the fetched files, see `fetch::subdir`.)
pub(crate) fn validate_subdir(raw: &str) -> Result<String, String> {
    let trimmed = raw.trim_end_matches('/');
    let complaint = |why: &str| Err(format!("the subfolder {raw:?} {why}"));
    if trimmed.is_empty() {
        return complaint("is empty");
    }
    if trimmed.len() > 1024 {
        return complaint("is too long");
    }
    if trimmed.starts_with('/') {
        return complaint("is absolute: give it relative to the repository root");
    }
    if trimmed.chars().any(|c| c.is_control() || c == '\\') {
        return complaint("contains a control character or a backslash");
    }
    for part in trimmed.split('/') {
        match part {
            "" => return complaint("has an empty component (//)"),
            "." | ".." => return complaint("has a . or .. component"),
            ".git" => return complaint("points into .git"),
            _ => {}
        }
    }
    Ok(trimmed.to_string())
}

fn decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

fn parse_git(s: &str) -> Result<Source, String> {
    let (url, fragment) = split_fragment(s);
    if url.chars().any(char::is_whitespace) || url.starts_with('-') {
        return Err("a git URL cannot contain spaces or start with -".into());
    }
    if has_password(url) {
        return Err("credentials in a git URL would be stored with the deployment: configure them in git (a credential helper or ssh key) instead".into());
    }
    let (rev, subdir) = parse_fragment(fragment)?;
    Ok(Source::Git {
        url: url.to_string(),
        rev,
        subdir,
    })
}

/// `https://...`: a GitHub URL, an archive, or a git URL ending in `.git`.
fn parse_web_url(s: &str) -> Result<Source, String> {
    let (without_fragment, fragment) = split_fragment(s);
    if has_password(without_fragment) {
        return Err("credentials in a URL would be stored with the deployment: configure them in git (a credential helper) instead".into());
    }
    let url = Url::parse(without_fragment).map_err(|e| format!("it is not a valid URL: {e}"))?;
    let host = url.host_str().unwrap_or("").to_ascii_lowercase();
    if host == "github.com" || host == "www.github.com" {
        return parse_github_path(&url, fragment);
    }
    let path = url.path().to_ascii_lowercase();
    if ARCHIVE_SUFFIXES.iter().any(|ext| path.ends_with(ext)) {
        return archive(&url, fragment);
    }
    if path.trim_end_matches('/').ends_with(".git") {
        return parse_git(s);
    }
    Err(
        "web URLs are accepted as GitHub repository URLs, git URLs ending in .git, or archives ending in .tar.gz, .tgz or .zip"
            .into(),
    )
}

fn archive(url: &Url, fragment: Option<&str>) -> Result<Source, String> {
    if url.query().is_some() {
        return Err("an archive URL with a query string is refused: the query (often a signed token) would be stored with the deployment".into());
    }
    let subdir = match fragment {
        None => None,
        Some(f) => match f.strip_prefix(':') {
            Some(sub) => Some(validate_subdir(&decode(sub))?),
            None => {
                return Err(
                    "an archive has no revision: use #:<subfolder> to pick a folder inside it"
                        .into(),
                );
            }
        },
    };
    Ok(Source::Archive {
        url: url.to_string(),
        subdir,
    })
}

fn github_repo(owner: &str, repo: &str) -> Result<(String, String), String> {
    let repo = repo.strip_suffix(".git").unwrap_or(repo);
    if !GITHUB_OWNER.is_match(owner) {
        return Err(format!(
            "{owner:?} is not a GitHub user or organisation name"
        ));
    }
    if !GITHUB_REPO.is_match(repo) || repo == "." || repo == ".." {
        return Err(format!("{repo:?} is not a GitHub repository name"));
    }
    Ok((owner.to_string(), repo.to_string()))
}

/// `git@github.com:owner/repo.git[#rev[:subdir]]`: cloned over HTTPS like the web forms.
fn parse_github_ssh(rest: &str) -> Result<Source, String> {
    let (path, fragment) = split_fragment(rest);
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let [owner, repo] = parts[..] else {
        return Err("a GitHub ssh URL is git@github.com:<owner>/<repo>.git".into());
    };
    let (owner, repo) = github_repo(owner, repo)?;
    let (rev, subdir) = parse_fragment(fragment)?;
    Ok(Source::GitHub {
        owner,
        repo,
        rev,
        subdir,
        tree: None,
    })
}

fn parse_github_path(url: &Url, fragment: Option<&str>) -> Result<Source, String> {
    let segments: Vec<String> = url
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(decode)
        .collect();
    let (owner, repo) = match &segments[..] {
        [owner, repo, ..] => github_repo(owner, repo)?,
        _ => {
            return Err(
                "a GitHub URL must name a repository: https://github.com/<owner>/<repo>".into(),
            );
        }
    };
    let rest = &segments[2..];
    let lower_path = url.path().to_ascii_lowercase();
    if !rest.is_empty() && ARCHIVE_SUFFIXES.iter().any(|ext| lower_path.ends_with(ext)) {
        // `/archive/refs/heads/main.tar.gz`, `/releases/download/v1/x.zip`.
        return archive(url, fragment);
    }
    let github = |rev, subdir, tree| {
        Ok(Source::GitHub {
            owner: owner.clone(),
            repo: repo.clone(),
            rev,
            subdir,
            tree,
        })
    };
    let no_fragment = || {
        if fragment.is_some() {
            Err("a tree/, blob/ or commit/ URL already names the revision and folder: drop the #... part".to_string())
        } else {
            Ok(())
        }
    };
    match rest {
        [] => {
            let (rev, subdir) = parse_fragment(fragment)?;
            github(rev, subdir, None)
        }
        [kind, path @ ..] if kind == "tree" || kind == "blob" => {
            no_fragment()?;
            // A blob URL names a file: its folder is the one that matters.
            let folder = if kind == "blob" {
                match path.split_last() {
                    Some((_file, folder)) if !folder.is_empty() => folder,
                    _ => return Err("a blob/ URL needs a branch and a file".into()),
                }
            } else {
                path
            };
            let Some((first, below)) = folder.split_first() else {
                return Err("a tree/ URL needs a branch, tag or commit after tree/".into());
            };
            if is_full_commit(first) {
                let subdir = if below.is_empty() {
                    None
                } else {
                    Some(validate_subdir(&below.join("/"))?)
                };
                return github(Some(first.to_ascii_lowercase()), subdir, None);
            }
            let tree = validate_subdir(&folder.join("/"))
                .map_err(|e| e.replace("the subfolder", "the branch and folder"))?;
            if tree.starts_with('-') {
                return Err(format!("{tree:?} does not start with a branch or tag name"));
            }
            github(None, None, Some(tree))
        }
        [kind, sha] if kind == "commit" => {
            no_fragment()?;
            if !looks_like_commit(sha) {
                return Err(format!("{sha:?} is not a commit id"));
            }
            github(Some(sha.to_ascii_lowercase()), None, None)
        }
        [kind, ..] => Err(format!(
            "https://github.com/{owner}/{repo}/{kind}/... is a GitHub page, not a repository or a folder: use https://github.com/{owner}/{repo}, .../tree/<branch>/<folder> or .../commit/<sha>"
        )),
    }
}

/// Whether an http(s) URL carries userinfo (a token or a password), or any URL a password.
fn has_password(url: &str) -> bool {
    let Some(scheme_end) = url.find("://") else {
        return false;
    };
    let after = &url[scheme_end + 3..];
    let authority = &after[..after.find('/').unwrap_or(after.len())];
    match authority.rfind('@') {
        Some(at) => {
            authority[..at].contains(':')
                || url[..scheme_end].to_ascii_lowercase().starts_with("http")
        }
        None => false,
    }
}

/// Hides the password of `scheme://user:password@host/...`, and a query string (often a signed
/// token), so that a URL can be shown.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let after = &url[scheme_end + 3..];
    let authority_end = after.find('/').unwrap_or(after.len());
    let authority = &after[..authority_end];
    let shown = match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            let user = userinfo.split(':').next().unwrap_or("");
            let shown = if userinfo.contains(':') {
                format!("{user}:***")
            } else {
                "***".into()
            };
            format!("{}{}@{}", &url[..scheme_end + 3], shown, &after[at + 1..])
        }
        None => url.to_string(),
    };
    match shown.split_once('?') {
        Some((before, query)) => {
            let fragment = query.find('#').map(|i| &query[i..]).unwrap_or("");
            format!("{before}?***{fragment}")
        }
        None => shown,
    }
}
