//! Command-line arguments a server declares for itself: usage lines (`Usage: cmd <dir>
//! [--flag VALUE]`), argument parsers in the code (Python's argparse and click, JavaScript's
//! commander and yargs) and checks of `process.argv` / `sys.argv` that exit when an argument
//! is missing.
//!
//! Like every reader here, this is pattern matching over text: nothing is executed. A usage
//! line counts only when it starts with our command (or, in the code, with the program's own
//! name, `$0`, `%(prog)s`, `sys.argv[0]`); declarations and argv checks count only in the files
//! of the launched entry point, since other scripts of a package have their own arguments.

use std::sync::LazyLock;

use regex::Regex;

use crate::files::{SourceFile, line_at};
use crate::launch::{ArgFinding, ArgOrigin, Identity, ours_prefix};
use crate::spec::Evidence;

static USAGE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)\busage:\s*(\S.*)$").unwrap());
static DECLARATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?:\.add_argument|@click\.(?:option|argument)|\.(?:requiredOption|option|argument))\(",
    )
    .unwrap()
});
static PY_KWARG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([A-Za-z_]\w*)\s*=\s*(.+)$").unwrap());
static JS_KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?s)\b(describe|description|demandOption|default|choices|type|alias)\s*:\s*("[^"]*"|'[^']*'|`[^`]*`|\[[^\]]*\]|[\w.]+)"#).unwrap()
});
static JS_ARGV_BINDING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*=\s*process\.argv\.slice\(\s*2\s*\)")
        .unwrap()
});
static JS_MISSING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"process\.argv\.length\s*(?:<\s*3|<=\s*2|===?\s*2)\b|!\s*process\.argv\[\s*2\s*\]")
        .unwrap()
});
static PY_MISSING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"len\(\s*sys\.argv\s*\)\s*(?:<\s*2|<=\s*1|==\s*1)\b|\bnot\s+sys\.argv\[1:\]")
        .unwrap()
});
static EXIT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"process\.exit\(\s*[1-9]|\bthrow\b|\bsys\.exit\(|\braise\b|\bexit\(\s*[1-9]")
        .unwrap()
});
static MESSAGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?:console\.error|console\.log|Error|print|exit|raise \w+)\(\s*(?:f|r)?(?:"([^"]{8,200})"|'([^']{8,200})'|`([^`]{8,200})`)"#).unwrap()
});
static NOUN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:provide|specify|pass|give|supply)\s+(?:an?\s+|the\s+|one\s+or\s+more\s+|at\s+least\s+one\s+)?([a-z][a-z0-9 -]{1,40}?)\s+(?:as|on|via|in|to)\b").unwrap()
});

/// Arguments shown by usage lines of one text (a README or a code file). `in_entry` allows a
/// line to name the program by itself (`$0`, `%(prog)s`), which only the entry point does.
pub(crate) fn usage_findings(
    file: &str,
    text: &str,
    identity: &Identity,
    in_entry: bool,
) -> Vec<ArgFinding> {
    let mut findings = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let Some(usage) = USAGE.captures(line) else {
            continue;
        };
        let whole = usage.get(0).expect("group 0 always matches");
        let mut rest = usage[1].to_string();
        // In a string literal: stop at the quote that opened it.
        if let Some(quote) = line[..whole.start()]
            .chars()
            .rev()
            .find(|c| matches!(c, '"' | '\'' | '`'))
            && let Some(end) = rest.find(quote)
        {
            rest.truncate(end);
        }
        let rest = rest.trim().trim_start_matches("$ ").to_string();
        let words: Vec<String> = rest.split_whitespace().map(String::from).collect();
        let skip = match words.first() {
            Some(first) if in_entry && is_self_reference(first) => 1,
            Some(_) => match ours_prefix(&words, identity) {
                Some(n) => n,
                None => continue,
            },
            None => continue,
        };
        let line_no = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let evidence = Evidence::new(file, Some(line_no), format!("usage line: {rest}"));
        findings.extend(parse_usage(&words[skip..], &evidence));
    }
    findings
}

fn is_self_reference(word: &str) -> bool {
    word.contains("argv")
        || word.contains("prog")
        || word.starts_with("$0")
        || word == "%s"
        || word.contains("__file__")
}

