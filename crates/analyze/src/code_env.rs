//! Environment variables read by the source code (JavaScript/TypeScript, Python, Go, Rust).
//!
//! This is pattern matching, not parsing: it finds `process.env.X`, `process.env["X"]`,
//! `const { X } = process.env`, the same through a local that holds `process.env` (`const env =
//! process.env`, a parameter `env = process.env`, `const { env } = process`), `Deno.env.get("X")`,
//! `os.environ["X"]`, `os.environ.get("X"[, default])`, `os.getenv("X"[, default])`,
//! pydantic-settings `BaseSettings` fields (with a literal `env_prefix`, `alias` /
//! `validation_alias` / `AliasChoices`), the `envvar=` of command-line options (click, typer),
//! calls of helpers whose body reads the environment with their first parameter
//! (`def _env_flag(name): return os.getenv(name, "")` makes `_env_flag("X")` a read of `X`), Go's
//! `os.Getenv("X")` / `os.LookupEnv("X")` and Rust's `std::env::var("X")`.
//!
//! Text in comments and docstrings is not code: a name there is no read. Neither are the
//! sections of a bundle that come from `node_modules` (esbuild and webpack mark them with the
//! module's path), which hold the dependencies' own settings.
//!
//! A fallback next to the read (`|| "v"`, `?? v`, a second argument to `getenv`,
//! `.unwrap_or(...)`, a field default) makes the variable optional. It is required when, within
//! a few lines of the read, the code tests it for absence and then exits, throws, raises or
//! panics; when Python subscripts `os.environ` without guarding it; when Rust unwraps the read;
//! or when a settings field has no default.

use std::sync::LazyLock;

use regex::Regex;

use crate::env::{Finding, Origin, is_candidate, is_explicit_candidate};
use crate::files::{SourceFile, line_at};
use crate::spec::Evidence;
use crate::transport;

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
static JS_ALIAS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)(?:^|[^\w$.])([A-Za-z_$][\w$]*)\s*=\s*process\.env\s*(?:[;,)]|$)").unwrap()
});
static JS_ENV_OF_PROCESS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)(?:const|let|var)\s*\{[^{}]*?\benv\b(?:\s*:\s*([A-Za-z_$][\w$]*))?[^{}]*\}\s*=\s*process\s*(?:[;,]|$)").unwrap()
});
static MODULE_MARKER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^(?://|/\*{3}/)\s+\(?["']?((?:\.{1,2}/)*[\w@.+-]+(?:/[\w@.+-]+)*\.(?:[cm]?[jt]sx?|json))["']?:?\s*(?:\(\w+\))?$"#).unwrap()
});
static PY_DEF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?m)^[ \t]*(?:async\s+)?def\s+(?P<name>[A-Za-z_]\w*)\s*\(\s*(?P<param>[A-Za-z_]\w*)",
    )
    .unwrap()
});
static JS_FUNCTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^[ \t]*(?:export\s+)?(?:async\s+)?function\s*\*?\s*(?P<name>[A-Za-z_$][\w$]*)\s*\(\s*(?P<param>[A-Za-z_$][\w$]*)").unwrap()
});
static JS_ARROW: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^[ \t]*(?:export\s+)?(?:const|let|var)\s+(?P<name>[A-Za-z_$][\w$]*)\s*=\s*(?:async\s*)?\(?\s*(?P<param>[A-Za-z_$][\w$]*)[^()=]*\)?\s*(?::\s*[\w<>|\[\] ]+)?\s*=>").unwrap()
});
static JS_CALL_DEFAULT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^\s*,\s*(?:"([^"]*)"|'([^']*)'|`([^`$]*)`|(-?\d+(?:\.\d+)?|true|false)\b)"#)
        .unwrap()
});
static JS_CALL_MORE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\s*,\s*[^)\s]").unwrap());
static CLICK_ENVVAR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\benvvar\s*=\s*(?:["']([^"']+)["']|[\[(]([^\])]*)[\])])"#).unwrap()
});
static QUOTED_ANY: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#"["']([^"']*)["']"#).unwrap());
static QUOTED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"["']([A-Za-z_][A-Za-z0-9_]*)["']"#).unwrap());
static KW_REQUIRED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\brequired\s*=\s*True\b").unwrap());
static KW_DEFAULT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\bdefault\s*=\s*(?:"([^"]*)"|'([^']*)'|(-?\d+(?:\.\d+)?|True|False)\b|(None)\b|[^,)\s])"#).unwrap()
});
static KW_FLAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\bis_flag\s*=\s*True\b|--[\w-]+/--").unwrap());
static KW_NUMBER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\btype\s*=\s*(?:int|float|click\.INT|click\.FLOAT)\b").unwrap());
static KW_CHOICE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\bChoice\(\s*[\[(]([^\])]*)[\])]").unwrap());
static KW_HELP: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\bhelp\s*=\s*\(?").unwrap());
static STRING_PART: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"^\s*[rfbu]?(?:"([^"\n]*)"|'([^'\n]*)')"#).unwrap());
static OPTION_NAME: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#"["'](--[\w-]+)"#).unwrap());
static ALIAS_CHOICES: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:validation_alias|alias)\s*=\s*AliasChoices\(([^)]*)\)").unwrap()
});
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
static KEYWORD_ARG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z_]\w*\s*=[^=]").unwrap());
static DEFAULT_KEYWORD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\bdefault(?:_factory)?\s*=[^=]").unwrap());
static PY_LITERAL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^(?:"([^"]*)"|'([^']*)'|(-?\d+(?:\.\d+)?|True|False))\s*$"#).unwrap()
});

