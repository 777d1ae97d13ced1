//! Turning the files of a fetched package into a [`ServerSpec`].
//!
//! Decides the runtime (from the registry, else from the manifests present), reads the
//! manifest of that runtime for the package identity and the command, then gathers
//! environment findings (server.json, smithery.yaml, code, README, `.env.example`,
//! Dockerfile), launch arguments and argument fields, and says how sure it is.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;

use crate::env::{self, Finding, Origin};
use crate::error::AnalyzeError;
use crate::fetch::Fetched;
use crate::files::{DOCKERFILES, DOTENV_EXAMPLES, SMITHERY_FILES, SourceFile, SourceTree, line_of};
use crate::launch::{self, ArgFinding, Identity, Invocation, ours_prefix};
use crate::manifest::node::clean_path;
use crate::manifest::{choose_command, cli, dockerfile, dotenv, node, normalize, python};
use crate::manifest::{server_json, smithery};
use crate::source::Source;
use crate::spec::{
    ArgField, Confidence, EnvVar, Evidence, Launch, Level, PackageRef, Registry, Runtime,
    SPEC_VERSION, ServerSpec,
};
use crate::{code_env, readme, transport};

const README_NAMES: &[&str] = &[
    "README.md",
    "README.markdown",
    "README.rst",
    "README.txt",
    "README",
];

static MCP_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"mcp-name:\s*([A-Za-z0-9.-]+/[A-Za-z0-9._-]+)").unwrap());

/// Everything the runtime-specific readers found, before the common steps.
struct Identified {
    runtime: Runtime,
    registry: Registry,
    name: String,
    version: String,
    description: Option<String>,
    mcp_name: Option<String>,
    runtime_requirement: Option<String>,
    command: String,
    /// Arguments that must come before any documented ones (`-m module`).
    base_args: Vec<String>,
    identity: Identity,
    /// Folders of the launched entry point (`dist/`, `mcp_server_git/`): argument declarations
    /// and checks count only there. `""` means the whole package.
    entry_dirs: Vec<String>,
    /// The command was picked among several by a guess.
    command_guessed: bool,
    /// The command is `python -m module` for want of a console script.
    command_fallback: bool,
    /// The README text and its file, if any.
    readme: Option<(String, String)>,
    scripts: Vec<(String, String)>,
    evidence: Vec<Evidence>,
    warnings: Vec<String>,
}

