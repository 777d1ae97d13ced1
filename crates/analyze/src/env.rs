//! Environment variable findings and how they merge into the spec's [`EnvVar`] list.
//!
//! Findings come from `server.json` (the publisher's statement), `smithery.yaml` (its
//! `configSchema` mapped through `commandFunction`), the source code (what the server really
//! reads, and whether it exits without it), the README, `.env.example` and the `Dockerfile`.
//! Merging keeps every piece of evidence, one [`EnvVar`] per name, and settles each field by a
//! fixed precedence (see [`Origin`]); the result says how sure it is in a [`Confidence`].

use std::collections::BTreeSet;

use crate::spec::{Confidence, EnvVar, Evidence, LeftOutVar, Level};
use crate::transport;

/// Variables that configure the platform or the runtime, not the server: never reported.
///
/// `PORT` and `HOST` are here because stdio servers read them only for their HTTP modes;
/// `NO_DEPRECATION`, `TRACE_DEPRECATION` and `DEBUG_*` settings belong to Node libraries
/// (`depd`, `debug`) that packages bundle.
pub const IGNORED_ENV_VARS: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "USERNAME",
    "LOGNAME",
    "SHELL",
    "PWD",
    "TMPDIR",
    "TEMP",
    "TMP",
    "LANG",
    "LANGUAGE",
    "TERM",
    "TZ",
    "HOSTNAME",
    "PORT",
    "HOST",
    "CI",
    "DEBUG",
    "NODE_ENV",
    "NODE_OPTIONS",
    "NODE_DEBUG",
    "NODE_PATH",
    "NO_COLOR",
    "FORCE_COLOR",
    "APPDATA",
    "LOCALAPPDATA",
    "USERPROFILE",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "XDG_CACHE_HOME",
    "XDG_STATE_HOME",
    "XDG_RUNTIME_DIR",
    "PYTHONPATH",
    "PYTHONUNBUFFERED",
    "PYTHONIOENCODING",
    "VIRTUAL_ENV",
    "PWSHELL",
    "COMSPEC",
    "LC_ALL",
    "LC_CTYPE",
    "DEBIAN_FRONTEND",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONHASHSEED",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "FTP_PROXY",
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "NO_DEPRECATION",
    "TRACE_DEPRECATION",
    "DEBUG_FD",
    "DEBUG_COLORS",
    "DEBUG_DEPTH",
    "DEBUG_HIDE_DATE",
    "DEBUG_SHOW_HIDDEN",
];

/// Prefixes of installer settings (`NPM_CONFIG_*`, `PIP_*`, `UV_*`, `POETRY_*`): the package
/// manager's, not the server's.
pub const IGNORED_ENV_PREFIXES: &[&str] = &["NPM_CONFIG_", "PIP_", "UV_", "POETRY_"];

/// Where a finding came from.
///
/// Fields are settled by two precedences, both documented in SPEC.md:
/// - words for people (`description`), and `format`/`choices`: server.json, smithery.yaml,
///   README, `.env.example`, a code comment, the Dockerfile;
/// - behaviour (`required`, `default`): server.json, the code, smithery.yaml, README,
///   `.env.example`, the Dockerfile. What the code does when a variable is unset (exit, or fall
///   back to a literal) is observed, not stated, so it beats every statement but the
///   publisher's own server.json.
///
/// The variants are in listing order: declared variables first, then those the code reads,
/// then those only documented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Origin {
    ServerJson,
    Smithery,
    Code,
    Readme,
    DotEnv,
    Dockerfile,
}

impl Origin {
    fn words_rank(self) -> u8 {
        match self {
            Origin::ServerJson => 0,
            Origin::Smithery => 1,
            Origin::Readme => 2,
            Origin::DotEnv => 3,
            Origin::Code => 4,
            Origin::Dockerfile => 5,
        }
    }