/// How far below a read the analyzer looks for the "missing, so exit" check.
const CHECK_WINDOW: usize = 8;
/// How far below that check it looks for the exit itself.
const EXIT_WINDOW: usize = 5;
/// A line longer than this is minified code, where "the next lines" mean nothing.
pub(crate) const MINIFIED_LINE: usize = 400;
/// How many lines of a function's body are searched for the environment read of a helper.
const HELPER_BODY: usize = 15;
/// The most lines one settings field is joined from.
const FIELD_LINES: usize = 20;
/// How far an option call (`@click.option(...)`) is read around its `envvar=`.
const OPTION_CALL: usize = 3000;

/// A function whose body reads the environment with its first parameter: its calls with a
/// literal name are reads of that name.
#[derive(Debug, Clone)]
struct Helper {
    name: String,
    python: bool,
    /// What the body does when the variable is unset: exits (`Some(true)`), falls back
    /// (`Some(false)`), or nothing visible.
    required: Option<bool>,
}

/// One place in the text that reads a variable.
struct Read<'a> {
    /// Where the read starts (for its line and the text before it).
    start: usize,
    /// Where the read expression ends (for the fallback after it).
    end: usize,
    name: &'a str,
    /// `os.environ["X"]`, which raises when unset.
    subscript: bool,
}

/// All environment reads in one source file (helpers defined in it included).
#[cfg(test)]
pub(crate) fn find(file: &SourceFile) -> Vec<Finding> {
    find_all(&[file])
}

/// All environment reads in the source files of one package.
pub(crate) fn find_all(files: &[&SourceFile]) -> Vec<Finding> {
    let helpers: Vec<Helper> = files.iter().flat_map(|f| helpers_in(f)).collect();
    files
        .iter()
        .flat_map(|file| {
            let lang = Lang::of(&file.rel);
            let mine: Vec<&Helper> = helpers
                .iter()
                .filter(|h| {
                    h.python == (lang == Lang::Python) && matches!(lang, Lang::Python | Lang::Js)
                })
                .collect();
            find_in(file, &mine)
        })
        .collect()
}

