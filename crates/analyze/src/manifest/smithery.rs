//! `smithery.yaml`: Smithery's description of a server's configuration.
//!
//! `startCommand.configSchema` is a JSON Schema of the user's settings (properties with
//! `description`, `default`, `enum`, `type`, and a `required` list). `startCommand.commandFunction`
//! is a JavaScript function from those settings to `{ command, args, env }`. It is never
//! executed: a small tokenizer reads its usual shapes, so that the analyzer learns which
//! property becomes which environment variable (`env: { BRAVE_API_KEY: config.braveApiKey }`,
//! `env.X = config.y`) or argument (`args: ['--repository', config.repository]`,
//! `...config.dirs`, `...(config.debug ? ['--debug'] : [])`). Anything else in the function is
//! ignored.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use crate::env::{Finding, Origin, is_candidate};
use crate::files::{SourceFile, line_of};
use crate::launch::{ArgFinding, ArgOrigin};
use crate::spec::Evidence;

/// The parts of `smithery.yaml` the analyzer uses.
#[derive(Debug, Default)]
pub(crate) struct Smithery {
    pub file: String,
    pub properties: Vec<Property>,
    pub command: Option<CommandFunction>,
}

/// One `configSchema` property.
#[derive(Debug, Default, Clone)]
pub(crate) struct Property {
    pub name: String,
    pub description: Option<String>,
    pub default: Option<String>,
    pub choices: Vec<String>,
    /// `string`, `number` or `boolean`, from the JSON Schema `type`.
    pub format: Option<String>,
    /// `None` when the schema has no `required` list.
    pub required: Option<bool>,
    pub line: Option<u32>,
}

/// What the tokenizer understood of `commandFunction`.
#[derive(Debug, Default)]
pub(crate) struct CommandFunction {
    pub command: Option<String>,
    pub args: Vec<JsArg>,
    pub env: Vec<EnvMapping>,
    /// `env: { ...config }`: every property becomes a variable of the same name.
    pub spreads_config: bool,
    pub line: Option<u32>,
}

/// One element of `args`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum JsArg {
    Literal(String),
    /// The value of one property (`config.x`, `String(config.x)`, `` `${config.x}` ``).
    Config(String),
    /// `--flag=${config.x}` in one template string.
    Inline {
        flag: String,
        prop: String,
    },
    /// `...config.x`: every value of a list property.
    Spread(String),
    /// `...(config.x ? [...] : [])` or `config.x ? '--flag' : ''`.
    Conditional {
        prop: String,
        inner: Vec<JsArg>,
    },
    Other,
}

/// One variable the function sets.
#[derive(Debug, Clone)]
pub(crate) struct EnvMapping {
    pub name: String,
    pub value: EnvValue,
    pub line: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum EnvValue {
    Config {
        prop: String,
        fallback: Option<String>,
    },
    Literal(String),
    Other,
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

static KEY_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(?m)^\s*["']?([A-Za-z_$][\w$.-]*)["']?\s*:"#).unwrap());

/// Parses `smithery.yaml`; `None` when it is not YAML or has no `startCommand`.
pub(crate) fn parse(file: &SourceFile) -> Option<Smithery> {
    let doc: Value = serde_saphyr::from_str(&file.text).ok()?;
    let start = doc.get("startCommand")?;
    let schema = start
        .get("configSchema")
        .or_else(|| doc.get("configSchema"));
    let required_list: Option<Vec<String>> = schema
        .and_then(|s| s.get("required"))
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(scalar).collect());
    let schema_at = line_of(&file.text, "configSchema").unwrap_or(1) as usize;
    let key_lines: Vec<(String, u32)> = KEY_LINE
        .captures_iter(&file.text)
        .map(|c| {
            let at = c.get(1).map_or(0, |m| m.start());
            (c[1].to_string(), crate::files::line_at(&file.text, at))
        })
        .filter(|(_, line)| *line as usize >= schema_at)
        .collect();
    let properties = schema
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object)
        .map(|props| {
            props
                .iter()
                .map(|(name, p)| Property {
                    name: name.clone(),
                    description: p
                        .get("description")
                        .or_else(|| p.get("title"))
                        .and_then(scalar)
                        .map(|d| d.split_whitespace().collect::<Vec<_>>().join(" ")),
                    default: p.get("default").and_then(scalar),
                    choices: p
                        .get("enum")
                        .and_then(Value::as_array)
                        .map(|e| e.iter().filter_map(scalar).collect())
                        .unwrap_or_default(),
                    format: p.get("type").and_then(Value::as_str).map(|t| {
                        match t {
                            "integer" => "number",
                            other => other,
                        }
                        .to_string()
                    }),
                    required: required_list.as_ref().map(|r| r.contains(name)),
                    line: key_lines.iter().find(|(k, _)| k == name).map(|(_, l)| *l),
                })
                .collect()
        })
        .unwrap_or_default();
    let command = start
        .get("commandFunction")
        .and_then(Value::as_str)
        .map(|js| {
            let base = js
                .lines()
                .find(|l| !l.trim().is_empty())
                .and_then(|first| line_of(&file.text, first.trim()));
            read_function(js, base)
        });
    Some(Smithery {
        file: file.rel.clone(),
        properties,
        command,
    })
}

impl Smithery {
    fn property(&self, name: &str) -> Option<&Property> {
        self.properties.iter().find(|p| p.name == name)
    }

