//! Environment variables read by the source code (JavaScript/TypeScript, Python, Go, Rust).
//!
//! This is pattern matching, not parsing: it finds `process.env.X`, `process.env["X"]`,
//! `const { X } = process.env`, `Deno.env.get("X")`, `os.environ["X"]`,
//! `os.environ.get("X"[, default])`, `os.getenv("X"[, default])`, pydantic-settings
//! `BaseSettings` fields (with a literal `env_prefix`), Go's `os.Getenv("X")` /
//! `os.LookupEnv("X")` and Rust's `std::env::var("X")`.
//!
//! A fallback next to the read (`|| "v"`, `?? v`, a second argument to `getenv`,
//! `.unwrap_or(...)`, a field default) makes the variable optional. It is required when, within
//! a few lines of the read, the code tests it for absence and then exits, throws, raises or
//! panics; when Python subscripts `os.environ` without guarding it; when Rust unwraps the read;
//! or when a settings field has no default.

use std::sync::LazyLock;

use regex::Regex;

use crate::env::{Finding, Origin, is_candidate};
use crate::files::{SourceFile, line_at};
use crate::spec::Evidence;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lang {
    Js,
    Python,
    Go,
    Rust,
}

impl Lang {
    fn of(rel: &str) -> Lang {
        if rel.ends_with(".py") {
            Lang::Python
        } else if rel.ends_with(".go") {
            Lang::Go
        } else if rel.ends_with(".rs") {
            Lang::Rust
        } else {
            Lang::Js
        }
    }

    fn comment(self) -> &'static str {
        match self {
            Lang::Python => "#",
            _ => "//",
        }
    }

    /// Blocks end on a dedent in Python, on a closing brace elsewhere.
    fn braces(self) -> bool {
        self != Lang::Python
    }
}

static JS_READ: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"process\.env(?:\.([A-Za-z_$][\w$]*)|\[\s*["'`]([A-Za-z_]\w*)["'`]\s*\])|Deno\.env\.get\(\s*["']([A-Za-z_]\w*)["']\s*\)"#).unwrap()
});
static JS_DESTRUCTURE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:const|let|var)\s*\{([^{}]*)\}\s*=\s*process\.env\b").unwrap());
static JS_DEFAULT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^\s*(?:\|\||\?\?)\s*(?:"([^"]*)"|'([^']*)'|`([^`$]*)`|(-?\d+(?:\.\d+)?)\b)"#)
        .unwrap()
});
static JS_FALLBACK: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\s*(?:\|\||\?\?)").unwrap());
static JS_BINDING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:(?:const|let|var)\s+)?([A-Za-z_$][\w$]*)\s*(?::\s*[\w<>|\[\] ]+)?\s*[=:]\s*$")
        .unwrap()
});
static PY_READ: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\bos\.environ\[\s*["']([A-Za-z_]\w*)["']\s*\]|\b(?:os\.)?(?:environ\.get|getenv)\(\s*["']([A-Za-z_]\w*)["']"#).unwrap()
});
static PY_DEFAULT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"^\s*,\s*(?:"([^"]*)"|'([^']*)'|(-?\d+(?:\.\d+)?)\b)"#).unwrap());
static PY_FALLBACK: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\s*,\s*[^)\s]").unwrap());
static PY_BINDING: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"([A-Za-z_][\w]*)\s*(?::\s*[^=]+)?=\s*$").unwrap());
static GO_READ: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\bos\.(?:Getenv|LookupEnv)\(\s*"([A-Za-z_]\w*)"\s*\)"#).unwrap()
});
static GO_BINDING: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"([A-Za-z_]\w*)(?:\s*,\s*[A-Za-z_]\w*)?\s*:?=\s*$").unwrap());
static RUST_READ: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\b(?:std::)?env::var(?:_os)?\(\s*"([A-Za-z_]\w*)"\s*\)"#).unwrap()
});
static RUST_BINDING: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"let\s+(?:mut\s+)?([A-Za-z_]\w*)\s*(?::\s*[^=]+)?=\s*$").unwrap());
static RUST_DEFAULT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^\s*\.unwrap_or(?:_else)?\(\s*(?:\|_\|\s*)?"([^"]*)""#).unwrap()
});
static RUST_FALLBACK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*\.(?:unwrap_or|ok\(\)|is_ok\(\)|is_err\(\))").unwrap());
static RUST_UNWRAP: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*(?:\.expect\(|\.unwrap\(\)|\?)").unwrap());
static EXIT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"process\.exit\(\s*[1-9]|\bthrow\b|\bsys\.exit\(|\braise\b|\bexit\(\s*[1-9]|os\._exit\(|Deno\.exit\(\s*[1-9]|\blog\.Fatal|\bos\.Exit\(\s*[1-9]|\bpanic[!(]|\bbail!\(|return\s+Err\(").unwrap()
});
static ASSIGNMENT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\s*=[^=]").unwrap());
static SETTINGS_CLASS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^([ \t]*)class\s+\w+\s*\(([^)]*\bBaseSettings\b[^)]*)\)\s*:").unwrap()
});
static ENV_PREFIX: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"\benv_prefix\s*[=:]\s*["']([A-Za-z0-9_]*)["']"#).unwrap());
static SETTINGS_FIELD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([A-Za-z][A-Za-z0-9_]*)\s*:\s*([^=#]+?)\s*(?:=\s*(.+?))?\s*(?:#\s*(.*))?$")
        .unwrap()
});
static FIELD_ALIAS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\b(?:validation_alias|alias|env)\s*=\s*["']([A-Za-z_][A-Za-z0-9_]*)["']"#)
        .unwrap()
});
static FIELD_DESCRIPTION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"\bdescription\s*=\s*(?:"([^"]*)"|'([^']*)')"#).unwrap());
static FIELD_DEFAULT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^Field\(\s*(?:default\s*=\s*)?(?:"([^"]*)"|'([^']*)'|(-?\d+(?:\.\d+)?|True|False)\b|(\.\.\.)|(None)\b|default_factory)"#)
        .unwrap()
});
static PY_LITERAL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^(?:"([^"]*)"|'([^']*)'|(-?\d+(?:\.\d+)?|True|False))\s*$"#).unwrap()
});

