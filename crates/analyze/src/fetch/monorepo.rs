//! Repositories that hold several servers (the official `servers` repository with
//! `src/<name>/package.json`, a Python repository with several `pyproject.toml`).
//!
//! When the root itself declares nothing to launch, the folders below it (three levels deep)
//! are searched for manifests that do: a `package.json` with a `bin`, a `pyproject.toml` with
//! `[project.scripts]` or `[tool.poetry.scripts]`, a `setup.cfg` with `console_scripts`. Only
//! those few files are read (capped, never through a symlink); the full analysis then runs on
//! the folder the user picks.

use std::fs;
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::spec::Runtime;

/// How deep below the root candidates are looked for (`packages/servers/x` is 3).
const MAX_DEPTH: usize = 3;
/// The most folder entries looked at.
const MAX_ENTRIES: usize = 20_000;
/// The most candidates reported.
const MAX_CANDIDATES: usize = 200;
/// The most bytes read from one manifest.
const MAX_MANIFEST_BYTES: u64 = 256 * 1024;
/// Folders never searched: dependencies, caches, tests, hidden folders (checked separately).
const SKIPPED: &[&str] = &[
    "node_modules",
    "venv",
    "__pycache__",
    "test",
    "tests",
    "__tests__",
    "__mocks__",
    "coverage",
    "dist",
    "build",
    "target",
];

/// One server found below the analyzed root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerCandidate {
    /// Its folder, relative to the source's root, `/`-separated.
    pub subdir: String,
    /// The package name in its manifest (else the folder name).
    pub name: String,
    /// Node when its `package.json` has a `bin`, else Python.
    pub runtime: Runtime,
    /// The source string that analyzes exactly this server.
    pub source: String,
}

