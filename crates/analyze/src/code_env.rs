//! Environment variables read by the source code (JavaScript/TypeScript and Python).
//!
//! This is pattern matching, not parsing: it finds `process.env.X`, `process.env["X"]`,
//! `const { X } = process.env`, `Deno.env.get("X")`, `os.environ["X"]`,
//! `os.environ.get("X"[, default])` and `os.getenv("X"[, default])`. A variable is marked
//! required when, within a few lines of the read, the code tests it for absence and then exits,
//! throws or raises; or when Python subscripts `os.environ` without guarding it.

use std::sync::LazyLock;

use regex::Regex;

use crate::env::{Finding, Origin, is_candidate};
use crate::files::{SourceFile, line_at};
use crate::spec::Evidence;

static JS_READ: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"process\.env(?:\.([A-Za-z_$][\w$]*)|\[\s*["'`]([A-Za-z_]\w*)["'`]\s*\])|Deno\.env\.get\(\s*["']([A-Za-z_]\w*)["']\s*\)"#).unwrap()
});
static JS_DESTRUCTURE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:const|let|var)\s*\{([^{}]*)\}\s*=\s*process\.env\b").unwrap());
static JS_DEFAULT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^\s*(?:\|\||\?\?)\s*(?:"([^"]*)"|'([^']*)'|`([^`$]*)`|(-?\d+(?:\.\d+)?)\b)"#)
        .unwrap()
});
static JS_BINDING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:(?:const|let|var)\s+)?([A-Za-z_$][\w$]*)\s*(?::\s*[\w<>|\[\] ]+)?\s*[=:]\s*$")
        .unwrap()
});
static PY_READ: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\bos\.environ\[\s*["']([A-Za-z_]\w*)["']\s*\]|\b(?:os\.)?(?:environ\.get|getenv)\(\s*["']([A-Za-z_]\w*)["']"#).unwrap()
});
static PY_DEFAULT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"^\s*,\s*(?:"([^"]*)"|'([^']*)'|(-?\d+(?:\.\d+)?)\b)"#).unwrap());
static PY_BINDING: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"([A-Za-z_][\w]*)\s*(?::\s*[^=]+)?=\s*$").unwrap());
static EXIT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"process\.exit\(\s*[1-9]|\bthrow\b|\bsys\.exit\(|\braise\b|\bexit\(\s*[1-9]|os\._exit\(|Deno\.exit\(\s*[1-9]").unwrap()
});
static ASSIGNMENT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\s*=[^=]").unwrap());

/// How far below a read the analyzer looks for the "missing, so exit" check.
const CHECK_WINDOW: usize = 8;
/// How far below that check it looks for the exit itself.
const EXIT_WINDOW: usize = 5;

/// All environment reads in one source file.
pub(crate) fn find(file: &SourceFile) -> Vec<Finding> {
    let python = file.rel.ends_with(".py");
    let lines: Vec<&str> = file.text.lines().collect();
    let mut findings = Vec::new();
    let reads = if python { &*PY_READ } else { &*JS_READ };
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
        let subscript = python && whole.as_str().starts_with("os.environ[");
        let (binding, default) = if python {
            let default = if subscript {
                None
            } else {
                literal(&PY_DEFAULT, after)
            };
            (
                PY_BINDING.captures(before).map(|c| c[1].to_string()),
                default,
            )
        } else {
            (
                JS_BINDING.captures(before).map(|c| c[1].to_string()),
                literal(&JS_DEFAULT, after),
            )
        };
        let mut note = if python {
            "read via os.environ".to_string()
        } else {
            "read via process.env".to_string()
        };
        let mut required = exits_when_missing(&lines, line_index, name, binding.as_deref(), python);
        if required {
            note.push_str("; the server exits when it is unset");
        } else if subscript && !python_guards(&file.text, &lines, line_index, name) {
            required = true;
            note = "read as os.environ[...], which fails when it is unset".into();
        }
        let mut finding = Finding::new(
            name,
            Origin::Code,
            Evidence::new(&file.rel, Some(line), note),
        );
        finding.required = required.then_some(true);
        finding.default = default;
        finding.description = comment_near(&lines, line_index, python);
        findings.push(finding);
    }
    if !python {
        findings.extend(destructured(file, &lines));
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
            let required = exits_when_missing(lines, line as usize - 1, name, Some(alias), false);
            let note = if required {
                "destructured from process.env; the server exits when it is unset"
            } else {
                "destructured from process.env"
            };
            let mut finding = Finding::new(
                name,
                Origin::Code,
                Evidence::new(&file.rel, Some(line), note),
            );
            finding.required = required.then_some(true);
            finding.default = default;
            findings.push(finding);
        }
    }
    findings
}

/// Whether, shortly after the read on `line_index`, the code checks that the variable (or the
/// local it was stored in) is missing and then exits, throws or raises.
fn exits_when_missing(
    lines: &[&str],
    line_index: usize,
    name: &str,
    binding: Option<&str>,
    python: bool,
) -> bool {
    let name = regex::escape(name);
    let mut checks = Vec::new();
    if python {
        checks.push(format!(
            r#"\bnot\s+os\.(?:environ\.get|getenv)\(\s*["']{name}["']"#
        ));
        checks.push(format!(r#"["']{name}["']\s+not\s+in\s+os\.environ"#));
        if let Some(b) = binding {
            let b = regex::escape(b);
            checks.push(format!(
                r"\bnot\s+(?:\w+\.)*{b}\b|\b{b}\s+is\s+None\b|\b{b}\s*==\s*(?:''|\x22\x22)"
            ));
        }
    } else {
        checks.push(format!(
            r#"!\s*process\.env(?:\.{name}\b|\[\s*["'`]{name}["'`]\s*\])"#
        ));
        if let Some(b) = binding {
            let b = regex::escape(b);
            checks.push(format!(r#"!\s*(?:[\w$]+\.)*{b}\b|\b{b}\s*===?\s*(?:undefined|null|""|'')|typeof\s+{b}\s*===?\s*["']undefined"#));
        }
    }
    let Ok(check) = Regex::new(&checks.join("|")) else {
        return false;
    };
    let last = (line_index + CHECK_WINDOW).min(lines.len().saturating_sub(1));
    for check_index in line_index..=last {
        if check.is_match(lines[check_index]) {
            return exit_follows(lines, check_index, python);
        }
    }
    false
}

/// Whether the block opened by the check on `check_index` exits before it ends.
fn exit_follows(lines: &[&str], check_index: usize, python: bool) -> bool {
    let indent = |l: &str| l.len() - l.trim_start().len();
    let check_indent = indent(lines[check_index]);
    let last = (check_index + EXIT_WINDOW).min(lines.len().saturating_sub(1));
    for (offset, line) in lines[check_index..=last].iter().enumerate() {
        if offset > 0 {
            let trimmed = line.trim_start();
            let block_ended = if python {
                !trimmed.is_empty() && indent(line) <= check_indent
            } else {
                trimmed.starts_with('}')
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
fn comment_near(lines: &[&str], line_index: usize, python: bool) -> Option<String> {
    let marker = if python { "#" } else { "//" };
    let current = lines.get(line_index)?;
    if let Some((_, trailing)) = current.split_once(&format!(" {marker} ")) {
        return Some(trailing.trim().to_string()).filter(|c| !c.is_empty());
    }
    let above = lines.get(line_index.checked_sub(1)?)?.trim();
    let text = above.strip_prefix(marker).or_else(|| {
        if python {
            None
        } else {
            above.strip_prefix("* ")
        }
    })?;
    Some(text.trim().to_string()).filter(|c| !c.is_empty())
}