/// How far below a read the analyzer looks for the "missing, so exit" check.
const CHECK_WINDOW: usize = 8;
/// How far below that check it looks for the exit itself.
const EXIT_WINDOW: usize = 5;
/// A line longer than this is minified code, where "the next lines" mean nothing.
const MINIFIED_LINE: usize = 400;

/// All environment reads in one source file.
pub(crate) fn find(file: &SourceFile) -> Vec<Finding> {
    let lang = Lang::of(&file.rel);
    let lines: Vec<&str> = file.text.lines().collect();
    let mut findings = Vec::new();
    let reads = match lang {
        Lang::Js => &*JS_READ,
        Lang::Python => &*PY_READ,
        Lang::Go => &*GO_READ,
        Lang::Rust => &*RUST_READ,
    };
    for captures in reads.captures_iter(&file.text) {
        let whole = captures.get(0).expect("group 0 always matches");
        let Some(name) = captures.iter().skip(1).flatten().next().map(|m| m.as_str()) else {
            continue;
        };
        let after = &file.text[whole.end()..];
        if ASSIGNMENT.is_match(after) || !is_candidate(name) {
            continue;
        }
        let line = line_at(&file.text, whole.start());
        let line_index = line as usize - 1;
        let line_start = file.text[..whole.start()].rfind('\n').map_or(0, |i| i + 1);
        let before = &file.text[line_start..whole.start()];
        let subscript = lang == Lang::Python && whole.as_str().starts_with("os.environ[");
        let (binding, default, fallback) = match lang {
            Lang::Python => (
                PY_BINDING.captures(before).map(|c| c[1].to_string()),
                (!subscript).then(|| literal(&PY_DEFAULT, after)).flatten(),
                !subscript && PY_FALLBACK.is_match(after),
            ),
            Lang::Js => (
                JS_BINDING.captures(before).map(|c| c[1].to_string()),
                literal(&JS_DEFAULT, after),
                JS_FALLBACK.is_match(after),
            ),
            Lang::Go => (
                GO_BINDING.captures(before).map(|c| c[1].to_string()),
                None,
                false,
            ),
            Lang::Rust => (
                RUST_BINDING.captures(before).map(|c| c[1].to_string()),
                literal(&RUST_DEFAULT, after),
                RUST_FALLBACK.is_match(after),
            ),
        };
        let mut note = match lang {
            Lang::Python => "read via os.environ",
            Lang::Js => "read via process.env",
            Lang::Go => "read via os.Getenv",
            Lang::Rust => "read via std::env::var",
        }
        .to_string();
        let mut required = None;
        // A non-empty fallback (`?? DEFAULT_URL`, `|| "eu"`) wins over a later check, which
        // then tests the fallback rather than the variable.
        let real_fallback = fallback && default.as_deref() != Some("");
        if real_fallback {
            required = Some(false);
            note = match &default {
                Some(value) => format!("{note}, falling back to {value:?}"),
                None => format!("{note} with a fallback"),
            };
        } else if exits_when_missing(&lines, line_index, name, binding.as_deref(), lang) {
            required = Some(true);
            note.push_str("; the server exits when it is unset");
        } else if subscript && !python_guards(&file.text, &lines, line_index, name) {
            required = Some(true);
            note = "read as os.environ[...], which fails when it is unset".into();
        } else if lang == Lang::Rust && RUST_UNWRAP.is_match(after) {
            required = Some(true);
            note = "read via std::env::var and unwrapped, which fails when it is unset".into();
        } else if let Some(value) = &default {
            required = Some(false);
            note = format!("{note}, falling back to {value:?}");
        }
        let mut finding = Finding::new(
            name,
            Origin::Code,
            Evidence::new(&file.rel, Some(line), note),
        );
        finding.required = required;
        finding.default = default;
        finding.description = comment_near(&lines, line_index, lang);
        findings.push(finding);
    }
    match lang {
        Lang::Js => findings.extend(destructured(file, &lines)),
        Lang::Python => findings.extend(settings_fields(file, &lines)),
        Lang::Go | Lang::Rust => {}
    }
    findings
}

