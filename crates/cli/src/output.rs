//! Text rendering shared by the commands: tables, JSON, and the ready-to-paste client configs.
//!
//! Plain text only (no colour, no box drawing), so output reads the same in a pipe, a log file
//! or a terminal with `NO_COLOR` set.

use std::io::Write;

use serde_json::Value;

/// Writes `value` as pretty JSON plus a newline to stdout.
pub fn print_json(value: &Value) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, value)?;
    writeln!(stdout)?;
    stdout.flush()
}

/// Writes text to stdout as is (the caller supplies newlines).
pub fn print_out(text: &str) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()
}

/// A JSON value as a table cell: strings as they are, null as nothing, the rest as JSON.
pub fn cell(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// [`table`] of a JSON array (anything else: no rows), one row per element.
pub fn json_table(header: &[&str], rows: &Value, row: impl Fn(&Value) -> Vec<String>) -> String {
    let rows: Vec<Vec<String>> = rows
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(row)
        .collect();
    table(header, &rows)
}

/// Renders rows as left-aligned columns separated by two spaces; the last column is not padded
/// so lines carry no trailing blanks.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let columns = header.len();
    let mut widths: Vec<usize> = header.iter().map(|title| title.chars().count()).collect();
    for row in rows {
        for (index, cell) in row.iter().enumerate().take(columns) {
            widths[index] = widths[index].max(cell.chars().count());
        }
    }
    let mut text = String::new();
    let header_row: Vec<String> = header.iter().map(|title| (*title).to_owned()).collect();
    for row in std::iter::once(&header_row).chain(rows) {
        let mut line = String::new();
        for (index, cell) in row.iter().enumerate().take(columns) {
            if index + 1 == columns {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                let padding = widths[index] - cell.chars().count() + 2;
                line.extend(std::iter::repeat_n(' ', padding));
            }
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// Known client config keys of the API's `configs` object, in display order, with where each
/// snippet goes.
const CONFIG_TITLES: &[(&str, &str)] = &[
    (
        "claude_desktop",
        "Claude Desktop (merge into claude_desktop_config.json)",
    ),
    ("claude_code", "Claude Code (run in a shell)"),
    (
        "cursor",
        "Cursor (merge into ~/.cursor/mcp.json or .cursor/mcp.json)",
    ),
    ("vscode", "VS Code (merge into .vscode/mcp.json)"),
];

/// Renders the `configs` object: known clients first, then any others the server adds. String
/// snippets (a shell command) print as is, objects as pretty JSON.
pub fn render_configs(configs: &Value) -> String {
    let Some(map) = configs.as_object() else {
        return String::new();
    };
    let mut keys: Vec<(&str, String)> = CONFIG_TITLES
        .iter()
        .filter(|(key, _)| map.contains_key(*key))
        .map(|(key, title)| (*key, (*title).to_owned()))
        .collect();
    let mut others: Vec<&String> = map
        .keys()
        .filter(|key| !CONFIG_TITLES.iter().any(|(known, _)| known == key))
        .collect();
    others.sort();
    keys.extend(others.into_iter().map(|key| (key.as_str(), key.clone())));

    let mut text = String::new();
    for (key, title) in keys {
        let snippet = match &map[key] {
            Value::String(command) => command.clone(),
            other => serde_json::to_string_pretty(other).unwrap_or_default(),
        };
        text.push_str(&format!("{title}:\n{snippet}\n\n"));
    }
    text
}

/// Quotes a word for a POSIX shell when it needs it, so a launch command can be pasted.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Renders `yes`/`no` for table cells.
pub fn yes_no(flag: bool) -> &'static str {
    if flag { "yes" } else { "no" }
}

#[cfg(test)]
mod tests;
