//! The launch arguments: which arguments, if any, select the server's stdio mode.
//!
//! The evidence, strongest first: `server.json` `packageArguments`; then invocations the
//! package documents (client config snippets `"command"`/`"args"` and shell lines in the
//! README, `package.json` scripts that run the bin file). An invocation that selects stdio
//! explicitly (`stdio`, `--stdio`, `--transport stdio`) wins; documented arguments that look
//! like user-specific values are never copied, only reported as warnings.

use std::sync::LazyLock;

use regex::Regex;

use crate::manifest::node::clean_path;
use crate::manifest::normalize;
use crate::manifest::server_json::SjPackage;
use crate::spec::Evidence;

/// What identifies "our" server in a documented command line.
pub(crate) struct Identity {
    /// The package name (npm or PyPI spelling).
    pub package: String,
    /// Bin or console-script names.
    pub commands: Vec<String>,
    /// Files the bins run (`dist/index.js`), for `node dist/index.js ...` lines.
    pub bin_files: Vec<String>,
    /// Python modules runnable with `python -m`.
    pub modules: Vec<String>,
}

/// One documented way of starting the server.
#[derive(Debug, Clone)]
pub(crate) struct Invocation {
    pub args: Vec<String>,
    pub evidence: Evidence,
}

/// The chosen arguments, their evidence and any warnings.
#[derive(Debug, Default)]
pub(crate) struct ArgsChoice {
    pub args: Vec<String>,
    pub evidence: Option<Evidence>,
    pub warnings: Vec<String>,
}

static JSON_ARGS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#""args"\s*:\s*(\[[^\[\]]*\])"#).unwrap());
static JSON_COMMAND: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#""command"\s*:\s*"([^"]*)""#).unwrap());
static INLINE_CODE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"`([^`]+)`").unwrap());

/// Arguments from `server.json`; `None` when it declares no `packageArguments`.
pub(crate) fn from_server_json(package: &SjPackage, file: &str) -> Option<ArgsChoice> {
    let declared = package.package_arguments.as_ref()?;
    let mut choice = ArgsChoice {
        evidence: Some(Evidence::new(file, None, "packageArguments in server.json")),
        ..ArgsChoice::default()
    };
    for argument in declared {
        let value = argument.value.clone().or_else(|| argument.default.clone());
        let label = argument
            .name
            .clone()
            .or_else(|| argument.value_hint.clone())
            .unwrap_or_else(|| "(unnamed)".into());
        match (argument.named, value) {
            (_, Some(v)) if v.contains('{') => {
                choice.warnings.push(format!("server.json argument {label} takes a templated value {v:?}: set it at deploy time"));
            }
            (true, Some(v)) => {
                choice.args.extend(argument.name.clone());
                choice.args.push(v);
            }
            (false, Some(v)) => choice.args.push(v),
            (_, None) if argument.required => {
                choice.warnings.push(format!("server.json declares a required argument {label} without a value: set it at deploy time"));
            }
            (_, None) => {}
        }
    }
    Some(choice)
}

/// Every invocation documented in a README.
pub(crate) fn readme_invocations(file: &str, text: &str, identity: &Identity) -> Vec<Invocation> {
    let mut found = Vec::new();
    for captures in JSON_ARGS.captures_iter(text) {
        let array = captures.get(1).expect("group 1 always matches");
        let Ok(args) = serde_json::from_str::<Vec<String>>(array.as_str()) else {
            continue;
        };
        // The command sits in the same JSON object, before or after "args".
        let object_start = text[..array.start()].rfind('{').unwrap_or(0);
        let object_end = text[array.end()..]
            .find('}')
            .map_or(text.len(), |i| array.end() + i);
        let Some(command) = JSON_COMMAND
            .captures(&text[object_start..object_end])
            .map(|c| c[1].to_string())
        else {
            continue;
        };
        if let Some(args) = interpret(&command, &args, identity) {
            let line = crate::files::line_at(text, array.start());
            let all: Vec<String> = serde_json::from_str(array.as_str()).unwrap_or_default();
            let note = format!(
                "documented in a README config example: {command} {}",
                all.join(" ")
            );
            found.push(Invocation {
                args,
                evidence: Evidence::new(file, Some(line), note),
            });
        }
    }
    let mut in_code = false;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_code = !in_code;
            continue;
        }
        let candidates: Vec<String> = if in_code {
            vec![trimmed.trim_start_matches("$ ").to_string()]
        } else {
            INLINE_CODE
                .captures_iter(trimmed)
                .map(|c| c[1].trim_start_matches("$ ").to_string())
                .collect()
        };
        for candidate in candidates {
            let words = shell_words(&candidate);
            let Some((command, args)) = words.split_first() else {
                continue;
            };
            if let Some(args) = interpret(command, args, identity) {
                let line_no = u32::try_from(index + 1).ok();
                found.push(Invocation {
                    args,
                    evidence: Evidence::new(
                        file,
                        line_no,
                        format!("documented in the README: {candidate}"),
                    ),
                });
            }
        }
    }
    found
}

