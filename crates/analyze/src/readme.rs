//! Environment variables documented in a README (Markdown or reStructuredText, or the long
//! description inside a wheel's `METADATA`).
//!
//! Recognised: `"env": { "X": ... }` blocks of client config examples (JSON code blocks are
//! parsed, `mcpServers` shapes included, so that the `env` of an entry that runs another
//! package is left out), `export X=`, `X=value` lines and `-e X` in code blocks, Markdown table
//! rows and list items naming an `UPPER_SNAKE` variable under a heading or header that talks
//! about the environment (a Name/Variable column, a Required column and a Default column are
//! used when present), and prose lines such as "set the `X` environment variable". Outside the
//! `env` blocks and code, a variable must contain an underscore, so that words such as `API` or
//! `JSON` are not taken.

use std::sync::LazyLock;

use regex::Regex;

use serde_json::Value;

use crate::env::{Finding, Origin, is_candidate};
use crate::files::line_at;
use crate::launch::{Identity, ours_prefix};
use crate::spec::Evidence;

static ENV_BLOCK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#""env"\s*:\s*\{([^{}]*)\}"#).unwrap());
static ENV_BLOCK_KEY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#""([A-Za-z_][A-Za-z0-9_]*)"\s*:"#).unwrap());
static CODE_ASSIGN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?:\$\s+)?(?:export\s+|set\s+|\$env:)?([A-Z][A-Z0-9_]*)=").unwrap()
});
static PREFIX_ASSIGN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:^|\s)([A-Z][A-Z0-9_]*)=\S*").unwrap());
static DASH_E: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?:^|[\s"'\[,])(?:-e|--env)["']?[\s,]+["']?([A-Z][A-Z0-9_]*)\b"#).unwrap()
});
static SNAKE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b([A-Z][A-Z0-9]*_[A-Z0-9_]*[A-Z0-9])\b").unwrap());
static LIST_ITEM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?:[-*+]|\d+\.)\s+[`*_]*([A-Z][A-Z0-9]*_[A-Z0-9_]*[A-Z0-9])[`*_]*\s*(?:\(([^)]*)\))?\s*(?:[:\-–—=]\s*(.*))?$").unwrap()
});
static PROSE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)`([A-Z][A-Z0-9]*_[A-Z0-9_]*[A-Z0-9])`|\b([A-Z][A-Z0-9]*_[A-Z0-9_]*[A-Z0-9])\s+(?:env(?:ironment)?\s+var)").unwrap()
});
static LEADING_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[`*_\s]*([A-Z][A-Z0-9]*_[A-Z0-9_]*[A-Z0-9])[`*_]*(?:\s|$|\()").unwrap()
});
static NOT_READ: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:\b(?:no\s+longer|not|never)|n't)\s+(?:reads?|uses?|honou?rs?|respects?|supports?|looks?\s+at)\b[^.;:]*$").unwrap()
});
static CONTAINER_COMMAND: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?:sudo\s+)?(?:docker|podman|nerdctl)\s|\s(?:docker|podman)\s+(?:run|create|compose)\b",
    )
    .unwrap()
});
static ENV_WORDS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\benv\b|environment|variables?|api[ _-]?keys?|\btokens?\b|credentials?|secrets?|configuration|\bconfig\b").unwrap()
});

/// Commands that run a package by name: an entry running one that is not ours configures
/// another server.
const PACKAGE_RUNNERS: &[&str] = &[
    "npx", "bunx", "pnpx", "pnpm", "yarn", "bun", "uvx", "uv", "pipx", "node", "python", "python3",
    "deno",
];

/// The JSON code blocks of a Markdown text: `(start offset, content)`.
fn json_blocks(text: &str) -> Vec<(usize, &str)> {
    let mut blocks = Vec::new();
    let mut offset = 0;
    let mut open: Option<usize> = None;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            match open.take() {
                Some(start) => blocks.push((start, &text[start..offset])),
                None => open = Some(offset + line.len()),
            }
        }
        offset += line.len();
    }
    blocks.retain(|(_, b)| b.trim_start().starts_with(['{', '"']));
    blocks
}

