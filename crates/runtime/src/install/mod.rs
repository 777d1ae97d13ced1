//! Installs npm and PyPI packages once per version into a cache directory.
//!
//! Layout: `<cache>/npm/<name with '/' as '+'>@<version>/` (an npm prefix: the program is
//! `node_modules/.bin/<command>`) and `<cache>/pypi/<normalized name>==<version>/` (a virtual
//! environment: the program is `bin/<command>`).
//!
//! Completeness is marked, not made atomic by renaming: a venv is not relocatable (its scripts
//! carry absolute shebangs), so both kinds install straight into their final directory and write
//! [`MARKER`] last. A directory without the marker is what a crash or a cancelled install leaves
//! behind; it is deleted and installed again. A failed install deletes its directory.
//!
//! Local folders (`path`) are keyed by a hash of their content (see [`names::hash_folder`]), so an
//! unchanged folder is a cache hit and an edited one is installed afresh; old entries of edited
//! folders stay in the cache until a future garbage collection removes them.
//!
//! Concurrent installs of one cache entry are serialized by a per-entry async mutex within one
//! Catwalk process, and by a `flock` on `<entry>.lock` between processes sharing a cache.
//!
//! Each install works in `<cache>/tmp/install-<pid>-<entry>/` (npm's packed tarball, a copy of a
//! local Python folder, and in a sandbox the installer's HOME and `/tmp`), removed afterwards.
//!
//! With [`Installer::sandbox`] set, npm and pip run in bubblewrap (see `jail.rs`): network on,
//! writable only the entry and the work folder, a minimal environment. Entries are shared by
//! every deployment using that version, and starting from one needs no network.

mod backends;
mod command;
mod jail;
mod names;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::{RuntimeError, Sandbox};
use command::Progress;
use jail::Jail;

/// Written last into a cache entry: its presence means the install finished.
const MARKER: &str = ".catwalk-complete";

/// Which package manager a package comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PackageKind {
    Npm,
    Pypi,
}

/// One package to install, and the executable to find in it afterwards.
#[derive(Clone, Debug)]
pub struct PackageToInstall {
    pub kind: PackageKind,
    /// The registry name (`@modelcontextprotocol/server-everything`, `mcp-server-time`); for a
    /// local folder only a label used in the cache key and in messages.
    pub name: String,
    /// An exact version, not a range or a tag: the cache is keyed by it. For a local folder only
    /// a label.
    pub version: String,
    /// Install from this local folder instead of the registry (as a copy, never a link).
    pub path: Option<PathBuf>,
    /// The bin (npm) or console-script (PyPI) name to run.
    pub command: String,
}

impl PackageToInstall {
    /// How the package is named in messages, e.g. `npm:@scope/name@1.2.3`.
    pub fn label(&self) -> String {
        let coordinates = match self.kind {
            PackageKind::Npm => format!("npm:{}@{}", self.name, self.version),
            PackageKind::Pypi => format!("pypi:{}=={}", self.name, self.version),
        };
        match &self.path {
            Some(path) => format!("{coordinates} (local folder {})", path.display()),
            None => coordinates,
        }
    }
}

/// A finished install.
#[derive(Clone, Debug)]
pub struct Installed {
    /// Absolute path of the executable to run.
    pub program: PathBuf,
    /// The cache entry the package lives in.
    pub prefix: PathBuf,
}

/// Installs packages into `cache_dir`, using the given npm and python executables.
pub struct Installer {
    pub cache_dir: PathBuf,
    /// The npm client, `"npm"` by default (looked up on Catwalk's PATH).
    pub npm: String,
    /// The Python used to create virtual environments, `"python3"` by default.
    pub python: String,
    /// Run npm and pip (and so the packages' install scripts) in this sandbox. `None` (the
    /// default) runs them as Catwalk's user with Catwalk's environment.
    pub sandbox: Option<Sandbox>,
    locks: Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>,
}

impl Installer {
    pub fn new(cache_dir: PathBuf) -> Installer {
        Installer {
            cache_dir,
            npm: "npm".to_string(),
            python: "python3".to_string(),
            sandbox: None,
            locks: Mutex::new(HashMap::new()),
        }
    }

