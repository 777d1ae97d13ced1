//! Validation of package coordinates and the names of cache directories.
//!
//! Names and versions end up as command-line arguments of npm and pip and as directory names,
//! so they are checked strictly: a name starting with `-` would be read as a flag, and a `/` or
//! `..` in a version would escape the cache.

use std::io;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::{PackageKind, PackageToInstall};

/// Directories that are other tools' state, not the package source; hashing them would make
/// local installs miss the cache for no reason (and `node_modules` can be huge).
const SKIPPED_DIRS: &[&str] = &[".git", "node_modules", ".venv", "venv", "__pycache__"];
/// What `pip install <folder>` itself writes into the folder (setuptools builds in tree): without
/// skipping these, installing would change the hash and the next install would miss. npm's
/// `build`/`dist` are not skipped: there they are often the very code that runs.
const SKIPPED_PYTHON_BUILD_DIRS: &[&str] = &["build", "dist"];

/// Checks the name, version and command of a package, returning a reason when one is unusable.
pub(crate) fn validate(pkg: &PackageToInstall) -> Result<(), String> {
    if !is_valid_command(&pkg.command) {
        return Err(format!(
            "invalid command name {:?}: expected the bare name of an executable the package \
             provides (no '/')",
            pkg.command
        ));
    }
    if pkg.path.is_some() {
        // The name and version of a local folder are only labels: sanitized into the cache key.
        return Ok(());
    }
    let name_ok = match pkg.kind {
        PackageKind::Npm => is_valid_npm_name(&pkg.name),
        PackageKind::Pypi => is_valid_pypi_name(&pkg.name),
    };
    if !name_ok {
        return Err(format!("invalid package name {:?}", pkg.name));
    }
    if !is_valid_version(&pkg.version) {
        return Err(format!(
            "invalid version {:?}: expected an exact version such as 1.2.3",
            pkg.version
        ));
    }
    Ok(())
}

fn is_valid_command(command: &str) -> bool {
    !command.is_empty()
        && command != "."
        && command != ".."
        && !command.starts_with('-')
        && !command.contains(['/', '\0'])
}

/// npm package names: an optional `@scope/`, then URL-safe characters, never starting with `.`,
/// `_` or `-`. Uppercase is accepted because old packages still use it.
fn is_valid_npm_name(name: &str) -> bool {
    let part_ok = |part: &str| {
        !part.is_empty()
            && !part.starts_with(['.', '_', '-'])
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~'))
    };
    match name.strip_prefix('@') {
        Some(scoped) => match scoped.split_once('/') {
            Some((scope, rest)) => part_ok(scope) && part_ok(rest),
            None => false,
        },
        None => part_ok(name),
    }
}

/// PyPI project names as defined by PEP 508: ASCII letters and digits, with `.`, `_`, `-` inside.
fn is_valid_pypi_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// An exact version (npm semver or PEP 440): no ranges, no spaces, no path separators.
fn is_valid_version(version: &str) -> bool {
    version.starts_with(|c: char| c.is_ascii_alphanumeric())
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-' | '_' | '!'))
}

/// PEP 503 normalization, so `Mcp_Server.Time` and `mcp-server-time` share one cache entry.
pub(crate) fn normalize_pypi_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_separator = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            in_separator = true;
        } else {
            if in_separator && !out.is_empty() {
                out.push('-');
            }
            in_separator = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// Keeps a label usable as one path component, whatever the user typed.
fn sanitize(label: &str) -> String {
    let cleaned: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '@' | '+') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trimmed = cleaned.trim_start_matches('.');
    if trimmed.is_empty() {
        "local".to_string()
    } else {
        trimmed.chars().take(100).collect()
    }
}

/// The directory name of a package inside `<cache>/npm` or `<cache>/pypi`.
///
/// `content_hash` is set for local folders: their version number says nothing about their
/// content, so the hash of the files is part of the key and an edited folder is reinstalled.
pub(crate) fn cache_entry_name(pkg: &PackageToInstall, content_hash: Option<&str>) -> String {
    let base = match pkg.kind {
        PackageKind::Npm => format!("{}@{}", pkg.name.replace('/', "+"), pkg.version),
        PackageKind::Pypi => format!("{}=={}", normalize_pypi_name(&pkg.name), pkg.version),
    };
    match content_hash {
        None => base,
        Some(hash) => format!("{}+local.{}", sanitize(&base), &hash[..16]),
    }
}

/// A SHA-256 over the relative paths, executable bits and contents of every file in `root`
/// (symlinks are hashed by their target, not followed), skipping [`SKIPPED_DIRS`] and, for
/// Python, build output.
pub(crate) fn hash_folder(root: &Path, kind: PackageKind) -> io::Result<String> {
    let files = hashed_files(root, kind)?;
    let mut hasher = Sha256::new();
    for relative in files {
        let path = root.join(&relative);
        let meta = std::fs::symlink_metadata(&path)?;
        hasher.update(relative.as_os_str().as_encoded_bytes());
        hasher.update([0]);
        if meta.file_type().is_symlink() {
            hasher.update(b"link\0");
            hasher.update(std::fs::read_link(&path)?.as_os_str().as_encoded_bytes());
        } else {
            use std::os::unix::fs::PermissionsExt;
            let executable = meta.permissions().mode() & 0o111 != 0;
            hasher.update(if executable { b"exec\0" } else { b"file\0" });
            hasher.update(meta.len().to_le_bytes());
            hasher.update(std::fs::read(&path)?);
        }
        hasher.update([0]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// The files [`hash_folder`] covers, relative to `root`, sorted.
fn hashed_files(root: &Path, kind: PackageKind) -> io::Result<Vec<std::path::PathBuf>> {
    let skipped = |name: &str| {
        SKIPPED_DIRS.contains(&name)
            || (kind == PackageKind::Pypi
                && (SKIPPED_PYTHON_BUILD_DIRS.contains(&name) || name.ends_with(".egg-info")))
    };
    let mut files = Vec::new();
    collect_files(root, root, &skipped, &mut files)?;
    files.sort();
    Ok(files)
}

/// Copies exactly the files [`hash_folder`] covers from `root` to `dest` (created), keeping
/// symlinks as symlinks and file modes: what gets built is what the cache key names.
pub(crate) fn copy_folder(root: &Path, dest: &Path, kind: PackageKind) -> io::Result<()> {
    std::fs::create_dir_all(dest)?;
    for relative in hashed_files(root, kind)? {
        let from = root.join(&relative);
        let to = dest.join(&relative);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)?;
        }
        if std::fs::symlink_metadata(&from)?.file_type().is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&from)?, &to)?;
        } else {
            std::fs::copy(&from, &to)?;
        }
    }
    Ok(())
}

fn collect_files(
    root: &Path,
    dir: &Path,
    skipped: &dyn Fn(&str) -> bool,
    files: &mut Vec<std::path::PathBuf>,
) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let file_type = entry.file_type()?;
        let path = entry.path();
        if file_type.is_dir() {
            if entry.file_name().to_str().is_some_and(skipped) {
                continue;
            }
            collect_files(root, &path, skipped, files)?;
        } else if let Ok(relative) = path.strip_prefix(root) {
            files.push(relative.to_path_buf());
        }
    }
    Ok(())
}