/// A JSON snippet as written in READMEs: whole, or a `"mcpServers": {...}` fragment; `//`
/// comments and trailing commas tolerated.
fn parse_snippet(block: &str) -> Option<Value> {
    let cleaned: String = block
        .lines()
        .map(|l| {
            let t = l.trim_start();
            if t.starts_with("//") { "" } else { l }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let cleaned = TRAILING_COMMA.replace_all(&cleaned, "$1");
    serde_json::from_str(&cleaned)
        .ok()
        .or_else(|| serde_json::from_str(&format!("{{{cleaned}}}")).ok())
}

static TRAILING_COMMA: LazyLock<Regex> = LazyLock::new(|| Regex::new(r",(\s*[}\]])").unwrap());

/// Server entries (`{"command": ..., "args": [...], "env": {...}}`) anywhere in a snippet.
fn server_entries<'a>(value: &'a Value, out: &mut Vec<&'a serde_json::Map<String, Value>>) {
    match value {
        Value::Object(map) => {
            if map.get("command").is_some_and(Value::is_string)
                || map.get("env").is_some_and(Value::is_object)
            {
                out.push(map);
            }
            for child in map.values() {
                server_entries(child, out);
            }
        }
        Value::Array(list) => list.iter().for_each(|v| server_entries(v, out)),
        _ => {}
    }
}

/// Whether a config entry runs a package other than ours (its `env` is then not ours).
fn runs_other_package(entry: &serde_json::Map<String, Value>, identity: &Identity) -> bool {
    let Some(command) = entry.get("command").and_then(Value::as_str) else {
        return false;
    };
    let mut words = vec![command.to_string()];
    words.extend(
        entry
            .get("args")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str().map(String::from)),
    );
    let base = command.rsplit(['/', '\\']).next().unwrap_or(command);
    PACKAGE_RUNNERS.contains(&base) && ours_prefix(&words, identity).is_none()
}

/// Whether a command runs a container (its environment configures the image).
fn runs_container(command: &str) -> bool {
    let base = command.rsplit(['/', '\\']).next().unwrap_or(command);
    matches!(base, "docker" | "podman" | "nerdctl")
}

/// `env` keys of the server entries of the README's JSON code blocks; returns the byte ranges
/// of the blocks that parsed, so that the plain pattern does not read them again.
fn snippet_env(
    file: &str,
    text: &str,
    identity: &Identity,
    findings: &mut Vec<Finding>,
) -> Vec<(usize, usize)> {
    let mut handled = Vec::new();
    for (start, block) in json_blocks(text) {
        let Some(value) = parse_snippet(block) else {
            continue;
        };
        handled.push((start, start + block.len()));
        let mut entries = Vec::new();
        server_entries(&value, &mut entries);
        for entry in entries {
            if runs_other_package(entry, identity) {
                continue;
            }
            let command = entry.get("command").and_then(Value::as_str);
            let docker = command.is_some_and(runs_container);
            let args: Vec<&str> = entry
                .get("args")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            // `"args": ["run", "-e", "X", "image"]`: the container's environment.
            for pair in args.windows(2) {
                if matches!(pair[0], "-e" | "--env") {
                    let name = pair[1].split('=').next().unwrap_or("");
                    if !is_candidate(name) {
                        continue;
                    }
                    let at = block.find(&format!("\"{}", pair[1])).unwrap_or(0);
                    let mut finding = Finding::new(
                        name,
                        Origin::Readme,
                        Evidence::new(
                            file,
                            Some(line_at(text, start + at)),
                            "passed with -e in a README example",
                        ),
                    );
                    finding.docker = docker;
                    findings.push(finding);
                }
            }
            let Some(env) = entry.get("env").and_then(Value::as_object) else {
                continue;
            };
            for name in env.keys() {
                let at = block.find(&format!("\"{name}\"")).unwrap_or(0);
                let mut finding = Finding::new(
                    name,
                    Origin::Readme,
                    Evidence::new(
                        file,
                        Some(line_at(text, start + at)),
                        "in an \"env\" block of a README config example",
                    ),
                );
                finding.docker = docker;
                finding.stdio_config = command.is_some() && !docker;
                findings.push(finding);
            }
        }
    }
    handled
}