/// One usage synopsis: `<x>` and `UPPER` are placeholders, `[...]` is optional, `...` repeats.
fn parse_usage(words: &[String], evidence: &Evidence) -> Vec<ArgFinding> {
    let mut findings = Vec::new();
    let mut depth = 0i32;
    let mut position = 0;
    let mut alias: Option<String> = None;
    let mut i = 0;
    while i < words.len() {
        let raw = words[i].as_str();
        if matches!(raw, "-" | "—" | "#" | "//")
            || raw.ends_with(['.', ':']) && !raw.ends_with("...")
        {
            break;
        }
        let (word, opens, closes, repeated) = unwrap_word(raw);
        depth += opens;
        let optional = depth > 0;
        i += 1;
        if word.is_empty() || word.contains('|') || word.eq_ignore_ascii_case("options") {
            depth -= closes;
            continue;
        }
        if !word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "<>{}_-=/.,".contains(c))
        {
            break;
        }
        if word.starts_with('-') {
            if let Some(short) = word.strip_suffix(',') {
                alias = Some(short.to_string());
                depth -= closes;
                continue;
            }
            let (flag, inline_value) = match word.split_once('=') {
                Some((f, v)) => (f.to_string(), Some(v.to_string())),
                None => (word.clone(), None),
            };
            let mut value = inline_value;
            let mut closing = closes;
            if value.is_none()
                && closes == 0
                && let Some(next) = words.get(i)
            {
                let (next_word, next_opens, next_closes, _) = unwrap_word(next);
                if next_opens == 0 && is_placeholder(&next_word) {
                    value = Some(next_word);
                    closing = next_closes;
                    i += 1;
                }
            }
            let mut finding = ArgFinding::new(Some(flag), ArgOrigin::Usage, evidence.clone());
            finding.aliases.extend(alias.take());
            finding.boolean = value.is_none();
            finding.required = Some(!optional && value.is_some());
            finding.why = Some(if optional {
                "shown in [brackets] in the usage line".into()
            } else {
                "shown without brackets in the usage line".into()
            });
            finding.repeated = repeated;
            findings.push(finding);
            depth -= closing;
            continue;
        }
        if is_placeholder(&word) || optional && !word.is_empty() {
            let mut finding = ArgFinding::new(None, ArgOrigin::Usage, evidence.clone());
            finding.position = Some(position);
            finding.name = Some(word.trim_matches(['<', '>', '{', '}']).to_string());
            finding.required = Some(!optional);
            finding.why = finding.required.map(|r| {
                if r {
                    "shown without brackets in the usage line".into()
                } else {
                    "shown in [brackets] in the usage line".into()
                }
            });
            finding.repeated = repeated;
            position += 1;
            findings.push(finding);
        }
        depth -= closes;
    }
    findings
}

/// `[<dirs>...]` → (`<dirs>`, 1 opening, 1 closing, repeated).
fn unwrap_word(raw: &str) -> (String, i32, i32, bool) {
    let mut word = raw;
    let mut opens = 0;
    while let Some(rest) = word.strip_prefix('[') {
        opens += 1;
        word = rest;
    }
    let mut closes = 0;
    let mut repeated = false;
    loop {
        if let Some(rest) = word.strip_suffix(']') {
            closes += 1;
            word = rest;
        } else if let Some(rest) = word.strip_suffix("...").or_else(|| word.strip_suffix('…')) {
            repeated = true;
            word = rest;
        } else {
            break;
        }
    }
    (word.to_string(), opens, closes, repeated)
}

fn is_placeholder(word: &str) -> bool {
    let bare = word.trim_matches(['<', '>', '{', '}']);
    (word.starts_with('<') && word.ends_with('>'))
        || (word.starts_with('{') && word.ends_with('}'))
        || !bare.is_empty()
            && bare.chars().any(|c| c.is_ascii_uppercase())
            && bare
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// Argument declarations and argv checks in one code file of the entry point.
pub(crate) fn code_findings(file: &SourceFile) -> Vec<ArgFinding> {
    let mut findings = declarations(file);
    findings.extend(argv_checks(file));
    findings
}

/// The text of the call whose `(` is at `open`, without the parentheses.
fn call_text(text: &str, open: usize) -> &str {
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in text[open..].char_indices().take(4000) {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' | '`' => quote = Some(c),
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => {
                depth -= 1;
                if depth == 0 {
                    return &text[open + 1..open + i];
                }
            }
            _ => {}
        }
    }
    ""
}

/// Comma-separated parts outside brackets and quotes.
fn split_args(call: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    for c in call.chars() {
        if let Some(q) = quote {
            current.push(c);
            if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' | '`' => {
                quote = Some(c);
                current.push(c);
            }
            '(' | '[' | '{' => {
                depth += 1;
                current.push(c);
            }
            ')' | ']' | '}' => {
                depth -= 1;
                current.push(c);
            }
            ',' if depth == 0 => parts.push(std::mem::take(&mut current).trim().to_string()),
            _ => current.push(c),
        }
    }
    if !current.trim().is_empty() {
        parts.push(current.trim().to_string());
    }
    parts
}