fn find_in(file: &SourceFile, helpers: &[&Helper]) -> Vec<Finding> {
    let lang = Lang::of(&file.rel);
    let lines: Vec<&str> = file.text.lines().collect();
    let skipped = Skipped::of(&file.text, lang);
    let http_file = transport::is_http_file(file);
    let mut findings = Vec::new();
    let reads = match lang {
        Lang::Js => &*JS_READ,
        Lang::Python => &*PY_READ,
        Lang::Go => &*GO_READ,
        Lang::Rust => &*RUST_READ,
    };
    let mut found: Vec<Read<'_>> = Vec::new();
    for captures in reads.captures_iter(&file.text) {
        let whole = captures.get(0).expect("group 0 always matches");
        let Some(name) = captures.iter().skip(1).flatten().next().map(|m| m.as_str()) else {
            continue;
        };
        found.push(Read {
            start: whole.start(),
            end: whole.end(),
            name,
            subscript: lang == Lang::Python && whole.as_str().starts_with("os.environ["),
        });
    }
    let aliases = match lang {
        Lang::Js => js_aliases(&file.text, &skipped),
        _ => Vec::new(),
    };
    if let Some(pattern) = alias_reads(&aliases) {
        for captures in pattern.captures_iter(&file.text) {
            let (Some(alias), Some(name)) = (
                captures.name("alias"),
                captures.name("dot").or(captures.name("key")),
            ) else {
                continue;
            };
            let end = captures.get(0).map_or(name.end(), |m| m.end());
            if line_of_offset(&file.text, alias.start()).len() > MINIFIED_LINE {
                continue;
            }
            found.push(Read {
                start: alias.start(),
                end,
                name: name.as_str(),
                subscript: false,
            });
        }
    }
    found.sort_by_key(|r| r.start);
    for read in found {
        let name = read.name;
        let after = &file.text[read.end..];
        let explicit = lang == Lang::Python;
        let candidate = is_candidate(name) || explicit && is_explicit_candidate(name);
        if ASSIGNMENT.is_match(after) || !candidate || skipped.contains(read.start) {
            continue;
        }
        let line = line_at(&file.text, read.start);
        let line_index = line as usize - 1;
        let line_start = file.text[..read.start].rfind('\n').map_or(0, |i| i + 1);
        let before = &file.text[line_start..read.start];
        let subscript = read.subscript;
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
        finding.explicit = explicit;
        mark(&mut finding, &lines, line_index, http_file);
        findings.push(finding);
    }
    findings.extend(helper_calls(file, &lines, helpers, &skipped, http_file));
    match lang {
        Lang::Js => findings.extend(destructured(file, &lines, &aliases, &skipped, http_file)),
        Lang::Python => {
            findings.extend(settings_fields(file, &lines, &skipped));
            findings.extend(option_envvars(file, &lines, &skipped, http_file));
        }
        Lang::Go | Lang::Rust => {}
    }
    findings
}

/// Sets the flags that later decide whether a stdio deployment needs the variable.
fn mark(finding: &mut Finding, lines: &[&str], line_index: usize, http_file: bool) {
    finding.minified = lines
        .get(line_index)
        .is_some_and(|l| l.len() > MINIFIED_LINE);
    finding.http_only = http_file || transport::in_http_branch(lines, line_index);
}

fn line_of_offset(text: &str, offset: usize) -> &str {
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    &text[start..end]
}

/// Ranges of a file that hold no code of the server: comments, docstrings, and bundled
/// dependencies.
struct Skipped {
    ranges: Vec<(usize, usize)>,
}