    /// The environment findings: variables the function maps from properties (with the
    /// property's schema), variables it sets to fixed values, properties named like variables
    /// (`BRAVE_API_KEY`) when the function passes the whole config or is absent, and, as
    /// enrichment only, camelCase properties matched by name (`braveApiKey` → `BRAVE_API_KEY`).
    pub fn env_findings(&self) -> Vec<Finding> {
        let mut findings = Vec::new();
        let mut used: Vec<&str> = Vec::new();
        if let Some(function) = &self.command {
            for mapping in &function.env {
                let line = mapping.line.or(function.line);
                let mut finding = match &mapping.value {
                    EnvValue::Config { prop, fallback } => {
                        used.push(prop);
                        let mut f = self.finding_for(
                            &mapping.name,
                            prop,
                            Evidence::new(
                                &self.file,
                                line,
                                format!("set from configSchema property {prop} by smithery.yaml's commandFunction"),
                            ),
                        );
                        if f.default.is_none() {
                            f.default = fallback.clone();
                        }
                        f
                    }
                    EnvValue::Literal(value) => {
                        let mut f = Finding::new(
                            &mapping.name,
                            Origin::Smithery,
                            Evidence::new(
                                &self.file,
                                line,
                                format!("set to {value:?} by smithery.yaml's commandFunction"),
                            ),
                        );
                        f.default = Some(value.clone());
                        f
                    }
                    EnvValue::Other => Finding::new(
                        &mapping.name,
                        Origin::Smithery,
                        Evidence::new(&self.file, line, "set by smithery.yaml's commandFunction"),
                    ),
                };
                finding.name = mapping.name.clone();
                findings.push(finding);
            }
        }
        let spreads = self.command.as_ref().is_none_or(|c| c.spreads_config);
        let used_in_args: Vec<String> = self
            .command
            .as_ref()
            .map(|c| c.args.iter().flat_map(props_of).collect())
            .unwrap_or_default();
        for property in &self.properties {
            if used.contains(&property.name.as_str()) || used_in_args.contains(&property.name) {
                continue;
            }
            if is_candidate(&property.name) && spreads {
                findings.push(self.finding_for(
                    &property.name,
                    &property.name,
                    Evidence::new(
                        &self.file,
                        property.line,
                        "configSchema property in smithery.yaml named like the variable",
                    ),
                ));
            } else if let Some(guess) = upper_snake(&property.name) {
                let mut finding = self.finding_for(
                    &guess,
                    &property.name,
                    Evidence::new(
                        &self.file,
                        property.line,
                        format!(
                            "configSchema property {} in smithery.yaml, matched by name",
                            property.name
                        ),
                    ),
                );
                finding.enrich_only = true;
                findings.push(finding);
            }
        }
        findings
    }