/// `package.json` scripts that run a bin file: `node dist/index.js stdio`.
pub(crate) fn script_invocations(
    scripts: &[(String, String)],
    identity: &Identity,
) -> Vec<Invocation> {
    let mut found = Vec::new();
    for (name, script) in scripts {
        for part in script.split("&&").flat_map(|p| p.split(';')) {
            let words = shell_words(part.trim());
            let Some((command, args)) = words.split_first() else {
                continue;
            };
            if command != "node" && !identity.commands.contains(command) {
                continue;
            }
            if let Some(args) = interpret(command, args, identity) {
                found.push(Invocation {
                    args,
                    evidence: Evidence::new(
                        "package.json",
                        None,
                        format!("script {name}: {}", part.trim()),
                    ),
                });
            }
        }
    }
    found
}

/// The arguments documented for our server in one command line, or `None` if the line runs
/// something else (docker, another package, an install command).
fn interpret(command: &str, args: &[String], identity: &Identity) -> Option<Vec<String>> {
    let base = command
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(command)
        .trim_end_matches(".cmd")
        .trim_end_matches(".exe");
    let is_ours = |word: &str| {
        let bare = word
            .rsplit_once('@')
            .filter(|(n, _)| !n.is_empty())
            .map_or(word, |(n, _)| n);
        let bare = bare.split("==").next().unwrap_or(bare);
        bare == identity.package
            || normalize(bare) == normalize(&identity.package)
            || identity.commands.iter().any(|c| c == bare)
    };
    let after_positional = |args: &[String], valued: &[&str]| -> Option<Vec<String>> {
        let mut i = 0;
        while i < args.len() && args[i].starts_with('-') {
            i += if valued.contains(&args[i].as_str()) {
                2
            } else {
                1
            };
        }
        let word = args.get(i)?;
        is_ours(word).then(|| args[i + 1..].to_vec())
    };
    match base {
        "cmd" if args.first().is_some_and(|a| a.eq_ignore_ascii_case("/c")) => {
            interpret(args.get(1)?, args.get(2..)?, identity)
        }
        "npx" | "bunx" | "pnpx" => after_positional(args, &["-p", "--package"]),
        "pnpm" | "yarn" | "bun"
            if args.first().map(String::as_str) == Some("dlx")
                || args.first().map(String::as_str) == Some("x") =>
        {
            after_positional(&args[1..], &["-p", "--package"])
        }
        "uvx" => after_positional(
            args,
            &[
                "--from",
                "--with",
                "-p",
                "--python",
                "--index-url",
                "--index",
            ],
        ),
        "uv" | "pipx" if args.first().map(String::as_str) == Some("run") => after_positional(
            &args[1..],
            &[
                "--from",
                "--with",
                "--directory",
                "-p",
                "--python",
                "--spec",
            ],
        ),
        "python" | "python3" | "py" => {
            let module = args.iter().position(|a| a == "-m")?;
            let name = args.get(module + 1)?;
            identity
                .modules
                .iter()
                .any(|m| m == name)
                .then(|| args[module + 2..].to_vec())
        }
        "node" => {
            let file = args.iter().find(|a| !a.starts_with('-'))?;
            let position = args.iter().position(|a| a == file)?;
            identity
                .bin_files
                .iter()
                .any(|b| clean_path(file).ends_with(clean_path(b)))
                .then(|| args[position + 1..].to_vec())
        }
        other if identity.commands.iter().any(|c| c == other) => Some(args.to_vec()),
        _ => None,
    }
}