impl Skipped {
    fn of(text: &str, lang: Lang) -> Skipped {
        let mut ranges = comment_ranges(text, lang);
        if lang == Lang::Js {
            ranges.extend(bundled_dependencies(text));
        }
        ranges.sort_unstable();
        // Disjoint and sorted, so that a lookup is one binary search even in a large bundle.
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
        for (start, end) in ranges {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        Skipped { ranges: merged }
    }

    fn contains(&self, offset: usize) -> bool {
        let at = self.ranges.partition_point(|(start, _)| *start <= offset);
        at > 0 && offset < self.ranges[at - 1].1
    }
}

/// Byte ranges of comments (and Python's triple-quoted strings, docstrings above all). String
/// literals are followed so that `"http://x"` opens no comment; what is inside them stays code.
fn comment_ranges(text: &str, lang: Lang) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let mut ranges = Vec::new();
    let mut i = 0;
    let line_end = |from: usize| {
        b[from..]
            .iter()
            .position(|c| *c == b'\n')
            .map_or(b.len(), |p| from + p)
    };
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        match lang {
            Lang::Python => {
                if c == b'#' {
                    let end = line_end(i);
                    ranges.push((i, end));
                    i = end;
                    continue;
                }
                if c == b'"' || c == b'\'' {
                    let triple = [c, c, c];
                    if b[i..].starts_with(&triple) {
                        let mut j = i + 3;
                        while j < b.len() && !b[j..].starts_with(&triple) {
                            j += if b[j] == b'\\' { 2 } else { 1 };
                        }
                        let end = (j + 3).min(b.len());
                        ranges.push((i, end));
                        i = end;
                        continue;
                    }
                    i = skip_string(b, i, c, true);
                    continue;
                }
            }
            Lang::Js | Lang::Go | Lang::Rust => {
                let escaped = i > 0 && b[i - 1] == b'\\';
                if c == b'/' && next == Some(b'/') && !escaped {
                    let end = line_end(i);
                    ranges.push((i, end));
                    i = end;
                    continue;
                }
                if c == b'/' && next == Some(b'*') && !escaped {
                    let end = text[i + 2..].find("*/").map_or(b.len(), |p| i + 2 + p + 2);
                    ranges.push((i, end));
                    i = end;
                    continue;
                }
                if c == b'"' || c == b'\'' && lang != Lang::Rust {
                    i = skip_string(b, i, c, true);
                    continue;
                }
                if c == b'`' && lang != Lang::Rust {
                    i = skip_string(b, i, c, lang == Lang::Js);
                    continue;
                }
            }
        }
        i += 1;
    }
    ranges
}

/// The offset after the string literal opened at `open`; single- and double-quoted strings end
/// at the line's end whatever happens (a regex literal may hold a lone quote).
fn skip_string(b: &[u8], open: usize, quote: u8, escapes: bool) -> usize {
    let mut j = open + 1;
    while j < b.len() {
        match b[j] {
            c if c == quote => return j + 1,
            b'\n' if quote != b'`' => return j,
            b'\\' if escapes => j += 2,
            _ => j += 1,
        }
    }
    b.len()
}

/// Sections of a bundle that come from `node_modules`: esbuild starts each module with a
/// `// node_modules/pkg/file.js` comment, webpack with `/***/ "./node_modules/pkg/file.js"`.
fn bundled_dependencies(text: &str) -> Vec<(usize, usize)> {
    let mut ranges = Vec::new();
    let mut open: Option<usize> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if let Some(c) = MODULE_MARKER.captures(line.trim_end()) {
            let dependency = c[1].contains("node_modules/");
            match (dependency, open) {
                (true, None) => open = Some(offset),
                (false, Some(start)) => {
                    ranges.push((start, offset));
                    open = None;
                }
                _ => {}
            }
        }
        offset += line.len();
    }
    if let Some(start) = open {
        ranges.push((start, text.len()));
    }
    ranges
}

/// Locals that hold `process.env`: `const env = process.env`, a parameter `env = process.env`,
/// `const { env } = process` (or `{ env: e }`). Declarations on minified lines do not count.
fn js_aliases(text: &str, skipped: &Skipped) -> Vec<String> {
    let mut aliases: Vec<String> = Vec::new();
    let mut add = |name: &str, at: usize| {
        if name != "process"
            && !skipped.contains(at)
            && line_of_offset(text, at).len() <= MINIFIED_LINE
            && !aliases.iter().any(|a| a == name)
        {
            aliases.push(name.to_string());
        }
    };
    for c in JS_ALIAS.captures_iter(text) {
        let m = c.get(1).expect("group 1 always matches");
        add(m.as_str(), m.start());
    }
    for c in JS_ENV_OF_PROCESS.captures_iter(text) {
        let m = c.get(0).expect("group 0 always matches");
        add(c.get(1).map_or("env", |a| a.as_str()), m.start());
    }
    aliases
}