fn literal(pattern: &Regex, after: &str) -> Option<String> {
    pattern.captures(after).and_then(|c| {
        c.iter()
            .skip(1)
            .flatten()
            .next()
            .map(|m| m.as_str().to_string())
    })
}

/// `const { A, B: b, C = "x" } = process.env`
fn destructured(file: &SourceFile, lines: &[&str]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for captures in JS_DESTRUCTURE.captures_iter(&file.text) {
        let list = captures.get(1).expect("group 1 always matches");
        let mut offset = list.start();
        for part in list.as_str().split(',') {
            let part_start = offset + (part.len() - part.trim_start().len());
            offset += part.len() + 1;
            let part = part.trim();
            let (head, default) = match part.split_once('=') {
                Some((h, d)) => (
                    h.trim(),
                    Some(d.trim().trim_matches(['"', '\'', '`']).to_string()),
                ),
                None => (part, None),
            };
            let (name, alias) = match head.split_once(':') {
                Some((n, a)) => (n.trim(), a.trim()),
                None => (head, head),
            };
            if !is_candidate(name) {
                continue;
            }
            let line = line_at(&file.text, part_start);
            let exits = exits_when_missing(lines, line as usize - 1, name, Some(alias), Lang::Js);
            let (required, note) = if exits {
                (
                    Some(true),
                    "destructured from process.env; the server exits when it is unset".to_string(),
                )
            } else if let Some(value) = &default {
                (
                    Some(false),
                    format!("destructured from process.env, falling back to {value:?}"),
                )
            } else {
                (None, "destructured from process.env".to_string())
            };
            let mut finding = Finding::new(
                name,
                Origin::Code,
                Evidence::new(&file.rel, Some(line), note),
            );
            finding.required = required;
            finding.default = default;
            findings.push(finding);
        }
    }
    findings
}

