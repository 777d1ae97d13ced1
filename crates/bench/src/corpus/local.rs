//! The corpus entries that need no registry: git repositories built from the analyzer's fixture
//! folders (a plain Node server, a Python one, a monorepo, hostile ones) and an archive served on
//! loopback. They are built with the real `git`, in a folder of the run, before Catwalk starts.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::entries::{ArchiveKind, ArchiveRecipe, RepoRecipe};

/// Builds each repository under `root/<name>`; the map gives its `file://` URL.
pub fn build_repos(
    recipes: &[&RepoRecipe],
    corpus_dir: &Path,
    root: &Path,
) -> Result<HashMap<String, String>> {
    let mut urls = HashMap::new();
    for recipe in recipes {
        let dir = root.join(&recipe.name);
        build_repo(recipe, corpus_dir, root, &dir)
            .with_context(|| format!("building the corpus repository {}", recipe.name))?;
        urls.insert(recipe.name.clone(), format!("file://{}", dir.display()));
    }
    Ok(urls)
}

fn build_repo(recipe: &RepoRecipe, corpus_dir: &Path, root: &Path, dir: &Path) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(dir)?;
    for [from, to] in &recipe.copy {
        let from = corpus_dir.join(from);
        if !from.is_dir() {
            bail!("the fixture folder {} does not exist", from.display());
        }
        copy_tree(&from, &dir.join(to))?;
    }
    for [path, target] in &recipe.symlinks {
        let link = dir.join(path);
        if let Some(parent) = link.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::os::unix::fs::symlink(target, &link)
            .with_context(|| format!("creating the symlink {path} -> {target}"))?;
    }
    git(dir, &["init", "--quiet", "--initial-branch=main"])?;
    if let Some(path) = &recipe.submodule {
        // Another repository the submodule points to, with a file that must never be fetched.
        let inner = root.join(format!("{}-submodule", recipe.name));
        if inner.exists() {
            std::fs::remove_dir_all(&inner)?;
        }
        std::fs::create_dir_all(&inner)?;
        std::fs::File::create(inner.join("secret.txt"))?.write_all(b"from another repository\n")?;
        git(&inner, &["init", "--quiet", "--initial-branch=main"])?;
        commit_all(&inner)?;
        let url = format!("file://{}", inner.display());
        git(
            dir,
            &[
                "-c",
                "protocol.file.allow=always",
                "submodule",
                "add",
                "--quiet",
                &url,
                path,
            ],
        )?;
    }
    commit_all(dir)
}

fn commit_all(dir: &Path) -> Result<()> {
    git(dir, &["add", "--all"])?;
    git(
        dir,
        &[
            "-c",
            "user.name=Catwalk corpus",
            "-c",
            "user.email=corpus@catwalk.invalid",
            "-c",
            "commit.gpgsign=false",
            "commit",
            "--quiet",
            "-m",
            "corpus fixture",
        ],
    )
}

fn git(dir: &Path, args: &[&str]) -> Result<()> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .context("running git (is it installed?)")?;
    if !out.status.success() {
        bail!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// The bytes of a recipe's archive.
pub fn archive_bytes(recipe: &ArchiveRecipe) -> Vec<u8> {
    match recipe.kind {
        ArchiveKind::Escaping => escaping_tarball(),
    }
}

/// A tarball with a `../` entry, written header by header (the tar builder refuses it).
fn escaping_tarball() -> Vec<u8> {
    use flate2::Compression;
    use flate2::write::GzEncoder;
    let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
    let data = b"escaped";
    let mut header = tar::Header::new_gnu();
    let name = b"pkg/../../escaped.txt";
    header.as_gnu_mut().expect("a GNU header").name[..name.len()].copy_from_slice(name);
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    builder
        .append(&header, &data[..])
        .expect("writing to memory");
    builder
        .into_inner()
        .and_then(|gz| gz.finish())
        .expect("writing to memory")
}

/// Serves each archive at `/<name>.tar.gz` on a loopback port until the returned guard drops;
/// the map gives each archive's URL.
pub async fn serve_archives(
    recipes: &[&ArchiveRecipe],
) -> Result<(HashMap<String, String>, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let files: HashMap<String, Vec<u8>> = recipes
        .iter()
        .map(|r| (format!("/{}.tar.gz", r.name), archive_bytes(r)))
        .collect();
    let urls = recipes
        .iter()
        .map(|r| (r.name.clone(), format!("{base}/{}.tar.gz", r.name)))
        .collect();
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let files = files.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16384 {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let line = String::from_utf8_lossy(&request);
                let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                let (status, body) = match files.get(&path) {
                    Some(bytes) => ("200 OK", bytes.clone()),
                    None => ("404 Not Found", b"not found".to_vec()),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/gzip\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(&body).await;
            });
        }
    });
    Ok((urls, task))
}

/// The analyzer source of an entry built here: `repo:<name>#frag` → `file://…#frag`,
/// `archive:<name>` → its URL; registry sources unchanged.
pub fn resolve(
    source: &str,
    repos: &HashMap<String, String>,
    archives: &HashMap<String, String>,
) -> Result<String> {
    if let Some(rest) = source.strip_prefix("repo:") {
        let (name, fragment) = match rest.split_once('#') {
            Some((name, fragment)) => (name, Some(fragment)),
            None => (rest, None),
        };
        let url = repos
            .get(name)
            .with_context(|| format!("the repository {name} was not built"))?;
        return Ok(match fragment {
            Some(fragment) => format!("{url}#{fragment}"),
            None => url.clone(),
        });
    }
    if let Some(name) = source.strip_prefix("archive:") {
        return archives
            .get(name)
            .cloned()
            .with_context(|| format!("the archive {name} is not served"));
    }
    Ok(source.to_string())
}

/// Where the corpus file's relative fixture paths start.
pub fn corpus_dir(corpus: &Path) -> PathBuf {
    corpus
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}
