//! Catwalk's own command line for a deployment's server, read from the running `bwrap` process
//! and replayed by the bench: the same sandbox layout and the same program with the same
//! arguments, started over a raw pipe, so that the raw pipe and Catwalk run exactly the same
//! thing and what the sandbox costs is told apart from what Catwalk's management costs.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use hyper::Method;

use crate::http::Conn;
use crate::lifecycle::serve::Catwalk;
use crate::procs;

/// A server's command line as Catwalk runs it, rewritten to run in the bench's own folder.
#[derive(Debug, Clone, PartialEq)]
pub struct Replay {
    /// `bwrap` and its arguments, ending with the program and its arguments.
    pub sandboxed: Vec<String>,
    /// The program and its arguments alone (what follows bwrap's `--`).
    pub plain: Vec<String>,
}

/// Reads the command line of `name`'s sandbox. A `tools/list` first makes sure the server runs
/// (and, with a sleep delay, keeps it running for that long).
pub async fn capture(catwalk: &mut Catwalk, name: &str, scratch: &Path) -> Result<Replay> {
    let mut conn = Conn::open(&catwalk.endpoint(name)?).await?;
    let session = conn.open_session().await?;
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    conn.request(Some(&session), 1, Bytes::from_static(body.as_bytes()))
        .await
        .with_context(|| format!("tools/list on {name}"))?;
    let _ = conn.close_session(&session).await;
    let deployment = catwalk
        .call(Method::GET, &format!("/api/deployments/{name}"), None)
        .await?;
    let id = deployment["id"]
        .as_str()
        .context("the deployment has no id")?;
    // The deployment's own folder holds its home and data: `<data-dir>/deployments/<id>/`.
    let home_suffix = format!("/deployments/{id}/home");
    let (argv, home) = procs::descendants(catwalk.pid())
        .into_iter()
        .map(procs::cmdline)
        .find_map(|argv| {
            if !argv.first()?.ends_with("bwrap") {
                return None;
            }
            let home = argv.iter().find(|arg| arg.ends_with(&home_suffix))?.clone();
            Some((argv, home))
        })
        .with_context(|| format!("no bwrap process below catwalk serve works in *{home_suffix}"))?;
    let folder = Path::new(&home).parent().expect("ends with /home");
    rewrite(&argv, folder, scratch)
}

/// Catwalk's argv without `--info-fd N` (a descriptor only Catwalk holds), with the deployment's
/// folder replaced by `scratch` (which must hold `home/` and `data/`).
pub fn rewrite(argv: &[String], folder: &Path, scratch: &Path) -> Result<Replay> {
    let folder = folder.display().to_string();
    let scratch = scratch.display().to_string();
    let mut sandboxed = Vec::with_capacity(argv.len());
    let mut args = argv.iter();
    while let Some(arg) = args.next() {
        if arg == "--info-fd" {
            args.next();
            continue;
        }
        sandboxed.push(match arg.strip_prefix(&folder) {
            Some(rest) => format!("{scratch}{rest}"),
            None => arg.clone(),
        });
    }
    let Some(separator) = sandboxed.iter().position(|arg| arg == "--") else {
        bail!("Catwalk's bwrap command line has no `--` before the program: {argv:?}");
    };
    let plain = sandboxed[separator + 1..].to_vec();
    if plain.is_empty() {
        bail!("Catwalk's bwrap command line names no program: {argv:?}");
    }
    Ok(Replay { sandboxed, plain })
}

/// The bench's stand-in for a deployment's folder.
pub fn scratch_folder(root: &Path, name: &str) -> Result<PathBuf> {
    let folder = root.join(name);
    for dir in ["home", "data"] {
        std::fs::create_dir_all(folder.join(dir))?;
    }
    Ok(folder)
}