/// Fields of pydantic-settings `BaseSettings` classes: `UPPER(env_prefix + field)`, or the
/// field's `alias`/`validation_alias`/`env`. A field without a default is required.
fn settings_fields(file: &SourceFile, lines: &[&str]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for class in SETTINGS_CLASS.captures_iter(&file.text) {
        let class_indent = class[1].len();
        let start = line_at(&file.text, class.get(0).map_or(0, |m| m.start())) as usize;
        let body: Vec<(usize, &str)> = lines
            .iter()
            .enumerate()
            .skip(start)
            .take_while(|(_, l)| {
                l.trim().is_empty() || l.len() - l.trim_start().len() > class_indent
            })
            .map(|(i, l)| (i, *l))
            .collect();
        let Some(field_indent) = body
            .iter()
            .find(|(_, l)| !l.trim().is_empty())
            .map(|(_, l)| l.len() - l.trim_start().len())
        else {
            continue;
        };
        let text: String = body.iter().map(|(_, l)| *l).collect::<Vec<_>>().join("\n");
        let prefix = ENV_PREFIX
            .captures(&text)
            .map(|c| c[1].to_string())
            .unwrap_or_default();
        for (index, line) in &body {
            if line.len() - line.trim_start().len() != field_indent {
                continue;
            }
            let Some(field) = SETTINGS_FIELD.captures(line.trim()) else {
                continue;
            };
            let (field_name, ty) = (&field[1], field[2].trim());
            if field_name == "model_config" || ty.starts_with("ClassVar") {
                continue;
            }
            let value = field.get(3).map(|m| m.as_str().trim());
            let name = value
                .and_then(|v| FIELD_ALIAS.captures(v))
                .map(|c| c[1].to_string())
                .unwrap_or_else(|| format!("{prefix}{field_name}").to_ascii_uppercase());
            let (required, default) = field_default(value, ty);
            let line_no = u32::try_from(index + 1).unwrap_or(u32::MAX);
            let note = match (&required, &default) {
                (Some(true), _) => "a pydantic-settings field without a default".to_string(),
                (_, Some(d)) => format!("a pydantic-settings field, default {d:?}"),
                _ => "a pydantic-settings field with a default".to_string(),
            };
            let mut finding = Finding::new(
                &name,
                Origin::Code,
                Evidence::new(&file.rel, Some(line_no), note),
            );
            finding.required = required;
            finding.default = default;
            finding.description = value
                .and_then(|v| FIELD_DESCRIPTION.captures(v))
                .and_then(|c| c.get(1).or(c.get(2)).map(|m| m.as_str().to_string()))
                .or_else(|| field.get(4).map(|m| m.as_str().trim().to_string()))
                .or_else(|| comment_near(lines, *index, Lang::Python))
                .filter(|d| !d.is_empty());
            findings.push(finding);
        }
    }
    findings
}

/// `(required, default)` of a settings field from its `= value` part and its type.
fn field_default(value: Option<&str>, ty: &str) -> (Option<bool>, Option<String>) {
    let Some(value) = value else {
        let optional =
            ty.starts_with("Optional[") || ty.contains("| None") || ty.contains("None |");
        return (Some(!optional), None);
    };
    let unquote = |c: regex::Captures<'_>| {
        c.iter()
            .skip(1)
            .flatten()
            .next()
            .map(|m| m.as_str().to_string())
    };
    if let Some(c) = FIELD_DEFAULT.captures(value) {
        if c.get(4).is_some() {
            return (Some(true), None);
        }
        if c.get(5).is_some() {
            return (Some(false), None);
        }
        return (Some(false), unquote(c).filter(|v| v != "default_factory"));
    }
    if value.starts_with("Field(") {
        return (Some(true), None);
    }
    (Some(false), PY_LITERAL.captures(value).and_then(unquote))
}

