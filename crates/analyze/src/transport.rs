//! Which variables only the HTTP transport uses.
//!
//! Many servers run over stdio or over HTTP (SSE, streamable HTTP) and read settings for the
//! latter: the host and port to listen on, allowed origins, the bearer token clients must send.
//! Catwalk always runs the server over stdio, so asking a user for those is noise. Three signals,
//! each enough on its own (see [`crate::env::leave_out`] for what overrides them):
//!
//! - the name configures the server's own listener: it has an `MCP`/`FASTMCP` word together
//!   with HOST, PORT, BIND, LISTEN, TRANSPORT, HTTP, SSE, STATELESS, CORS, ORIGIN(S), AUTH,
//!   JWT or JWKS (`MCP_PORT`, `FASTMCP_HOST`, `WIKIPEDIA_MCP_AUTH_TOKEN`), or it names a
//!   transport (`*_TRANSPORT`, a word `SSE` or `STREAMABLE`), allowed hosts/origins, CORS or
//!   DNS-rebinding protection, which only an HTTP server has. `OBSIDIAN_HOST` (a service the server calls) is not one;
//! - every read in the code is on an HTTP path: inside a block whose condition tests the
//!   transport for `http`/`sse` (or `!= "stdio"`), inside a function named like
//!   `startHttpServer`/`run_sse`, or in a file named like an HTTP transport (`sse.ts`,
//!   `http_server.py`, `streamableHttp.js`) or whose opening comment says it serves the
//!   HTTP/network transport;
//! - the documentation puts it only under the HTTP transport: every README line naming it is in
//!   a section whose heading (at any level above) is about the HTTP/SSE transport, or says so on
//!   the line (`AUTH_TOKEN=x cmd --transport http`, "Only affects HTTP transports"), and at least
//!   one such line (README or a help text in the code) exists.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;

use crate::files::SourceFile;