    fn behaviour_rank(self) -> u8 {
        match self {
            Origin::ServerJson => 0,
            Origin::Code => 1,
            Origin::Smithery => 2,
            Origin::Readme => 3,
            Origin::DotEnv => 4,
            Origin::Dockerfile => 5,
        }
    }

    fn is_declaration(self) -> bool {
        matches!(self, Origin::ServerJson | Origin::Smithery)
    }

    fn is_documentation(self) -> bool {
        matches!(self, Origin::Smithery | Origin::Readme | Origin::DotEnv)
    }
}

/// One observation about one variable.
#[derive(Debug, Clone)]
pub(crate) struct Finding {
    pub name: String,
    pub origin: Origin,
    pub description: Option<String>,
    /// `Some(true)`: this place says the server needs it; `Some(false)`: says it is optional.
    pub required: Option<bool>,
    /// Only `server.json` states secrecy; elsewhere the name decides.
    pub secret: Option<bool>,
    pub default: Option<String>,
    pub format: Option<String>,
    pub choices: Vec<String>,
    /// A finding that only adds to a variable found elsewhere (a smithery property matched by
    /// its name alone): it never creates a variable.
    pub enrich_only: bool,
    /// The name was passed as a string to an environment API (`os.getenv("x")`, click's
    /// `envvar=`): any identifier counts, lowercase included.
    pub explicit: bool,
    /// Seen in a README example that runs a container (`docker run -e X`, a `docker` entry's
    /// `env`): it configures the image, which Catwalk does not run.
    pub docker: bool,
    /// In the `env` block of a README config entry that starts our server by a command (stdio).
    pub stdio_config: bool,
    /// Read only on a path the HTTP transport takes (see [`crate::transport`]).
    pub http_only: bool,
    /// Read on a minified line (a bundle, where dependencies' reads are mixed in).
    pub minified: bool,
    pub evidence: Evidence,
}

impl Finding {
    pub fn new(name: &str, origin: Origin, evidence: Evidence) -> Finding {
        Finding {
            name: name.to_string(),
            origin,
            description: None,
            required: None,
            secret: None,
            default: None,
            format: None,
            choices: Vec::new(),
            enrich_only: false,
            explicit: false,
            docker: false,
            stdio_config: false,
            http_only: false,
            minified: false,
            evidence,
        }
    }
}

/// Whether a name looks like an environment variable worth reporting.
pub(crate) fn is_candidate(name: &str) -> bool {
    name.len() >= 2
        && name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && !IGNORED_ENV_VARS.contains(&name)
        && !IGNORED_ENV_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Whether a name given explicitly to an environment API is worth reporting: any identifier
/// (lowercase too, `motherduck_token`) that is not ignored once uppercased.
pub(crate) fn is_explicit_candidate(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    name.len() >= 2
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && (name.contains('_') || upper == name)
        && !IGNORED_ENV_VARS.contains(&upper.as_str())
        && !IGNORED_ENV_PREFIXES.iter().any(|p| upper.starts_with(p))
}

/// Whether a variable name denotes a credential: one of its `_`-separated words is (or ends
/// with) KEY, TOKEN, SECRET, PASSWORD, or is PASS, PASSWD, PASSPHRASE, CREDENTIAL(S), AUTH,
/// PRIVATE, HEADER(S) (a header set carries the `Authorization` bearer token); unless its last
/// word says it names a place (PATH, FILE, DIR, ...): `GDRIVE_CREDENTIALS_PATH` holds where the
/// credential is, not the credential; nor a switch (a word ALLOW, ENABLE, DISABLE, USE:
/// `DDG_ALLOW_PRIVATE_URLS`, `ENABLE_TOKEN_PASSTHROUGH`). Case does not matter.
pub fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_uppercase();
    let last = name.rsplit('_').next().unwrap_or("");
    if matches!(
        last,
        "PATH" | "FILE" | "FILENAME" | "DIR" | "DIRECTORY" | "FOLDER" | "LOCATION"
    ) || name
        .split('_')
        .any(|w| matches!(w, "ALLOW" | "ENABLE" | "DISABLE" | "USE"))
    {
        return false;
    }
    name.split('_').any(|word| {
        matches!(
            word,
            "PASS"
                | "PASSWD"
                | "PASSPHRASE"
                | "CREDENTIAL"
                | "CREDENTIALS"
                | "AUTH"
                | "PRIVATE"
                | "PWD"
                | "HEADER"
                | "HEADERS"
        ) || ["KEY", "TOKEN", "SECRET", "PASSWORD"]
            .iter()
            .any(|s| word.ends_with(s))
    })
}

