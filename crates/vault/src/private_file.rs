//! Small secret files (the vault key, the admin token) that only their owner may read.
//!
//! Files are created with mode 0600 from the first byte: the content is written to a private
//! temporary file beside the target and then hard-linked into place, so the target never exists
//! with a wider mode, never exists half-written, and is never overwritten (create-new semantics:
//! a second writer gets `AlreadyExists` and can read the winner's file). Only a key rotation
//! replaces a file, by renaming a private copy over it.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rand::RngCore;

/// Creates `path` with mode 0600 holding `contents`. Fails with `ErrorKind::AlreadyExists` if
/// the file exists (it is never overwritten). The parent directory must exist.
pub fn write_private_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    // `hard_link` fails if `path` exists, which gives create-new semantics atomically.
    stage_then(path, contents, |temp, path| fs::hard_link(temp, path))
}

/// Puts `contents` in `path` with mode 0600, replacing the file if it exists. Readers see the
/// old content or the new one, never a mix: the new file is written aside and renamed over it.
pub fn replace_private_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    stage_then(path, contents, |temp, path| fs::rename(temp, path))
}

/// Writes `contents` to a private temporary file beside `path`, then lets `place` put it there.
fn stage_then(
    path: &Path,
    contents: &[u8],
    place: impl FnOnce(&Path, &Path) -> io::Result<()>,
) -> io::Result<()> {
    let file_name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} has no file name", path.display()),
        )
    })?;
    let mut nonce = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let temp = path.with_file_name(format!(
        ".{}.{}.tmp",
        file_name.to_string_lossy(),
        hex::encode(nonce)
    ));

    let result = write_private(&temp, contents).and_then(|()| place(&temp, path));
    // The temporary name is only a staging area; it must not linger with a copy of the secret.
    let _ = fs::remove_file(&temp);
    result?;

    // Make the new directory entry durable too; failing to sync a directory is not fatal.
    if let Some(parent) = path.parent()
        && let Ok(dir) = fs::File::open(if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        })
    {
        let _ = dir.sync_all();
    }
    Ok(())
}

fn write_private(temp: &Path, contents: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(temp)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// Reads a file written by [`write_private_file`] (or put in place by an operator), refusing it
/// if group or other users have any access to it: such a secret must be considered exposed.
/// The refusal is an `ErrorKind::PermissionDenied` error whose message says how to fix it.
pub fn read_private_file(path: &Path) -> io::Result<String> {
    let mode = fs::metadata(path)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            InsecureMode {
                path: path.to_path_buf(),
                mode,
            },
        ));
    }
    fs::read_to_string(path)
}

/// The error inside an `io::Error` returned by [`read_private_file`] for a too-open file.
#[derive(Debug)]
pub(crate) struct InsecureMode {
    path: PathBuf,
    mode: u32,
}

impl fmt::Display for InsecureMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is accessible by other users (mode {:o}); run `chmod 600 {}`",
            self.path.display(),
            self.mode,
            self.path.display()
        )
    }
}

impl std::error::Error for InsecureMode {}

/// The offending mode if `error` came from [`read_private_file`] refusing a too-open file.
pub(crate) fn insecure_mode(error: &io::Error) -> Option<u32> {
    error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<InsecureMode>())
        .map(|insecure| insecure.mode)
}
