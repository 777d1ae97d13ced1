//! Extraction of untrusted archives (npm tarballs, sdists, wheels) into a folder.
//!
//! Packages are written by strangers, so extraction refuses anything that could write outside
//! the destination or create something other than plain files, folders and harmless symlinks:
//! absolute paths, `..` components, symlinks or hard links that point outside, device files and
//! FIFOs. It never writes through a symlink (a later entry `link/x` where `link` is a symlink),
//! and it caps the number of entries and the bytes written, so that a small compressed archive
//! cannot fill the disk. On error the caller deletes the partial destination.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use crate::error::AnalyzeError;

/// Caps on what one archive may expand to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtractLimits {
    /// The total bytes of file content written.
    pub max_total_bytes: u64,
    /// The number of entries (files, folders and links).
    pub max_entries: usize,
}

impl Default for ExtractLimits {
    /// 200 MB and 20 000 entries: far above any MCP server package seen so far.
    fn default() -> ExtractLimits {
        ExtractLimits {
            max_total_bytes: 200 * 1024 * 1024,
            max_entries: 20_000,
        }
    }
}

/// Running totals, checked against the limits after every entry.
struct Budget<'a> {
    archive: String,
    limits: &'a ExtractLimits,
    bytes: u64,
    entries: usize,
}

impl Budget<'_> {
    fn count_entry(&mut self) -> Result<(), AnalyzeError> {
        self.entries += 1;
        if self.entries > self.limits.max_entries {
            return Err(AnalyzeError::TooLarge {
                what: format!("archive {}", self.archive),
                limit: format!("{} entries", self.limits.max_entries),
            });
        }
        Ok(())
    }

    fn write_file(
        &mut self,
        reader: &mut dyn Read,
        target: &Path,
        executable: bool,
    ) -> Result<(), AnalyzeError> {
        let remaining = self.limits.max_total_bytes.saturating_sub(self.bytes);
        // O_NOFOLLOW: even if a symlink appeared at `target` since we checked, never follow it.
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(target)
            .map_err(|e| AnalyzeError::io(format!("cannot create {}", target.display()), e))?;
        let written = io::copy(&mut reader.take(remaining + 1), &mut file).map_err(|e| {
            AnalyzeError::Archive {
                archive: self.archive.clone(),
                detail: e.to_string(),
            }
        })?;
        self.bytes += written;
        if written > remaining {
            return Err(AnalyzeError::TooLarge {
                what: format!("archive {}", self.archive),
                limit: format!(
                    "{} MB of extracted files",
                    self.limits.max_total_bytes / (1024 * 1024)
                ),
            });
        }
        let mode = if executable { 0o755 } else { 0o644 };
        fs::set_permissions(target, fs::Permissions::from_mode(mode)).map_err(|e| {
            AnalyzeError::io(format!("cannot set permissions of {}", target.display()), e)
        })
    }
}