/// Builds the spec from a fetched source; also gives back the README it read (file name and
/// text), which the LLM help quotes.
pub(crate) fn build(
    source: &Source,
    fetched: &Fetched,
    tree: &SourceTree,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<(ServerSpec, Option<(String, String)>), AnalyzeError> {
    let runtime = match &fetched.registry {
        Some((Registry::Npm, ..)) => Runtime::Node,
        Some((Registry::Pypi, ..)) => Runtime::Python,
        None => detect_runtime(tree, &fetched.root)?,
    };
    let mut found = match runtime {
        Runtime::Node => identify_node(fetched, tree, progress)?,
        Runtime::Python => identify_python(fetched, tree, progress)?,
    };
    found.warnings.extend(fetched.warnings.iter().cloned());
    if tree.truncated {
        found.warnings.push(
            "the package has too many files (or too many bytes): only part of it was read".into(),
        );
    }

    let server_json = tree.get("server.json").and_then(server_json::parse);
    if server_json.is_some() {
        progress("reading server.json");
    }
    let sj_package = server_json
        .as_ref()
        .and_then(|sj| sj.package_for(found.registry, &found.name));
    if let Some(transport) = sj_package
        .and_then(|p| p.transport.as_deref())
        .filter(|t| *t != "stdio")
    {
        found.warnings.push(format!("server.json declares the {transport} transport for this package; Catwalk runs it over stdio"));
    }

    let mut findings: Vec<Finding> = Vec::new();
    if let (Some(sj), Some(package)) = (&server_json, sj_package) {
        for declared in &package.env {
            let mut finding = Finding::new(
                &declared.name,
                Origin::ServerJson,
                Evidence::new(&sj.file, declared.line, "declared in server.json"),
            );
            finding.description = declared.description.clone();
            finding.required = Some(declared.required);
            finding.secret = Some(declared.secret);
            finding.default = declared.default.clone();
            finding.format = declared.format.clone();
            finding.choices = declared.choices.clone();
            findings.push(finding);
        }
    }
    let mut invocations: Vec<Invocation> = Vec::new();
    let mut arg_findings: Vec<ArgFinding> = Vec::new();

    let smithery = tree.root_file_ci(SMITHERY_FILES).and_then(smithery::parse);
    if let Some(config) = &smithery {
        progress(&format!("reading {}", config.file));
        findings.extend(config.env_findings());
        if let Some((command, words)) = config.invocation() {
            let mut line = vec![command.clone()];
            line.extend(words.iter().cloned());
            let shown = line.join(" ");
            let line_no = config.command.as_ref().and_then(|c| c.line);
            match ours_prefix(&line, &found.identity) {
                Some(n) => {
                    found.evidence.push(Evidence::new(
                        &config.file,
                        line_no,
                        format!("smithery.yaml starts the same server: {shown}"),
                    ));
                    arg_findings.extend(config.arg_findings(n - 1));
                    invocations.push(Invocation {
                        args: line[n..].to_vec(),
                        evidence: Evidence::new(
                            &config.file,
                            line_no,
                            format!("documented in smithery.yaml's commandFunction: {shown}"),
                        ),
                    });
                }
                None => arg_findings.extend(config.arg_findings(script_words(&words))),
            }
        }
    }

    let code_files: Vec<_> = tree.code_files().collect();
    progress(&format!(
        "scanning {} source files for environment variables and arguments",
        code_files.len()
    ));
    findings.extend(code_env::find_all(&code_files));
    for file in &code_files {
        let in_entry = in_entry(file, &found.entry_dirs);
        arg_findings.extend(cli::usage_findings(
            &file.rel,
            &file.text,
            &found.identity,
            in_entry,
        ));
        if in_entry {
            arg_findings.extend(cli::code_findings(file));
        }
    }
    for name in DOTENV_EXAMPLES {
        if let Some(file) = tree.get(name) {
            progress(&format!("reading {name}"));
            findings.extend(dotenv::findings(file));
        }
    }
    if let Some((file, text)) = &found.readme {
        progress(&format!("reading {file}"));
        findings.extend(readme::find(file, text, &found.identity));
        let documented = launch::readme_invocations(file, text, &found.identity);
        let switches = launch::switches(&arg_findings);
        arg_findings.extend(launch::readme_arg_findings(&documented, &switches));
        arg_findings.extend(cli::usage_findings(file, text, &found.identity, false));
        invocations.extend(documented);
    } else {
        found
            .warnings
            .push("no README found: variables are described from the code only".into());
    }
    invocations.extend(launch::script_invocations(&found.scripts, &found.identity));
    if let Some(file) = tree.root_file_ci(DOCKERFILES) {
        progress(&format!("reading {}", file.rel));
        let image = dockerfile::parse(file);
        findings.extend(image.env);
        if let Some((words, line)) = &image.command
            && let Some(n) = ours_prefix(words, &found.identity)
        {
            let shown = words.join(" ");
            found.evidence.push(Evidence::new(
                &image.file,
                Some(*line),
                format!("the Dockerfile starts the same server: {shown}"),
            ));
            invocations.push(Invocation {
                args: words[n..].to_vec(),
                evidence: Evidence::new(
                    &image.file,
                    Some(*line),
                    format!("run by the Dockerfile: {shown}"),
                ),
            });
        }
    }

    let declared_args = match (&server_json, sj_package) {
        (Some(sj), Some(package)) => launch::from_server_json(package, &sj.file),
        _ => None,
    };
    let args_from_server_json = declared_args.is_some();
    let args_choice = declared_args.unwrap_or_else(|| launch::choose(&invocations));
    let args_evidence = args_choice.evidence.clone();
    found.evidence.extend(args_choice.evidence);
    arg_findings.extend(args_choice.fields);
    let mut args = found.base_args.clone();
    args.extend(args_choice.args);

    let left_out = {
        let names: BTreeSet<String> = findings.iter().map(|f| f.name.clone()).collect();
        let readme_text = found.readme.as_ref().map(|(_, text)| text.as_str());
        let http_documented = transport::documented_for_http(&names, readme_text, &code_files);
        let named_elsewhere = |name: &str| named_outside_minified_code(tree, name);
        env::leave_out(&mut findings, &http_documented, &named_elsewhere)
    };
    let env = env::merge(findings);
    let arg_fields = launch::merge_args(arg_findings);
    let confidence = spec_confidence(
        &found,
        fetched,
        tree,
        &env,
        &arg_fields,
        args_from_server_json,
        args_evidence.as_ref(),
        sj_package.and_then(|p| p.transport.as_deref()),
    );

    let (path, revision) = (fetched.path.clone(), fetched.revision.clone());
    let readme = found.readme.clone();
    let spec = ServerSpec {
        spec_version: SPEC_VERSION,
        source: source.to_string(),
        name: deployment_name(&found.name),
        description: found
            .description
            .or_else(|| server_json.as_ref().and_then(|sj| sj.description.clone())),
        mcp_name: found
            .mcp_name
            .or_else(|| server_json.as_ref().and_then(|sj| sj.name.clone())),
        runtime: found.runtime,
        runtime_requirement: found.runtime_requirement,
        package: PackageRef {
            registry: found.registry,
            name: found.name,
            version: found.version,
            path,
            revision,
        },
        launch: Launch {
            command: found.command,
            args,
        },
        env,
        left_out,
        args: arg_fields,
        confidence,
        evidence: found.evidence,
        warnings: found.warnings,
        introspection: None,
        assist: None,
    };
    Ok((spec, readme))
}

/// Whether any file read names `name` on a line that is not minified code (a README, a help
/// text, readable source): a variable read only inside a minified bundle and named nowhere else
/// belongs to a bundled dependency.
fn named_outside_minified_code(tree: &SourceTree, name: &str) -> bool {
    tree.files.iter().any(|file| {
        file.text
            .lines()
            .any(|line| line.len() <= code_env::MINIFIED_LINE && transport::names_word(line, name))
    })
}

/// How many leading words of a command line not recognised as ours name a script rather than
/// arguments (`server.py`, `-m pkg`, `run`), so that the rest can be read as arguments.
fn script_words(words: &[String]) -> usize {
    let mut skip = 0;
    while let Some(word) = words.get(skip) {
        match word.as_str() {
            "-m" => skip += 2,
            "-y" | "run" | "--" => skip += 1,
            w if w.starts_with('-') || w.starts_with('{') => break,
            _ => skip += 1,
        }
    }
    skip.min(words.len())
}

/// Whether a code file belongs to the launched entry point.
fn in_entry(file: &SourceFile, entry_dirs: &[String]) -> bool {
    entry_dirs
        .iter()
        .any(|dir| dir.is_empty() || file.rel.starts_with(&format!("{dir}/")))
}

/// The folder of each bin file (`dist/index.js` → `dist`).
fn bin_dirs(bins: &[(String, String)]) -> Vec<String> {
    let mut dirs: Vec<String> = bins
        .iter()
        .map(|(_, target)| {
            clean_path(target)
                .rsplit_once('/')
                .map(|(dir, _)| dir.to_string())
                .unwrap_or_default()
        })
        .collect();
    dirs.sort();
    dirs.dedup();
    dirs
}

/// How sure the analyzer is that the spec starts the server, and why: the launch evidence,
/// lowered by guesses, and by required variables or arguments that rest on weak evidence.
#[allow(clippy::too_many_arguments)]
fn spec_confidence(
    found: &Identified,
    fetched: &Fetched,
    tree: &SourceTree,
    env: &[EnvVar],
    args: &[ArgField],
    args_from_server_json: bool,
    args_evidence: Option<&Evidence>,
    transport: Option<&str>,
) -> Confidence {
    let mut level = Level::High;
    let mut reasons = Vec::new();
    let what = match found.runtime {
        Runtime::Node => "bin",
        Runtime::Python => "console script",
    };
    let whose = if fetched.registry.is_some() {
        "the published package"
    } else {
        "the package's manifest"
    };
    if found.command_fallback {
        level = Level::Low;
        reasons.push(format!(
            "no console script: the server is started as python {}",
            found.base_args.join(" ")
        ));
    } else if found.command_guessed {
        level = Level::Medium;
        reasons.push(format!(
            "{} is one of several commands of {whose}, picked by its name",
            found.command
        ));
    } else {
        reasons.push(format!(
            "{} is the {what} declared by {whose}",
            found.command
        ));
    }
    if args_from_server_json {
        reasons.push("the arguments come from server.json's packageArguments".into());
    } else if let Some(evidence) = args_evidence {
        reasons.push(format!(
            "{} ({})",
            evidence.note,
            evidence
                .line
                .map_or(evidence.file.clone(), |l| format!("{}:{l}", evidence.file))
        ));
    }
    for corroboration in found
        .evidence
        .iter()
        .filter(|e| e.note.contains("starts the same server"))
    {
        reasons.push(corroboration.note.clone());
    }
    if let Some(transport) = transport.filter(|t| *t != "stdio") {
        level = level.min(Level::Medium);
        reasons.push(format!(
            "server.json declares the {transport} transport, not stdio"
        ));
    }
    if tree.truncated {
        level = level.min(Level::Medium);
        reasons.push("only part of the package was read (too many files or bytes)".into());
    }
    let required_env: Vec<&EnvVar> = env.iter().filter(|v| v.required).collect();
    let required_args: Vec<&ArgField> = args.iter().filter(|a| a.required).collect();
    if !required_env.is_empty() || !required_args.is_empty() {
        reasons.push(format!(
            "the user must supply {} variable(s) and {} argument(s)",
            required_env.len(),
            required_args.len()
        ));
    }
    let weak: Vec<&str> = required_env
        .iter()
        .filter(|v| v.confidence.level == Level::Low)
        .map(|v| v.name.as_str())
        .chain(
            required_args
                .iter()
                .filter(|a| a.confidence.level == Level::Low)
                .map(|a| a.name.as_str()),
        )
        .collect();
    if !weak.is_empty() {
        level = level.min(Level::Medium);
        reasons.push(format!(
            "required but weakly evidenced: {}",
            weak.join(", ")
        ));
    }
    if found.readme.is_none() {
        reasons.push("no README: descriptions come from the code only".into());
    }
    Confidence { level, reasons }
}

/// For folders: Node when there is a package.json with a bin, Python when there are Python
/// manifests with a script; a package.json wins a tie, with a warning.
fn detect_runtime(tree: &SourceTree, root: &Path) -> Result<Runtime, AnalyzeError> {
    let node = tree
        .get("package.json")
        .map(node::parse)
        .transpose()
        .ok()
        .flatten();
    let py = python::read(tree);
    match (node, py.found) {
        (Some(n), true) if n.bins.is_empty() && !py.scripts.is_empty() => Ok(Runtime::Python),
        (Some(_), _) => Ok(Runtime::Node),
        (None, true) => Ok(Runtime::Python),
        (None, false) => Err(AnalyzeError::NoManifest {
            path: root.to_path_buf(),
        }),
    }
}

fn readme_of(tree: &SourceTree) -> Option<(String, String)> {
    tree.root_file_ci(README_NAMES)
        .map(|f| (f.rel.clone(), f.text.clone()))
}

fn folder_name(root: &Path) -> String {
    root.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "mcp-server".into())
}