    fn finding_for(&self, name: &str, prop: &str, evidence: Evidence) -> Finding {
        let mut finding = Finding::new(name, Origin::Smithery, evidence);
        if let Some(p) = self.property(prop) {
            finding.description = p.description.clone();
            finding.default = p.default.clone();
            finding.choices = p.choices.clone();
            finding.format = p.format.clone();
            finding.required = p.required;
        }
        finding
    }

    /// The command line the function builds, properties shown as `{config.x}` (so that they
    /// read as user-specific values), or `None` without a command.
    pub fn invocation(&self) -> Option<(String, Vec<String>)> {
        let function = self.command.as_ref()?;
        let command = function.command.clone()?;
        let words = function
            .args
            .iter()
            .filter_map(|a| match a {
                JsArg::Literal(s) => Some(s.clone()),
                JsArg::Config(p) | JsArg::Spread(p) => Some(format!("{{config.{p}}}")),
                JsArg::Inline { flag, prop } => Some(format!("{flag}={{config.{prop}}}")),
                JsArg::Conditional { .. } | JsArg::Other => None,
            })
            .collect();
        Some((command, words))
    }

    /// Argument fields from the function's `args`, after the first `skip` words of
    /// [`Smithery::invocation`] (the part that names the server itself).
    pub fn arg_findings(&self, skip: usize) -> Vec<ArgFinding> {
        let Some(function) = &self.command else {
            return Vec::new();
        };
        let mut findings = Vec::new();
        let mut seen_words = 0;
        let mut position = 0;
        let args = &function.args;
        let mut i = 0;
        while i < args.len() {
            let arg = &args[i];
            let counts = !matches!(arg, JsArg::Conditional { .. } | JsArg::Other);
            if seen_words < skip {
                seen_words += usize::from(counts);
                i += 1;
                continue;
            }
            let evidence = |what: &str| {
                Evidence::new(
                    &self.file,
                    function.line,
                    format!("{what} in smithery.yaml's commandFunction"),
                )
            };
            // The stdio selection is the launch's business, not a field.
            if let JsArg::Literal(word) = arg {
                let transport_flag = matches!(word.as_str(), "--transport" | "-t" | "--mode");
                if transport_flag && args.get(i + 1) == Some(&JsArg::Literal("stdio".into())) {
                    i += 2;
                    continue;
                }
                if matches!(word.as_str(), "stdio" | "--stdio" | "--transport=stdio") {
                    i += 1;
                    continue;
                }
            }
            match arg {
                JsArg::Literal(flag) if flag.starts_with('-') => {
                    if let Some(JsArg::Config(prop)) = args.get(i + 1) {
                        findings.push(self.arg_from(
                            Some(flag.clone()),
                            prop,
                            position,
                            false,
                            evidence(&format!("{flag} set from configSchema property {prop}")),
                        ));
                        i += 2;
                        continue;
                    }
                }
                JsArg::Inline { flag, prop } => findings.push(self.arg_from(
                    Some(flag.clone()),
                    prop,
                    position,
                    false,
                    evidence(&format!("{flag} set from configSchema property {prop}")),
                )),
                JsArg::Config(prop) | JsArg::Spread(prop) => {
                    let repeated = matches!(arg, JsArg::Spread(_));
                    findings.push(self.arg_from(
                        None,
                        prop,
                        position,
                        repeated,
                        evidence(&format!(
                            "positional argument from configSchema property {prop}"
                        )),
                    ));
                    position += 1;
                }
                JsArg::Conditional { prop, inner } => match inner.as_slice() {
                    [JsArg::Literal(flag)] if flag.starts_with('-') => {
                        let mut f = self.arg_from(
                            Some(flag.clone()),
                            prop,
                            position,
                            false,
                            evidence(&format!(
                                "{flag} passed when configSchema property {prop} is set"
                            )),
                        );
                        f.boolean = true;
                        f.required = Some(false);
                        findings.push(f);
                    }
                    [JsArg::Literal(flag), JsArg::Config(value)] if flag.starts_with('-') => {
                        let mut f = self.arg_from(
                            Some(flag.clone()),
                            value,
                            position,
                            false,
                            evidence(&format!(
                                "{flag} passed when configSchema property {prop} is set"
                            )),
                        );
                        f.required = Some(false);
                        findings.push(f);
                    }
                    _ => {}
                },
                JsArg::Literal(_) | JsArg::Other => {}
            }
            i += 1;
        }
        findings
    }

