//! What the model is given: the evidence the analyzer gathered, never just a URL.

use std::collections::BTreeSet;
use std::fmt::Write;

use crate::files::SourceTree;
use crate::spec::ServerSpec;

/// Lines shown around each place a variable was found.
const CONTEXT_LINES: usize = 4;
/// Excerpts of code at most.
const MAX_EXCERPTS: usize = 40;
/// A shown line is cut after this many characters (minified code).
const LINE_CHARS: usize = 200;
/// README lines shown around each line about the environment.
const README_CONTEXT: usize = 5;
/// The README part of the prompt at most.
const README_CHARS: usize = 8_000;
/// The whole user message at most.
const PROMPT_CHARS: usize = 40_000;

pub(crate) struct Prompt {
    pub system: String,
    pub user: String,
}

const SYSTEM: &str = "You help configure an MCP server that Catwalk runs over stdio from its \
published package. You are given the evidence an analyzer gathered from the package: the \
environment variables it found with where it found them, excerpts of the code and README around \
them, and the variables it left out (used only by an HTTP transport, a container image or a \
bundled dependency). Describe every variable a stdio deployment may set: for each one already \
found, give a short description for a user filling a form, its default value, format (string, \
number, boolean, filepath or url) and allowed values when the evidence shows them, and whether \
it is required and secret. Add a variable that was not found only when the excerpts show the \
server reading it; never invent names. Use null when the evidence says nothing. Answer only in \
the requested JSON form.";

/// The prompt for one spec.
pub(crate) fn prompt(spec: &ServerSpec, tree: &SourceTree, readme: Option<(&str, &str)>) -> Prompt {
    let mut user = String::new();
    let _ = writeln!(
        user,
        "Package: {} {} ({:?}), started as: {} {}",
        spec.package.name,
        spec.package.version,
        spec.package.registry,
        spec.launch.command,
        spec.launch.args.join(" ")
    );
    if let Some(description) = &spec.description {
        let _ = writeln!(user, "Description: {description}");
    }
    user.push_str("\nVariables found from evidence:\n");
    if spec.env.is_empty() {
        user.push_str("(none)\n");
    }
    for var in &spec.env {
        let places: Vec<String> = var
            .evidence
            .iter()
            .take(4)
            .map(|e| match e.line {
                Some(line) => format!("{}:{line} ({})", e.file, e.note),
                None => format!("{} ({})", e.file, e.note),
            })
            .collect();
        let _ = writeln!(
            user,
            "- {}: required={}, secret={}, default={}, description={:?}; found at {}",
            var.name,
            var.required,
            var.secret,
            var.default.as_deref().unwrap_or("none"),
            var.description,
            places.join("; ")
        );
    }
    if !spec.left_out.is_empty() {
        user.push_str("\nVariables left out (not for a stdio deployment):\n");
        for left in &spec.left_out {
            let _ = writeln!(user, "- {}: {}", left.name, left.reason);
        }
    }

    user.push_str("\nCode excerpts:\n");
    let mut shown: BTreeSet<(String, u32)> = BTreeSet::new();
    for evidence in spec.env.iter().flat_map(|v| v.evidence.iter()) {
        if shown.len() >= MAX_EXCERPTS {
            break;
        }
        let (Some(line), Some(file)) = (evidence.line, tree.get(&evidence.file)) else {
            continue;
        };
        if readme.is_some_and(|(name, _)| name == evidence.file)
            || !shown.insert((file.rel.clone(), line))
        {
            continue;
        }
        let lines: Vec<&str> = file.text.lines().collect();
        let at = line as usize - 1;
        let first = at.saturating_sub(CONTEXT_LINES);
        let last = (at + CONTEXT_LINES).min(lines.len().saturating_sub(1));
        let _ = writeln!(user, "--- {}:{}", file.rel, line);
        for (index, text) in lines.iter().enumerate().take(last + 1).skip(first) {
            let cut: String = text.chars().take(LINE_CHARS).collect();
            let _ = writeln!(user, "{:>5} | {cut}", index + 1);
        }
    }

    if let Some((name, text)) = readme {
        let _ = writeln!(user, "\nREADME ({name}), the parts about the environment:");
        user.push_str(&readme_parts(spec, text));
    }
    if user.len() > PROMPT_CHARS {
        let mut end = PROMPT_CHARS;
        while !user.is_char_boundary(end) {
            end -= 1;
        }
        user.truncate(end);
        user.push_str("\n(truncated)\n");
    }
    Prompt {
        system: SYSTEM.to_string(),
        user,
    }
}

/// README lines around those that name a variable or talk about the environment.
fn readme_parts(spec: &ServerSpec, text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let names: Vec<&str> = spec
        .env
        .iter()
        .map(|v| v.name.as_str())
        .chain(spec.left_out.iter().map(|l| l.name.as_str()))
        .collect();
    let mut keep = vec![false; lines.len()];
    for (index, line) in lines.iter().enumerate() {
        let lower = line.to_ascii_lowercase();
        let relevant = names.iter().any(|n| line.contains(n))
            || lower.contains("environment")
            || lower.contains("\"env\"")
            || lower.contains("api key");
        if relevant {
            let first = index.saturating_sub(README_CONTEXT);
            let last = (index + README_CONTEXT).min(lines.len().saturating_sub(1));
            keep[first..=last].iter_mut().for_each(|k| *k = true);
        }
    }
    let mut out = String::new();
    let mut gap = false;
    for (index, line) in lines.iter().enumerate() {
        if !keep[index] {
            gap = true;
            continue;
        }
        if gap && !out.is_empty() {
            out.push_str("...\n");
        }
        gap = false;
        let cut: String = line.chars().take(LINE_CHARS).collect();
        out.push_str(&cut);
        out.push('\n');
        if out.len() > README_CHARS {
            out.push_str("(truncated)\n");
            break;
        }
    }
    out
}
