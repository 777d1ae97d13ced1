//! The subfolder of a source that holds the server (`#rev:sub/dir`, a GitHub `tree/` URL, a
//! monorepo pick): resolved inside the fetched files, never outside them.
//!
//! The syntax was checked when parsing (relative, no `..`, see `source::validate_subdir`); here
//! symlinks are resolved and the result must still be a folder inside the fetched root, so a
//! repository cannot point the analysis (or a later install) at `/etc` or at another checkout.

use std::path::{Path, PathBuf};

use crate::error::AnalyzeError;
use crate::source::validate_subdir;

/// The canonical folder `root/subdir`, refused when missing, not a folder, or outside `root`.
pub(crate) fn resolve(root: &Path, subdir: &str, input: &str) -> Result<PathBuf, AnalyzeError> {
    let bad = |reason: String| AnalyzeError::BadSubdir {
        input: input.to_string(),
        subdir: subdir.to_string(),
        reason,
    };
    let subdir = validate_subdir(subdir).map_err(bad)?;
    let canonical_root = root
        .canonicalize()
        .map_err(|e| AnalyzeError::io(format!("cannot open {}", root.display()), e))?;
    let target = canonical_root.join(&subdir);
    let resolved = match target.canonicalize() {
        Ok(path) => path,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(bad("does not exist".into()));
        }
        Err(e) => return Err(bad(format!("cannot be opened: {e}"))),
    };
    if !resolved.starts_with(&canonical_root) {
        return Err(bad("leaves the source through a symlink".into()));
    }
    if !resolved.is_dir() {
        return Err(bad("is not a folder".into()));
    }
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_inside_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("checkout");
        std::fs::create_dir_all(root.join("src/server")).unwrap();
        std::fs::write(root.join("src/file.txt"), "x").unwrap();
        std::fs::create_dir_all(tmp.path().join("outside")).unwrap();
        std::os::unix::fs::symlink("src/server", root.join("inside-link")).unwrap();
        std::os::unix::fs::symlink("../outside", root.join("escape")).unwrap();
        std::os::unix::fs::symlink("/etc", root.join("absolute")).unwrap();

        let found = resolve(&root, "src/server", "s").unwrap();
        assert_eq!(found, root.canonicalize().unwrap().join("src/server"));
        let through_link = resolve(&root, "inside-link", "s").unwrap();
        assert_eq!(through_link, found, "a symlink inside the root is followed");

        for (subdir, reason) in [
            ("escape", "leaves the source through a symlink"),
            ("absolute", "leaves the source through a symlink"),
            ("missing", "does not exist"),
            ("src/file.txt", "is not a folder"),
            ("../outside", "has a . or .. component"),
            ("/etc", "is absolute"),
        ] {
            let error = resolve(&root, subdir, "s").unwrap_err();
            assert!(matches!(error, AnalyzeError::BadSubdir { .. }), "{error:?}");
            assert!(error.to_string().contains(reason), "{subdir}: {error}");
        }
    }
}
