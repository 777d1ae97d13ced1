//! Everything the bench runs, installed once under `target/bench/` with the user's own `npm` and
//! `pip` (so their registry configuration and mirrors apply), and the Catwalk release binary.
//!
//! Each installation lives in a directory named after its pinned version and counts as done when
//! its marker file exists, so a second run installs nothing and an interrupted one starts over.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The reference MCP server, pinned so every run (and every peer) serves the same code.
pub const EVERYTHING_PACKAGE: &str = "@modelcontextprotocol/server-everything";
pub const EVERYTHING_VERSION: &str = "2026.8.31";
pub const SUPERGATEWAY_VERSION: &str = "4.0.0";
pub const MCP_PROXY_VERSION: &str = "0.13.0";

/// Paths to what each target needs; `None` where the selection did not need it.
#[derive(Debug, Default)]
pub struct Tools {
    pub logs: PathBuf,
    pub everything_bin: Option<PathBuf>,
    pub supergateway_js: Option<PathBuf>,
    pub mcp_proxy_bin: Option<PathBuf>,
    pub catwalk_bin: Option<PathBuf>,
    pub catwalk_cache: PathBuf,
}

/// What to prepare.
pub struct Needs {
    pub everything: bool,
    pub supergateway: bool,
    pub mcp_proxy: bool,
    pub catwalk: bool,
    /// Run `cargo build --release -p catwalk-cli` first (skipped with `--no-build`).
    pub build_catwalk: bool,
}

pub fn prepare(target_dir: &Path, needs: &Needs) -> Result<Tools> {
    let bench_dir = target_dir.join("bench");
    let logs = bench_dir.join("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    let mut tools = Tools {
        catwalk_cache: bench_dir.join("catwalk-cache"),
        logs,
        ..Tools::default()
    };
    if needs.everything {
        let dir = bench_dir.join(format!("npm/server-everything-{EVERYTHING_VERSION}"));
        npm_install(&dir, EVERYTHING_PACKAGE, EVERYTHING_VERSION)?;
        tools.everything_bin = Some(dir.join("node_modules/.bin/mcp-server-everything"));
    }
    if needs.supergateway {
        let dir = bench_dir.join(format!("npm/supergateway-{SUPERGATEWAY_VERSION}"));
        npm_install(&dir, "supergateway", SUPERGATEWAY_VERSION)?;
        tools.supergateway_js = Some(dir.join("node_modules/supergateway/dist/index.js"));
    }
    if needs.mcp_proxy {
        let venv = bench_dir.join(format!("venv/mcp-proxy-{MCP_PROXY_VERSION}"));
        pip_install(&venv, "mcp-proxy", MCP_PROXY_VERSION)?;
        tools.mcp_proxy_bin = Some(venv.join("bin/mcp-proxy"));
    }
    if needs.catwalk {
        std::fs::create_dir_all(&tools.catwalk_cache)?;
        if needs.build_catwalk {
            build_catwalk()?;
        }
        let binary = target_dir.join("release/catwalk");
        if !binary.is_file() {
            bail!(
                "{} is missing: build it with `cargo build --release -p catwalk-cli` (or run the \
                 bench without --no-build)",
                binary.display()
            );
        }
        tools.catwalk_bin = Some(binary);
    }
    Ok(tools)
}

fn npm_install(dir: &Path, package: &str, version: &str) -> Result<()> {
    let marker = dir.join(".bench-installed");
    if marker.is_file() {
        return Ok(());
    }
    eprintln!(
        "bench: installing {package}@{version} with npm into {}",
        dir.display()
    );
    std::fs::create_dir_all(dir)?;
    run(Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--prefix"])
        .arg(dir)
        .arg(format!("{package}@{version}")))
    .with_context(|| {
        format!("npm install {package}@{version} (is npm installed and configured?)")
    })?;
    std::fs::write(&marker, format!("{package}@{version}\n"))?;
    Ok(())
}

fn pip_install(venv: &Path, package: &str, version: &str) -> Result<()> {
    let marker = venv.join(".bench-installed");
    if marker.is_file() {
        return Ok(());
    }
    eprintln!(
        "bench: installing {package}=={version} with pip into {}",
        venv.display()
    );
    run(Command::new("python3").args(["-m", "venv"]).arg(venv))
        .context("creating a Python venv (is python3 with the venv module installed?)")?;
    run(Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .arg(format!("{package}=={version}")))
    .with_context(|| format!("pip install {package}=={version}"))?;
    std::fs::write(&marker, format!("{package}=={version}\n"))?;
    Ok(())
}

fn build_catwalk() -> Result<()> {
    eprintln!("bench: cargo build --release -p catwalk-cli");
    // Cargo sets CARGO for the programs it runs; outside cargo, the one on PATH.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    run(Command::new(cargo).args(["build", "--release", "-p", "catwalk-cli"]))
        .context("building the Catwalk release binary")
}

/// Runs a command with its output on our stderr (stdout is kept for `--json`), failing on a
/// non-zero exit.
fn run(command: &mut Command) -> Result<()> {
    let status = command
        .stdout(std::io::stderr())
        .status()
        .with_context(|| format!("starting {:?}", command.get_program()))?;
    if !status.success() {
        bail!("{:?} failed with {status}", command.get_program());
    }
    Ok(())
}
