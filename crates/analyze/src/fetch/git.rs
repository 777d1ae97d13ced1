//! Git repositories: a shallow clone through the user's `git`, never interactive, hardened
//! against what a hostile repository or server could do.
//!
//! - `GIT_TERMINAL_PROMPT=0` and ssh `BatchMode` make a private repository fail at once instead
//!   of waiting for a password nobody will type.
//! - Only the `file`, `git`, `http`, `https` and `ssh` transports are allowed
//!   (`GIT_ALLOW_PROTOCOL`; `ext::` runs commands), submodules are never fetched, hooks never
//!   run (`core.hooksPath=/dev/null`), and Git LFS never downloads (a repository's
//!   `.lfsconfig` could otherwise send git-lfs to any URL).
//! - The host is checked against private networks before git runs (see `network.rs`); for
//!   HTTP(S) the checked addresses are pinned with `http.curloptResolve` and redirects are
//!   not followed, so git connects where the check looked.
//! - Each git command has a deadline, the clone in progress is watched and stopped when it
//!   grows past twice the extraction limits, and the finished checkout must fit the limits and
//!   hold only files, folders and symlinks that stay inside it.
//!
//! A branch or tag is cloned directly; a commit is fetched by id, and when the server refuses
//! that, the full history is cloned and the commit checked out. The checkout is moved to
//! `<work_dir>/sources/git/<hash of url#rev>/` without its `.git` folder, and the commit it
//! holds is written next to it in `<hash>.commit`, so that a cached spec is only reused with
//! the very checkout it describes.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::{Fetched, blocking, ensure_dir, network, publish, temp_dir_in};
use crate::Analyzer;
use crate::error::AnalyzeError;
use crate::extract::{ExtractLimits, check_symlink_target};
use crate::process::{Output, last_line};
use crate::source::{is_full_commit, looks_like_commit, redact_url};

/// How often the size of a clone in progress is measured.
const WATCH_INTERVAL: Duration = Duration::from_millis(250);

/// What to clone, once the source has been resolved.
#[derive(Debug, Clone)]
pub(crate) struct GitTarget {
    /// The URL given to git.
    pub url: String,
    /// A branch, tag or commit; `None` for the default branch.
    pub rev: Option<String>,
    /// The folder of the checkout that holds the server.
    pub subdir: Option<String>,
    /// The commit `rev` points to, when the remote's refs told us before cloning.
    pub commit: Option<String>,
}

/// The branches and tags of a remote, from `git ls-remote`.
#[derive(Debug, Default)]
pub(crate) struct RemoteRefs {
    pub head: Option<String>,
    /// `(name, commit)`, without the `refs/heads/` prefix.
    pub branches: Vec<(String, String)>,
    /// `(name, commit)`, annotated tags peeled to their commit.
    pub tags: Vec<(String, String)>,
}

impl RemoteRefs {
    fn parse(listing: &str) -> RemoteRefs {
        let mut refs = RemoteRefs::default();
        for line in listing.lines() {
            let Some((id, name)) = line.split_once('\t') else {
                continue;
            };
            if !is_full_commit(id) {
                continue; // `ref: refs/heads/main	HEAD` (the --symref line)
            }
            let id = id.to_ascii_lowercase();
            if name == "HEAD" {
                refs.head = Some(id);
            } else if let Some(branch) = name.strip_prefix("refs/heads/") {
                refs.branches.push((branch.to_string(), id));
            } else if let Some(tag) = name.strip_prefix("refs/tags/") {
                match tag.strip_suffix("^{}") {
                    // The peeled line follows its tag: it names the commit.
                    Some(peeled) => {
                        if let Some(entry) = refs.tags.iter_mut().find(|(n, _)| n == peeled) {
                            entry.1 = id;
                        }
                    }
                    None => refs.tags.push((tag.to_string(), id)),
                }
            }
        }
        refs
    }

    /// The commit of the default branch, a branch, a tag or a full commit id.
    pub fn commit_of(&self, rev: Option<&str>) -> Option<String> {
        let Some(rev) = rev else {
            return self.head.clone();
        };
        if is_full_commit(rev) {
            return Some(rev.to_ascii_lowercase());
        }
        self.branches
            .iter()
            .chain(&self.tags)
            .find(|(name, _)| name == rev)
            .map(|(_, id)| id.clone())
    }