/// All documented variables in one README.
pub(crate) fn find(file: &str, text: &str, identity: &Identity) -> Vec<Finding> {
    let mut findings = Vec::new();
    let handled = snippet_env(file, text, identity, &mut findings);
    for block in ENV_BLOCK.captures_iter(text) {
        let inner = block.get(1).expect("group 1 always matches");
        if handled
            .iter()
            .any(|(a, b)| (*a..*b).contains(&inner.start()))
        {
            continue;
        }
        for key in ENV_BLOCK_KEY.captures_iter(inner.as_str()) {
            let name = key.get(1).expect("group 1 always matches");
            let line = line_at(text, inner.start() + name.start());
            findings.push(Finding::new(
                name.as_str(),
                Origin::Readme,
                Evidence::new(
                    file,
                    Some(line),
                    "in an \"env\" block of a README config example",
                ),
            ));
        }
    }
    let lines: Vec<&str> = text.lines().collect();
    let mut in_code = false;
    let mut heading = String::new();
    let mut table: Option<Table> = None;
    let mut shell = Shell::default();
    let mut offset = 0;
    for (index, raw_line) in lines.iter().enumerate() {
        let line_start = offset;
        offset += raw_line.len() + 1;
        let line_no = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let trimmed = raw_line.trim();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_code = !in_code;
            shell = Shell::default();
            continue;
        }
        if in_code || raw_line.starts_with("    ") && !trimmed.starts_with(['-', '*', '|']) {
            // JSON blocks that parsed were read as config entries above.
            if !handled.iter().any(|(a, b)| (*a..*b).contains(&line_start)) {
                code_line(file, raw_line, line_no, &mut shell, &mut findings);
            }
            continue;
        }
        if let Some(title) = trimmed.strip_prefix('#') {
            heading = title.trim_start_matches('#').trim().to_string();
            table = None;
            continue;
        }
        // reStructuredText headings are underlined on the next line.
        if lines
            .get(index + 1)
            .is_some_and(|next| is_rst_underline(next, trimmed))
        {
            heading = trimmed.to_string();
            continue;
        }
        if trimmed.starts_with('|') {
            let cells = split_row(trimmed);
            if cells
                .iter()
                .all(|c| c.chars().all(|ch| matches!(ch, '-' | ':' | ' ')))
            {
                continue;
            }
            let Some(current) = table.as_mut() else {
                let context = format!("{heading} {} {}", preceding(&lines, index, 3), trimmed);
                table = Some(Table::new(cells, ENV_WORDS.is_match(&context)));
                continue;
            };
            if let Some(finding) = current.row(file, &cells, line_no) {
                findings.push(finding);
            }
            continue;
        }
        table = None;
        let context_ok = ENV_WORDS.is_match(&heading) || ENV_WORDS.is_match(trimmed);
        if let Some(item) = LIST_ITEM.captures(trimmed) {
            // A list item that starts with a `CODE` or **bold** UPPER_SNAKE name is a variable
            // list whatever its heading says; a bare name needs an environment-related context.
            let name_start = item.get(1).map_or(0, |m| m.start());
            let marked = trimmed[..name_start].ends_with(['`', '*', '_']);
            if marked || context_ok || ENV_WORDS.is_match(&preceding(&lines, index, 2)) {
                let name = &item[1];
                let extra = item.get(2).map(|m| m.as_str()).unwrap_or("");
                let rest = item.get(3).map(|m| m.as_str()).unwrap_or("");
                let description = clean(rest);
                let mut finding = Finding::new(
                    name,
                    Origin::Readme,
                    Evidence::new(file, Some(line_no), "listed in the README"),
                );
                finding.required = required_words(&format!("{extra} {rest}"));
                finding.description = Some(description).filter(|d| !d.is_empty());
                findings.push(finding);
                continue;
            }
        }
        if ENV_WORDS.is_match(trimmed) || ENV_WORDS.is_match(&heading) {
            for captures in PROSE.captures_iter(trimmed) {
                let Some(name) = captures.get(1).or(captures.get(2)) else {
                    continue;
                };
                // "httpx no longer reads the `SSL_CERT_FILE` environment variable", the
                // sentence possibly begun on the line above.
                let previous = index
                    .checked_sub(1)
                    .and_then(|i| lines.get(i))
                    .map(|l| l.trim())
                    .filter(|l| !l.is_empty() && !l.ends_with(['.', ':', '!', '?']))
                    .unwrap_or("");
                if NOT_READ.is_match(&format!("{previous} {}", &trimmed[..name.start()])) {
                    continue;
                }
                let mut finding = Finding::new(
                    name.as_str(),
                    Origin::Readme,
                    Evidence::new(file, Some(line_no), "mentioned in the README"),
                );
                finding.required = required_words(trimmed);
                finding.description = Some(clean(trimmed)).filter(|d| !d.is_empty());
                findings.push(finding);
            }
        }
    }
    findings.retain(|f| is_candidate(&f.name));
    findings.sort_by_key(|f| f.evidence.line);
    findings
}