/// The content of a string literal (`"x"`, `'x'`, `` `x` ``, Python prefixes), if it is one.
fn string_literal(part: &str) -> Option<String> {
    let part = part.trim().trim_start_matches(['f', 'r', 'b', 'u']);
    let quote = part.chars().next()?;
    if !matches!(quote, '"' | '\'' | '`') || part.len() < 2 || !part.ends_with(quote) {
        return None;
    }
    Some(part[1..part.len() - 1].to_string())
}

/// A literal value: a string, a number, `True`/`False`/`true`/`false`.
fn literal_value(value: &str) -> Option<String> {
    let value = value.trim();
    string_literal(value).or_else(|| {
        let plain =
            value.parse::<f64>().is_ok() || matches!(value, "True" | "False" | "true" | "false");
        plain.then(|| value.to_ascii_lowercase())
    })
}

fn literal_list(value: &str) -> Vec<String> {
    let inner = value.trim();
    let inner = inner
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .or_else(|| inner.strip_prefix('(').and_then(|v| v.strip_suffix(')')))
        .unwrap_or("");
    split_args(inner)
        .iter()
        .filter_map(|p| literal_value(p))
        .collect()
}

fn declarations(file: &SourceFile) -> Vec<ArgFinding> {
    let python = file.rel.ends_with(".py");
    let mut findings = Vec::new();
    let mut position = 0;
    for found in DECLARATION.find_iter(&file.text) {
        let kind = found.as_str();
        let open = found.end() - 1;
        let parts = split_args(call_text(&file.text, open));
        let line = line_at(&file.text, found.start());
        let strings: Vec<String> = parts.iter().map_while(|p| string_literal(p)).collect();
        let Some(first) = strings.first() else {
            continue;
        };
        let finding = if python {
            python_declaration(kind, &strings, &parts, &file.rel, line, &mut position)
        } else {
            js_declaration(
                kind,
                first,
                &strings,
                &parts,
                &file.rel,
                line,
                &mut position,
            )
        };
        findings.extend(finding);
    }
    findings
}