    /// Installs `pkg` unless it is already in the cache, and returns where its program is.
    ///
    /// Every output line of npm or pip goes to `progress`, as do a few lines of Catwalk's own
    /// (`$ <command>` before each command it runs, `cached: ...` on a cache hit). Dropping the
    /// returned future kills the running installer; the half-done entry is redone next time.
    pub async fn install(
        &self,
        pkg: &PackageToInstall,
        progress: Progress<'_>,
    ) -> Result<Installed, RuntimeError> {
        let fail = |message: String| RuntimeError::Install {
            package: pkg.label(),
            message,
        };
        names::validate(pkg).map_err(fail)?;

        let source = match &pkg.path {
            Some(path) => {
                let folder = std::path::absolute(path)
                    .map_err(|error| fail(format!("invalid folder {}: {error}", path.display())))?;
                Some(folder)
            }
            None => None,
        };
        let content_hash = match &source {
            Some(folder) => Some(hash_folder(folder.clone(), pkg.kind).await.map_err(fail)?),
            None => None,
        };

        let cache_dir = std::path::absolute(&self.cache_dir).map_err(|error| {
            fail(format!(
                "invalid cache directory {}: {error}",
                self.cache_dir.display()
            ))
        })?;
        let kind_dir = match pkg.kind {
            PackageKind::Npm => "npm",
            PackageKind::Pypi => "pypi",
        };
        let prefix = cache_dir
            .join(kind_dir)
            .join(names::cache_entry_name(pkg, content_hash.as_deref()));

        let lock = self.lock_for(&prefix);
        let _guard = lock.lock().await;
        // Several Catwalk processes may share one cache (tests do; so may a user's instances):
        // a file lock next to the entry keeps them from installing into it at the same time.
        let _file_lock = lock_file(&prefix).await.map_err(fail)?;

        if prefix.join(MARKER).exists() {
            progress(&format!("cached: {} in {}", pkg.label(), prefix.display()));
            return locate_program(pkg, &prefix).map_err(fail);
        }
        if prefix.exists() {
            progress(&format!(
                "removing incomplete install in {}",
                prefix.display()
            ));
            tokio::fs::remove_dir_all(&prefix)
                .await
                .map_err(|error| fail(format!("cannot remove {}: {error}", prefix.display())))?;
        }
        tokio::fs::create_dir_all(&prefix)
            .await
            .map_err(|error| fail(format!("cannot create {}: {error}", prefix.display())))?;

        let work = cache_dir.join("tmp").join(format!(
            "install-{}-{}",
            std::process::id(),
            prefix
                .file_name()
                .and_then(|name| name.to_str())
                .unwrap_or("entry")
        ));
        let _ = std::fs::remove_dir_all(&work);
        for dir in [work.join("home"), work.join("tmp")] {
            std::fs::create_dir_all(&dir)
                .map_err(|error| fail(format!("cannot create {}: {error}", dir.display())))?;
        }
        let jail = self
            .sandbox
            .as_ref()
            .map(|sandbox| Jail::new(sandbox, &prefix, &work));
        let installed = match pkg.kind {
            PackageKind::Npm => {
                backends::install_npm(self, pkg, source.as_deref(), &work, &prefix, jail, progress)
                    .await
            }
            PackageKind::Pypi => {
                backends::install_pypi(self, pkg, source.as_deref(), &work, &prefix, jail, progress)
                    .await
            }
        };
        // Best effort: a leftover work folder is replaced by the next install of the entry.
        let _ = std::fs::remove_dir_all(&work);
        if let Err(message) = installed {
            // Best effort: a leftover directory has no marker and is redone anyway.
            let _ = tokio::fs::remove_dir_all(&prefix).await;
            return Err(fail(message));
        }
        std::fs::write(prefix.join(MARKER), pkg.label()).map_err(|error| {
            fail(format!(
                "cannot mark {} complete: {error}",
                prefix.display()
            ))
        })?;
        progress(&format!(
            "installed {} in {}",
            pkg.label(),
            prefix.display()
        ));
        // Checked after the marker on purpose: a wrong command name is the caller's mistake, and
        // the next attempt with the right name should be a cache hit.
        locate_program(pkg, &prefix).map_err(fail)
    }

    fn lock_for(&self, prefix: &Path) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .locks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        locks.entry(prefix.to_path_buf()).or_default().clone()
    }
}

async fn hash_folder(folder: PathBuf, kind: PackageKind) -> Result<String, String> {
    let shown = folder.display().to_string();
    tokio::task::spawn_blocking(move || names::hash_folder(&folder, kind))
        .await
        .map_err(|error| format!("hashing {shown} failed: {error}"))?
        .map_err(|error| format!("cannot read local folder {shown}: {error}"))
}

/// Finds the program in a complete cache entry, or names the commands the package does provide.
fn locate_program(pkg: &PackageToInstall, prefix: &Path) -> Result<Installed, String> {
    let bin_dir = match pkg.kind {
        PackageKind::Npm => prefix.join("node_modules").join(".bin"),
        PackageKind::Pypi => prefix.join("bin"),
    };
    let program = bin_dir.join(&pkg.command);
    if program.is_file() {
        return Ok(Installed {
            program,
            prefix: prefix.to_path_buf(),
        });
    }
    let available = available_commands(pkg.kind, &bin_dir);
    let provided = if available.is_empty() {
        "it provides no commands at all".to_string()
    } else {
        format!("it provides: {}", available.join(", "))
    };
    Err(format!(
        "the package has no command {:?} ({provided})",
        pkg.command
    ))
}

fn available_commands(kind: PackageKind, bin_dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(bin_dir) else {
        return Vec::new();
    };
    let mut commands: Vec<String> = entries
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| match kind {
            PackageKind::Npm => true,
            // A venv's own tools are not the package's commands.
            PackageKind::Pypi => {
                !name.starts_with("python")
                    && !name.starts_with("pip")
                    && !name.to_ascii_lowercase().starts_with("activate")
            }
        })
        .collect();
    commands.sort();
    commands
}

/// Takes an exclusive `flock` on `<prefix>.lock`, waiting for another process to release it.
async fn lock_file(prefix: &Path) -> Result<nix::fcntl::Flock<std::fs::File>, String> {
    let mut path = prefix.as_os_str().to_owned();
    path.push(".lock");
    let path = PathBuf::from(path);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|error| format!("cannot create {}: {error}", parent.display()))?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|error| format!("cannot open {}: {error}", path.display()))?;
    tokio::task::spawn_blocking(move || {
        nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, errno)| format!("cannot lock {}: {errno}", path.display()))
    })
    .await
    .map_err(|error| format!("the cache lock task failed: {error}"))?
}
