//! Which host paths a sandbox shows: the system, the interpreters a program needs, and the
//! caller's folders, each checked against the paths that must stay hidden.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// Top-level system directories every sandbox shows read-only (the `lib*` ones and `/bin` are
/// often symlinks into `/usr`; see `bwrap.rs`).
pub(crate) const SYSTEM_DIRS: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
];

/// The parts of `/etc` programs need to resolve names, verify TLS certificates, look up users
/// and read the time zone. The rest of `/etc` stays out: it holds host keys and password hashes
/// that a process running as uid 0, even without capabilities, could otherwise read.
pub(crate) const ETC_PATHS: &[&str] = &[
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/host.conf",
    "/etc/nsswitch.conf",
    "/etc/gai.conf",
    "/etc/services",
    "/etc/protocols",
    "/etc/passwd",
    "/etc/group",
    "/etc/localtime",
    "/etc/timezone",
    "/etc/os-release",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/alternatives",
    "/etc/mime.types",
    "/etc/fonts",
    "/etc/ssl/certs",
    "/etc/ssl/openssl.cnf",
    "/etc/ca-certificates",
    "/etc/ca-certificates.conf",
    "/etc/pki/tls/certs",
    "/etc/pki/tls/cert.pem",
    "/etc/pki/tls/openssl.cnf",
    "/etc/pki/ca-trust/extracted",
    "/etc/crypto-policies",
    "/etc/pip.conf",
    "/etc/xdg/pip",
    "/etc/npmrc",
];

/// Interpreters and package runners a server may start by name: whichever of them the child's
/// PATH finds first is made visible, so `#!/usr/bin/env node` or a server spawning `npx`
/// resolves inside the sandbox to the same program as outside.
const INTERPRETERS: &[&str] = &[
    "node", "nodejs", "npm", "npx", "python3", "python", "pip3", "pip", "uv", "uvx", "deno", "bun",
];

/// How many shebang hops are followed (`npm` -> `npm-cli.js` -> `env node` -> `node`).
const MAX_SHEBANG_DEPTH: usize = 4;

/// A host path shown at the same path inside the sandbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Mount {
    pub source: PathBuf,
    pub writable: bool,
}

/// Whether `path` lies in a directory every sandbox shows anyway.
pub(crate) fn is_system(path: &Path) -> bool {
    SYSTEM_DIRS.iter().any(|dir| path.starts_with(dir))
        || ETC_PATHS.iter().any(|etc| path.starts_with(etc))
}

/// Refuses to show `source` when that would show a hidden path: `source` is, contains, or lies
/// inside one.
pub(crate) fn check_not_hidden(source: &Path, hidden: &[PathBuf]) -> Result<(), String> {
    let source = canonical_or_absolute(source);
    for secret in hidden {
        let secret = canonical_or_absolute(secret);
        if secret.starts_with(&source) || source.starts_with(&secret) {
            return Err(format!(
                "the sandbox would show {} (through {}), which must stay hidden",
                secret.display(),
                source.display()
            ));
        }
    }
    Ok(())
}

/// Checks every system path against the hidden ones, so that a data directory placed under
/// `/usr` is refused instead of shown.
pub(crate) fn check_system_hides(hidden: &[PathBuf]) -> Result<(), String> {
    for dir in SYSTEM_DIRS.iter().chain(ETC_PATHS) {
        let dir = Path::new(dir);
        if dir.exists() {
            check_not_hidden(dir, hidden)?;
        }
    }
    Ok(())
}

pub(crate) fn canonical_or_absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_path_buf())
}

/// Finds a program on the host the way `execvp` will inside the sandbox: a name with a `/` is
/// a path (relative to `cwd`), a bare name is looked up in the child's PATH.
pub(crate) fn resolve_program(
    program: &Path,
    path_var: Option<&str>,
    cwd: &Path,
) -> Option<PathBuf> {
    if program.components().count() > 1 || program.is_absolute() {
        let full = if program.is_absolute() {
            program.to_path_buf()
        } else {
            cwd.join(program)
        };
        return is_executable_file(&full).then_some(full);
    }
    lookup(program.as_os_str().to_str()?, path_var)
}

fn lookup(name: &str, path_var: Option<&str>) -> Option<PathBuf> {
    path_var?
        .split(':')
        .filter(|dir| dir.starts_with('/'))
        .map(|dir| Path::new(dir).join(name))
        .find(|candidate| is_executable_file(candidate))
}

fn is_executable_file(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// Collects the read-only mounts that make a program and the interpreters on its PATH work
/// inside the sandbox.
pub(crate) struct ToolFinder<'a> {
    path_var: Option<&'a str>,
    hidden: &'a [PathBuf],
    home: Option<PathBuf>,
    found: Vec<PathBuf>,
}

impl<'a> ToolFinder<'a> {
    pub(crate) fn new(path_var: Option<&'a str>, hidden: &'a [PathBuf]) -> Self {
        ToolFinder {
            path_var,
            hidden,
            home: std::env::var_os("HOME").map(|home| canonical_or_absolute(Path::new(&home))),
            found: Vec::new(),
        }
    }

    /// Adds what `program` (a resolved host path) needs: its installation root and, for a
    /// script, its interpreter's, following `#!` lines.
    pub(crate) fn program(&mut self, program: &Path) {
        self.visit(program, 0);
    }