    /// Whether `rev` names a branch or a tag.
    pub fn has_ref(&self, rev: &str) -> bool {
        self.branches
            .iter()
            .chain(&self.tags)
            .any(|(n, _)| n == rev)
    }

    /// Splits `branch/with/slashes/sub/dir` at the longest branch or tag name it starts with
    /// (a branch wins over a tag of the same length).
    pub fn split_tree(&self, path: &str) -> Option<(String, Option<String>)> {
        self.branches
            .iter()
            .chain(&self.tags)
            .map(|(name, _)| name)
            .filter(|name| {
                path == name.as_str()
                    || path
                        .strip_prefix(name.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            })
            .fold(None::<&String>, |best, name| match best {
                Some(b) if b.len() >= name.len() => Some(b),
                _ => Some(name),
            })
            .map(|name| {
                let rest = path[name.len()..].trim_start_matches('/');
                (name.clone(), (!rest.is_empty()).then(|| rest.to_string()))
            })
    }

    /// A few branch and tag names, for error messages.
    pub fn sample(&self) -> String {
        let names: Vec<&str> = self
            .branches
            .iter()
            .chain(&self.tags)
            .map(|(n, _)| n.as_str())
            .take(10)
            .collect();
        if names.is_empty() {
            "it has no branches or tags".into()
        } else {
            format!("it has {}", names.join(", "))
        }
    }
}

/// Git with the hardening options and, for network URLs, the pinned addresses.
pub(crate) struct Git<'a> {
    analyzer: &'a Analyzer,
    config: Vec<String>,
}

