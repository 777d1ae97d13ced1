//! Finished specs, kept by the digest of the content they were made from.
//!
//! The content digest names what was analyzed, not how it was asked for: the commit for git
//! (so `https://github.com/o/r`, its `.git` form and `#main` share an entry while `main` stays
//! put), the SHA-256 of the downloaded archive, npm's `dist.integrity` with the exact version,
//! the exact PyPI version, plus the subfolder, the hash of a registry's `server.json` when one
//! was merged in, and this crate's version (a newer analyzer never reuses an older result).
//! Local folders are never cached: their content changes without a name changing.
//!
//! Entries are written to a temporary file in the same folder and renamed into place, so a
//! reader sees a complete spec or none.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::AnalyzeError;
use crate::spec::{SPEC_VERSION, ServerSpec};

/// The cache key of a spec: hex SHA-256 over the analyzer version, the content and the folder.
pub(crate) fn digest(content: &str, subdir: Option<&str>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(
        format!(
            "catwalk-analyze {} spec {SPEC_VERSION}\n{content}\nsubdir {}\n",
            env!("CARGO_PKG_VERSION"),
            subdir.unwrap_or("")
        )
        .as_bytes(),
    );
    hex::encode(hasher.finalize())
}

fn path_of(work_dir: &Path, digest: &str) -> PathBuf {
    work_dir.join("specs").join(format!("{digest}.json"))
}

/// The spec stored under `digest`, if there is a readable one.
pub(crate) fn load(work_dir: &Path, digest: &str) -> Option<ServerSpec> {
    let text = std::fs::read_to_string(path_of(work_dir, digest)).ok()?;
    let spec: ServerSpec = serde_json::from_str(&text).ok()?;
    (spec.spec_version == SPEC_VERSION).then_some(spec)
}

/// Stores `spec` under `digest`, atomically.
pub(crate) fn store(work_dir: &Path, digest: &str, spec: &ServerSpec) -> Result<(), AnalyzeError> {
    let dest = path_of(work_dir, digest);
    let folder = dest.parent().unwrap_or(work_dir);
    super::ensure_dir(folder)?;
    let json = serde_json::to_vec_pretty(spec)
        .map_err(|e| AnalyzeError::io("cannot serialise the spec", std::io::Error::other(e)))?;
    let mut file = tempfile::Builder::new()
        .prefix(".spec-")
        .tempfile_in(folder)
        .map_err(|e| AnalyzeError::io(format!("cannot write in {}", folder.display()), e))?;
    file.write_all(&json)
        .and_then(|()| file.as_file().sync_all())
        .map_err(|e| AnalyzeError::io(format!("cannot write {}", dest.display()), e))?;
    file.persist(&dest)
        .map_err(|e| AnalyzeError::io(format!("cannot write {}", dest.display()), e.error))?;
    Ok(())
}