fn python_declaration(
    kind: &str,
    strings: &[String],
    parts: &[String],
    file: &str,
    line: u32,
    position: &mut usize,
) -> Option<ArgFinding> {
    let kwargs: Vec<(String, String)> = parts
        .iter()
        .skip(strings.len())
        .filter_map(|p| {
            PY_KWARG
                .captures(p)
                .map(|c| (c[1].to_string(), c[2].trim().to_string()))
        })
        .collect();
    let kw = |key: &str| {
        kwargs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let flags: Vec<&String> = strings.iter().filter(|s| s.starts_with('-')).collect();
    let click_argument = kind == "@click.argument(";
    let positional = flags.is_empty();
    let nargs = kw("nargs").map(|n| n.trim_matches(['"', '\'']).to_string());
    let mut finding = if positional {
        let mut f = ArgFinding::new(
            None,
            ArgOrigin::Declaration,
            Evidence::new(
                file,
                Some(line),
                format!("argument {} declared in the code", strings[0]),
            ),
        );
        f.position = Some(*position);
        *position += 1;
        f.name = Some(strings[0].replace('_', "-"));
        f
    } else {
        let long = flags
            .iter()
            .find(|f| f.starts_with("--"))
            .or(flags.first())
            .map(|f| f.to_string());
        let mut f = ArgFinding::new(
            long.clone(),
            ArgOrigin::Declaration,
            Evidence::new(
                file,
                Some(line),
                format!(
                    "option {} declared in the code",
                    long.clone().unwrap_or_default()
                ),
            ),
        );
        // click's `--flag/--no-flag` spelling.
        f.flag = long.map(|l| l.split('/').next().unwrap_or(&l).to_string());
        f.aliases = flags
            .iter()
            .map(|s| s.to_string())
            .filter(|s| Some(s) != f.flag.as_ref())
            .collect();
        f
    };
    finding.description = kw("help").and_then(literal_value);
    finding.default = kw("default")
        .and_then(literal_value)
        .filter(|d| d != "none");
    finding.choices = kw("choices").map(literal_list).unwrap_or_default();
    if let Some(ty) = kw("type")
        && let Some(choice) = ty.strip_prefix("click.Choice(")
    {
        finding.choices = literal_list(choice.trim_end_matches(')'));
    }
    let ty = kw("type").unwrap_or("");
    if ty.contains("Path") {
        finding.format = Some("filepath".into());
    } else if ty == "int" || ty == "float" || ty.contains("INT") || ty.contains("FLOAT") {
        finding.format = Some("number".into());
    }
    let action = kw("action").unwrap_or("");
    finding.boolean = !positional
        && (action.contains("store_true")
            || action.contains("store_false")
            || action.contains("count")
            || kw("is_flag").is_some_and(|v| v == "True")
            || kw("count").is_some_and(|v| v == "True")
            || strings.iter().any(|s| s.contains('/')));
    finding.repeated = matches!(nargs.as_deref(), Some("+" | "*" | "-1"))
        || action.contains("append")
        || kw("multiple").is_some_and(|v| v == "True");
    let explicit = kw("required").map(|v| v == "True");
    let required = if positional {
        explicit.unwrap_or_else(|| {
            let optional_nargs = matches!(nargs.as_deref(), Some("?" | "*"))
                || click_argument && nargs.as_deref() == Some("-1");
            !optional_nargs && kw("default").is_none()
        })
    } else {
        explicit.unwrap_or(false)
    };
    finding.required = Some(required);
    finding.why = Some(if required {
        "the code's argument parser requires it".into()
    } else {
        "the code's argument parser makes it optional".into()
    });
    finding.creates = required;
    Some(finding)
}

#[allow(clippy::too_many_arguments)]
fn js_declaration(
    kind: &str,
    first: &str,
    strings: &[String],
    parts: &[String],
    file: &str,
    line: u32,
    position: &mut usize,
) -> Option<ArgFinding> {
    let evidence = |what: String| Evidence::new(file, Some(line), what);
    if kind == ".argument(" {
        // commander: `.argument('<dir...>', 'description')`.
        let (name, _, _, repeated) = unwrap_word(first);
        let required = first.starts_with('<');
        if !required && !first.starts_with('[') {
            return None;
        }
        let mut f = ArgFinding::new(
            None,
            ArgOrigin::Declaration,
            evidence(format!("argument {first} declared in the code")),
        );
        f.position = Some(*position);
        *position += 1;
        f.name = Some(name.trim_matches(['<', '>', '.']).to_string());
        f.repeated = repeated || first.contains("...");
        f.description = strings.get(1).cloned();
        f.required = Some(required);
        f.why = Some(if required {
            "declared as <required> in the code".into()
        } else {
            "declared as [optional] in the code".into()
        });
        f.creates = required;
        return Some(f);
    }
    if first.starts_with('-') {
        // commander: `.option('-r, --repository <path>', 'description', 'default')`.
        let words: Vec<&str> = first
            .split([',', ' ', '|'])
            .filter(|w| !w.is_empty())
            .collect();
        let flags: Vec<&str> = words
            .iter()
            .copied()
            .filter(|w| w.starts_with('-'))
            .collect();
        let value = words.iter().find(|w| w.starts_with(['<', '[']));
        let long = flags
            .iter()
            .find(|f| f.starts_with("--"))
            .or(flags.first())?
            .to_string();
        let mut f = ArgFinding::new(
            Some(long.clone()),
            ArgOrigin::Declaration,
            evidence(format!("option {long} declared in the code")),
        );
        f.aliases = flags
            .iter()
            .filter(|s| **s != long)
            .map(|s| s.to_string())
            .collect();
        f.boolean = value.is_none();
        f.repeated = value.is_some_and(|v| v.contains("..."));
        f.description = strings.get(1).cloned();
        f.default = parts.get(2).and_then(|p| literal_value(p));
        let required = kind == ".requiredOption(";
        f.required = Some(required);
        f.why = Some(if required {
            "declared with requiredOption in the code".into()
        } else {
            "declared as an option in the code".into()
        });
        f.creates = required;
        return Some(f);
    }
    // yargs: `.option('repository', { describe: '...', demandOption: true })`.
    let object = parts.get(1).filter(|p| p.starts_with('{'))?;
    if !first
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return None;
    }
    let flag = format!("--{first}");
    let mut f = ArgFinding::new(
        Some(flag.clone()),
        ArgOrigin::Declaration,
        evidence(format!("option {flag} declared in the code")),
    );
    let mut required = false;
    for c in JS_KEY.captures_iter(object) {
        let value = c[2].to_string();
        match &c[1] {
            "describe" | "description" => f.description = literal_value(&value),
            "demandOption" => required = value == "true" || string_literal(&value).is_some(),
            "default" => f.default = literal_value(&value),
            "choices" => f.choices = literal_list(&value),
            "type" => f.boolean = literal_value(&value).as_deref() == Some("boolean"),
            "alias" => f.aliases.extend(literal_value(&value).map(|a| {
                if a.len() == 1 {
                    format!("-{a}")
                } else {
                    format!("--{a}")
                }
            })),
            _ => {}
        }
    }
    f.required = Some(required);
    f.why = Some(if required {
        "declared with demandOption in the code".into()
    } else {
        "declared as an option in the code".into()
    });
    f.creates = required;
    Some(f)
}

