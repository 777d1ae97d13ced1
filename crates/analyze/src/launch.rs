//! The launch arguments: which arguments, if any, select the server's stdio mode, and which
//! ones the user supplies at deploy time (argument fields).
//!
//! The evidence for the fixed arguments, strongest first: `server.json` `packageArguments`;
//! then invocations the package documents (`smithery.yaml`'s `commandFunction`, client config
//! snippets `"command"`/`"args"` and shell lines in the README, `package.json` scripts that run
//! the bin file, the Dockerfile's `ENTRYPOINT`/`CMD`). An invocation that selects stdio
//! explicitly (`stdio`, `--stdio`, `--transport stdio`) wins; no other documented argument is
//! copied into `launch.args`.
//!
//! The other documented arguments become [`ArgField`]s: `server.json` arguments without a
//! fixed value, smithery properties passed as arguments, arguments of the README's
//! invocations, usage lines (`Usage: cmd <dir> [--flag VALUE]`), argument declarations in the
//! code (argparse, click, commander) and argument checks in the code (`if (args.length === 0)
//! process.exit(1)`). [`merge_args`] folds them into one field per flag or position.

use std::sync::LazyLock;

use regex::Regex;

use crate::env::is_secret_name;
use crate::manifest::node::clean_path;
use crate::manifest::normalize;
use crate::manifest::server_json::SjPackage;
use crate::manifest::smithery::upper_snake;
use crate::spec::{ArgField, Confidence, Evidence, Level};

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

/// The chosen arguments, their evidence, and the declared argument fields.
#[derive(Debug, Default)]
pub(crate) struct ArgsChoice {
    pub args: Vec<String>,
    pub evidence: Option<Evidence>,
    pub fields: Vec<ArgFinding>,
}

static JSON_ARGS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#""args"\s*:\s*(\[[^\[\]]*\])"#).unwrap());
static JSON_COMMAND: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#""command"\s*:\s*"([^"]*)""#).unwrap());
static INLINE_CODE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"`([^`]+)`").unwrap());