/// Whether, shortly after the read on `line_index`, the code checks that the variable (or the
/// local it was stored in) is missing and then exits, throws, raises or panics.
fn exits_when_missing(
    lines: &[&str],
    line_index: usize,
    name: &str,
    binding: Option<&str>,
    lang: Lang,
) -> bool {
    let name = regex::escape(name);
    let mut checks = Vec::new();
    match lang {
        Lang::Python => {
            checks.push(format!(
                r#"\bnot\s+os\.(?:environ\.get|getenv)\(\s*["']{name}["']"#
            ));
            checks.push(format!(r#"["']{name}["']\s+not\s+in\s+os\.environ"#));
            if let Some(b) = binding {
                let b = regex::escape(b);
                checks.push(format!(
                    r"\bnot\s+(?:\w+\.)*{b}\b|\b{b}\s+is\s+None\b|\b{b}\s*==\s*(?:''|\x22\x22)|^\s*assert\s+{b}\b"
                ));
            }
        }
        Lang::Js => {
            checks.push(format!(
                r#"!\s*process\.env(?:\.{name}\b|\[\s*["'`]{name}["'`]\s*\])"#
            ));
            if let Some(b) = binding {
                let b = regex::escape(b);
                checks.push(format!(r#"!\s*(?:[\w$]+\.)*{b}\b|\b{b}\s*===?\s*(?:undefined|null|""|'')|typeof\s+{b}\s*===?\s*["']undefined"#));
            }
        }
        Lang::Go => {
            checks.push(format!(r#"os\.Getenv\(\s*"{name}"\s*\)\s*==\s*"""#));
            if let Some(b) = binding {
                let b = regex::escape(b);
                checks.push(format!(r#"\b{b}\s*==\s*""|!\s*{b}\b"#));
            }
        }
        Lang::Rust => {
            if let Some(b) = binding {
                let b = regex::escape(b);
                checks.push(format!(
                    r"\b{b}\.is_(?:err|none|empty)\(\)|let\s+(?:Ok|Some)\(\w+\)\s*=\s*{b}\s+else"
                ));
            }
        }
    }
    if checks.is_empty() {
        return false;
    }
    let Ok(check) = Regex::new(&checks.join("|")) else {
        return false;
    };
    let last = (line_index + CHECK_WINDOW).min(lines.len().saturating_sub(1));
    for check_index in line_index..=last {
        let line = lines[check_index];
        // Minified code puts a whole library on one line: lines say nothing there.
        if line.len() > MINIFIED_LINE {
            return false;
        }
        if check.is_match(line) {
            // `if (!a && !b)` needs one of them, not this one.
            let either = line.contains("&&") || line.contains(" and ");
            return !either && exit_follows(lines, check_index, lang);
        }
    }
    false
}

/// Whether the block opened by the check on `check_index` exits before it ends.
fn exit_follows(lines: &[&str], check_index: usize, lang: Lang) -> bool {
    let indent = |l: &str| l.len() - l.trim_start().len();
    let check_indent = indent(lines[check_index]);
    if lang == Lang::Python && lines[check_index].trim_start().starts_with("assert ") {
        return true;
    }
    let last = (check_index + EXIT_WINDOW).min(lines.len().saturating_sub(1));
    for (offset, line) in lines[check_index..=last].iter().enumerate() {
        if offset > 0 {
            let trimmed = line.trim_start();
            let block_ended = if lang.braces() {
                trimmed.starts_with('}')
            } else {
                !trimmed.is_empty() && indent(line) <= check_indent
            };
            if block_ended {
                return false;
            }
        }
        if EXIT.is_match(line) {
            return true;
        }
    }
    false
}

/// Whether Python code guards `os.environ["X"]` (a membership test, a `.get`, or a `try:`).
fn python_guards(text: &str, lines: &[&str], line_index: usize, name: &str) -> bool {
    let quoted = [format!("\"{name}\""), format!("'{name}'")];
    let tested = quoted.iter().any(|q| {
        text.contains(&format!("{q} in os.environ")) || text.contains(&format!("{q} in environ"))
    });
    let in_try = lines[line_index.saturating_sub(3)..line_index]
        .iter()
        .any(|l| l.trim() == "try:");
    tested || in_try
}

/// A comment on the line above the read, or trailing on the same line.
fn comment_near(lines: &[&str], line_index: usize, lang: Lang) -> Option<String> {
    let marker = lang.comment();
    let current = lines.get(line_index)?;
    if let Some((_, trailing)) = current.split_once(&format!(" {marker} ")) {
        return Some(trailing.trim().to_string()).filter(|c| !c.is_empty());
    }
    let above = lines.get(line_index.checked_sub(1)?)?.trim();
    let text = above
        .strip_prefix(marker)
        .map(|t| t.trim_start_matches('/'))
        .or_else(|| {
            if lang == Lang::Python {
                None
            } else {
                above.strip_prefix("* ")
            }
        })?;
    Some(text.trim().to_string()).filter(|c| !c.is_empty())
}
