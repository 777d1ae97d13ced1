//! Turning the files of a fetched package into a [`ServerSpec`].
//!
//! Decides the runtime (from the registry, else from the manifests present), reads the
//! manifest of that runtime for the package identity and the command, then gathers
//! environment findings (server.json, code, README) and launch arguments.

use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;

use crate::env::{self, Finding, Origin};
use crate::error::AnalyzeError;
use crate::fetch::Fetched;
use crate::files::{SourceTree, line_of};
use crate::launch::{self, Identity, Invocation};
use crate::manifest::server_json;
use crate::manifest::{choose_command, node, normalize, python};
use crate::source::Source;
use crate::spec::{Evidence, Launch, PackageRef, Registry, Runtime, SPEC_VERSION, ServerSpec};
use crate::{code_env, readme};

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
    /// The README text and its file, if any.
    readme: Option<(String, String)>,
    scripts: Vec<(String, String)>,
    evidence: Vec<Evidence>,
    warnings: Vec<String>,
}

/// Builds the spec from a fetched source.
pub(crate) fn build(
    source: &Source,
    fetched: &Fetched,
    tree: &SourceTree,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<ServerSpec, AnalyzeError> {
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
        found
            .warnings
            .push("the package has too many files: only part of it was read".into());
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
    let code_files: Vec<_> = tree.code_files().collect();
    progress(&format!(
        "scanning {} source files for environment variables",
        code_files.len()
    ));
    for file in code_files {
        findings.extend(code_env::find(file));
    }
    let mut invocations: Vec<Invocation> = Vec::new();
    if let Some((file, text)) = &found.readme {
        progress(&format!("reading {file}"));
        findings.extend(readme::find(file, text));
        invocations.extend(launch::readme_invocations(file, text, &found.identity));
    } else {
        found
            .warnings
            .push("no README found: variables are described from the code only".into());
    }
    invocations.extend(launch::script_invocations(&found.scripts, &found.identity));

    let declared_args = match (&server_json, sj_package) {
        (Some(sj), Some(package)) => launch::from_server_json(package, &sj.file),
        _ => None,
    };
    let args_choice = declared_args.unwrap_or_else(|| launch::choose(&invocations));
    found.warnings.extend(args_choice.warnings);
    found.evidence.extend(args_choice.evidence);
    let mut args = found.base_args.clone();
    args.extend(args_choice.args);

    let (path, revision) = (fetched.path.clone(), fetched.revision.clone());
    Ok(ServerSpec {
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
        env: env::merge(findings),
        evidence: found.evidence,
        warnings: found.warnings,
    })
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
    let (command, base_args) = match choose_command(&scripts, &name) {
        Some((command, warning)) => {
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
            modules,
        },
        readme,
        scripts: Vec::new(),
        name,
        version,
        evidence,
        warnings,
    })
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