/// A phrase saying that something is about the HTTP transport.
static HTTP_DOC: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:streamable[- ]?http|http|sse|network|remote)\b(?:\s+\w+)?\s+transports?\b|\btransports?\b\s*(?:[:=]\s*|\s+)[`'\x22]?(?:http|sse|streamable)|\b(?:http|sse)\s+mode\b|--transport[ =]+[`'\x22]?(?:http|sse|streamable)|--(?:http|sse)\b")
        .unwrap()
});
/// A condition testing the transport for an HTTP one.
static HTTP_CONDITION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)^\s*(?:\}\s*)?(?:else\s+)?(?:if|elif|case|when)\b.*(?:\btransport\w*\b.{0,40}?(?:===?|!==?|\bin\b|\bis\b|:).{0,40}?["'](?:http|sse|streamable[-_]?http|streamablehttp|http[-_]?stream)["']|\btransport\w*\s*(?:!==?|!=|is\s+not)\s*["']stdio["']|\b(?:is|use|enable)_?(?:http|sse|streamable)\w*)"#)
        .unwrap()
});
/// A function whose name says it runs the HTTP transport.
static HTTP_FUNCTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:def|function|fn|func)\s+\w*(?:(?:http|sse|streamable)\w*(?:server|transport|app|serve|listen)|(?:serve|start|run|listen)\w*(?:http|sse|streamable))\w*\s*\(")
        .unwrap()
});
/// A file named like an HTTP transport.
static HTTP_FILE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:sse|.*streamable.*|.*(?:http|sse)[-_]?(?:server|transport|app)|.*(?:server|transport)[-_]?(?:http|sse))$")
        .unwrap()
});
/// A Markdown heading.
static HEADING: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(#{1,6})\s+(.*)$").unwrap());

/// The most lines walked up from a read to find the block it is in.
const ENCLOSING_WINDOW: usize = 80;
/// Lines longer than this are minified: indentation means nothing there.
const MINIFIED_LINE: usize = 400;

/// Whether the name itself says the variable configures the server's HTTP listener.
pub(crate) fn is_transport_setting(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    let words: Vec<&str> = upper.split('_').collect();
    let has = |w: &[&str]| words.iter().any(|word| w.contains(word));
    let own_server = has(&["MCP", "FASTMCP"]);
    let listener = has(&[
        "HOST",
        "HOSTNAME",
        "PORT",
        "BIND",
        "LISTEN",
        "TRANSPORT",
        "HTTP",
        "SSE",
        "STATELESS",
        "CORS",
        "ORIGIN",
        "ORIGINS",
        "AUTH",
        "JWT",
        "JWKS",
    ]);
    own_server && listener
        || has(&["STREAMABLE", "SSE"])
        || words.last() == Some(&"TRANSPORT")
        || upper.contains("ALLOWED_HOSTS")
        || upper.contains("ALLOWED_ORIGINS")
        || upper.contains("DNS_REBINDING")
        || has(&["CORS"])
}

/// Whether a line says that what it documents is for the HTTP transport.
pub(crate) fn says_http(line: &str) -> bool {
    HTTP_DOC.is_match(line)
}

/// Whether the file serves the HTTP transport: by its name, or by its opening comment or
/// docstring.
pub(crate) fn is_http_file(file: &SourceFile) -> bool {
    let name = file.rel.rsplit('/').next().unwrap_or(&file.rel);
    let stem = name.split('.').next().unwrap_or(name);
    if HTTP_FILE.is_match(stem) {
        return true;
    }
    file.text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(3)
        .any(|l| {
            let t = l.trim_start();
            (t.starts_with("//")
                || t.starts_with("/*")
                || t.starts_with('*')
                || t.starts_with('#')
                || t.starts_with("\"\"\"")
                || t.starts_with("'''"))
                && says_http(t)
        })
}

/// Whether the line at `index` sits inside a block that only the HTTP transport runs, judged by
/// indentation (so never on minified lines).
pub(crate) fn in_http_branch(lines: &[&str], index: usize) -> bool {
    let indent = |l: &str| l.len() - l.trim_start().len();
    let Some(line) = lines.get(index) else {
        return false;
    };
    if line.len() > MINIFIED_LINE {
        return false;
    }
    let mut current = indent(line);
    let first = index.saturating_sub(ENCLOSING_WINDOW);
    for above in lines[first..index].iter().rev() {
        if current == 0 {
            break;
        }
        if above.trim().is_empty() || above.len() > MINIFIED_LINE {
            continue;
        }
        let level = indent(above);
        if level >= current {
            continue;
        }
        current = level;
        let trimmed = above.trim_start();
        // A closing line (`}` alone, `)`) is not a header: the block it closes is a sibling.
        if trimmed.starts_with(['}', ')', ']']) && !trimmed.contains('{') {
            continue;
        }
        if HTTP_CONDITION.is_match(above) || HTTP_FUNCTION.is_match(above) {
            return true;
        }
    }
    false
}

/// Per line of a Markdown README: whether it is about the HTTP transport, by a heading above
/// it (any level) or by what the line says.
fn readme_http_lines(text: &str) -> Vec<bool> {
    let mut stack: Vec<(usize, bool)> = Vec::new();
    let mut in_code = false;
    let mut out = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_code = !in_code;
        } else if !in_code && let Some(h) = HEADING.captures(trimmed) {
            let level = h[1].len();
            while stack.last().is_some_and(|(l, _)| *l >= level) {
                stack.pop();
            }
            stack.push((level, says_http(&h[2])));
        }
        out.push(stack.iter().any(|(_, http)| *http) || says_http(line));
    }
    out
}

pub(crate) fn names_word(line: &str, name: &str) -> bool {
    let bytes = line.as_bytes();
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    line.match_indices(name).any(|(at, _)| {
        let before = at.checked_sub(1).map(|i| bytes[i]);
        let after = bytes.get(at + name.len()).copied();
        !before.is_some_and(is_word) && !after.is_some_and(is_word)
    })
}

/// The names among `names` documented only for the HTTP transport: at least one line naming
/// it says HTTP (in the README or in a help text of the code), and no README line names it
/// outside an HTTP context.
pub(crate) fn documented_for_http(
    names: &BTreeSet<String>,
    readme: Option<&str>,
    code: &[&SourceFile],
) -> BTreeSet<String> {
    let readme_lines: Vec<(&str, bool)> = match readme {
        Some(text) => text.lines().zip(readme_http_lines(text)).collect(),
        None => Vec::new(),
    };
    let mut out = BTreeSet::new();
    for name in names {
        let mut http = false;
        let mut other = false;
        for (line, is_http) in &readme_lines {
            if names_word(line, name) {
                if *is_http {
                    http = true;
                } else {
                    other = true;
                }
            }
        }
        if other {
            continue;
        }
        if !http {
            http = code.iter().any(|file| {
                file.text
                    .lines()
                    .any(|l| l.len() <= MINIFIED_LINE && names_word(l, name) && says_http(l))
            });
        }
        if http {
            out.insert(name.clone());
        }
    }
    out
}
