//! Git repositories: a shallow clone through the user's `git`, never interactive.
//!
//! `GIT_TERMINAL_PROMPT=0` and ssh `BatchMode` make a private repository fail at once instead
//! of waiting for a password nobody will type; the `ext::` transport (which runs commands) is
//! disabled. A branch or tag is cloned directly; a commit is fetched by id, and when the server
//! refuses that, the full history is cloned and the commit checked out. The checkout is moved
//! to `<work_dir>/sources/git/<hash of url#rev>/` without its `.git` folder.

use std::fs;
use std::path::Path;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::{Fetched, blocking, publish, temp_dir_in};
use crate::Analyzer;
use crate::error::AnalyzeError;
use crate::process::{Cmd, Output, last_line};

use crate::source::redact_url;

const GIT_TIMEOUT: Duration = Duration::from_secs(60);

/// Clones `url` at `rev` (or the default branch) and returns the checkout.
pub(crate) async fn fetch(
    analyzer: &Analyzer,
    url: &str,
    rev: Option<&str>,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<Fetched, AnalyzeError> {
    let shown = redact_url(url);
    progress(&format!(
        "cloning {shown}{}",
        rev.map(|r| format!(" at {r}")).unwrap_or_default()
    ));
    let cache_root = analyzer.work_dir.join("sources").join("git");
    let staging = temp_dir_in(&cache_root, ".staging-")?;
    let checkout = staging.path().to_path_buf();
    clone(analyzer, url, rev, &checkout).await?;
    let head = git(analyzer, &checkout, &["rev-parse", "HEAD"]).await?;
    if !head.success {
        return Err(AnalyzeError::GitClone {
            url: shown,
            detail: scrub(&git_error(&head.stderr), url),
        });
    }
    let revision = head.stdout.trim().to_string();
    let limits = analyzer.limits;
    let measured = checkout.clone();
    blocking(move || {
        // The history is not needed to install or read the server.
        let _ = fs::remove_dir_all(measured.join(".git"));
        check_size(&measured, &limits)
    })
    .await?;
    let dest = cache_root.join(cache_key(url, rev));
    if dest.exists() {
        fs::remove_dir_all(&dest)
            .map_err(|e| AnalyzeError::io(format!("cannot replace {}", dest.display()), e))?;
    }
    publish(staging, &dest)?;
    progress(&format!(
        "checked out {}",
        &revision[..revision.len().min(12)]
    ));
    Ok(Fetched {
        root: dest.clone(),
        registry: None,
        path: Some(dest),
        revision: Some(revision),
        warnings: Vec::new(),
    })
}

/// The cache folder name: 16 hex characters of SHA-256 over `url#rev`.
pub fn cache_key(url: &str, rev: Option<&str>) -> String {
    let digest = Sha256::digest(format!("{url}#{}", rev.unwrap_or("")).as_bytes());
    hex::encode(digest)[..16].to_string()
}

async fn clone(
    analyzer: &Analyzer,
    url: &str,
    rev: Option<&str>,
    into: &Path,
) -> Result<(), AnalyzeError> {
    let shown = redact_url(url);
    let fail = |out: &Output| AnalyzeError::GitClone {
        url: shown.clone(),
        detail: scrub(&git_error(&out.stderr), url),
    };
    let mut args: Vec<&str> = vec!["clone", "--quiet", "--depth", "1"];
    if let Some(rev) = rev {
        args.extend(["--branch", rev]);
    }
    let into_text = into.to_string_lossy();
    args.extend(["--", url, &into_text]);
    let out = git(analyzer, Path::new("."), &args).await?;
    if out.success {
        return Ok(());
    }
    let Some(rev) = rev else {
        return Err(fail(&out));
    };
    let missing_ref =
        out.stderr.contains("not found in upstream") || out.stderr.contains("Remote branch");
    if !missing_ref {
        return Err(fail(&out));
    }
    // Not a branch or tag: try it as a commit, first by a shallow fetch of that commit.
    let _ = fs::remove_dir_all(into);
    fs::create_dir_all(into)
        .map_err(|e| AnalyzeError::io(format!("cannot create {}", into.display()), e))?;
    let init = git(analyzer, into, &["init", "--quiet"]).await?;
    if !init.success {
        return Err(fail(&init));
    }
    let fetch = git(
        analyzer,
        into,
        &["fetch", "--quiet", "--depth", "1", "--", url, rev],
    )
    .await?;
    if fetch.success {
        let checkout = git(analyzer, into, &["checkout", "--quiet", "FETCH_HEAD"]).await?;
        return if checkout.success {
            Ok(())
        } else {
            Err(fail(&checkout))
        };
    }
    // Servers that refuse fetching by id (or an abbreviated id): the full history, then checkout.
    let _ = fs::remove_dir_all(into);
    let full = git(
        analyzer,
        Path::new("."),
        &["clone", "--quiet", "--no-checkout", "--", url, &into_text],
    )
    .await?;
    if !full.success {
        return Err(fail(&full));
    }
    let checkout = git(analyzer, into, &["checkout", "--quiet", rev, "--"]).await?;
    if checkout.success {
        Ok(())
    } else {
        Err(AnalyzeError::GitClone {
            url: shown.clone(),
            detail: format!("no branch, tag or commit named {rev:?}"),
        })
    }
}

async fn git(analyzer: &Analyzer, dir: &Path, args: &[&str]) -> Result<Output, AnalyzeError> {
    let ssh =
        std::env::var("GIT_SSH_COMMAND").unwrap_or_else(|_| "ssh -o BatchMode=yes".to_string());
    let mut cmd = Cmd::new(&analyzer.git, GIT_TIMEOUT)
        .arg("-C")
        .arg(dir)
        .arg("-c")
        .arg("protocol.ext.allow=never")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GCM_INTERACTIVE", "never")
        .env("GIT_SSH_COMMAND", &ssh);
    for arg in args {
        cmd = cmd.arg(*arg);
    }
    let display = format!("git {}", args.first().unwrap_or(&""));
    cmd.run().await.map_err(|e| match e {
        AnalyzeError::Timeout { seconds, .. } => AnalyzeError::Timeout {
            command: display,
            seconds,
        },
        other => other,
    })
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

/// Applies the archive limits to a checkout, so that a huge repository is refused too.
fn check_size(dir: &Path, limits: &crate::extract::ExtractLimits) -> Result<(), AnalyzeError> {
    let mut bytes = 0u64;
    let mut entries = 0usize;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let listing = fs::read_dir(&current)
            .map_err(|e| AnalyzeError::io(format!("cannot list {}", current.display()), e))?;
        for entry in listing.filter_map(Result::ok) {
            entries += 1;
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                bytes += meta.len();
            }
        }
        if entries > limits.max_entries || bytes > limits.max_total_bytes {
            return Err(AnalyzeError::TooLarge {
                what: "the repository checkout".into(),
                limit: format!(
                    "{} files or {} MB",
                    limits.max_entries,
                    limits.max_total_bytes / (1024 * 1024)
                ),
            });
        }
    }
    Ok(())
}
