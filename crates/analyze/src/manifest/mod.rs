//! Readers for the files that say what a package is, how to start it and what it needs.
//!
//! Each reader takes text already loaded by [`crate::files::scan`] and returns plain data, or
//! findings, with line numbers for evidence; none of them touches the file system, and the
//! merging (which finding wins) is left to [`crate::env`] and [`crate::launch`].

pub(crate) mod cli;
pub(crate) mod dockerfile;
pub(crate) mod dotenv;
pub(crate) mod node;
pub(crate) mod python;
pub(crate) mod server_json;
pub(crate) mod smithery;

/// Picks the command to launch among several (npm bins, console scripts).
///
/// One candidate wins outright; otherwise the one named like the package, then the only one
/// containing "mcp". Returns the choice and, when the choice was a guess, a warning.
pub(crate) fn choose_command(
    candidates: &[String],
    package_name: &str,
) -> Option<(String, Option<String>)> {
    let first = candidates.first()?;
    if candidates.len() == 1 {
        return Some((first.clone(), None));
    }
    let wanted = normalize(package_name.rsplit('/').next().unwrap_or(package_name));
    if let Some(hit) = candidates.iter().find(|c| normalize(c) == wanted) {
        return Some((hit.clone(), None));
    }
    let with_mcp: Vec<&String> = candidates
        .iter()
        .filter(|c| c.to_ascii_lowercase().contains("mcp"))
        .collect();
    if with_mcp.len() == 1 {
        return Some((with_mcp[0].clone(), None));
    }
    let chosen = with_mcp.first().copied().unwrap_or(first).clone();
    let warning = format!(
        "the package declares several commands ({}); using {chosen:?}: check that it starts the MCP server",
        candidates.join(", ")
    );
    Some((chosen, Some(warning)))
}

/// Lowercases and treats `-`, `_` and `.` alike, as PyPI does for project names.
pub(crate) fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut last_dash = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !last_dash {
                out.push('-');
            }
            last_dash = true;
        } else {
            out.extend(c.to_lowercase());
            last_dash = false;
        }
    }
    out
}

#[cfg(test)]
mod tests;
