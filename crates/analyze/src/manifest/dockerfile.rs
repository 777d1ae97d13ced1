//! A `Dockerfile` (or `Containerfile`) at the package root: how the image starts the server
//! (`ENTRYPOINT` / `CMD`, exec or shell form) and the variables it sets (`ENV`).
//!
//! Only the last stage counts: earlier stages build, the last one runs. An `ARG` exists only
//! while the image is built, so it is reported only through an `ENV` that copies it
//! (`ENV X=$X`), whose default is then the `ARG`'s. Values are defaults unless they are
//! placeholders; credentials never take a default from here (decided when merging).

use crate::env::{Finding, Origin, is_candidate};
use crate::files::SourceFile;
use crate::launch::shell_words;
use crate::spec::Evidence;

/// What the analyzer uses from a Dockerfile.
#[derive(Debug, Default)]
pub(crate) struct Dockerfile {
    pub file: String,
    /// The command line the image runs (`ENTRYPOINT` then `CMD`), with the line it is on.
    pub command: Option<(Vec<String>, u32)>,
    pub env: Vec<Finding>,
}

/// One instruction, its continuation lines joined, with the comment lines just above it.
struct Instruction {
    keyword: String,
    rest: String,
    line: u32,
    comment: Vec<String>,
}

fn instructions(text: &str) -> Vec<Instruction> {
    let mut list = Vec::new();
    let mut comment: Vec<String> = Vec::new();
    let mut current: Option<Instruction> = None;
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if let Some(open) = current.as_mut() {
            if line.starts_with('#') {
                continue;
            }
            let (body, continues) = match line.strip_suffix('\\') {
                Some(body) => (body, true),
                None => (line, false),
            };
            open.rest.push(' ');
            open.rest.push_str(body.trim());
            if !continues {
                list.extend(current.take());
            }
            continue;
        }
        if line.is_empty() {
            comment.clear();
            continue;
        }
        if let Some(text) = line.strip_prefix('#') {
            comment.push(text.trim().to_string());
            continue;
        }
        let (keyword, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let (rest, continues) = match rest.trim().strip_suffix('\\') {
            Some(body) => (body.trim().to_string(), true),
            None => (rest.trim().to_string(), false),
        };
        let instruction = Instruction {
            keyword: keyword.to_ascii_uppercase(),
            rest,
            line: u32::try_from(index + 1).unwrap_or(u32::MAX),
            comment: std::mem::take(&mut comment),
        };
        if continues {
            current = Some(instruction);
        } else {
            list.push(instruction);
        }
    }
    list.extend(current);
    list
}

/// `["a", "b"]` (exec form) or a shell command line; `sh -c "..."` is unwrapped.
fn command_words(rest: &str) -> Vec<String> {
    let words = if rest.trim_start().starts_with('[') {
        serde_json::from_str::<Vec<String>>(rest.trim()).unwrap_or_default()
    } else {
        shell_words(rest)
    };
    let shell = |w: &str| matches!(w.rsplit('/').next(), Some("sh" | "bash" | "ash" | "dash"));
    match words.as_slice() {
        [sh, c, script, ..] if shell(sh) && c == "-c" => shell_words(script),
        _ => words,
    }
}

/// `K=V K2="v 2"`, or the legacy `K value with spaces`.
fn env_pairs(rest: &str) -> Vec<(String, String)> {
    let words = shell_words_keep(rest);
    if words.first().is_some_and(|w| !w.contains('=')) {
        let (name, value) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        return vec![(name.to_string(), value.trim().trim_matches('"').to_string())];
    }
    words
        .iter()
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Whitespace-separated words with quotes removed, keeping `=` pairs whole.
fn shell_words_keep(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => current.push(c),
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c.is_whitespace() => {
                if !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
            }
            None => current.push(c),
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// `$NAME` or `${NAME}` (optionally `${NAME:-default}`), alone.
fn referenced_arg(value: &str) -> Option<(&str, Option<&str>)> {
    let inner = value
        .strip_prefix("${")
        .and_then(|v| v.strip_suffix('}'))
        .or_else(|| value.strip_prefix('$'))?;
    match inner.split_once(":-") {
        Some((name, default)) => Some((name, Some(default))),
        None => Some((inner, None)),
    }
}

/// Reads a Dockerfile.
pub(crate) fn parse(file: &SourceFile) -> Dockerfile {
    let all = instructions(&file.text);
    let last_stage = all.iter().rposition(|i| i.keyword == "FROM").unwrap_or(0);
    let mut args: Vec<(String, Option<String>)> = Vec::new();
    let mut entrypoint: Option<(Vec<String>, bool, u32)> = None;
    let mut cmd: Option<(Vec<String>, u32)> = None;
    let mut env = Vec::new();
    for (index, instruction) in all.iter().enumerate() {
        let in_last = index >= last_stage;
        match instruction.keyword.as_str() {
            // Global ARGs (before the first FROM) and the last stage's ARGs are visible there.
            "ARG" if in_last || !all[..index].iter().any(|i| i.keyword == "FROM") => {
                let (name, default) = match instruction.rest.split_once('=') {
                    Some((n, d)) => (n.trim(), Some(d.trim().trim_matches('"').to_string())),
                    None => (instruction.rest.trim(), None),
                };
                args.push((name.to_string(), default));
            }
            "ENTRYPOINT" if in_last => {
                let exec = instruction.rest.trim_start().starts_with('[');
                entrypoint = Some((command_words(&instruction.rest), exec, instruction.line));
            }
            "CMD" if in_last => cmd = Some((command_words(&instruction.rest), instruction.line)),
            "ENV" if in_last => {
                for (name, value) in env_pairs(&instruction.rest) {
                    if !is_candidate(&name) {
                        continue;
                    }
                    let (default, note) = match referenced_arg(&value) {
                        Some((arg, fallback)) => (
                            args.iter()
                                .find(|(n, _)| n == arg)
                                .and_then(|(_, d)| d.clone())
                                .or(fallback.map(String::from)),
                            format!("set in the Dockerfile from the build argument {arg}"),
                        ),
                        None => (
                            Some(value.clone()),
                            "set with ENV in the Dockerfile".to_string(),
                        ),
                    };
                    let mut finding = Finding::new(
                        &name,
                        Origin::Dockerfile,
                        Evidence::new(&file.rel, Some(instruction.line), note),
                    );
                    finding.default = default.filter(|d| !d.is_empty());
                    finding.description =
                        Some(instruction.comment.join(" ")).filter(|c| !c.is_empty());
                    env.push(finding);
                }
            }
            _ => {}
        }
    }
    let command = match (entrypoint, cmd) {
        (Some((mut words, true, line)), Some((more, _))) => {
            words.extend(more);
            Some((words, line))
        }
        (Some((words, _, line)), _) => Some((words, line)),
        (None, Some((words, line))) => Some((words, line)),
        (None, None) => None,
    }
    .filter(|(words, _)| !words.is_empty());
    Dockerfile {
        file: file.rel.clone(),
        command,
        env,
    }
}
