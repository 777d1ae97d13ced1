//! The npm and pip command sequences that fill one cache entry.

use std::path::Path;

use super::command::{self, Progress};
use super::jail::Jail;
use super::{Installer, PackageToInstall, names};

/// `npm install` into `prefix`. A local folder is first packed into a tarball and the tarball is
/// installed, because installing a folder directly would only link to it: the cache would then
/// change whenever the folder does.
///
/// In a jail the folder is shown read-only: `npm pack` only reads it (a `prepare` script that
/// writes into it fails there).
pub(crate) async fn install_npm(
    installer: &Installer,
    pkg: &PackageToInstall,
    folder: Option<&Path>,
    work: &Path,
    prefix: &Path,
    mut jail: Option<Jail<'_>>,
    progress: Progress<'_>,
) -> Result<(), String> {
    let prefix_arg = path_arg(prefix)?;
    let mut install_args: Vec<&str> = vec![
        "install",
        "--prefix",
        prefix_arg,
        "--no-audit",
        "--no-fund",
        "--no-update-notifier",
        "--omit=dev",
    ];
    let Some(folder) = folder else {
        let spec = format!("{}@{}", pkg.name, pkg.version);
        install_args.push(&spec);
        return command::run(
            &installer.npm,
            &install_args,
            prefix,
            jail.as_ref(),
            progress,
        )
        .await;
    };
    if let Some(jail) = jail.as_mut() {
        jail.read_only.push(folder.to_path_buf());
    }

    // The tarball lives outside the prefix so that the finished entry holds only the install.
    let pack_dir = work.join("pack");
    std::fs::create_dir_all(&pack_dir)
        .map_err(|error| format!("cannot create {}: {error}", pack_dir.display()))?;
    let pack_args = [
        "pack",
        path_arg(folder)?,
        "--pack-destination",
        path_arg(&pack_dir)?,
        "--no-update-notifier",
    ];
    command::run(
        &installer.npm,
        &pack_args,
        &pack_dir,
        jail.as_ref(),
        progress,
    )
    .await?;
    let tarball = find_tarball(&pack_dir)?;
    let mut args = install_args.clone();
    args.push(path_arg(&tarball)?);
    command::run(&installer.npm, &args, prefix, jail.as_ref(), progress).await
}

/// A virtual environment at `prefix`, then `pip install` into it. A local folder is copied
/// into the work folder first (the files its cache key hashes) and built from there: pip builds
/// in the source tree, which must neither change the user's folder nor need write access to it.
pub(crate) async fn install_pypi(
    installer: &Installer,
    pkg: &PackageToInstall,
    folder: Option<&Path>,
    work: &Path,
    prefix: &Path,
    jail: Option<Jail<'_>>,
    progress: Progress<'_>,
) -> Result<(), String> {
    let prefix_arg = path_arg(prefix)?;
    command::run(
        &installer.python,
        &["-m", "venv", prefix_arg],
        prefix,
        jail.as_ref(),
        progress,
    )
    .await?;
    let venv_python = prefix.join("bin").join("python");
    let requirement = match folder {
        Some(folder) => {
            let copy = work.join("src");
            names::copy_folder(folder, &copy, pkg.kind).map_err(|error| {
                format!(
                    "cannot copy {} to {}: {error}",
                    folder.display(),
                    copy.display()
                )
            })?;
            path_arg(&copy)?.to_string()
        }
        None => format!("{}=={}", pkg.name, pkg.version),
    };
    let pip_args = [
        "-m",
        "pip",
        "install",
        "--no-input",
        "--disable-pip-version-check",
        "--progress-bar",
        "off",
        &requirement,
    ];
    command::run(
        path_arg(&venv_python)?,
        &pip_args,
        prefix,
        jail.as_ref(),
        progress,
    )
    .await
}

fn find_tarball(dir: &Path) -> Result<std::path::PathBuf, String> {
    let entries = std::fs::read_dir(dir)
        .map_err(|error| format!("cannot read {}: {error}", dir.display()))?;
    entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .find(|path| path.extension().is_some_and(|ext| ext == "tgz"))
        .ok_or_else(|| format!("`npm pack` produced no .tgz in {}", dir.display()))
}

fn path_arg(path: &Path) -> Result<&str, String> {
    path.to_str()
        .ok_or_else(|| format!("path {} is not valid UTF-8", path.display()))
}