/// `alias.X` and `alias["X"]` for the given aliases.
fn alias_reads(aliases: &[String]) -> Option<Regex> {
    if aliases.is_empty() {
        return None;
    }
    let names: Vec<String> = aliases.iter().map(|a| regex::escape(a)).collect();
    Regex::new(&format!(
        r#"(?:^|[^\w$.])(?P<alias>{})(?:\.(?P<dot>[A-Za-z_$][\w$]*)|\[\s*["'`](?P<key>[A-Za-z_]\w*)["'`]\s*\])"#,
        names.join("|")
    ))
    .ok()
}

/// Helpers defined in one file: functions whose body reads the environment with their first
/// parameter.
fn helpers_in(file: &SourceFile) -> Vec<Helper> {
    let lang = Lang::of(&file.rel);
    let (definitions, python): (&[&Regex], bool) = match lang {
        Lang::Python => (&[&*PY_DEF], true),
        Lang::Js => (&[&*JS_FUNCTION, &*JS_ARROW], false),
        Lang::Go | Lang::Rust => return Vec::new(),
    };
    let lines: Vec<&str> = file.text.lines().collect();
    let skipped = Skipped::of(&file.text, lang);
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut helpers = Vec::new();
    for pattern in definitions {
        for c in pattern.captures_iter(&file.text) {
            let whole = c.get(0).expect("group 0 always matches");
            if skipped.contains(whole.start()) {
                continue;
            }
            let (name, param) = (&c["name"], regex::escape(&c["param"]));
            let def_index = line_at(&file.text, whole.start()) as usize - 1;
            let Some(def_line) = lines.get(def_index) else {
                continue;
            };
            if def_line.len() > MINIFIED_LINE {
                continue;
            }
            let def_indent = indent(def_line);
            let body_end = lines
                .iter()
                .enumerate()
                .skip(def_index + 1)
                .take(HELPER_BODY)
                .find(|(_, l)| !l.trim().is_empty() && indent(l) <= def_indent)
                .map_or((def_index + 1 + HELPER_BODY).min(lines.len()), |(i, _)| i);
            let read = if python {
                format!(
                    r"\b(?:os\.)?(?:environ\.get|getenv)\(\s*{param}\s*[,)]|\bos\.environ\[\s*{param}\s*\]"
                )
            } else {
                format!(r"process\.env\[\s*{param}\s*\]")
            };
            let Ok(read) = Regex::new(&read) else {
                continue;
            };
            let Some((read_index, read_match)) =
                (def_index..body_end).find_map(|i| read.find(lines[i]).map(|m| (i, m)))
            else {
                continue;
            };
            let line = lines[read_index];
            let before = &line[..read_match.start()];
            let after = &line[read_match.end()..];
            let binding = if python {
                PY_BINDING.captures(before)
            } else {
                JS_BINDING.captures(before)
            }
            .map(|b| b[1].to_string());
            let fallback = if python {
                read_match.as_str().ends_with(',')
            } else {
                JS_FALLBACK.is_match(after)
            };
            let required =
                if exits_when_missing(&lines, read_index, &c["param"], binding.as_deref(), lang) {
                    Some(true)
                } else if fallback {
                    Some(false)
                } else if python && read_match.as_str().starts_with("os.environ[") {
                    Some(true)
                } else {
                    None
                };
            helpers.push(Helper {
                name: name.to_string(),
                python,
                required,
            });
        }
    }
    helpers
}