/// Extracts a `.tar.gz` (or `.tgz`) archive into `dest`, which is created.
///
/// `strip_components` leading path components are removed from every entry, as `tar
/// --strip-components` does (npm tarballs and sdists wrap everything in one folder).
pub fn extract_tar_gz(
    archive: &Path,
    dest: &Path,
    strip_components: usize,
    limits: &ExtractLimits,
) -> Result<(), AnalyzeError> {
    let errors = ArchiveErrors::of(archive);
    let unsafe_entry = |entry: &str, reason: &str| errors.unsafe_entry(entry, reason);
    let corrupt = |e: io::Error| errors.corrupt(e);
    let file = File::open(archive)
        .map_err(|e| AnalyzeError::io(format!("cannot open {}", archive.display()), e))?;
    fs::create_dir_all(dest)
        .map_err(|e| AnalyzeError::io(format!("cannot create {}", dest.display()), e))?;
    let mut budget = Budget {
        archive: errors.label.clone(),
        limits,
        bytes: 0,
        entries: 0,
    };
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    for entry in tar.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() {
            continue;
        }
        budget.count_entry()?;
        let raw = entry
            .path()
            .map_err(corrupt)?
            .to_string_lossy()
            .into_owned();
        let Some(rel) =
            safe_relative(&raw, strip_components).map_err(|reason| unsafe_entry(&raw, reason))?
        else {
            continue;
        };
        let target = dest.join(&rel);
        check_no_symlink_on_the_way(dest, &rel).map_err(|reason| unsafe_entry(&raw, &reason))?;
        if kind.is_dir() {
            fs::create_dir_all(&target)
                .map_err(|e| AnalyzeError::io(format!("cannot create {}", target.display()), e))?;
            continue;
        }
        create_parent(&target)?;
        if kind.is_file() || kind.is_contiguous() {
            let executable = entry.header().mode().unwrap_or(0o644) & 0o111 != 0;
            budget.write_file(&mut entry, &target, executable)?;
        } else if kind.is_symlink() {
            let link = entry
                .link_name()
                .map_err(corrupt)?
                .ok_or_else(|| unsafe_entry(&raw, "is a symlink without a target"))?;
            check_symlink_target(&rel, &link).map_err(|reason| unsafe_entry(&raw, reason))?;
            std::os::unix::fs::symlink(&link, &target).map_err(|e| {
                AnalyzeError::io(format!("cannot create symlink {}", target.display()), e)
            })?;
        } else if kind.is_hard_link() {
            let link = entry
                .link_name()
                .map_err(corrupt)?
                .ok_or_else(|| unsafe_entry(&raw, "is a hard link without a target"))?;
            let link = link.to_string_lossy().into_owned();
            let source_rel = safe_relative(&link, strip_components)
                .map_err(|_| unsafe_entry(&raw, "is a hard link pointing outside the archive"))?
                .ok_or_else(|| unsafe_entry(&raw, "is a hard link pointing outside the archive"))?;
            check_no_symlink_on_the_way(dest, &source_rel)
                .map_err(|reason| unsafe_entry(&raw, &reason))?;
            let source = dest.join(&source_rel);
            let meta = fs::symlink_metadata(&source).map_err(|_| {
                unsafe_entry(&raw, "is a hard link to a file not extracted before it")
            })?;
            if !meta.is_file() {
                return Err(unsafe_entry(
                    &raw,
                    "is a hard link to something other than a regular file",
                ));
            }
            // A copy rather than a link: the extracted tree never shares inodes with anything.
            let mut reader = File::open(&source)
                .map_err(|e| AnalyzeError::io(format!("cannot open {}", source.display()), e))?;
            budget.write_file(&mut reader, &target, meta.permissions().mode() & 0o111 != 0)?;
        } else if kind.is_character_special() || kind.is_block_special() || kind.is_fifo() {
            return Err(unsafe_entry(&raw, "is a device file or FIFO"));
        } else {
            return Err(unsafe_entry(
                &raw,
                &format!("has an unsupported entry type {:?}", kind.as_byte() as char),
            ));
        }
    }
    Ok(())
}

/// The errors of one archive, named by its file name (never its full path).
struct ArchiveErrors {
    label: String,
}

impl ArchiveErrors {
    fn of(archive: &Path) -> ArchiveErrors {
        let label = archive
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        ArchiveErrors { label }
    }

    fn unsafe_entry(&self, entry: &str, reason: &str) -> AnalyzeError {
        AnalyzeError::UnsafeArchive {
            archive: self.label.clone(),
            entry: entry.to_string(),
            reason: reason.to_string(),
        }
    }

    fn corrupt(&self, error: impl std::fmt::Display) -> AnalyzeError {
        AnalyzeError::Archive {
            archive: self.label.clone(),
            detail: error.to_string(),
        }
    }
}

