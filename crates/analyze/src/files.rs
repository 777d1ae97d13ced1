//! Reading a package folder: which files the analyzer looks at, and how much of them.
//!
//! The walk never follows symlinks (a repository may link `README.md` to `/etc/passwd`), skips
//! dependency and VCS folders, tests and build caches, reads at most [`MAX_FILE_BYTES`] of each
//! file and stops after [`MAX_FILES_READ`] files, so that a huge repository cannot stall or
//! exhaust the analyzer. Paths are kept relative with `/` separators, as evidence shows them.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Folders never entered: dependencies, VCS data, virtual environments, caches, tests.
const SKIPPED_DIRS: &[&str] = &[
    "node_modules",
    ".git",
    ".hg",
    ".svn",
    ".venv",
    "venv",
    "__pycache__",
    ".tox",
    ".mypy_cache",
    ".pytest_cache",
    "__tests__",
    "__mocks__",
    "test",
    "tests",
    "coverage",
];
/// The most bytes read from one file: bundles put the server's own code after their
/// dependencies, so a bundle must be read to its end (esbuild output of 1.5 MB is common).
pub(crate) const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;
/// The most bytes read from one package, all files together.
pub(crate) const MAX_TOTAL_BYTES: usize = 64 * 1024 * 1024;
/// The most files read from one package.
pub(crate) const MAX_FILES_READ: usize = 5_000;
/// The most folder entries looked at while walking.
const MAX_ENTRIES_VISITED: usize = 50_000;

/// One file read from the package.
#[derive(Debug, Clone)]
pub(crate) struct SourceFile {
    /// Relative path with `/` separators.
    pub rel: String,
    pub text: String,
}

/// The files of a package the analyzer cares about.
#[derive(Debug, Default)]
pub(crate) struct SourceTree {
    pub files: Vec<SourceFile>,
    /// True when a limit stopped the walk early.
    pub truncated: bool,
}

impl SourceTree {
    /// The file at exactly this relative path.
    pub fn get(&self, rel: &str) -> Option<&SourceFile> {
        self.files.iter().find(|f| f.rel == rel)
    }

    /// The first file at the root whose name matches case-insensitively one of `names`.
    pub fn root_file_ci(&self, names: &[&str]) -> Option<&SourceFile> {
        names.iter().find_map(|name| {
            self.files
                .iter()
                .find(|f| !f.rel.contains('/') && f.rel.eq_ignore_ascii_case(name))
        })
    }

    /// Source code files (JavaScript, TypeScript, Python, Go, Rust), excluding tests, type
    /// declarations and Cargo build scripts.
    pub fn code_files(&self) -> impl Iterator<Item = &SourceFile> {
        self.files.iter().filter(|f| is_code(&f.rel))
    }
}

fn is_code(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    if name.ends_with(".d.ts")
        || name.contains(".test.")
        || name.contains(".spec.")
        || name.starts_with("test_")
        || name.ends_with("_test.py")
        || name == "conftest.py"
        || name.ends_with("_test.go")
        || name == "build.rs"
    {
        return false;
    }
    let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    matches!(
        ext,
        "js" | "mjs" | "cjs" | "ts" | "mts" | "cts" | "jsx" | "tsx" | "py" | "go" | "rs"
    )
}

/// Example environment files, read at the package root: names, defaults and comments.
pub(crate) const DOTENV_EXAMPLES: &[&str] = &[
    ".env.example",
    ".env.sample",
    ".env.template",
    ".env.dist",
    ".env.defaults",
    ".env.local.example",
    "env.example",
    "example.env",
    "sample.env",
];

/// Container build files, read at the package root.
pub(crate) const DOCKERFILES: &[&str] = &["Dockerfile", "Containerfile"];

/// Smithery's configuration, read at the package root.
pub(crate) const SMITHERY_FILES: &[&str] = &["smithery.yaml", "smithery.yml"];

/// Whether a file is worth reading: code, manifests, READMEs and wheel metadata.
fn is_interesting(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    let lower = name.to_ascii_lowercase();
    if is_code(rel) {
        return true;
    }
    if matches!(
        lower.as_str(),
        "package.json" | "pyproject.toml" | "setup.cfg" | "server.json" | "pkg-info"
    ) {
        return true;
    }
    if lower.starts_with("readme") {
        return true;
    }
    let at_root = !rel.contains('/');
    if at_root
        && (DOTENV_EXAMPLES.contains(&lower.as_str())
            || DOCKERFILES.iter().any(|d| d.eq_ignore_ascii_case(name))
            || SMITHERY_FILES.contains(&lower.as_str()))
    {
        return true;
    }
    rel.contains(".dist-info/") && matches!(name, "METADATA" | "entry_points.txt")
}

/// Reads the interesting files below `root`.
pub(crate) fn scan(root: &Path) -> SourceTree {
    let mut tree = SourceTree::default();
    let mut visited = 0usize;
    let mut read_bytes = 0usize;
    let mut stack: Vec<PathBuf> = vec![PathBuf::new()];
    while let Some(rel_dir) = stack.pop() {
        let Ok(read_dir) = fs::read_dir(root.join(&rel_dir)) else {
            continue;
        };
        let mut entries: Vec<_> = read_dir.filter_map(Result::ok).collect();
        entries.sort_by_key(|e| e.file_name());
        let mut subdirs = Vec::new();
        for entry in entries {
            visited += 1;
            if visited > MAX_ENTRIES_VISITED || tree.files.len() >= MAX_FILES_READ {
                tree.truncated = true;
                return tree;
            }
            let Ok(file_type) = entry.file_type() else {
                continue;
            };
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = rel_dir.join(&name);
            if file_type.is_dir() {
                if !SKIPPED_DIRS.contains(&name.as_str()) {
                    subdirs.push(rel);
                }
                continue;
            }
            // Symlinks are neither followed nor read.
            if !file_type.is_file() {
                continue;
            }
            let rel_text = rel.to_string_lossy().replace('\\', "/");
            if !is_interesting(&rel_text) {
                continue;
            }
            if let Some(text) = read_capped(&root.join(&rel)) {
                read_bytes += text.len();
                if read_bytes > MAX_TOTAL_BYTES {
                    tree.truncated = true;
                    return tree;
                }
                tree.files.push(SourceFile {
                    rel: rel_text,
                    text,
                });
            }
        }
        // Reversed so that the stack pops folders in name order: root files come first.
        stack.extend(subdirs.into_iter().rev());
    }
    tree
}

fn read_capped(path: &Path) -> Option<String> {
    let file = fs::File::open(path).ok()?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES).read_to_end(&mut bytes).ok()?;
    if bytes.contains(&0) {
        return None;
    }
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// The 1-based line number of a byte offset in `text`.
pub(crate) fn line_at(text: &str, offset: usize) -> u32 {
    let end = offset.min(text.len());
    u32::try_from(
        text.as_bytes()[..end]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1,
    )
    .unwrap_or(u32::MAX)
}

/// The 1-based line of the first occurrence of `needle`.
pub(crate) fn line_of(text: &str, needle: &str) -> Option<u32> {
    text.find(needle).map(|offset| line_at(text, offset))
}