/// Calls of helpers with a literal name: `_env_flag("X")`, `_env_int("X", 30)`.
fn helper_calls(
    file: &SourceFile,
    lines: &[&str],
    helpers: &[&Helper],
    skipped: &Skipped,
    http_file: bool,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let python = Lang::of(&file.rel) == Lang::Python;
    for helper in helpers {
        let Ok(call) = Regex::new(&format!(
            r#"(?:^|[^\w$.])(?P<call>{})\(\s*["'](?P<name>[A-Za-z_]\w*)["']"#,
            regex::escape(&helper.name)
        )) else {
            continue;
        };
        for c in call.captures_iter(&file.text) {
            let (at, name) = (
                c.name("call").expect("named group").start(),
                c.name("name").expect("named group"),
            );
            let candidate =
                is_candidate(name.as_str()) || python && is_explicit_candidate(name.as_str());
            if !candidate || skipped.contains(at) {
                continue;
            }
            let after = &file.text[name.end() + 1..];
            let pattern = if python {
                &*PY_DEFAULT
            } else {
                &*JS_CALL_DEFAULT
            };
            let default = literal(pattern, after);
            let more_args = if python {
                PY_FALLBACK.is_match(after)
            } else {
                JS_CALL_MORE.is_match(after)
            };
            let required = match helper.required {
                Some(true) => Some(true),
                _ if more_args => Some(false),
                other => other,
            };
            let line = line_at(&file.text, at);
            let mut note = format!(
                "read through {}(), whose body reads the environment",
                helper.name
            );
            match (required, &default) {
                (Some(true), _) => note.push_str("; the server exits when it is unset"),
                (_, Some(value)) => note.push_str(&format!(", falling back to {value:?}")),
                _ => {}
            }
            let mut finding = Finding::new(
                name.as_str(),
                Origin::Code,
                Evidence::new(&file.rel, Some(line), note),
            );
            finding.required = required;
            finding.default = default;
            finding.explicit = python;
            finding.description = comment_near(lines, line as usize - 1, Lang::of(&file.rel));
            mark(&mut finding, lines, line as usize - 1, http_file);
            findings.push(finding);
        }
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

/// `const { A, B: b, C = "x" } = process.env` (or a local holding `process.env`).
fn destructured(
    file: &SourceFile,
    lines: &[&str],
    aliases: &[String],
    skipped: &Skipped,
    http_file: bool,
) -> Vec<Finding> {
    let mut sources = vec![r"process\.env".to_string()];
    sources.extend(aliases.iter().map(|a| regex::escape(a)));
    let Ok(pattern) = Regex::new(&format!(
        r"(?m)(?:const|let|var)\s*\{{([^{{}}]*)\}}\s*=\s*(?:{})\s*(?:[;,)]|$)",
        sources.join("|")
    )) else {
        return Vec::new();
    };
    let mut findings = Vec::new();
    for captures in pattern.captures_iter(&file.text) {
        let list = captures.get(1).expect("group 1 always matches");
        if skipped.contains(list.start()) {
            continue;
        }
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
            mark(&mut finding, lines, line as usize - 1, http_file);
            findings.push(finding);
        }
    }
    findings
}

/// Variables bound to command-line options: `@click.option("--db-path", envvar="MCP_DB_PATH",
/// default=":memory:", help="...")`, `envvar=["a", "B"]`, typer's `Option(..., envvar=...)`.
/// Click reads the variable when the option is not given; `required=True` makes one of the two
/// necessary, a `default=` (or none, for an option) makes it optional.
fn option_envvars(
    file: &SourceFile,
    lines: &[&str],
    skipped: &Skipped,
    http_file: bool,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    for captures in CLICK_ENVVAR.captures_iter(&file.text) {
        let whole = captures.get(0).expect("group 0 always matches");
        if skipped.contains(whole.start()) {
            continue;
        }
        let names: Vec<(usize, String)> = match (captures.get(1), captures.get(2)) {
            (Some(one), _) => vec![(one.start(), one.as_str().to_string())],
            (None, Some(list)) => QUOTED
                .captures_iter(list.as_str())
                .map(|c| {
                    (
                        list.start() + c.get(1).map_or(0, |m| m.start()),
                        c[1].to_string(),
                    )
                })
                .collect(),
            _ => continue,
        };
        let call = enclosing_call(&file.text, whole.start());
        let option = OPTION_NAME.captures(call).map(|c| c[1].to_string());
        let required = KW_REQUIRED.is_match(call);
        let default = KW_DEFAULT.captures(call).and_then(|c| {
            c.get(1)
                .or(c.get(2))
                .or(c.get(3))
                .map(|m| m.as_str().to_string())
        });
        let format = if KW_FLAG.is_match(call) {
            Some("boolean")
        } else if KW_NUMBER.is_match(call) {
            Some("number")
        } else {
            None
        };
        let choices: Vec<String> = KW_CHOICE
            .captures(call)
            .map(|c| {
                QUOTED_ANY
                    .captures_iter(&c[1])
                    .map(|q| q[1].to_string())
                    .collect()
            })
            .unwrap_or_default();
        let help = KW_HELP.find(call).map(|m| joined_strings(&call[m.end()..]));
        for (at, name) in names {
            if !is_explicit_candidate(&name) {
                continue;
            }
            let line = line_at(&file.text, at);
            let shown = option.as_deref().unwrap_or("a command-line option");
            let note = if required {
                format!("the environment variable of {shown} (envvar=), which is required=True")
            } else {
                match &default {
                    Some(value) => {
                        format!("the environment variable of {shown} (envvar=), default {value:?}")
                    }
                    None => {
                        format!("the environment variable of {shown} (envvar=), an optional option")
                    }
                }
            };
            let mut finding = Finding::new(
                &name,
                Origin::Code,
                Evidence::new(&file.rel, Some(line), note),
            );
            finding.required = Some(required);
            finding.default = default.clone().filter(|_| !required);
            finding.format = format.map(String::from);
            finding.choices = choices.clone();
            finding.description = help.clone().filter(|h| !h.is_empty());
            finding.explicit = true;
            mark(&mut finding, lines, line as usize - 1, http_file);
            findings.push(finding);
        }
    }
    findings
}

/// The argument text of the call whose parentheses enclose `offset` (at most [`OPTION_CALL`]
/// bytes each side).
fn enclosing_call(text: &str, offset: usize) -> &str {
    let bytes = text.as_bytes();
    let floor = offset.saturating_sub(OPTION_CALL);
    let mut depth = 0i32;
    let mut start = None;
    for i in (floor..offset).rev() {
        match bytes[i] {
            b')' | b']' => depth += 1,
            b'(' | b'[' if depth > 0 => depth -= 1,
            b'(' => {
                start = Some(i + 1);
                break;
            }
            _ => {}
        }
    }
    let Some(start) = start else {
        return "";
    };
    let ceiling = (offset + OPTION_CALL).min(bytes.len());
    let mut depth = 0i32;
    let mut end = ceiling;
    for (i, b) in bytes.iter().enumerate().take(ceiling).skip(start) {
        match b {
            b'(' | b'[' => depth += 1,
            b')' | b']' if depth > 0 => depth -= 1,
            b')' => {
                end = i;
                break;
            }
            _ => {}
        }
    }
    text.get(start..end).unwrap_or("")
}

/// Adjacent Python string literals (`"a " "b"`, over several lines) joined, whitespace collapsed.
fn joined_strings(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(c) = STRING_PART.captures(rest) {
        out.push_str(c.get(1).or(c.get(2)).map_or("", |m| m.as_str()));
        rest = &rest[c.get(0).map_or(rest.len(), |m| m.end())..];
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Fields of pydantic-settings `BaseSettings` classes: `UPPER(env_prefix + field)`, or the
/// field's `alias`/`validation_alias`/`env`. A field without a default is required.
fn settings_fields(file: &SourceFile, lines: &[&str], skipped: &Skipped) -> Vec<Finding> {
    let mut line_starts = Vec::with_capacity(lines.len());
    let mut offset = 0;
    for line in file.text.split_inclusive('\n') {
        line_starts.push(offset);
        offset += line.len();
    }
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
        for (position, (index, line)) in body.iter().enumerate() {
            if line.len() - line.trim_start().len() != field_indent
                || line_starts
                    .get(*index)
                    .is_some_and(|at| skipped.contains(at + field_indent))
            {
                continue;
            }
            // A field may span lines: `name: str = Field(\n default=..., \n)`.
            let mut joined = line.trim().to_string();
            let mut balance = bracket_balance(&joined);
            for (_, next) in body.iter().skip(position + 1).take(FIELD_LINES) {
                if balance <= 0 {
                    break;
                }
                let next = next.trim();
                if next.starts_with('#') {
                    continue;
                }
                joined.push(' ');
                joined.push_str(next);
                balance += bracket_balance(next);
            }
            let Some(field) = SETTINGS_FIELD.captures(&joined) else {
                continue;
            };
            let (field_name, ty) = (&field[1], field[2].trim());
            if field_name == "model_config" || ty.starts_with("ClassVar") {
                continue;
            }
            let value = field.get(3).map(|m| m.as_str().trim());
            let mut names: Vec<String> = value
                .and_then(|v| ALIAS_CHOICES.captures(v))
                .map(|c| {
                    QUOTED
                        .captures_iter(&c[1])
                        .map(|q| q[1].to_ascii_uppercase())
                        .collect()
                })
                .unwrap_or_default();
            if names.is_empty() {
                names.push(
                    value
                        .and_then(|v| FIELD_ALIAS.captures(v))
                        .map(|c| c[1].to_ascii_uppercase())
                        .unwrap_or_else(|| format!("{prefix}{field_name}").to_ascii_uppercase()),
                );
            }
            let (required, default) = field_default(value, ty);
            let line_no = u32::try_from(index + 1).unwrap_or(u32::MAX);
            let note = match (&required, &default) {
                (Some(true), _) => "a pydantic-settings field without a default".to_string(),
                (_, Some(d)) => format!("a pydantic-settings field, default {d:?}"),
                _ => "a pydantic-settings field with a default".to_string(),
            };
            let description = value
                .and_then(|v| FIELD_DESCRIPTION.captures(v))
                .and_then(|c| c.get(1).or(c.get(2)).map(|m| m.as_str().to_string()))
                .or_else(|| field.get(4).map(|m| m.as_str().trim().to_string()))
                .or_else(|| comment_near(lines, *index, Lang::Python))
                .filter(|d| !d.is_empty());
            for name in names {
                let mut finding = Finding::new(
                    &name,
                    Origin::Code,
                    Evidence::new(&file.rel, Some(line_no), note.clone()),
                );
                finding.required = required;
                finding.default = default.clone();
                finding.description = description.clone();
                findings.push(finding);
            }
        }
    }
    findings
}

/// Opening minus closing brackets of a line (quotes not followed: a rough count is enough to
/// join the lines of one field).
fn bracket_balance(line: &str) -> i32 {
    line.chars()
        .map(|c| match c {
            '(' | '[' | '{' => 1,
            ')' | ']' | '}' => -1,
            _ => 0,
        })
        .sum()
}

/// `(required, default)` of a settings field from its `= value` part and its type.
fn field_default(value: Option<&str>, ty: &str) -> (Option<bool>, Option<String>) {
    let Some(value) = value else {
        let optional =
            ty.starts_with("Optional[") || ty.contains("| None") || ty.contains("None |");
        return (Some(!optional), None);
    };
    let value = value.trim_start_matches('(').trim_start();
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
    if let Some(args) = value.strip_prefix("Field(") {
        // `Field(default=SOME_CONSTANT)`, `Field(default_factory=list)` or a positional
        // default other than `...` make it optional; `Field()` and keyword-only calls do not.
        let first = args.trim_start();
        let positional =
            !first.starts_with(')') && !first.starts_with("...") && !KEYWORD_ARG.is_match(first);
        let keyword = DEFAULT_KEYWORD.is_match(args);
        return (Some(!(positional || keyword)), None);
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