/// Where a shell example stands: whether the command being written (over `\`-continued lines)
/// runs a container.
#[derive(Debug, Default)]
struct Shell {
    container: bool,
    continued: bool,
}

/// Shell and dotenv lines inside code blocks.
fn code_line(file: &str, line: &str, line_no: u32, shell: &mut Shell, findings: &mut Vec<Finding>) {
    let command = line.trim_start().trim_start_matches("$ ");
    let starts_container = CONTAINER_COMMAND.is_match(command);
    if !shell.continued {
        shell.container = starts_container;
    } else if starts_container {
        shell.container = true;
    }
    shell.continued = line.trim_end().ends_with(['\\', '`', '^']);
    let docker = shell.container;
    let mut push = |name: &str, note: &str| {
        if !findings
            .iter()
            .any(|f| f.name == name && f.evidence.line == Some(line_no))
        {
            let mut finding = Finding::new(
                name,
                Origin::Readme,
                Evidence::new(file, Some(line_no), note),
            );
            finding.docker = docker;
            findings.push(finding);
        }
    };
    if let Some(c) = CODE_ASSIGN.captures(line) {
        push(&c[1], "set in a README shell example");
    }
    // `A=1 B=2 npx some-server`: variables prefixed to a command.
    let command_line = line.trim_start().trim_start_matches("$ ");
    if command_line
        .split_whitespace()
        .next()
        .is_some_and(|w| PREFIX_ASSIGN.is_match(w))
    {
        for c in PREFIX_ASSIGN.captures_iter(command_line) {
            push(&c[1], "set in a README shell example");
        }
    }
    for c in DASH_E.captures_iter(line) {
        push(&c[1], "passed with -e in a README example");
    }
}

/// A Markdown table under an environment-related heading.
struct Table {
    header: Vec<String>,
    relevant: bool,
}

impl Table {
    fn new(header: Vec<String>, context_relevant: bool) -> Table {
        let header: Vec<String> = header.iter().map(|h| h.to_ascii_lowercase()).collect();
        let relevant = context_relevant || header.iter().any(|h| ENV_WORDS.is_match(h));
        Table { header, relevant }
    }

    fn column(&self, words: &[&str]) -> Option<usize> {
        self.header
            .iter()
            .position(|h| words.iter().any(|w| h.contains(w)))
    }