    /// Adds the interpreters the child's PATH finds, and the PATH directories holding them.
    pub(crate) fn interpreters_on_path(&mut self) {
        for name in INTERPRETERS {
            if let Some(found) = lookup(name, self.path_var) {
                if let Some(dir) = found.parent() {
                    self.add(dir.to_path_buf());
                }
                self.visit(&found, 0);
            }
        }
    }

    /// The mounts found, with paths inside others or inside the system left out.
    pub(crate) fn into_dirs(self) -> Vec<PathBuf> {
        minimal_cover(self.found)
    }

    fn visit(&mut self, file: &Path, depth: usize) {
        if depth > MAX_SHEBANG_DEPTH {
            return;
        }
        let Ok(canonical) = std::fs::canonicalize(file) else {
            return;
        };
        if let Some(root) = self.root_of(&canonical) {
            self.add(root);
        }
        let Some((interpreter, first_arg)) = read_shebang(&canonical) else {
            return;
        };
        if interpreter.file_name().is_some_and(|name| name == "env") {
            if let Some(name) = first_arg.and_then(|arg| env_program(&arg))
                && let Some(found) = lookup(&name, self.path_var)
            {
                if let Some(dir) = found.parent() {
                    self.add(dir.to_path_buf());
                }
                self.visit(&found, depth + 1);
            }
        } else {
            self.visit(&interpreter, depth + 1);
        }
    }

    fn add(&mut self, dir: PathBuf) {
        if !is_system(&dir) && self.acceptable_root(&dir) {
            self.found.push(dir);
        }
    }

    /// The directory to show for an executable: its installation prefix (the parent of its
    /// `bin`), or for a version manager's shim (pyenv, rbenv, nodenv, asdf) the manager's root,
    /// which holds the real interpreters the shim runs. A prefix that is too broad (`/`, a
    /// top-level directory, a home directory) or would show a hidden path shrinks to the
    /// executable's own directory, and that to the file itself.
    fn root_of(&self, canonical: &Path) -> Option<PathBuf> {
        if is_system(canonical) {
            return None;
        }
        let dir = canonical.parent()?;
        let dir_name = dir.file_name().and_then(|name| name.to_str());
        let mut candidates = Vec::new();
        if dir_name == Some("shims") {
            candidates.extend(
                dir.ancestors()
                    .skip(1)
                    .take(3)
                    .find(|root| root.join("versions").is_dir() || root.join("installs").is_dir())
                    .map(Path::to_path_buf),
            );
        } else if matches!(dir_name, Some("bin" | "sbin")) {
            candidates.extend(dir.parent().map(Path::to_path_buf));
        }
        candidates.push(dir.to_path_buf());
        candidates.push(canonical.to_path_buf());
        candidates
            .into_iter()
            .find(|candidate| self.acceptable_root(candidate))
    }

    /// Not `/`, not a top-level directory, not a home directory, and showing nothing hidden.
    fn acceptable_root(&self, candidate: &Path) -> bool {
        let depth = candidate
            .components()
            .filter(|component| matches!(component, Component::Normal(_)))
            .count();
        let is_home = self.home.as_deref() == Some(candidate)
            || candidate == Path::new("/root")
            || candidate.parent() == Some(Path::new("/home"));
        depth >= 2 && !is_home && check_not_hidden(candidate, self.hidden).is_ok()
    }
}

/// `#!interpreter [arg]` of a script, or `None` for a binary.
pub(crate) fn read_shebang(path: &Path) -> Option<(PathBuf, Option<String>)> {
    let mut head = [0u8; 256];
    let mut file = std::fs::File::open(path).ok()?;
    let read = file.read(&mut head).ok()?;
    let head = &head[..read];
    let line = head.strip_prefix(b"#!")?;
    let end = line
        .iter()
        .position(|&byte| byte == b'\n')
        .unwrap_or(line.len());
    let line = std::str::from_utf8(&line[..end]).ok()?.trim();
    let (interpreter, rest) = match line.split_once([' ', '\t']) {
        Some((interpreter, rest)) => (interpreter, Some(rest.trim().to_string())),
        None => (line, None),
    };
    if !interpreter.starts_with('/') {
        return None;
    }
    Some((
        PathBuf::from(interpreter),
        rest.filter(|rest| !rest.is_empty()),
    ))
}

/// The program `env` will run given the rest of a shebang line: the first word that is not an
/// option (`-S node --flag` runs `node`).
pub(crate) fn env_program(rest: &str) -> Option<String> {
    rest.split_whitespace()
        .find(|word| !word.starts_with('-') && !word.contains('='))
        .map(str::to_string)
}

/// Drops the paths that another path in the list, or the system, already covers.
pub(crate) fn minimal_cover(mut dirs: Vec<PathBuf>) -> Vec<PathBuf> {
    dirs.retain(|dir| !is_system(dir));
    dirs.sort();
    dirs.dedup();
    let mut kept: Vec<PathBuf> = Vec::new();
    for dir in dirs {
        // Sorted order puts a parent right before its children.
        if !kept.iter().any(|parent| dir.starts_with(parent)) {
            kept.push(dir);
        }
    }
    kept
}
