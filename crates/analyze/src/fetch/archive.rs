//! Archive URLs (`.tar.gz`, `.tgz`, `.zip`): downloaded with a size cap and a deadline, then
//! extracted with the same rules as package archives.
//!
//! The format is read from the file's first bytes (gzip or zip), not trusted from the URL. The
//! archive's SHA-256 names its folder, `<work_dir>/sources/archive/<16 hex>/`, so the same
//! bytes are extracted once whatever URL served them. When everything sits in one top-level
//! folder (GitHub's `/archive/` tarballs: `repo-main/`, npm's `package/`), that folder is the
//! root of the source.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::{Fetched, blocking, github, http, publish, temp_dir_in};
use crate::Analyzer;
use crate::error::AnalyzeError;
use crate::extract::{extract_tar_gz, extract_zip};
use crate::source::redact_url;

/// Downloads and extracts `url` (a `https://github.com/...` URL is fetched from `github_base`).
pub(crate) async fn fetch(
    analyzer: &Analyzer,
    url: &str,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<Fetched, AnalyzeError> {
    let url = github::rebase_url(analyzer, url);
    let shown = redact_url(&url);
    progress(&format!("downloading {shown}"));
    let download = temp_dir_in(&analyzer.work_dir.join("tmp"), "download-")?;
    let file = download.path().join(file_name(&url));
    let done = http::download(analyzer, &url, &file, analyzer.max_download_bytes).await?;
    progress(&format!(
        "downloaded {} bytes, sha256 {}",
        done.bytes,
        &done.sha256[..12]
    ));
    let cache_root = analyzer.work_dir.join("sources").join("archive");
    let dest = cache_root.join(&done.sha256[..16]);
    if dest.is_dir() {
        progress("using the archive extracted before");
    } else {
        progress(&format!("extracting {shown}"));
        let staging = temp_dir_in(&cache_root, ".staging-")?;
        let staging_path = staging.path().to_path_buf();
        let limits = analyzer.limits;
        blocking(move || match sniff(&file)? {
            Format::Gzip => extract_tar_gz(&file, &staging_path, 0, &limits),
            Format::Zip => extract_zip(&file, &staging_path, &limits),
        })
        .await?;
        publish(staging, &dest)?;
    }
    let root = single_folder(&dest).unwrap_or(dest);
    Ok(Fetched {
        root: root.clone(),
        registry: None,
        path: Some(root),
        revision: None,
        warnings: Vec::new(),
        content: Some(format!("archive sha256 {}", done.sha256)),
    })
}

/// A safe local name for the download, kept for error messages (`main.tar.gz`).
fn file_name(url: &str) -> String {
    let last = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .rsplit('/')
        .next()
        .unwrap_or("");
    let safe: String = last
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .collect();
    if safe.is_empty() || safe.starts_with('.') {
        "archive".into()
    } else {
        safe
    }
}

enum Format {
    Gzip,
    Zip,
}

fn sniff(file: &Path) -> Result<Format, AnalyzeError> {
    let mut magic = [0u8; 4];
    let read = fs::File::open(file)
        .and_then(|mut f| f.read(&mut magic))
        .map_err(|e| AnalyzeError::io(format!("cannot read {}", file.display()), e))?;
    match &magic[..read] {
        [0x1f, 0x8b, ..] => Ok(Format::Gzip),
        [b'P', b'K', 3, 4] | [b'P', b'K', 5, 6] => Ok(Format::Zip),
        _ => Err(AnalyzeError::Archive {
            archive: file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            detail: "it is neither a gzip-compressed tarball nor a zip archive".into(),
        }),
    }
}

/// The only entry of `dir`, when it is a folder (not a symlink).
fn single_folder(dir: &Path) -> Option<PathBuf> {
    let mut entries = fs::read_dir(dir).ok()?.flatten();
    let first = entries.next()?;
    if entries.next().is_some() || !first.file_type().ok()?.is_dir() {
        return None;
    }
    Some(first.path())
}