    fn row(&self, file: &str, cells: &[String], line_no: u32) -> Option<Finding> {
        if !self.relevant {
            return None;
        }
        let named_col = self.column(&["name", "variable", "env", "key", "setting"]);
        let in_named = named_col
            .and_then(|i| cells.get(i).map(|c| (i, c)))
            .and_then(|(i, c)| {
                LEADING_NAME
                    .captures(c.trim())
                    .map(|m| (i, m[1].to_string()))
            });
        let (name_col, name) = in_named.or_else(|| {
            cells.iter().enumerate().find_map(|(i, c)| {
                let bare = c.trim().trim_matches(['`', '*', '_', ' ']);
                SNAKE
                    .captures(bare)
                    .filter(|m| m.get(0).map(|g| g.as_str()) == Some(bare))
                    .map(|_| (i, bare.to_string()))
            })
        })?;
        let required_col = self.column(&["required", "mandatory", "optional"]);
        let default_col = self.column(&["default"]);
        let description_col = self
            .column(&["description", "purpose", "meaning", "notes", "what"])
            .or_else(|| {
                (0..cells.len())
                    .find(|i| *i != name_col && Some(*i) != required_col && Some(*i) != default_col)
            });
        let mut finding = Finding::new(
            &name,
            Origin::Readme,
            Evidence::new(file, Some(line_no), "in a README table"),
        );
        finding.description = description_col
            .and_then(|i| cells.get(i))
            .map(|c| clean(c))
            .filter(|d| !d.is_empty());
        let optional_header = required_col
            .and_then(|i| self.header.get(i))
            .is_some_and(|h| h.contains("optional") && !h.contains("required"));
        finding.required = match required_col.and_then(|i| cells.get(i)) {
            Some(cell) if optional_header => yes_no(cell).map(|optional| !optional),
            Some(cell) => yes_no(cell),
            None => required_words(&cells.join(" ")),
        };
        finding.default = default_col
            .and_then(|i| cells.get(i))
            .map(|c| c.trim().trim_matches('`').trim().to_string())
            .filter(|d| {
                !d.is_empty()
                    && !matches!(
                        d.to_ascii_lowercase().as_str(),
                        "-" | "—" | "none" | "n/a" | "(none)"
                    )
            });
        Some(finding)
    }
}

fn split_row(row: &str) -> Vec<String> {
    let inner = row.trim().trim_start_matches('|').trim_end_matches('|');
    inner.split('|').map(|c| c.trim().to_string()).collect()
}

fn yes_no(cell: &str) -> Option<bool> {
    let lower = cell.trim().trim_matches(['*', '`']).to_ascii_lowercase();
    if ["yes", "true", "required", "✅", "✓", "✔", "x", "y"].contains(&lower.as_str())
        || lower.starts_with("yes")
    {
        Some(true)
    } else if ["no", "false", "optional", "❌", "-", "n"].contains(&lower.as_str())
        || lower.starts_with("no")
    {
        Some(false)
    } else {
        required_words(&lower)
    }
}

/// "required" / "must" make it required, "optional" makes it optional; otherwise unknown.
fn required_words(text: &str) -> Option<bool> {
    let lower = text.to_ascii_lowercase();
    if lower.contains("optional") || lower.contains("not required") {
        Some(false)
    } else if lower.contains("required") || lower.contains("mandatory") {
        Some(true)
    } else {
        None
    }
}

/// The `count` lines before `index`, joined.
fn preceding(lines: &[&str], index: usize, count: usize) -> String {
    lines[index.saturating_sub(count)..index].join(" ")
}

fn is_rst_underline(next: &str, title: &str) -> bool {
    let next = next.trim();
    !title.is_empty()
        && next.len() >= 3
        && next.len() >= title.chars().count().min(3)
        && next.chars().all(|c| matches!(c, '=' | '-' | '~' | '^'))
        && !title.starts_with(['|', '-', '*'])
}

/// Markdown emphasis and code marks removed, whitespace collapsed, at most 300 characters.
fn clean(text: &str) -> String {
    let without: String = text.chars().filter(|c| !matches!(c, '`' | '*')).collect();
    let collapsed = without.split_whitespace().collect::<Vec<_>>().join(" ");
    let trimmed = collapsed.trim_matches([' ', '-', ':', '|']).to_string();
    if trimmed.chars().count() > 300 {
        let cut: String = trimmed.chars().take(297).collect();
        format!("{cut}...")
    } else {
        trimmed
    }
}