impl<'a> Git<'a> {
    /// Checks the host of `url` and prepares the options that keep git on the checked address.
    pub async fn for_url(analyzer: &'a Analyzer, url: &str) -> Result<Git<'a>, AnalyzeError> {
        let mut config = vec![
            "protocol.ext.allow=never".to_string(),
            "core.hooksPath=/dev/null".to_string(),
            "submodule.recurse=false".to_string(),
            "filter.lfs.process=".to_string(),
            "filter.lfs.smudge=".to_string(),
            "filter.lfs.required=false".to_string(),
        ];
        if let Some((host, port, http)) = network_host(url) {
            let addresses = network::resolve_checked(&host, port, analyzer.allow_private_network)
                .await
                .map_err(|e| match e {
                    AnalyzeError::Download { detail, .. } => AnalyzeError::GitClone {
                        url: redact_url(url),
                        detail,
                    },
                    other => other,
                })?;
            if http && !analyzer.allow_private_network {
                config.push("http.followRedirects=false".into());
                config.extend(pin(&host, port, &addresses));
            }
        }
        Ok(Git { analyzer, config })
    }

    /// The git command line, with the hardening environment and settings, in its own process
    /// group so that its helpers (`git-remote-https`, `index-pack`, `ssh`) can be stopped too.
    fn command(&self, dir: &Path, args: &[&str]) -> tokio::process::Command {
        let ssh =
            std::env::var("GIT_SSH_COMMAND").unwrap_or_else(|_| "ssh -o BatchMode=yes".to_string());
        let mut command = tokio::process::Command::new(&self.analyzer.git);
        command
            .arg("-C")
            .arg(dir)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GCM_INTERACTIVE", "never")
            .env("GIT_ALLOW_PROTOCOL", "file:git:http:https:ssh")
            .env("GIT_LFS_SKIP_SMUDGE", "1")
            .env("GIT_SSH_COMMAND", ssh);
        for setting in &self.config {
            command.arg("-c").arg(setting);
        }
        command.args(args);
        command
    }

    /// Runs git with the deadline.
    pub async fn run(&self, dir: &Path, args: &[&str]) -> Result<Output, AnalyzeError> {
        self.supervised(dir, args, None).await
    }

    /// Runs a git command that writes a repository into `grows`, stopped (with its helpers)
    /// when that folder grows past twice the extraction limits: pack files and the working
    /// tree coexist until `.git` is removed.
    async fn run_watched(
        &self,
        dir: &Path,
        args: &[&str],
        grows: &Path,
    ) -> Result<Output, AnalyzeError> {
        self.supervised(dir, args, Some(grows)).await
    }

    async fn supervised(
        &self,
        dir: &Path,
        args: &[&str],
        grows: Option<&Path>,
    ) -> Result<Output, AnalyzeError> {
        let limits = &self.analyzer.limits;
        let cap = ExtractLimits {
            max_total_bytes: limits.max_total_bytes.saturating_mul(2),
            max_entries: limits.max_entries.saturating_mul(2),
        };
        supervise(
            self.command(dir, args),
            Supervision {
                program: &self.analyzer.git,
                display: format!("git {}", args.first().unwrap_or(&"")),
                timeout: self.analyzer.fetch_timeout,
                grows: grows.map(|g| (g, cap, *limits)),
            },
        )
        .await
    }
}

/// How one command is watched.
struct Supervision<'a> {
    program: &'a str,
    display: String,
    timeout: Duration,
    /// The folder the command writes, the cap it may grow to, and the limits to report.
    grows: Option<(&'a Path, ExtractLimits, ExtractLimits)>,
}

/// Runs `command` to completion, or stops its whole process group at the deadline or when the
/// watched folder grows past its cap.
async fn supervise(
    mut command: tokio::process::Command,
    how: Supervision<'_>,
) -> Result<Output, AnalyzeError> {
    command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    let child = command.spawn().map_err(|e| AnalyzeError::ToolMissing {
        tool: how.program.to_string(),
        detail: e.to_string(),
    })?;
    let group = child.id().and_then(|p| i32::try_from(p).ok());
    let finished = child.wait_with_output();
    tokio::pin!(finished);
    let deadline = tokio::time::sleep(how.timeout);
    tokio::pin!(deadline);
    let mut ticks = tokio::time::interval(WATCH_INTERVAL);
    let stopped = loop {
        tokio::select! {
            out = &mut finished => {
                return match out {
                    Ok(out) => Ok(Output {
                        success: out.status.success(),
                        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                    }),
                    Err(e) => Err(AnalyzeError::CommandFailed {
                        command: how.display,
                        detail: format!("waiting for it failed: {e}"),
                    }),
                };
            }
            () = &mut deadline => break AnalyzeError::Timeout {
                command: how.display.clone(),
                seconds: how.timeout.as_secs(),
            },
            _ = ticks.tick(), if how.grows.is_some() => {
                let (dir, cap, limits) = how.grows.expect("checked by the guard");
                let measured = dir.to_path_buf();
                let over = tokio::task::spawn_blocking(move || exceeds(&measured, &cap))
                    .await
                    .unwrap_or(false);
                if over {
                    break too_large(&limits, "the repository being cloned");
                }
            }
        }
    };
    if let Some(group) = group {
        stop_group(group).await;
    }
    Err(stopped)
}

/// Kills a process group and waits (briefly) until none of it is left, so that nothing keeps
/// writing into a folder about to be removed.
async fn stop_group(group: i32) {
    use nix::sys::signal::{Signal, killpg};
    use nix::unistd::Pid;
    let pid = Pid::from_raw(group);
    let _ = killpg(pid, Signal::SIGKILL);
    for _ in 0..100 {
        if killpg(pid, None).is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The `http.curloptResolve` setting that makes git's curl connect to exactly the addresses
/// that were checked (nothing for an IP-literal host, which is not resolved).
fn pin(host: &str, port: u16, addresses: &[std::net::SocketAddr]) -> Option<String> {
    if host.parse::<std::net::IpAddr>().is_ok() || addresses.is_empty() {
        return None;
    }
    let pinned: Vec<String> = addresses
        .iter()
        .map(|a| match a.ip() {
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            std::net::IpAddr::V4(ip) => ip.to_string(),
        })
        .collect();
    Some(format!(
        "http.curloptResolve={host}:{port}:{}",
        pinned.join(",")
    ))
}

/// The host, port and whether it is HTTP(S), for URLs that reach the network.
fn network_host(url: &str) -> Option<(String, u16, bool)> {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("file:") {
        return None;
    }
    if let Some(scheme_end) = lower.find("://") {
        let parsed = reqwest::Url::parse(url).ok()?;
        let host = parsed
            .host_str()?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let scheme = &lower[..scheme_end];
        let default_port = match scheme {
            "https" => 443,
            "http" => 80,
            "git" => 9418,
            _ => 22,
        };
        let port = parsed.port().unwrap_or(default_port);
        return Some((host, port, scheme.starts_with("http")));
    }
    // scp-like `user@host:path`.
    let (userhost, _) = url.split_once(':')?;
    let host = userhost.rsplit('@').next()?;
    Some((host.to_string(), 22, false))
}

fn clone_error(url: &str, out: &Output) -> AnalyzeError {
    AnalyzeError::GitClone {
        url: redact_url(url),
        detail: scrub(&git_error(&out.stderr), url),
    }
}

/// `git ls-remote --symref <url> HEAD refs/heads/* refs/tags/*`.
pub(crate) async fn remote_refs(
    analyzer: &Analyzer,
    url: &str,
) -> Result<RemoteRefs, AnalyzeError> {
    let git = Git::for_url(analyzer, url).await?;
    let out = git
        .run(
            Path::new("."),
            &[
                "ls-remote",
                "--symref",
                "--",
                url,
                "HEAD",
                "refs/heads/*",
                "refs/tags/*",
            ],
        )
        .await?;
    if !out.success {
        return Err(clone_error(url, &out));
    }
    Ok(RemoteRefs::parse(&out.stdout))
}

/// Resolves a git URL's revision against its refs: the commit it points to, or an error when
/// it is neither a branch, a tag nor something that looks like a commit id.
pub(crate) async fn target(
    analyzer: &Analyzer,
    url: &str,
    rev: Option<&str>,
    subdir: Option<&str>,
) -> Result<GitTarget, AnalyzeError> {
    ensure_dir(&analyzer.work_dir.join("sources").join("git"))?;
    let refs = remote_refs(analyzer, url).await?;
    if let Some(rev) = rev
        && !refs.has_ref(rev)
        && !looks_like_commit(rev)
    {
        return Err(AnalyzeError::GitClone {
            url: redact_url(url),
            detail: format!("no branch, tag or commit named {rev:?} ({})", refs.sample()),
        });
    }
    Ok(GitTarget {
        url: url.to_string(),
        rev: rev.map(String::from),
        subdir: subdir.map(String::from),
        commit: refs.commit_of(rev),
    })
}

/// The checkout folder of a target: `<work_dir>/sources/git/<cache_key>`.
pub(crate) fn checkout_dir(analyzer: &Analyzer, target: &GitTarget) -> PathBuf {
    analyzer
        .work_dir
        .join("sources")
        .join("git")
        .join(cache_key(&target.url, target.rev.as_deref()))
}

/// Whether the checkout of `target` exists and holds `commit`.
pub(crate) fn checkout_holds(analyzer: &Analyzer, target: &GitTarget, commit: &str) -> bool {
    let dir = checkout_dir(analyzer, target);
    let stamp = dir.with_extension("commit");
    dir.is_dir() && fs::read_to_string(stamp).is_ok_and(|c| c.trim() == commit)
}

/// Clones `target` and returns the checkout (its root; the subfolder is resolved by the caller).
pub(crate) async fn fetch(
    analyzer: &Analyzer,
    target: &GitTarget,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<Fetched, AnalyzeError> {
    let url = target.url.as_str();
    let rev = target.rev.as_deref();
    let shown = redact_url(url);
    progress(&format!(
        "cloning {shown}{}",
        rev.map(|r| format!(" at {r}")).unwrap_or_default()
    ));
    let git = Git::for_url(analyzer, url).await?;
    let cache_root = analyzer.work_dir.join("sources").join("git");
    let staging = temp_dir_in(&cache_root, ".staging-")?;
    let checkout = staging.path().to_path_buf();
    clone(&git, target, &checkout).await?;
    let head = git.run(&checkout, &["rev-parse", "HEAD"]).await?;
    if !head.success {
        return Err(clone_error(url, &head));
    }
    let revision = head.stdout.trim().to_string();
    let limits = analyzer.limits;
    let measured = checkout.clone();
    let label = format!("the checkout of {shown}");
    blocking(move || {
        // The history is not needed to install or read the server.
        let _ = fs::remove_dir_all(measured.join(".git"));
        inspect(&measured, &limits, &label)
    })
    .await?;
    let dest = checkout_dir(analyzer, target);
    let stamp = dest.with_extension("commit");
    let _ = fs::remove_file(&stamp);
    if dest.exists() {
        fs::remove_dir_all(&dest)
            .map_err(|e| AnalyzeError::io(format!("cannot replace {}", dest.display()), e))?;
    }
    publish(staging, &dest)?;
    fs::write(&stamp, format!("{revision}\n"))
        .map_err(|e| AnalyzeError::io(format!("cannot write {}", stamp.display()), e))?;
    progress(&format!(
        "checked out {}",
        &revision[..revision.len().min(12)]
    ));
    Ok(Fetched {
        root: dest.clone(),
        registry: None,
        path: Some(dest),
        revision: Some(revision.clone()),
        warnings: Vec::new(),
        content: Some(format!("git {revision}")),
    })
}

/// The cache folder name: 16 hex characters of SHA-256 over `url#rev`.
pub fn cache_key(url: &str, rev: Option<&str>) -> String {
    let digest = Sha256::digest(format!("{url}#{}", rev.unwrap_or("")).as_bytes());
    hex::encode(digest)[..16].to_string()
}

fn too_large(limits: &ExtractLimits, what: &str) -> AnalyzeError {
    let bytes = limits.max_total_bytes;
    let size = if bytes >= 1024 * 1024 {
        format!("{} MB", bytes / (1024 * 1024))
    } else {
        format!("{} KB", bytes / 1024)
    };
    AnalyzeError::TooLarge {
        what: what.into(),
        limit: format!("{} files or {size}", limits.max_entries),
    }
}

/// Whether the folder holds more than the limits allow (stops counting as soon as it does).
fn exceeds(dir: &Path, limits: &ExtractLimits) -> bool {
    let mut bytes = 0u64;
    let mut entries = 0usize;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let Ok(listing) = fs::read_dir(&current) else {
            continue;
        };
        for entry in listing.flatten() {
            entries += 1;
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                bytes += meta.len();
            }
            if entries > limits.max_entries || bytes > limits.max_total_bytes {
                return true;
            }
        }
    }
    false
}

async fn clone(git: &Git<'_>, target: &GitTarget, into: &Path) -> Result<(), AnalyzeError> {
    let url = target.url.as_str();
    let into_text = into.to_string_lossy();
    // A commit id (not a branch that happens to look like one) cannot be cloned with --branch.
    let by_commit = target.rev.as_deref().filter(|r| {
        looks_like_commit(r)
            && target
                .commit
                .as_deref()
                .is_none_or(|c| c.starts_with(&r.to_ascii_lowercase()))
    });
    if by_commit.is_none() {
        let mut args: Vec<&str> = vec![
            "clone",
            "--quiet",
            "--depth",
            "1",
            "--no-recurse-submodules",
        ];
        if let Some(rev) = &target.rev {
            args.extend(["--branch", rev]);
        }
        args.extend(["--", url, &into_text]);
        let out = git.run_watched(Path::new("."), &args, into).await?;
        if out.success {
            return Ok(());
        }
        let missing_ref =
            out.stderr.contains("not found in upstream") || out.stderr.contains("Remote branch");
        if target.rev.is_none() || !missing_ref {
            return Err(clone_error(url, &out));
        }
    }
    let rev = target.rev.as_deref().unwrap_or("HEAD");
    // A commit: first a shallow fetch of exactly that commit.
    let _ = fs::remove_dir_all(into);
    fs::create_dir_all(into)
        .map_err(|e| AnalyzeError::io(format!("cannot create {}", into.display()), e))?;
    let init = git.run(into, &["init", "--quiet"]).await?;
    if !init.success {
        return Err(clone_error(url, &init));
    }
    let fetch = git
        .run_watched(
            into,
            &[
                "fetch",
                "--quiet",
                "--depth",
                "1",
                "--no-recurse-submodules",
                "--",
                url,
                rev,
            ],
            into,
        )
        .await?;
    if fetch.success {
        let checkout = git
            .run(into, &["checkout", "--quiet", "FETCH_HEAD"])
            .await?;
        return if checkout.success {
            Ok(())
        } else {
            Err(clone_error(url, &checkout))
        };
    }
    // Servers that refuse fetching by id (or an abbreviated id): the full history, then checkout.
    let _ = fs::remove_dir_all(into);
    let full = git
        .run_watched(
            Path::new("."),
            &[
                "clone",
                "--quiet",
                "--no-checkout",
                "--no-recurse-submodules",
                "--",
                url,
                &into_text,
            ],
            into,
        )
        .await?;
    if !full.success {
        return Err(clone_error(url, &full));
    }
    let checkout = git.run(into, &["checkout", "--quiet", rev, "--"]).await?;
    if checkout.success {
        Ok(())
    } else {
        Err(AnalyzeError::GitClone {
            url: redact_url(url),
            detail: format!("no branch, tag or commit named {rev:?}"),
        })
    }
}

/// git's `fatal:`/`error:` lines joined (its last line is often only advice), else its last line.
fn git_error(stderr: &str) -> String {
    let errors: Vec<&str> = stderr
        .lines()
        .filter_map(|l| {
            l.strip_prefix("fatal:")
                .or_else(|| l.strip_prefix("error:"))
        })
        .map(str::trim)
        .collect();
    if errors.is_empty() {
        last_line(stderr)
    } else {
        errors.join("; ")
    }
}

/// Removes the URL's password from git's message, should git have echoed it.
fn scrub(message: &str, url: &str) -> String {
    let redacted = redact_url(url);
    if redacted == url {
        message.to_string()
    } else {
        message.replace(url, &redacted)
    }
}

/// Applies the archive rules to a checkout: the size limits, and only files, folders and
/// symlinks that stay inside it (git itself creates nothing else, but a checkout is checked
/// the way an archive is, so the two can never disagree).
fn inspect(dir: &Path, limits: &ExtractLimits, label: &str) -> Result<(), AnalyzeError> {
    let mut bytes = 0u64;
    let mut entries = 0usize;
    let mut stack = vec![PathBuf::new()];
    let refuse = |rel: &Path, reason: &str| AnalyzeError::UnsafeArchive {
        archive: label.to_string(),
        entry: rel.to_string_lossy().into_owned(),
        reason: reason.to_string(),
    };
    while let Some(rel_dir) = stack.pop() {
        let current = dir.join(&rel_dir);
        let listing = fs::read_dir(&current)
            .map_err(|e| AnalyzeError::io(format!("cannot list {}", current.display()), e))?;
        for entry in listing.filter_map(Result::ok) {
            entries += 1;
            let rel = rel_dir.join(entry.file_name());
            let meta = entry.path().symlink_metadata().map_err(|e| {
                AnalyzeError::io(format!("cannot inspect {}", entry.path().display()), e)
            })?;
            let kind = meta.file_type();
            if kind.is_dir() {
                stack.push(rel);
            } else if kind.is_symlink() {
                let target = fs::read_link(entry.path()).map_err(|e| {
                    AnalyzeError::io(format!("cannot read {}", entry.path().display()), e)
                })?;
                check_symlink_target(&rel, &target).map_err(|reason| refuse(&rel, reason))?;
            } else if kind.is_file() {
                bytes += meta.len();
            } else {
                return Err(refuse(&rel, "is a device file, FIFO or socket"));
            }
        }
        if entries > limits.max_entries || bytes > limits.max_total_bytes {
            return Err(too_large(limits, "the repository checkout"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "1111111111111111111111111111111111111111";
    const B: &str = "2222222222222222222222222222222222222222";
    const C: &str = "3333333333333333333333333333333333333333";

    fn refs() -> RemoteRefs {
        RemoteRefs::parse(&format!(
            "ref: refs/heads/main\tHEAD\n{A}\tHEAD\n{A}\trefs/heads/main\n{B}\trefs/heads/feature/deep/x\n{C}\trefs/tags/feature\n{B}\trefs/tags/v1\n{A}\trefs/tags/v1^{{}}\n"
        ))
    }

    #[test]
    fn commits_of_revisions() {
        let refs = refs();
        assert_eq!(refs.commit_of(None).as_deref(), Some(A));
        assert_eq!(refs.commit_of(Some("feature/deep/x")).as_deref(), Some(B));
        assert_eq!(
            refs.commit_of(Some("v1")).as_deref(),
            Some(A),
            "annotated tags are peeled"
        );
        assert_eq!(refs.commit_of(Some(C)).as_deref(), Some(C));
        assert_eq!(refs.commit_of(Some("nope")), None);
    }

    #[test]
    fn tree_paths_split_at_the_longest_ref() {
        let refs = refs();
        let split = |p: &str| refs.split_tree(p);
        assert_eq!(
            split("feature/deep/x/src/echo"),
            Some(("feature/deep/x".into(), Some("src/echo".into())))
        );
        assert_eq!(
            split("feature/other"),
            Some(("feature".into(), Some("other".into())))
        );
        assert_eq!(split("main"), Some(("main".into(), None)));
        assert_eq!(split("mainline/x"), None, "a ref must end at a /");
        assert_eq!(split("unknown/x"), None);
    }

    /// Stands in for git writing a pack from a helper process: the whole group is stopped
    /// once the folder passes the cap, and nothing writes into it afterwards.
    #[tokio::test]
    async fn a_growing_command_and_its_helpers_are_stopped_at_the_cap() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("clone");
        std::fs::create_dir_all(&dir).unwrap();
        let mut command = tokio::process::Command::new("sh");
        command.current_dir(&dir).arg("-c").arg(
            "(i=0; while [ $i -lt 1000 ]; do head -c 65536 /dev/zero > part$i; i=$((i+1)); sleep 0.02; done) & wait",
        );
        let limits = ExtractLimits {
            max_total_bytes: 100 * 1024,
            max_entries: 1000,
        };
        let started = std::time::Instant::now();
        let error = supervise(
            command,
            Supervision {
                program: "sh",
                display: "sh".into(),
                timeout: Duration::from_secs(20),
                grows: Some((&dir, limits, limits)),
            },
        )
        .await
        .err()
        .expect("stopped");
        assert!(matches!(error, AnalyzeError::TooLarge { .. }), "{error:?}");
        assert!(error.to_string().contains("100 KB"), "{error}");
        assert!(started.elapsed() < Duration::from_secs(5));
        let count = || std::fs::read_dir(&dir).unwrap().count();
        let written = count();
        assert!(written < 30, "stopped early, after {written} parts");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(count(), written, "the background writer was stopped too");
    }

    #[tokio::test]
    async fn a_command_past_its_deadline_is_stopped() {
        let mut command = tokio::process::Command::new("sh");
        command.arg("-c").arg("sleep 30 & wait");
        let started = std::time::Instant::now();
        let error = supervise(
            command,
            Supervision {
                program: "sh",
                display: "git clone".into(),
                timeout: Duration::from_millis(300),
                grows: None,
            },
        )
        .await
        .err()
        .expect("stopped");
        assert!(matches!(error, AnalyzeError::Timeout { .. }), "{error:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    /// git, given the pin, connects to the checked address even for a name that does not
    /// resolve at all: the address git uses is the address that was checked.
    #[tokio::test]
    async fn pinned_addresses_are_where_git_connects() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = tokio::spawn(async move { listener.accept().await.is_ok() });
        let tmp = tempfile::tempdir().unwrap();
        let mut analyzer = Analyzer::new(tmp.path().join("work"));
        analyzer.fetch_timeout = Duration::from_secs(5);
        let setting = pin(
            "pinned.invalid",
            port,
            &[std::net::SocketAddr::from(([127, 0, 0, 1], port))],
        )
        .unwrap();
        assert_eq!(
            setting,
            format!("http.curloptResolve=pinned.invalid:{port}:127.0.0.1")
        );
        let git = Git {
            analyzer: &analyzer,
            config: vec![setting],
        };
        let url = format!("http://pinned.invalid:{port}/o/r.git");
        // The listener never answers: git fails or times out, but it did connect.
        let _ = git.run(Path::new("."), &["ls-remote", "--", &url]).await;
        let connected = tokio::time::timeout(Duration::from_secs(5), accepted)
            .await
            .expect("git connected to the pinned address")
            .unwrap();
        assert!(connected);
        assert_eq!(pin("127.0.0.1", 80, &[]), None);
        assert_eq!(
            pin("h.example", 443, &["[2001:db8::1]:443".parse().unwrap()]).unwrap(),
            "http.curloptResolve=h.example:443:[2001:db8::1]"
        );
    }

    #[test]
    fn hosts_of_git_urls() {
        assert_eq!(
            network_host("https://example.com/o/r.git"),
            Some(("example.com".into(), 443, true))
        );
        assert_eq!(
            network_host("http://127.0.0.1:8080/o/r.git"),
            Some(("127.0.0.1".into(), 8080, true))
        );
        assert_eq!(
            network_host("ssh://git@[::1]:2222/o/r"),
            Some(("::1".into(), 2222, false))
        );
        assert_eq!(
            network_host("git@host.example:o/r.git"),
            Some(("host.example".into(), 22, false))
        );
        assert_eq!(
            network_host("git://host.example/r.git"),
            Some(("host.example".into(), 9418, false))
        );
        assert_eq!(network_host("file:///srv/r.git"), None);
    }
}