/// Extracts a zip archive (a wheel) into `dest`, which is created.
pub fn extract_zip(
    archive: &Path,
    dest: &Path,
    limits: &ExtractLimits,
) -> Result<(), AnalyzeError> {
    let errors = ArchiveErrors::of(archive);
    let unsafe_entry = |entry: &str, reason: &str| errors.unsafe_entry(entry, reason);
    let corrupt = |e: zip::result::ZipError| errors.corrupt(e);
    let file = File::open(archive)
        .map_err(|e| AnalyzeError::io(format!("cannot open {}", archive.display()), e))?;
    let mut zip = zip::ZipArchive::new(file).map_err(corrupt)?;
    fs::create_dir_all(dest)
        .map_err(|e| AnalyzeError::io(format!("cannot create {}", dest.display()), e))?;
    let mut budget = Budget {
        archive: errors.label.clone(),
        limits,
        bytes: 0,
        entries: 0,
    };
    for index in 0..zip.len() {
        let mut entry = zip.by_index(index).map_err(corrupt)?;
        budget.count_entry()?;
        let raw = entry.name().to_string();
        let Some(rel) = safe_relative(&raw, 0).map_err(|reason| unsafe_entry(&raw, reason))? else {
            continue;
        };
        let file_type = entry.unix_mode().unwrap_or(0) & 0o170_000;
        if entry.is_symlink() || file_type == 0o120_000 {
            return Err(unsafe_entry(
                &raw,
                "is a symlink (not allowed in zip archives)",
            ));
        }
        if matches!(file_type, 0o020_000 | 0o060_000 | 0o010_000 | 0o140_000) {
            return Err(unsafe_entry(&raw, "is a device file, FIFO or socket"));
        }
        check_no_symlink_on_the_way(dest, &rel).map_err(|reason| unsafe_entry(&raw, &reason))?;
        let target = dest.join(&rel);
        if entry.is_dir() {
            fs::create_dir_all(&target)
                .map_err(|e| AnalyzeError::io(format!("cannot create {}", target.display()), e))?;
            continue;
        }
        create_parent(&target)?;
        let executable = entry.unix_mode().unwrap_or(0o644) & 0o111 != 0;
        budget.write_file(&mut entry, &target, executable)?;
    }
    Ok(())
}

/// Turns an archive path into a safe relative path, or `None` when stripping leaves nothing.
fn safe_relative(raw: &str, strip_components: usize) -> Result<Option<PathBuf>, &'static str> {
    if raw.contains('\0') {
        return Err("has a NUL byte in its name");
    }
    let mut parts = Vec::new();
    for component in Path::new(raw).components() {
        match component {
            Component::Prefix(_) | Component::RootDir => return Err("has an absolute path"),
            Component::ParentDir => return Err("has a .. component"),
            Component::CurDir => {}
            Component::Normal(part) => parts.push(part),
        }
    }
    if parts.len() <= strip_components {
        return Ok(None);
    }
    Ok(Some(parts[strip_components..].iter().collect()))
}

/// Refuses to write below an existing symlink, and refuses to replace one.
fn check_no_symlink_on_the_way(dest: &Path, rel: &Path) -> Result<(), String> {
    let mut current = dest.to_path_buf();
    for part in rel.components() {
        current.push(part);
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(format!(
                    "would be written through the symlink {}",
                    current.strip_prefix(dest).unwrap_or(&current).display()
                ));
            }
            Ok(_) => {}
            Err(_) => return Ok(()),
        }
    }
    Ok(())
}

/// A symlink is allowed when its target is relative, stays inside the archive when resolved
/// from the link's folder, and has `..` only at its start (after a named component a `..`
/// could climb out of the folder another symlink points to).
pub(crate) fn check_symlink_target(rel: &Path, target: &Path) -> Result<(), &'static str> {
    let mut depth = rel.components().count().saturating_sub(1) as isize;
    let mut seen_normal = false;
    for component in target.components() {
        match component {
            Component::Prefix(_) | Component::RootDir => {
                return Err("is a symlink to an absolute path");
            }
            Component::CurDir => {}
            Component::ParentDir if seen_normal => {
                return Err("is a symlink with .. after a folder name");
            }
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return Err("is a symlink pointing outside the archive");
                }
            }
            Component::Normal(_) => seen_normal = true,
        }
    }
    Ok(())
}

fn create_parent(target: &Path) -> Result<(), AnalyzeError> {
    if let Some(parent) = target.parent() {
        fs::create_dir_all(parent)
            .map_err(|e| AnalyzeError::io(format!("cannot create {}", parent.display()), e))?;
    }
    Ok(())
}