/// Values in example files and config snippets that stand for "put yours here", never a
/// usable default: empty, `<...>`, `your-...`, `xxx`, `changeme`, `...`, `sk-...`.
pub(crate) fn is_placeholder(value: &str) -> bool {
    let v = value.trim().trim_matches(['"', '\'']).trim();
    let lower = v.to_ascii_lowercase();
    v.is_empty()
        || v.contains(['<', '>'])
        || v.contains("${")
        || v.starts_with('$')
        || lower.contains("your")
        || lower.contains("xxx")
        || lower.contains("***")
        || lower.contains("...")
        || lower.contains("changeme")
        || lower.contains("change_me")
        || lower.contains("change-me")
        || lower.contains("replace")
        || lower.contains("placeholder")
        || lower.contains("insert")
        || lower.contains("_here")
        || lower.contains("-here")
        || lower.contains(" here")
        || lower.contains("todo")
        || lower.contains("example")
        || lower.contains("path/to")
        || lower.contains("/users/")
        || matches!(
            lower.as_str(),
            "secret" | "token" | "key" | "password" | "none" | "null"
        )
}

/// Merges findings by name into the spec's list, in [`Origin`] order of each variable's
/// strongest finding, then in order of discovery.
pub(crate) fn merge(mut findings: Vec<Finding>) -> Vec<EnvVar> {
    findings.retain(|f| is_candidate(&f.name) || f.explicit && is_explicit_candidate(&f.name));
    let mut order: Vec<(Origin, usize, String)> = Vec::new();
    for (index, finding) in findings.iter().enumerate() {
        if finding.enrich_only {
            continue;
        }
        match order.iter_mut().find(|(_, _, name)| *name == finding.name) {
            Some(entry) => {
                if finding.origin < entry.0 {
                    *entry = (finding.origin, index, finding.name.clone());
                }
            }
            None => order.push((finding.origin, index, finding.name.clone())),
        }
    }
    order.sort();
    order
        .into_iter()
        .map(|(_, _, name)| {
            let mut mine: Vec<&Finding> = findings.iter().filter(|f| f.name == name).collect();
            mine.sort_by_key(|f| f.origin);
            merge_one(&name, &mine)
        })
        .collect()
}

/// The first finding, by `rank`, for which `get` gives a value (earlier findings win ties).
fn first_by<'a, T>(
    findings: &[&'a Finding],
    rank: fn(Origin) -> u8,
    get: impl Fn(&Finding) -> Option<T>,
) -> Option<(T, &'a Finding)> {
    let mut sorted: Vec<&Finding> = findings.to_vec();
    sorted.sort_by_key(|f| rank(f.origin));
    sorted.into_iter().find_map(|f| get(f).map(|v| (v, f)))
}

/// `required` by the behaviour precedence; within the deciding origin, "required" wins over
/// "optional" (one read that exits is enough).
fn decide_required<'a>(findings: &[&'a Finding]) -> Option<(bool, &'a Finding)> {
    let (_, first) = first_by(findings, Origin::behaviour_rank, |f| f.required)?;
    let origin = first.origin;
    findings
        .iter()
        .find(|f| f.origin == origin && f.required == Some(true))
        .map(|f| (true, *f))
        .or(Some((first.required == Some(true), first)))
}

