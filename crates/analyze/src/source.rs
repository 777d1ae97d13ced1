//! Parsing of the source strings users type: `npm:`, `pypi:`, local folders and git URLs.
//!
//! Names and versions are validated here, before they reach `npm`, `pip` or `git`, because they
//! end up as command-line arguments: a version such as `https://evil/x.tgz` would make npm fetch
//! an arbitrary tarball, and a leading `-` would be read as an option.

use std::fmt;
use std::path::PathBuf;
use std::sync::LazyLock;

use regex::Regex;

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
    /// A git repository, optionally at a branch, tag or commit.
    Git { url: String, rev: Option<String> },
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
            Source::Git { url, rev: None } => write!(f, "{url}"),
            Source::Git { url, rev: Some(r) } => write!(f, "{url}#{r}"),
        }
    }
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
    if lower.starts_with("https://") || lower.starts_with("http://") {
        let (url, _) = split_rev(s);
        if !url.trim_end_matches('/').ends_with(".git") {
            return Err(bad(
                "web URLs are accepted only as git URLs ending in .git for now",
            ));
        }
        return parse_git(s).map_err(|reason| bad(&reason));
    }
    if lower.starts_with("ssh://")
        || lower.starts_with("git://")
        || SCP_LIKE.is_match(split_rev(s).0)
    {
        return parse_git(s).map_err(|reason| bad(&reason));
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

fn split_rev(s: &str) -> (&str, Option<&str>) {
    match s.rsplit_once('#') {
        Some((url, rev)) => (url, Some(rev)),
        None => (s, None),
    }
}

fn parse_git(s: &str) -> Result<Source, String> {
    let (url, rev) = split_rev(s);
    if url.chars().any(char::is_whitespace) || url.starts_with('-') {
        return Err("a git URL cannot contain spaces or start with -".into());
    }
    if has_password(url) {
        return Err("credentials in a git URL would be stored with the deployment: configure them in git (a credential helper or ssh key) instead".into());
    }
    let rev = match rev {
        Some("") => return Err("the revision after # is empty".into()),
        Some(r) if !GIT_REV.is_match(r) || r.starts_with('-') => {
            return Err(format!("{r:?} is not a branch, tag or commit name"));
        }
        Some(r) => Some(r.to_string()),
        None => None,
    };
    Ok(Source::Git {
        url: url.to_string(),
        rev,
    })
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

/// Hides the password of `scheme://user:password@host/...` so that a URL can be shown.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let after = &url[scheme_end + 3..];
    let authority_end = after.find('/').unwrap_or(after.len());
    let authority = &after[..authority_end];
    match authority.rfind('@') {
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
    }
}
