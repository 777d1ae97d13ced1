//! Reading the environment variables a user gives `deploy`: `--env KEY=VALUE` and `--env-file`.
//!
//! Values are often secrets, so no error message here ever contains a value: only keys and line
//! numbers.

use std::collections::BTreeMap;

/// A malformed `--env` argument or env file line.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnvInputError {
    #[error(
        "invalid variable name {key:?} in --env: use letters, digits and _, not starting with a digit"
    )]
    BadArgKey { key: String },
    #[error("--env {key}: no value given and {key} is not set in this shell's environment")]
    UnsetInShell { key: String },
    #[error("line {line}: expected KEY=VALUE")]
    NoEquals { line: usize },
    #[error(
        "line {line}: invalid variable name {key:?}: use letters, digits and _, not starting with a digit"
    )]
    BadFileKey { line: usize, key: String },
    #[error("line {line}: the quoted value has no closing {quote}")]
    Unterminated { line: usize, quote: char },
}

/// True for names a shell would accept: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    match chars.next() {
        Some(first) if first.is_ascii_alphabetic() || first == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Parses one `--env` argument. `KEY=VALUE` splits at the first `=`, so values may contain `=`;
/// a bare `KEY` takes its value from `shell_var` (the CLI's own environment), which keeps
/// secrets out of shell history.
pub fn parse_env_arg(
    arg: &str,
    shell_var: impl Fn(&str) -> Option<String>,
) -> Result<(String, String), EnvInputError> {
    let (key, value) = match arg.split_once('=') {
        Some((key, value)) => (key, Some(value.to_owned())),
        None => (arg, None),
    };
    if !is_valid_key(key) {
        return Err(EnvInputError::BadArgKey {
            key: key.to_owned(),
        });
    }
    let value = match value {
        Some(value) => value,
        None => shell_var(key).ok_or_else(|| EnvInputError::UnsetInShell {
            key: key.to_owned(),
        })?,
    };
    Ok((key.to_owned(), value))
}

/// Parses an env file: `KEY=VALUE` lines, blank lines and `#` comment lines, an optional
/// `export ` prefix, and values optionally wrapped in single quotes (taken literally) or double
/// quotes (with `\n`, `\"` and `\\` escapes). Unquoted values are trimmed and otherwise literal:
/// a `#` inside them is part of the value. A key given twice keeps its last value.
pub fn parse_env_file(text: &str) -> Result<BTreeMap<String, String>, EnvInputError> {
    let mut vars = BTreeMap::new();
    for (index, raw_line) in text.lines().enumerate() {
        let line_number = index + 1;
        let line = raw_line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
        let Some((key, value)) = line.split_once('=') else {
            return Err(EnvInputError::NoEquals { line: line_number });
        };
        let key = key.trim();
        if !is_valid_key(key) {
            return Err(EnvInputError::BadFileKey {
                line: line_number,
                key: key.to_owned(),
            });
        }
        let value = unquote(value.trim(), line_number)?;
        vars.insert(key.to_owned(), value);
    }
    Ok(vars)
}

fn unquote(value: &str, line: usize) -> Result<String, EnvInputError> {
    let Some(quote) = value.chars().next().filter(|c| *c == '"' || *c == '\'') else {
        return Ok(value.to_owned());
    };
    if value.len() < 2 || !value.ends_with(quote) {
        return Err(EnvInputError::Unterminated { line, quote });
    }
    let inner = &value[1..value.len() - 1];
    if quote == '\'' {
        return Ok(inner.to_owned());
    }
    let mut unescaped = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            unescaped.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => unescaped.push('\n'),
            Some('t') => unescaped.push('\t'),
            Some('r') => unescaped.push('\r'),
            Some(other @ ('"' | '\\' | '$')) => unescaped.push(other),
            // An unknown escape stays as written, as in most dotenv readers.
            Some(other) => {
                unescaped.push('\\');
                unescaped.push(other);
            }
            None => unescaped.push('\\'),
        }
    }
    Ok(unescaped)
}

#[cfg(test)]
mod tests;