    fn arg_from(
        &self,
        flag: Option<String>,
        prop: &str,
        position: usize,
        repeated: bool,
        evidence: Evidence,
    ) -> ArgFinding {
        let mut finding = ArgFinding::new(flag.clone(), ArgOrigin::Smithery, evidence);
        if flag.is_none() {
            finding.position = Some(position);
            finding.name = Some(kebab(prop));
        }
        finding.repeated = repeated;
        if let Some(p) = self.property(prop) {
            finding.description = p.description.clone();
            finding.default = p.default.clone();
            finding.choices = p.choices.clone();
            finding.boolean = p.format.as_deref() == Some("boolean") && flag.is_some();
            finding.format = p.format.clone().filter(|f| f != "string");
            finding.required = p.required;
        }
        finding
    }
}

fn props_of(arg: &JsArg) -> Vec<String> {
    match arg {
        JsArg::Config(p) | JsArg::Spread(p) => vec![p.clone()],
        JsArg::Inline { prop, .. } => vec![prop.clone()],
        JsArg::Conditional { prop, inner } => {
            let mut all = vec![prop.clone()];
            all.extend(inner.iter().flat_map(props_of));
            all
        }
        JsArg::Literal(_) | JsArg::Other => Vec::new(),
    }
}

/// `braveApiKey` → `BRAVE_API_KEY`, `api-key` → `API_KEY`; `None` if nothing is left.
pub(crate) fn upper_snake(name: &str) -> Option<String> {
    let mut out = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if c.is_ascii_uppercase() && previous_lower {
            out.push('_');
        }
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_uppercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
        previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
    }
    let out = out.trim_matches('_').to_string();
    is_candidate(&out).then_some(out)
}

/// `allowedDirs` → `allowed-dirs`.
fn kebab(name: &str) -> String {
    upper_snake(name)
        .map(|s| s.to_ascii_lowercase().replace('_', "-"))
        .unwrap_or_else(|| name.to_string())
}

// ---------------------------------------------------------------------------------------------
// A tolerant tokenizer for the function's usual shapes.

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Str(String),
    Template(String),
    Ident(String),
    Num(String),
    Punct(&'static str),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    offset: usize,
}

const PUNCTS: &[&str] = &[
    "...", "===", "!==", "=>", "?.", "??", "||", "&&", "==", "!=", "(", ")", "[", "]", "{", "}",
    ",", ":", ";", "?", "=", ".", "!", "+", "-", "*", "/", "<", ">", "|", "&",
];