/// Arguments from `server.json`; `None` when it declares no `packageArguments`. Fixed values
/// go to the command line; arguments without one (or with a templated `{value}`) become
/// fields.
pub(crate) fn from_server_json(package: &SjPackage, file: &str) -> Option<ArgsChoice> {
    let declared = package.package_arguments.as_ref()?;
    let mut choice = ArgsChoice {
        evidence: Some(Evidence::new(file, None, "packageArguments in server.json")),
        ..ArgsChoice::default()
    };
    let mut position = 0;
    for argument in declared {
        let value = argument.value.clone().or_else(|| argument.default.clone());
        let label = argument
            .name
            .clone()
            .or_else(|| argument.value_hint.clone())
            .unwrap_or_else(|| "(unnamed)".into());
        match (argument.named, value) {
            (true, Some(v)) if !v.contains('{') => {
                choice.args.extend(argument.name.clone());
                choice.args.push(v);
            }
            (false, Some(v)) if !v.contains('{') => choice.args.push(v),
            (named, value) => {
                let flag = if named { argument.name.clone() } else { None };
                let mut field = ArgFinding::new(
                    flag,
                    ArgOrigin::ServerJson,
                    Evidence::new(
                        file,
                        argument.line,
                        format!("argument {label} declared in server.json"),
                    ),
                );
                if !named {
                    field.position = Some(position);
                    position += 1;
                    field.name = argument.value_hint.clone().or(argument.name.clone());
                }
                field.description = argument.description.clone();
                field.required = Some(argument.required);
                field.repeated = argument.repeated;
                field.format = argument.format.clone().filter(|f| f != "string");
                field.boolean = argument.format.as_deref() == Some("boolean");
                field.choices = argument.choices.clone();
                field.default = argument.default.clone().filter(|d| !d.contains('{'));
                field.example = value;
                choice.fields.push(field);
            }
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

/// How many leading words of `words` name our server (`npx -y @scope/pkg`, `node
/// dist/index.js`, the bin itself), or `None` if the line runs something else.
pub(crate) fn ours_prefix(words: &[String], identity: &Identity) -> Option<usize> {
    let (command, args) = words.split_first()?;
    interpret(command, args, identity).map(|rest| words.len() - rest.len())
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

/// Chooses the launch arguments among documented invocations (best evidence first): the stdio
/// selection of the first invocation that makes one, else none. Every other documented
/// argument is left to the argument fields.
pub(crate) fn choose(invocations: &[Invocation]) -> ArgsChoice {
    let mut choice = ArgsChoice::default();
    if let Some(stdio) = invocations.iter().find(|i| selects_stdio(&i.args)) {
        choice.args = selector_only(&stdio.args);
        choice.evidence = Some(Evidence::new(
            &stdio.evidence.file,
            stdio.evidence.line,
            format!("stdio mode selected as {}", stdio.evidence.note),
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

/// Whitespace-separated words, honouring simple quotes; stops at shell operators and comments.
pub(crate) fn shell_words(line: &str) -> Vec<String> {
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

/// Where an argument finding came from.
///
/// Fields are settled like variables: words (`description`, `format`, `choices`) by
/// server.json, smithery.yaml, a declaration in the code, a usage line, a check in the code,
/// the README; behaviour (`required`, `default`) by server.json, a declaration, a check in the
/// code, smithery.yaml, a usage line, the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum ArgOrigin {
    ServerJson,
    Smithery,
    /// argparse `add_argument`, click `option`/`argument`, commander `option`/`argument`.
    Declaration,
    /// `Usage: cmd <dir> [--flag VALUE]` in the code or the README.
    Usage,
    /// The code exits when `process.argv` / `sys.argv` lacks the argument.
    CodeCheck,
    /// An argument passed in a documented invocation.
    Readme,
}

impl ArgOrigin {
    fn words_rank(self) -> u8 {
        self as u8
    }

    fn behaviour_rank(self) -> u8 {
        match self {
            ArgOrigin::ServerJson => 0,
            ArgOrigin::Declaration => 1,
            ArgOrigin::CodeCheck => 2,
            ArgOrigin::Smithery => 3,
            ArgOrigin::Usage => 4,
            ArgOrigin::Readme => 5,
        }
    }

    fn what(self) -> &'static str {
        match self {
            ArgOrigin::ServerJson => "declared in server.json",
            ArgOrigin::Smithery => "passed by smithery.yaml's commandFunction",
            ArgOrigin::Declaration => "declared by the code's argument parser",
            ArgOrigin::Usage => "in a usage line",
            ArgOrigin::CodeCheck => "checked by the code",
            ArgOrigin::Readme => "passed in the README's examples",
        }
    }
}

/// One observation about one command-line argument.
#[derive(Debug, Clone)]
pub(crate) struct ArgFinding {
    /// The flag, long form preferred (`--repository`); `None` for a positional argument.
    pub flag: Option<String>,
    /// Other spellings of the flag (`-r`).
    pub aliases: Vec<String>,
    /// A positional argument's documented name.
    pub name: Option<String>,
    /// A positional argument's index among the positional arguments.
    pub position: Option<usize>,
    pub origin: ArgOrigin,
    pub description: Option<String>,
    pub required: Option<bool>,
    pub repeated: bool,
    /// A switch without a value.
    pub boolean: bool,
    pub default: Option<String>,
    pub format: Option<String>,
    pub choices: Vec<String>,
    /// A documented value (never a default): hints at the name and format.
    pub example: Option<String>,
    /// Why `required` is what it is, in words, when the evidence note does not say.
    pub why: Option<String>,
    /// False for a finding that only adds to a field found elsewhere (an optional option
    /// declared in the code but documented nowhere).
    pub creates: bool,
    pub evidence: Evidence,
}

impl ArgFinding {
    pub fn new(flag: Option<String>, origin: ArgOrigin, evidence: Evidence) -> ArgFinding {
        ArgFinding {
            flag,
            aliases: Vec::new(),
            name: None,
            position: None,
            origin,
            description: None,
            required: None,
            repeated: false,
            boolean: false,
            default: None,
            format: None,
            choices: Vec::new(),
            example: None,
            why: None,
            creates: true,
            evidence,
        }
    }

    fn spellings(&self) -> impl Iterator<Item = &String> {
        self.flag.iter().chain(self.aliases.iter())
    }
}

/// Flags that are not the user's to set: transports, listening addresses, help.
fn is_plumbing(flag: &str) -> bool {
    matches!(
        flag.trim_start_matches('-'),
        "transport"
            | "t"
            | "stdio"
            | "sse"
            | "http"
            | "mode"
            | "port"
            | "p"
            | "host"
            | "h"
            | "help"
            | "version"
            | "V"
            | "y"
            | "yes"
    )
}

/// Argument findings from the README's invocations of our server (arguments after the server's
/// name). One that every such invocation passes is required; the stdio selection is not an
/// argument field, and invocations selecting another transport are skipped. `switches` are
/// flags known (from declarations or usage lines) to take no value, so that the word after
/// one is read as a positional argument.
pub(crate) fn readme_arg_findings(
    invocations: &[Invocation],
    switches: &[String],
) -> Vec<ArgFinding> {
    let ours: Vec<&Invocation> = invocations
        .iter()
        .filter(|i| !selects_other_transport(&i.args))
        .collect();
    let mut findings: Vec<ArgFinding> = Vec::new();
    let mut passed: Vec<Vec<(Option<String>, Option<usize>)>> = Vec::new();
    for invocation in &ours {
        let first = findings.len();
        let mut position = 0;
        let args = &invocation.args;
        let mut i = 0;
        while i < args.len() {
            let arg = &args[i];
            let selector = arg == "stdio"
                || arg == "--stdio"
                || arg == "--transport=stdio"
                || is_transport_flag(arg) && args.get(i + 1).is_some_and(|v| v == "stdio");
            if selector {
                i += if is_transport_flag(arg) { 2 } else { 1 };
                continue;
            }
            let evidence = invocation.evidence.clone();
            if arg.len() > 1 && arg.starts_with('-') && arg.parse::<f64>().is_err() {
                let (flag, value, step) = match arg.split_once('=') {
                    Some((f, v)) => (f.to_string(), Some(v.to_string()), 1),
                    None if switches.contains(arg) => (arg.clone(), None, 1),
                    None => match args.get(i + 1).filter(|v| !v.starts_with('-')) {
                        Some(v) => (arg.clone(), Some(v.clone()), 2),
                        None => (arg.clone(), None, 1),
                    },
                };
                i += step;
                if is_plumbing(&flag) {
                    continue;
                }
                let mut finding = ArgFinding::new(Some(flag), ArgOrigin::Readme, evidence);
                finding.boolean = value.is_none();
                finding.example = value;
                findings.push(finding);
            } else {
                let mut finding = ArgFinding::new(None, ArgOrigin::Readme, evidence);
                finding.position = Some(position);
                finding.example = Some(arg.clone());
                position += 1;
                i += 1;
                findings.push(finding);
            }
        }
        passed.push(
            findings[first..]
                .iter()
                .map(|f| (f.flag.clone(), f.position))
                .collect(),
        );
    }
    // Required when every documented invocation passes it.
    let total = ours.len();
    for finding in &mut findings {
        let key = (finding.flag.clone(), finding.position);
        let every = passed.iter().all(|keys| keys.contains(&key));
        finding.required = Some(every && !finding.boolean);
        finding.why = Some(if every && !finding.boolean {
            format!("passed by every documented invocation ({total})")
        } else {
            "not passed by every documented invocation".to_string()
        });
    }
    findings
}

fn is_pathlike(value: &str) -> bool {
    value.starts_with(['/', '~', '.'])
        || value.contains("path/to")
        || value.contains('\\')
        || value.contains("${workspaceFolder}")
}

/// A name for a positional argument known only by an example value.
fn name_from_example(example: &str) -> &'static str {
    if example.contains("://") {
        "url"
    } else if is_pathlike(example) {
        "path"
    } else {
        "value"
    }
}

/// The flags that the findings show as switches without a value.
pub(crate) fn switches(findings: &[ArgFinding]) -> Vec<String> {
    findings
        .iter()
        .filter(|f| f.boolean && f.origin != ArgOrigin::Readme)
        .flat_map(|f| f.spellings().cloned())
        .collect()
}

/// One field per flag (matching any spelling) and per position; fields only enriched by
/// optional declarations are dropped. Named fields come first, in order of discovery, then
/// positional ones by position.
pub(crate) fn merge_args(findings: Vec<ArgFinding>) -> Vec<ArgField> {
    let findings: Vec<ArgFinding> = findings
        .into_iter()
        .filter(|f| f.flag.as_deref().is_none_or(|flag| !is_plumbing(flag)))
        .collect();
    let mut groups: Vec<Vec<&ArgFinding>> = Vec::new();
    for finding in &findings {
        let group = groups.iter_mut().find(|g| {
            g.iter().any(|other| match (&finding.flag, &other.flag) {
                (Some(_), Some(_)) => finding
                    .spellings()
                    .any(|s| other.spellings().any(|o| o == s)),
                (None, None) => finding.position == other.position,
                _ => false,
            })
        });
        match group {
            Some(group) => group.push(finding),
            None => groups.push(vec![finding]),
        }
    }
    groups.retain(|g| g.iter().any(|f| f.creates));
    groups.sort_by_key(|g| (g[0].flag.is_none(), g[0].position.unwrap_or(0)));
    let mut fields: Vec<ArgField> = groups.iter().map(|g| merge_arg(g)).collect();
    // Names are form keys: make them unique.
    for i in 1..fields.len() {
        let mut n = 2;
        let base = fields[i].name.clone();
        while fields[..i].iter().any(|f| f.name == fields[i].name) {
            fields[i].name = format!("{base}-{n}");
            n += 1;
        }
    }
    fields
}

fn by_rank<'a, T>(
    group: &[&'a ArgFinding],
    rank: fn(ArgOrigin) -> u8,
    get: impl Fn(&ArgFinding) -> Option<T>,
) -> Option<(T, &'a ArgFinding)> {
    let mut sorted = group.to_vec();
    sorted.sort_by_key(|f| rank(f.origin));
    sorted.into_iter().find_map(|f| get(f).map(|v| (v, f)))
}

fn merge_arg(group: &[&ArgFinding]) -> ArgField {
    let mut group = group.to_vec();
    group.sort_by_key(|f| f.origin);
    let group = group.as_slice();
    let long = group
        .iter()
        .flat_map(|f| f.spellings())
        .find(|s| s.starts_with("--"))
        .or_else(|| group.iter().find_map(|f| f.flag.as_ref()))
        .cloned();
    let example = group.iter().find_map(|f| f.example.clone());
    let name = match &long {
        Some(flag) => flag.trim_start_matches('-').to_string(),
        None => by_rank(group, ArgOrigin::words_rank, |f| f.name.clone())
            .map(|(n, _)| n)
            .unwrap_or_else(|| name_from_example(example.as_deref().unwrap_or("")).to_string()),
    };
    let name = name
        .trim_matches(['<', '>', '[', ']', '.', ' '])
        .to_ascii_lowercase()
        .replace([' ', '_'], "-");
    let description = by_rank(group, ArgOrigin::words_rank, |f| {
        f.description.clone().filter(|d| !d.trim().is_empty())
    })
    .map(|(d, _)| d)
    .unwrap_or_default();
    let required = by_rank(group, ArgOrigin::behaviour_rank, |f| f.required);
    let default = by_rank(group, ArgOrigin::behaviour_rank, |f| {
        f.default.clone().filter(|d| !d.is_empty())
    })
    .map(|(d, _)| d);
    // A declaration, usage line or smithery says whether a flag takes a value; README examples
    // only when nothing else does.
    let boolean = long.is_some()
        && group
            .iter()
            .find(|f| f.origin != ArgOrigin::Readme)
            .map_or_else(|| group.iter().all(|f| f.boolean), |f| f.boolean);
    let format = if boolean {
        Some("boolean".to_string())
    } else {
        by_rank(group, ArgOrigin::words_rank, |f| {
            f.format.clone().filter(|f| f != "boolean")
        })
        .map(|(f, _)| f)
        .or_else(|| {
            let pathy = name.contains("dir")
                || name.contains("path")
                || name.contains("file")
                || example.as_deref().is_some_and(is_pathlike);
            pathy.then(|| "filepath".to_string())
        })
    };
    let choices = by_rank(group, ArgOrigin::words_rank, |f| {
        Some(f.choices.clone()).filter(|c| !c.is_empty())
    })
    .map(|(c, _)| c)
    .unwrap_or_default();
    let mut evidence: Vec<Evidence> = Vec::new();
    for finding in group {
        if !evidence.contains(&finding.evidence) {
            evidence.push(finding.evidence.clone());
        }
    }
    let secret = upper_snake(&name).is_some_and(|n| is_secret_name(&n));
    let confidence = arg_confidence(
        group,
        required.map(|(r, f)| (r, f.why.clone().unwrap_or_else(|| f.evidence.note.clone()))),
    );
    ArgField {
        flag: long,
        description,
        required: required.is_some_and(|(r, _)| r),
        repeated: group.iter().any(|f| f.repeated),
        secret,
        default,
        format,
        choices,
        evidence,
        confidence,
        name,
    }
}

/// High: declared (server.json, smithery.yaml, the code's parser) or found in two kinds of
/// places; medium: one kind; low: a single README example.
fn arg_confidence(group: &[&ArgFinding], required: Option<(bool, String)>) -> Confidence {
    let mut origins: Vec<ArgOrigin> = group.iter().map(|f| f.origin).collect();
    origins.sort();
    origins.dedup();
    let declared = origins.iter().any(|o| {
        matches!(
            o,
            ArgOrigin::ServerJson | ArgOrigin::Smithery | ArgOrigin::Declaration
        )
    });
    let level = if declared || origins.len() >= 2 {
        Level::High
    } else if origins == [ArgOrigin::Readme] && group.len() == 1 {
        Level::Low
    } else {
        Level::Medium
    };
    let mut reasons: Vec<String> = origins
        .iter()
        .map(|origin| {
            let places: Vec<String> = group
                .iter()
                .filter(|f| f.origin == *origin)
                .map(|f| match f.evidence.line {
                    Some(line) => format!("{}:{line}", f.evidence.file),
                    None => f.evidence.file.clone(),
                })
                .take(3)
                .collect();
            format!("{} ({})", origin.what(), places.join(", "))
        })
        .collect();
    reasons.push(match required {
        Some((true, why)) => format!("required: {why}"),
        Some((false, why)) => format!("optional: {why}"),
        None => "optional: nothing says the server needs it".into(),
    });
    Confidence { level, reasons }
}
