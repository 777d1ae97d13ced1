//! GitHub sources: every URL form maps to a clone of `<github_base>/<owner>/<repo>.git`.
//!
//! `github_base` defaults to `https://github.com`; pointing it elsewhere serves a GitHub
//! Enterprise host, a mirror, or (in the tests) a local smart-HTTP server. A `tree/` URL is
//! ambiguous when the branch name contains `/` (`tree/feature/x/src` is branch `feature/x`,
//! folder `src`, or branch `feature`, folder `x/src`): it is settled against the repository's
//! refs, the longest branch or tag that matches wins, and with no match a leading commit id is
//! taken as the revision.

use super::git::{self, GitTarget};
use crate::Analyzer;
use crate::error::AnalyzeError;
use crate::source::{Source, looks_like_commit, redact_url};

/// The clone URL of a GitHub repository under the configured base.
pub(crate) fn clone_url(analyzer: &Analyzer, owner: &str, repo: &str) -> String {
    format!(
        "{}/{owner}/{repo}.git",
        analyzer.github_base.trim_end_matches('/')
    )
}

/// A `https://github.com/...` download URL moved under the configured base.
pub(crate) fn rebase_url(analyzer: &Analyzer, url: &str) -> String {
    let lower = url.to_ascii_lowercase();
    for prefix in [
        "https://github.com/",
        "http://github.com/",
        "https://www.github.com/",
        "http://www.github.com/",
    ] {
        if lower.starts_with(prefix) {
            return format!(
                "{}/{}",
                analyzer.github_base.trim_end_matches('/'),
                &url[prefix.len()..]
            );
        }
    }
    url.to_string()
}

/// Resolves a GitHub source to what to clone, and the unambiguous source it amounts to
/// (`https://github.com/o/r#<rev>:<folder>`), which is what the spec records.
pub(crate) async fn target(
    analyzer: &Analyzer,
    owner: &str,
    repo: &str,
    rev: Option<&str>,
    subdir: Option<&str>,
    tree: Option<&str>,
) -> Result<(GitTarget, Source), AnalyzeError> {
    let url = clone_url(analyzer, owner, repo);
    let Some(tree) = tree else {
        let target = git::target(analyzer, &url, rev, subdir).await?;
        let resolved = Source::GitHub {
            owner: owner.into(),
            repo: repo.into(),
            rev: rev.map(String::from),
            subdir: subdir.map(String::from),
            tree: None,
        };
        return Ok((target, resolved));
    };
    super::ensure_dir(&analyzer.work_dir.join("sources").join("git"))?;
    let refs = git::remote_refs(analyzer, &url).await?;
    let (rev, subdir) = match refs.split_tree(tree) {
        Some(split) => split,
        None => {
            let (first, rest) = match tree.split_once('/') {
                Some((first, rest)) => (first, Some(rest.to_string())),
                None => (tree, None),
            };
            if !looks_like_commit(first) {
                return Err(AnalyzeError::GitClone {
                    url: redact_url(&url),
                    detail: format!(
                        "no branch or tag matches the start of {tree:?} ({})",
                        refs.sample()
                    ),
                });
            }
            (first.to_ascii_lowercase(), rest)
        }
    };
    let commit = refs.commit_of(Some(&rev));
    let target = GitTarget {
        url,
        rev: Some(rev.clone()),
        subdir: subdir.clone(),
        commit,
    };
    let resolved = Source::GitHub {
        owner: owner.into(),
        repo: repo.into(),
        rev: Some(rev),
        subdir,
        tree: None,
    };
    Ok((target, resolved))
}