fn identify_node(
    fetched: &Fetched,
    tree: &SourceTree,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<Identified, AnalyzeError> {
    progress("reading package.json");
    let file = tree
        .get("package.json")
        .ok_or_else(|| AnalyzeError::NoManifest {
            path: fetched.root.clone(),
        })?;
    let manifest = node::parse(file)?;
    let mut warnings = Vec::new();
    let mut evidence = vec![Evidence::new(
        "package.json",
        None,
        "package.json at the package root: a Node.js package",
    )];
    let (name, version) = match &fetched.registry {
        Some((_, name, version)) => {
            evidence.push(Evidence::new(
                "package.json",
                line_of(&file.text, "\"version\""),
                format!("version {version} pinned with npm view"),
            ));
            (name.clone(), version.clone())
        }
        None => {
            let name = manifest
                .name
                .clone()
                .unwrap_or_else(|| folder_name(&fetched.root));
            let version = manifest.version.clone().unwrap_or_else(|| {
                warnings.push("package.json has no version; using 0.0.0".into());
                "0.0.0".into()
            });
            evidence.push(Evidence::new(
                "package.json",
                line_of(&file.text, "\"name\""),
                format!("name {name} and version {version} in package.json"),
            ));
            (name, version)
        }
    };
    let commands: Vec<String> = manifest.bins.iter().map(|(c, _)| c.clone()).collect();
    let Some((command, warning)) = choose_command(&commands, &name) else {
        let hint = manifest
            .main
            .as_deref()
            .map(|m| format!(" (it has main {m:?})"))
            .unwrap_or_default();
        return Err(AnalyzeError::NoLaunchCommand {
            detail: format!(
                "package.json of {name} declares no \"bin\"{hint}; Catwalk launches servers through their bin"
            ),
        });
    };
    let command_guessed = warning.is_some();
    warnings.extend(warning);
    let target = manifest
        .bins
        .iter()
        .find(|(c, _)| *c == command)
        .map(|(_, t)| t.clone())
        .unwrap_or_default();
    evidence.push(Evidence::new(
        "package.json",
        manifest.bin_line,
        format!("bin {command} -> {target} in package.json"),
    ));
    Ok(Identified {
        runtime: Runtime::Node,
        registry: Registry::Npm,
        description: manifest.description.clone(),
        mcp_name: manifest.mcp_name.clone(),
        runtime_requirement: manifest.engines_node.clone(),
        command,
        base_args: Vec::new(),
        identity: Identity {
            package: name.clone(),
            commands,
            bin_files: manifest.bins.iter().map(|(_, t)| t.clone()).collect(),
            modules: Vec::new(),
        },
        entry_dirs: bin_dirs(&manifest.bins),
        command_guessed,
        command_fallback: false,
        readme: readme_of(tree),
        scripts: manifest.scripts,
        name,
        version,
        evidence,
        warnings,
    })
}

fn identify_python(
    fetched: &Fetched,
    tree: &SourceTree,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<Identified, AnalyzeError> {
    progress("reading Python package metadata");
    let manifest = python::read(tree);
    if !manifest.found {
        return Err(AnalyzeError::NoManifest {
            path: fetched.root.clone(),
        });
    }
    let mut warnings = Vec::new();
    let mut evidence = Vec::new();
    let (name, version) = match &fetched.registry {
        Some((_, requested, version)) => {
            let metadata = manifest
                .name_evidence
                .as_ref()
                .map(|e| e.file.clone())
                .unwrap_or_default();
            evidence.push(Evidence::new(
                &metadata,
                None,
                "Python package metadata: a Python package",
            ));
            evidence.push(Evidence::new(
                &metadata,
                None,
                format!("version {version} pinned by pip download"),
            ));
            (
                manifest.name.clone().unwrap_or_else(|| requested.clone()),
                version.clone(),
            )
        }
        None => {
            let name = manifest
                .name
                .clone()
                .unwrap_or_else(|| folder_name(&fetched.root));
            let version = manifest.version.clone().unwrap_or_else(|| {
                warnings.push("no static version in the Python metadata; using 0.0.0".into());
                "0.0.0".into()
            });
            if let Some(named) = &manifest.name_evidence {
                evidence.push(Evidence::new(
                    &named.file,
                    None,
                    format!("{} at the package root: a Python package", named.file),
                ));
                evidence.push(Evidence::new(
                    &named.file,
                    named.line,
                    format!("name {name} and version {version} in {}", named.file),
                ));
            }
            (name, version)
        }
    };
    let scripts: Vec<String> = manifest.scripts.iter().map(|(n, _)| n.clone()).collect();
    let modules = runnable_modules(tree, &name);
    let mut command_guessed = false;
    let (command, base_args) = match choose_command(&scripts, &name) {
        Some((command, warning)) => {
            command_guessed = warning.is_some();
            warnings.extend(warning);
            evidence.extend(
                manifest
                    .scripts_evidence
                    .iter()
                    .filter(|e| e.note.contains(&format!(" {command} ")))
                    .cloned(),
            );
            (command, Vec::new())
        }
        None => {
            let Some(module) = modules.first() else {
                return Err(AnalyzeError::NoLaunchCommand {
                    detail: format!(
                        "{name} declares no console script and has no package with a __main__.py"
                    ),
                });
            };
            warnings.push(format!(
                "{name} declares no console script; launching it as python -m {module}"
            ));
            evidence.push(Evidence::new(
                format!("{module}/__main__.py"),
                None,
                "runnable module",
            ));
            ("python".to_string(), vec!["-m".to_string(), module.clone()])
        }
    };
    let entry_dirs = python_entry_dirs(&manifest.scripts, &command, &base_args, &modules);
    let command_fallback = command == "python";
    let readme = readme_of(tree).or_else(|| manifest.long_description.clone());
    let mcp_name = readme
        .as_ref()
        .and_then(|(_, text)| MCP_NAME.captures(text).map(|c| c[1].to_string()));
    Ok(Identified {
        runtime: Runtime::Python,
        registry: Registry::Pypi,
        description: manifest.summary.clone(),
        mcp_name,
        runtime_requirement: manifest.requires_python.clone(),
        command,
        base_args,
        identity: Identity {
            package: name.clone(),
            commands: scripts,
            bin_files: Vec::new(),
            modules: modules.clone(),
        },
        entry_dirs,
        command_guessed,
        command_fallback,
        readme,
        scripts: Vec::new(),
        name,
        version,
        evidence,
        warnings,
    })
}

/// The top-level package of the chosen console script (`mcp_server_git:main` →
/// `mcp_server_git`, at the root and under `src/`), or of the `python -m` module.
fn python_entry_dirs(
    scripts: &[(String, String)],
    command: &str,
    base_args: &[String],
    modules: &[String],
) -> Vec<String> {
    let package = scripts
        .iter()
        .find(|(name, _)| name == command)
        .map(|(_, target)| {
            target
                .split([':', '.'])
                .next()
                .unwrap_or(target)
                .trim()
                .to_string()
        })
        .or_else(|| base_args.get(1).cloned())
        .or_else(|| modules.first().cloned());
    match package {
        Some(p) if !p.is_empty() => vec![p.clone(), format!("src/{p}")],
        _ => vec![String::new()],
    }
}

/// Top-level packages (at the root or under `src/`) with a `__main__.py`, the one named after
/// the project first.
fn runnable_modules(tree: &SourceTree, project: &str) -> Vec<String> {
    let mut modules: Vec<String> = tree
        .files
        .iter()
        .filter_map(|f| {
            let path = f.rel.strip_prefix("src/").unwrap_or(&f.rel);
            let (module, rest) = path.split_once('/')?;
            (rest == "__main__.py").then(|| module.to_string())
        })
        .collect();
    let wanted = normalize(project);
    modules.sort_by_key(|m| normalize(m) != wanted);
    modules
}

/// A deployment name: the unscoped package name, lowercase `[a-z0-9-]`, at most 63 characters.
pub fn deployment_name(package: &str) -> String {
    let unscoped = package.rsplit('/').next().unwrap_or(package);
    let mut name = String::new();
    for c in unscoped.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            name.push(c);
        } else if !name.ends_with('-') && !name.is_empty() {
            name.push('-');
        }
    }
    let name: String = name.trim_end_matches('-').chars().take(63).collect();
    let name = name.trim_end_matches('-').to_string();
    if name.is_empty() {
        "mcp-server".into()
    } else {
        name
    }
}