fn place(evidence: &Evidence) -> String {
    match evidence.line {
        Some(line) => format!("{}:{line}", evidence.file),
        None => evidence.file.clone(),
    }
}

fn merge_one(name: &str, findings: &[&Finding]) -> EnvVar {
    let required = decide_required(findings);
    let declared_secret = findings
        .iter()
        .find(|f| f.origin == Origin::ServerJson)
        .and_then(|f| f.secret);
    let secret = declared_secret.unwrap_or_else(|| is_secret_name(name));
    let description = first_by(findings, Origin::words_rank, |f| {
        f.description.clone().filter(|d| !d.trim().is_empty())
    });
    // A credential never gets a default from an example file: there it is a placeholder or a
    // leaked key. Placeholders are never defaults anywhere.
    let default = first_by(findings, Origin::behaviour_rank, |f| {
        f.default
            .clone()
            .filter(|v| !v.trim().is_empty())
            .filter(|v| f.origin == Origin::ServerJson || !is_placeholder(v))
            .filter(|_| !secret || matches!(f.origin, Origin::ServerJson | Origin::Code))
    });
    let format = first_by(findings, Origin::words_rank, |f| f.format.clone());
    let choices = first_by(findings, Origin::words_rank, |f| {
        Some(f.choices.clone()).filter(|c| !c.is_empty())
    });
    let mut evidence: Vec<Evidence> = Vec::new();
    for finding in findings {
        if !evidence.contains(&finding.evidence) {
            evidence.push(finding.evidence.clone());
        }
    }
    let confidence = confidence(
        findings,
        required.map(|(r, f)| (r, &f.evidence)),
        declared_secret,
        secret,
    );
    EnvVar {
        name: name.to_string(),
        description: description.map(|(d, _)| d).unwrap_or_default(),
        required: required.is_some_and(|(r, _)| r),
        secret,
        default: default.map(|(d, _)| d),
        format: format.map(|(f, _)| f),
        choices: choices.map(|(c, _)| c).unwrap_or_default(),
        evidence,
        confidence,
        verified: None,
    }
}

/// High: declared (server.json, a smithery mapping) or read by the code and documented.
/// Medium: read by the code only, or documented only. Low: only set in the Dockerfile.
fn confidence(
    findings: &[&Finding],
    required: Option<(bool, &Evidence)>,
    declared_secret: Option<bool>,
    secret: bool,
) -> Confidence {
    let real: Vec<&&Finding> = findings.iter().filter(|f| !f.enrich_only).collect();
    let has = |origin: Origin| real.iter().any(|f| f.origin == origin);
    let mut reasons = Vec::new();
    for origin in [
        Origin::ServerJson,
        Origin::Smithery,
        Origin::Code,
        Origin::Readme,
        Origin::DotEnv,
        Origin::Dockerfile,
    ] {
        let places: Vec<String> = findings
            .iter()
            .filter(|f| f.origin == origin)
            .map(|f| place(&f.evidence))
            .collect();
        if places.is_empty() {
            continue;
        }
        let what = match origin {
            Origin::ServerJson => "declared in server.json",
            Origin::Smithery => "in smithery.yaml's configSchema",
            Origin::Code => "read by the code",
            Origin::Readme => "documented in the README",
            Origin::DotEnv => "listed in an example .env file",
            Origin::Dockerfile => "set in the Dockerfile",
        };
        let shown: Vec<String> = places.iter().take(3).cloned().collect();
        let more = if places.len() > 3 { ", ..." } else { "" };
        reasons.push(format!("{what} ({}{more})", shown.join(", ")));
    }
    let level = if has(Origin::ServerJson)
        || has(Origin::Smithery)
        || has(Origin::Code) && real.iter().any(|f| f.origin.is_documentation())
    {
        Level::High
    } else if real.iter().any(|f| f.origin != Origin::Dockerfile) {
        Level::Medium
    } else {
        Level::Low
    };
    if real.iter().all(|f| !f.origin.is_declaration()) && has(Origin::Code) && level != Level::High
    {
        reasons.push("no documentation found for it".into());
    }
    match required {
        Some((flag, evidence)) => reasons.push(format!(
            "{}: {} ({})",
            if flag { "required" } else { "optional" },
            evidence.note,
            place(evidence)
        )),
        None => reasons.push("optional: nothing says the server needs it".into()),
    }
    reasons.push(match (declared_secret, secret) {
        (Some(true), _) => "secret: declared so in server.json".into(),
        (Some(false), _) => "not secret: declared so in server.json".into(),
        (None, true) => "secret: its name says it is a credential".into(),
        (None, false) => "not secret: its name does not look like a credential".into(),
    });
    Confidence { level, reasons }
}