fn tokenize(js: &str) -> Vec<Token> {
    let bytes = js.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i] as char;
        if c.is_whitespace() {
            i += 1;
        } else if js[i..].starts_with("//") {
            i = js[i..].find('\n').map_or(bytes.len(), |n| i + n);
        } else if js[i..].starts_with("/*") {
            i = js[i + 2..].find("*/").map_or(bytes.len(), |n| i + n + 4);
        } else if matches!(c, '"' | '\'' | '`') {
            let start = i;
            let mut value = String::new();
            i += 1;
            while i < bytes.len() && bytes[i] as char != c {
                if bytes[i] == b'\\' && i + 1 < bytes.len() {
                    i += 1;
                }
                let ch = js[i..].chars().next().unwrap_or(' ');
                value.push(ch);
                i += ch.len_utf8();
            }
            i += 1;
            let tok = if c == '`' {
                Tok::Template(value)
            } else {
                Tok::Str(value)
            };
            tokens.push(Token { tok, offset: start });
        } else if c.is_ascii_alphabetic() || c == '_' || c == '$' {
            let start = i;
            while i < bytes.len()
                && ((bytes[i] as char).is_ascii_alphanumeric() || matches!(bytes[i], b'_' | b'$'))
            {
                i += 1;
            }
            tokens.push(Token {
                tok: Tok::Ident(js[start..i].to_string()),
                offset: start,
            });
        } else if c.is_ascii_digit() {
            let start = i;
            while i < bytes.len()
                && ((bytes[i] as char).is_ascii_alphanumeric() || bytes[i] == b'.')
            {
                i += 1;
            }
            tokens.push(Token {
                tok: Tok::Num(js[start..i].to_string()),
                offset: start,
            });
        } else if let Some(p) = PUNCTS.iter().find(|p| js[i..].starts_with(**p)) {
            tokens.push(Token {
                tok: Tok::Punct(p),
                offset: i,
            });
            i += p.len();
        } else {
            i += c.len_utf8().max(1);
            while !js.is_char_boundary(i) {
                i += 1;
            }
        }
    }
    tokens
}

fn is_punct(token: Option<&Token>, p: &str) -> bool {
    matches!(token, Some(Token { tok: Tok::Punct(q), .. }) if *q == p)
}

fn ident(token: Option<&Token>) -> Option<&str> {
    match token {
        Some(Token {
            tok: Tok::Ident(s), ..
        }) => Some(s),
        _ => None,
    }
}

/// A key in an object literal: an identifier or a string.
fn key_name(token: Option<&Token>) -> Option<&str> {
    match token {
        Some(Token {
            tok: Tok::Ident(s) | Tok::Str(s),
            ..
        }) => Some(s),
        _ => None,
    }
}

/// The index just past the bracket that closes the one at `open`.
fn matching(tokens: &[Token], open: usize) -> usize {
    let mut depth = 0i32;
    for (i, token) in tokens.iter().enumerate().skip(open) {
        if let Tok::Punct(p) = token.tok {
            match p {
                "(" | "[" | "{" => depth += 1,
                ")" | "]" | "}" => {
                    depth -= 1;
                    if depth == 0 {
                        return i + 1;
                    }
                }
                _ => {}
            }
        }
    }
    tokens.len()
}

/// The comma-separated parts of the bracketed list at `open`.
fn list_items(tokens: &[Token], open: usize) -> Vec<&[Token]> {
    let end = matching(tokens, open).saturating_sub(1).max(open + 1);
    split_top(&tokens[open + 1..end.min(tokens.len())], ",")
}