/// `if (args.length === 0) { console.error("Please provide a database URL ..."); process.exit(1) }`
/// after reading `process.argv`, or `if len(sys.argv) < 2: sys.exit(...)`: the first positional
/// argument is required.
fn argv_checks(file: &SourceFile) -> Vec<ArgFinding> {
    let python = file.rel.ends_with(".py");
    // The test must be on argv itself, or on the variable that holds `process.argv.slice(2)`.
    let binding_check = (!python)
        .then(|| JS_ARGV_BINDING.captures(&file.text))
        .flatten()
        .and_then(|c| {
            let b = regex::escape(&c[1]);
            Regex::new(&format!(
                r"\b{b}\.length\s*(?:===?\s*0|<\s*1)\b|!\s*{b}\[\s*0\s*\]"
            ))
            .ok()
        });
    let lines: Vec<&str> = file.text.lines().collect();
    for (index, line) in lines.iter().enumerate() {
        let missing = if python {
            PY_MISSING.is_match(line)
        } else {
            JS_MISSING.is_match(line) || binding_check.as_ref().is_some_and(|c| c.is_match(line))
        };
        if !missing {
            continue;
        }
        let indent = |l: &str| l.len() - l.trim_start().len();
        let block: Vec<&str> = lines[index..(index + 6).min(lines.len())]
            .iter()
            .enumerate()
            .take_while(|(offset, l)| {
                *offset == 0
                    || if python {
                        l.trim().is_empty() || indent(l) > indent(line)
                    } else {
                        !l.trim_start().starts_with('}')
                    }
            })
            .map(|(_, l)| *l)
            .collect();
        let Some(exit_at) = block.iter().position(|l| EXIT.is_match(l)) else {
            continue;
        };
        let messages: Vec<String> = block[..=exit_at]
            .iter()
            .filter_map(|l| MESSAGE.captures(l))
            .filter_map(|c| {
                c.iter()
                    .skip(1)
                    .flatten()
                    .next()
                    .map(|m| m.as_str().to_string())
            })
            .collect();
        let mut finding = ArgFinding::new(
            None,
            ArgOrigin::CodeCheck,
            Evidence::new(
                &file.rel,
                u32::try_from(index + 1).ok(),
                "the code exits when no argument is given",
            ),
        );
        finding.position = Some(0);
        finding.required = Some(true);
        finding.why = Some("the code exits when no argument is given".into());
        let message = messages
            .iter()
            .find(|m| !m.to_ascii_lowercase().starts_with("usage"));
        finding.description = message.cloned();
        finding.name = message
            .and_then(|m| NOUN.captures(m))
            .map(|c| c[1].trim().to_ascii_lowercase().replace(' ', "-"));
        return vec![finding];
    }
    Vec::new()
}