/// Takes out of `findings` the variables a stdio deployment does not set, and says why:
///
/// - seen only in README examples that run a container (`docker run -e X image`): they
///   configure the image, and Catwalk runs the package;
/// - settings of the HTTP transport: a name that configures the server's own listener
///   ([`transport::is_transport_setting`]), a variable every read of which sits on an HTTP
///   path of the code (`http_only` findings), or one documented only for the HTTP transport
///   (`http_documented`, from the README's sections and help lines);
/// - read only on minified lines and named nowhere else (`named_elsewhere` says false): a
///   bundled dependency's setting, not the server's.
///
/// A variable declared by the publisher (server.json, smithery.yaml) or in the `env` block of
/// a README entry that starts the server by a command is always kept.
pub(crate) fn leave_out(
    findings: &mut Vec<Finding>,
    http_documented: &BTreeSet<String>,
    named_elsewhere: &dyn Fn(&str) -> bool,
) -> Vec<LeftOutVar> {
    let names: BTreeSet<String> = findings
        .iter()
        .filter(|f| !f.enrich_only)
        .filter(|f| is_candidate(&f.name) || f.explicit && is_explicit_candidate(&f.name))
        .map(|f| f.name.clone())
        .collect();
    let mut left_out = Vec::new();
    for name in names {
        let mine: Vec<&Finding> = findings
            .iter()
            .filter(|f| f.name == name && !f.enrich_only)
            .collect();
        let kept = mine
            .iter()
            .any(|f| f.origin.is_declaration() || f.stdio_config);
        let code: Vec<&&Finding> = mine.iter().filter(|f| f.origin == Origin::Code).collect();
        let reason = if mine.iter().all(|f| f.docker) {
            Some(
                "only in README examples that run a container image, which Catwalk does not run"
                    .to_string(),
            )
        } else if kept {
            None
        } else if transport::is_transport_setting(&name) {
            Some("its name says it configures the HTTP transport (host, port, origins, auth of the server itself); Catwalk runs the server over stdio".to_string())
        } else if !code.is_empty() && code.iter().all(|f| f.http_only) {
            Some("read only on the code paths of the HTTP transport; Catwalk runs the server over stdio".to_string())
        } else if http_documented.contains(&name) {
            Some(
                "documented only for the HTTP transport; Catwalk runs the server over stdio"
                    .to_string(),
            )
        } else if mine.iter().all(|f| f.origin == Origin::Code && f.minified)
            && !named_elsewhere(&name)
        {
            Some("read only in minified bundled code and named nowhere else: a bundled dependency's setting".to_string())
        } else {
            None
        };
        if let Some(reason) = reason {
            let mut evidence: Vec<Evidence> = Vec::new();
            for finding in &mine {
                if !evidence.contains(&finding.evidence) {
                    evidence.push(finding.evidence.clone());
                }
            }
            left_out.push(LeftOutVar {
                name: name.clone(),
                reason,
                evidence,
            });
        }
    }
    findings.retain(|f| !left_out.iter().any(|l| l.name == f.name));
    left_out
}