/// `tokens` split at `separator` outside brackets.
fn split_top<'a>(tokens: &'a [Token], separator: &str) -> Vec<&'a [Token]> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, token) in tokens.iter().enumerate() {
        if let Tok::Punct(p) = token.tok {
            match p {
                "(" | "[" | "{" => depth += 1,
                ")" | "]" | "}" => depth -= 1,
                _ if p == separator && depth == 0 => {
                    parts.push(&tokens[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
    }
    if start < tokens.len() {
        parts.push(&tokens[start..]);
    }
    parts.retain(|p| !p.is_empty());
    parts
}

/// How the function names its configuration: `(config) =>`, `function (cfg)`, `({ a, b }) =>`.
struct Params {
    name: String,
    destructured: Vec<String>,
}

fn params(tokens: &[Token]) -> Params {
    let mut i = 0;
    while ident(tokens.get(i)).is_some_and(|w| w == "async" || w == "function") {
        i += 1;
    }
    if ident(tokens.get(i)).is_some() && !is_punct(tokens.get(i + 1), "=>") {
        i += 1; // a function's own name
    }
    if is_punct(tokens.get(i), "(") {
        i += 1;
    }
    if is_punct(tokens.get(i), "{") {
        let end = matching(tokens, i);
        let destructured = split_top(&tokens[i + 1..end.saturating_sub(1)], ",")
            .iter()
            .filter_map(|part| ident(part.first()).map(String::from))
            .collect();
        return Params {
            name: String::new(),
            destructured,
        };
    }
    Params {
        name: ident(tokens.get(i)).unwrap_or("config").to_string(),
        destructured: Vec::new(),
    }
}

static TEMPLATE_REF: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\$\{\s*([A-Za-z_$][\w$]*)(?:\??\.([A-Za-z_$][\w$]*))?").unwrap());

impl Params {
    /// The first property an expression reads.
    fn prop_in(&self, tokens: &[Token]) -> Option<String> {
        for (i, token) in tokens.iter().enumerate() {
            match &token.tok {
                Tok::Ident(name) if !self.name.is_empty() && *name == self.name => {
                    let access =
                        is_punct(tokens.get(i + 1), ".") || is_punct(tokens.get(i + 1), "?.");
                    if access && let Some(prop) = ident(tokens.get(i + 2)) {
                        return Some(prop.to_string());
                    }
                    if is_punct(tokens.get(i + 1), "[")
                        && let Some(Token {
                            tok: Tok::Str(prop),
                            ..
                        }) = tokens.get(i + 2)
                    {
                        return Some(prop.clone());
                    }
                }
                Tok::Ident(name)
                    if self.destructured.contains(name)
                        && !is_punct(tokens.get(i + 1), ":")
                        && !(i > 0 && is_punct(tokens.get(i - 1), ".")) =>
                {
                    return Some(name.clone());
                }
                Tok::Template(text) => {
                    for c in TEMPLATE_REF.captures_iter(text) {
                        match c.get(2) {
                            Some(prop) if c[1] == self.name => return Some(prop.as_str().into()),
                            None if self.destructured.iter().any(|d| *d == c[1]) => {
                                return Some(c[1].to_string());
                            }
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        None
    }

    fn arg(&self, part: &[Token]) -> JsArg {
        match part {
            [] => JsArg::Other,
            [
                Token {
                    tok: Tok::Str(s) | Tok::Num(s),
                    ..
                },
            ] => JsArg::Literal(s.clone()),
            [
                Token {
                    tok: Tok::Template(t),
                    ..
                },
            ] if !t.contains("${") => JsArg::Literal(t.clone()),
            [
                Token {
                    tok: Tok::Template(t),
                    ..
                },
            ] => {
                let prop = self.prop_in(part);
                match (t.split_once('='), prop) {
                    (Some((flag, _)), Some(prop))
                        if flag.starts_with('-') && !flag.contains("${") =>
                    {
                        JsArg::Inline {
                            flag: flag.to_string(),
                            prop,
                        }
                    }
                    (_, Some(prop)) => JsArg::Config(prop),
                    (_, None) => JsArg::Other,
                }
            }
            [first, rest @ ..] if is_punct(Some(first), "...") => {
                let rest = strip_parens(rest);
                if let Some(q) = top_index(rest, "?") {
                    return self.conditional(rest, q);
                }
                self.prop_in(rest).map_or(JsArg::Other, JsArg::Spread)
            }
            _ => {
                if let Some(q) = top_index(part, "?") {
                    return self.conditional(part, q);
                }
                self.prop_in(part).map_or(JsArg::Other, JsArg::Config)
            }
        }
    }

    /// `cond ? [a, b] : []` or `cond ? 'a' : ''`.
    fn conditional(&self, part: &[Token], question: usize) -> JsArg {
        let Some(prop) = self.prop_in(&part[..question]) else {
            return JsArg::Other;
        };
        let branches = &part[question + 1..];
        let when_true = top_index(branches, ":").map_or(branches, |c| &branches[..c]);
        let inner = if is_punct(when_true.first(), "[") {
            split_top(&when_true[1..when_true.len().saturating_sub(1)], ",")
                .iter()
                .map(|p| self.arg(p))
                .collect()
        } else {
            vec![self.arg(when_true)]
        };
        JsArg::Conditional { prop, inner }
    }

    fn env_value(&self, part: &[Token]) -> EnvValue {
        if let [
            Token {
                tok: Tok::Str(s) | Tok::Num(s),
                ..
            },
        ] = part
        {
            return EnvValue::Literal(s.clone());
        }
        match self.prop_in(part) {
            Some(prop) => {
                let fallback = part
                    .iter()
                    .position(|t| matches!(t.tok, Tok::Punct("||" | "??")))
                    .and_then(|at| match part.get(at + 1) {
                        Some(Token {
                            tok: Tok::Str(s) | Tok::Num(s),
                            ..
                        }) => Some(s.clone()),
                        _ => None,
                    });
                EnvValue::Config { prop, fallback }
            }
            None => EnvValue::Other,
        }
    }
}

fn strip_parens(tokens: &[Token]) -> &[Token] {
    if is_punct(tokens.first(), "(") && matching(tokens, 0) == tokens.len() {
        &tokens[1..tokens.len() - 1]
    } else {
        tokens
    }
}

/// The index of `p` outside brackets.
fn top_index(tokens: &[Token], p: &str) -> Option<usize> {
    let mut depth = 0i32;
    for (i, token) in tokens.iter().enumerate() {
        if let Tok::Punct(q) = token.tok {
            match q {
                "(" | "[" | "{" => depth += 1,
                ")" | "]" | "}" => depth -= 1,
                _ if q == p && depth == 0 => return Some(i),
                _ => {}
            }
        }
    }
    None
}

/// Where the value of `key` starts: `key: value` in an object, else `key = value`; a value that
/// is a bare variable is followed to that variable's `= value`.
fn value_of(tokens: &[Token], key: &str) -> Option<usize> {
    let in_object = (1..tokens.len()).find(|&i| {
        key_name(tokens.get(i)) == Some(key)
            && is_punct(tokens.get(i + 1), ":")
            && (is_punct(tokens.get(i - 1), "{") || is_punct(tokens.get(i - 1), ","))
    });
    let assigned = |name: &str| {
        (0..tokens.len()).find(|&i| {
            ident(tokens.get(i)) == Some(name)
                && is_punct(tokens.get(i + 1), "=")
                && !is_punct(tokens.get(i.wrapping_sub(1)), ".")
        })
    };
    match in_object {
        Some(i) => {
            let start = i + 2;
            let bare = ident(tokens.get(start)).filter(|_| {
                is_punct(tokens.get(start + 1), ",") || is_punct(tokens.get(start + 1), "}")
            });
            match bare {
                Some(var) => assigned(var).map(|a| a + 2).or(Some(start)),
                None => Some(start),
            }
        }
        None => assigned(key).map(|a| a + 2),
    }
}

/// Reads a `commandFunction`; `base_line` is the file line of its first line.
fn read_function(js: &str, base_line: Option<u32>) -> CommandFunction {
    let tokens = tokenize(js);
    let params = params(&tokens);
    let line = |offset: usize| {
        base_line.map(|b| b + u32::try_from(js[..offset].matches('\n').count()).unwrap_or(0))
    };
    let mut function = CommandFunction {
        line: base_line,
        ..CommandFunction::default()
    };
    if let Some(at) = value_of(&tokens, "command")
        && let Some(Token {
            tok: Tok::Str(command) | Tok::Template(command),
            ..
        }) = tokens.get(at)
    {
        function.command = Some(command.clone());
    }
    if let Some(at) = value_of(&tokens, "args").filter(|at| is_punct(tokens.get(*at), "[")) {
        function.args = list_items(&tokens, at)
            .iter()
            .map(|p| params.arg(p))
            .collect();
        // `args.push(...)`, possibly under `if (config.x)`.
        let var = (at >= 2)
            .then(|| ident(tokens.get(at - 2)))
            .flatten()
            .unwrap_or("args");
        for i in 0..tokens.len() {
            if ident(tokens.get(i)) == Some(var)
                && is_punct(tokens.get(i + 1), ".")
                && ident(tokens.get(i + 2)) == Some("push")
                && is_punct(tokens.get(i + 3), "(")
            {
                let pushed: Vec<JsArg> = list_items(&tokens, i + 3)
                    .iter()
                    .map(|p| params.arg(p))
                    .collect();
                match condition_before(&tokens, i).and_then(|c| params.prop_in(c)) {
                    Some(prop) => function.args.push(JsArg::Conditional {
                        prop,
                        inner: pushed,
                    }),
                    None => function.args.extend(pushed),
                }
            }
        }
    }
    let env_var = value_of(&tokens, "env").map(|at| {
        let name = (at >= 2).then(|| ident(tokens.get(at - 2))).flatten();
        (at, name.unwrap_or("env").to_string())
    });
    if let Some((at, _)) = &env_var
        && is_punct(tokens.get(*at), "{")
    {
        let end = matching(&tokens, *at);
        let inner = &tokens[*at..end];
        for i in 1..inner.len() {
            if is_punct(inner.get(i), "...")
                && ident(inner.get(i + 1)) == Some(params.name.as_str())
                && !is_punct(inner.get(i + 2), ".")
            {
                function.spreads_config = true;
            }
            let Some(key) = key_name(inner.get(i)) else {
                continue;
            };
            if !is_punct(inner.get(i + 1), ":")
                || !(is_punct(inner.get(i - 1), "{") || is_punct(inner.get(i - 1), ","))
                || !is_candidate(key)
            {
                continue;
            }
            let rest = &inner[i + 2..];
            let mut depth = 0i32;
            let mut value_end = rest.len();
            for (j, token) in rest.iter().enumerate() {
                match token.tok {
                    Tok::Punct("(" | "[" | "{") => depth += 1,
                    Tok::Punct(")" | "]" | "}") if depth == 0 => {
                        value_end = j;
                        break;
                    }
                    Tok::Punct(")" | "]" | "}") => depth -= 1,
                    Tok::Punct(",") if depth == 0 => {
                        value_end = j;
                        break;
                    }
                    _ => {}
                }
            }
            function.env.push(EnvMapping {
                name: key.to_string(),
                value: params.env_value(&rest[..value_end]),
                line: line(inner[i].offset),
            });
        }
    }
    // `env.X = value` and `env["X"] = value`.
    let env_name = env_var.map_or_else(|| "env".to_string(), |(_, n)| n);
    for i in 0..tokens.len() {
        if ident(tokens.get(i)) != Some(env_name.as_str()) {
            continue;
        }
        let (key, eq) = if is_punct(tokens.get(i + 1), ".") {
            (key_name(tokens.get(i + 2)), i + 3)
        } else if is_punct(tokens.get(i + 1), "[") && is_punct(tokens.get(i + 3), "]") {
            (key_name(tokens.get(i + 2)), i + 4)
        } else {
            continue;
        };
        let Some(key) = key.filter(|k| is_candidate(k)) else {
            continue;
        };
        if !is_punct(tokens.get(eq), "=") {
            continue;
        }
        let end = (eq + 1..tokens.len())
            .find(|&j| is_punct(tokens.get(j), ";") || is_punct(tokens.get(j), "}"))
            .unwrap_or(tokens.len());
        function.env.push(EnvMapping {
            name: key.to_string(),
            value: params.env_value(&tokens[eq + 1..end]),
            line: line(tokens[i].offset),
        });
    }
    function
}

/// The condition of an `if (...)` right before the statement at `at`.
fn condition_before(tokens: &[Token], at: usize) -> Option<&[Token]> {
    let mut i = at;
    if i > 0 && is_punct(tokens.get(i - 1), "{") {
        i -= 1;
    }
    if i == 0 || !is_punct(tokens.get(i - 1), ")") {
        return None;
    }
    let close = i - 1;
    let mut depth = 0i32;
    for j in (0..=close).rev() {
        if let Tok::Punct(p) = tokens[j].tok {
            match p {
                ")" => depth += 1,
                "(" => {
                    depth -= 1;
                    if depth == 0 {
                        return (j > 0 && ident(tokens.get(j - 1)) == Some("if"))
                            .then(|| &tokens[j + 1..close]);
                    }
                }
                _ => {}
            }
        }
    }
    None
}