/// `src/a (node, @x/a): <source>; src/b (python, b): <source>`.
pub fn describe_candidates(candidates: &[ServerCandidate]) -> String {
    candidates
        .iter()
        .map(|c| {
            let runtime = match c.runtime {
                Runtime::Node => "node",
                Runtime::Python => "python",
            };
            format!("{} ({runtime}, {}): {}", c.subdir, c.name, c.source)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// What a folder's manifests declare.
#[derive(Debug, Default)]
struct Declared {
    name: Option<String>,
    node_bin: bool,
    python_manifest: bool,
    python_scripts: bool,
}

impl Declared {
    fn runtime(&self) -> Option<Runtime> {
        if self.node_bin {
            Some(Runtime::Node)
        } else if self.python_scripts {
            Some(Runtime::Python)
        } else {
            None
        }
    }
}

fn read_capped(path: &Path) -> Option<String> {
    // Never through a symlink: a manifest linked to /etc/... is not read.
    let meta = fs::symlink_metadata(path).ok()?;
    if !meta.is_file() {
        return None;
    }
    let mut text = String::new();
    fs::File::open(path)
        .ok()?
        .take(MAX_MANIFEST_BYTES)
        .read_to_string(&mut text)
        .ok()?;
    Some(text)
}

fn declared(dir: &Path) -> Declared {
    let mut found = Declared::default();
    if let Some(json) =
        read_capped(&dir.join("package.json")).and_then(|t| serde_json::from_str::<Value>(&t).ok())
    {
        found.name = json.get("name").and_then(Value::as_str).map(String::from);
        found.node_bin = match json.get("bin") {
            Some(Value::String(s)) => !s.trim().is_empty() && found.name.is_some(),
            Some(Value::Object(map)) => !map.is_empty(),
            _ => false,
        };
    }
    if let Some(toml) =
        read_capped(&dir.join("pyproject.toml")).and_then(|t| t.parse::<toml::Table>().ok())
    {
        found.python_manifest = true;
        let project = toml.get("project");
        let poetry = toml.get("tool").and_then(|t| t.get("poetry"));
        let non_empty = |v: Option<&toml::Value>| {
            v.and_then(toml::Value::as_table)
                .is_some_and(|t| !t.is_empty())
        };
        found.python_scripts = non_empty(project.and_then(|p| p.get("scripts")))
            || non_empty(poetry.and_then(|p| p.get("scripts")));
        if found.name.is_none() || !found.node_bin {
            let name = project
                .and_then(|p| p.get("name"))
                .or_else(|| poetry.and_then(|p| p.get("name")))
                .and_then(toml::Value::as_str);
            if let Some(name) = name {
                found.name = Some(name.to_string());
            }
        }
    }
    if let Some(cfg) = read_capped(&dir.join("setup.cfg")) {
        found.python_manifest = true;
        found.python_scripts |= cfg.contains("console_scripts");
        if found.name.is_none() {
            found.name = cfg
                .lines()
                .filter_map(|l| l.split_once('='))
                .find(|(k, _)| k.trim() == "name")
                .map(|(_, v)| v.trim().to_string());
        }
    }
    if dir.join("setup.py").is_file() {
        found.python_manifest = true;
    }
    found
}

/// Whether the root declares something to launch: a `bin`, a console script, or Python
/// metadata with a runnable `__main__.py` package.
pub(crate) fn root_is_server(root: &Path) -> bool {
    let found = declared(root);
    if found.runtime().is_some() {
        return true;
    }
    found.python_manifest && has_main_module(root)
}

fn has_main_module(root: &Path) -> bool {
    [root.to_path_buf(), root.join("src")].iter().any(|base| {
        fs::read_dir(base).into_iter().flatten().flatten().any(|e| {
            e.file_type().is_ok_and(|t| t.is_dir()) && e.path().join("__main__.py").is_file()
        })
    })
}

/// The servers below `root`, sorted by folder; a server's own subfolders are not searched.
pub(crate) fn find(root: &Path) -> Vec<(String, String, Runtime)> {
    let mut candidates = Vec::new();
    let mut visited = 0usize;
    let mut queue: Vec<(String, usize)> = vec![(String::new(), 0)];
    while let Some((rel, depth)) = queue.pop() {
        let dir = if rel.is_empty() {
            root.to_path_buf()
        } else {
            root.join(&rel)
        };
        let Ok(listing) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in listing.flatten() {
            visited += 1;
            if visited > MAX_ENTRIES || candidates.len() >= MAX_CANDIDATES {
                break;
            }
            // `DirEntry::file_type` does not follow symlinks: linked folders are skipped.
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || SKIPPED.contains(&name.as_str()) {
                continue;
            }
            let child = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let found = declared(&entry.path());
            if let Some(runtime) = found.runtime() {
                candidates.push((child, found.name.unwrap_or(name), runtime));
            } else if depth + 1 < MAX_DEPTH {
                queue.push((child, depth + 1));
            }
        }
    }
    candidates.sort_by(|a, b| a.0.cmp(&b.0));
    candidates
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_node_and_python_servers_below_a_workspace_root() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let write = |rel: &str, text: &str| {
            let path = root.join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        };
        write(
            "package.json",
            r#"{"name": "root", "private": true, "workspaces": ["src/*"]}"#,
        );
        write(
            "src/echo/package.json",
            r#"{"name": "@x/echo", "bin": {"echo": "index.js"}}"#,
        );
        write(
            "src/echo/examples/inner/package.json",
            r#"{"name": "inner", "bin": "x.js"}"#,
        );
        write(
            "src/time/pyproject.toml",
            "[project]\nname = \"mcp-time\"\n[project.scripts]\nmcp-time = \"t:main\"\n",
        );
        write("src/lib/package.json", r#"{"name": "lib"}"#);
        write(
            "node_modules/dep/package.json",
            r#"{"name": "dep", "bin": "d.js"}"#,
        );
        write(
            "packages/deep/a/b/package.json",
            r#"{"name": "too-deep", "bin": "d.js"}"#,
        );
        assert!(!root_is_server(root));
        assert_eq!(
            find(root),
            vec![
                ("src/echo".into(), "@x/echo".into(), Runtime::Node),
                ("src/time".into(), "mcp-time".into(), Runtime::Python),
            ]
        );
        assert!(root_is_server(&root.join("src/echo")));
    }

    #[test]
    fn python_module_roots_are_servers() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(
            tmp.path().join("pyproject.toml"),
            "[project]\nname = \"x\"\n",
        )
        .unwrap();
        assert!(!root_is_server(tmp.path()));
        fs::create_dir_all(tmp.path().join("src/x")).unwrap();
        fs::write(tmp.path().join("src/x/__main__.py"), "").unwrap();
        assert!(root_is_server(tmp.path()));
    }
}