/// Chooses the launch arguments among documented invocations (best evidence first).
pub(crate) fn choose(invocations: &[Invocation]) -> ArgsChoice {
    let mut choice = ArgsChoice::default();
    if let Some(stdio) = invocations.iter().find(|i| selects_stdio(&i.args)) {
        let args = if stdio.args.iter().any(|a| looks_user_specific(a)) {
            choice.warnings.push(format!("the documented stdio invocation also passes {:?}, which looks user-specific; it was left out", stdio.args));
            selector_only(&stdio.args)
        } else {
            stdio.args.clone()
        };
        choice.args = args;
        choice.evidence = Some(Evidence::new(
            &stdio.evidence.file,
            stdio.evidence.line,
            format!("stdio mode selected as {}", stdio.evidence.note),
        ));
        return choice;
    }
    let extra: Vec<&Invocation> = invocations
        .iter()
        .filter(|i| !i.args.is_empty() && !selects_other_transport(&i.args))
        .collect();
    if let Some(first) = extra.first() {
        choice.warnings.push(format!(
            "{}:{} documents extra arguments {:?}; the server is launched without them: add them at deploy time if it needs them",
            first.evidence.file,
            first.evidence.line.map(|l| l.to_string()).unwrap_or_default(),
            first.args
        ));
    }
    choice
}

fn selects_stdio(args: &[String]) -> bool {
    args.iter().enumerate().any(|(i, a)| {
        a == "stdio"
            && (i == 0 || !args[i - 1].starts_with("--") || is_transport_flag(&args[i - 1]))
            || a == "--stdio"
            || a.strip_prefix("--transport=").is_some_and(|v| v == "stdio")
            || is_transport_flag(a) && args.get(i + 1).is_some_and(|v| v == "stdio")
    })
}

fn is_transport_flag(arg: &str) -> bool {
    matches!(arg, "--transport" | "-t" | "--mode")
}

fn selects_other_transport(args: &[String]) -> bool {
    args.iter().any(|a| {
        let lower = a.to_ascii_lowercase();
        matches!(
            lower.as_str(),
            "sse" | "http" | "streamablehttp" | "streamable-http" | "--sse" | "--http" | "--port"
        ) || lower.starts_with("--transport=") && !lower.ends_with("stdio")
    })
}

/// Keeps only the arguments that select stdio.
fn selector_only(args: &[String]) -> Vec<String> {
    let mut kept = Vec::new();
    for (i, a) in args.iter().enumerate() {
        if a == "stdio" && i > 0 && is_transport_flag(&args[i - 1]) {
            kept.push(args[i - 1].clone());
            kept.push(a.clone());
        } else if a == "stdio" || a == "--stdio" || a == "--transport=stdio" {
            kept.push(a.clone());
        }
    }
    kept
}

/// Paths, placeholders and example values that belong to one user's machine.
fn looks_user_specific(arg: &str) -> bool {
    let lower = arg.to_ascii_lowercase();
    arg.contains(['<', '>', '{', '}'])
        || lower.contains("path/to")
        || lower.contains("your")
        || lower.contains("/users/")
        || lower.contains("/home/")
        || lower.contains("c:\\")
        || arg.starts_with('~')
        || arg.starts_with('/')
        || arg.contains("...")
}

/// Whitespace-separated words, honouring simple quotes; stops at shell operators and comments.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut has_word = false;
    for c in line.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => current.push(c),
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                has_word = true;
            }
            None if c.is_whitespace() => {
                if has_word || !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                    has_word = false;
                }
            }
            None if matches!(c, '|' | '&' | ';' | '>' | '#') && current.is_empty() => break,
            None => current.push(c),
        }
    }
    if has_word || !current.is_empty() {
        words.push(current);
    }
    // Skip `A=1 B=2` prefixes and a leading `sudo`.
    let start = words
        .iter()
        .position(|w| {
            !(w.contains('=') && w.chars().next().is_some_and(|c| c.is_ascii_uppercase()))
                && w != "sudo"
        })
        .unwrap_or(words.len());
    words.split_off(start)
}
