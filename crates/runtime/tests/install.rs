//! Real installs through the real npm and pip clients (so these tests need the registries that
//! npm and pip are configured for), then real runs of what was installed.

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use catwalk_runtime::{
    Installed, Installer, PackageKind, PackageToInstall, ProcessSpec, RuntimeError, base_env, spawn,
};
use common::{RecordingSink, list_tools};

/// Collects progress lines.
#[derive(Default)]
struct Progress(Mutex<Vec<String>>);

impl Progress {
    fn report(&self) -> impl Fn(&str) + Send + Sync + '_ {
        |line: &str| self.0.lock().unwrap().push(line.to_string())
    }
    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
    fn commands_run(&self) -> Vec<String> {
        self.lines()
            .into_iter()
            .filter(|line| line.starts_with("$ "))
            .collect()
    }
}

fn output_of(program: &str, args: &[&str]) -> String {
    let output = std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("cannot run {program}: {error}"));
    assert!(output.status.success(), "{program} {args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

fn npm_package(name: &str, version: &str, command: &str) -> PackageToInstall {
    PackageToInstall {
        kind: PackageKind::Npm,
        name: name.to_string(),
        version: version.to_string(),
        path: None,
        command: command.to_string(),
    }
}

fn pypi_package(name: &str, version: &str, command: &str) -> PackageToInstall {
    PackageToInstall {
        kind: PackageKind::Pypi,
        ..npm_package(name, version, command)
    }
}

/// Installs `pkg` into an empty cache, then again, and checks the second time is a cache hit.
async fn install_twice(installer: &Installer, pkg: &PackageToInstall) -> Installed {
    let progress = Progress::default();
    let installed = installer.install(pkg, &progress.report()).await.unwrap();
    assert!(installed.program.is_absolute());
    assert!(installed.program.is_file(), "{installed:?}");
    assert!(installed.program.starts_with(&installed.prefix));
    assert!(!progress.commands_run().is_empty());

    let progress = Progress::default();
    let started = Instant::now();
    let again = installer.install(pkg, &progress.report()).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "cache hit took {:?}",
        started.elapsed()
    );
    assert_eq!(again.program, installed.program);
    assert!(
        progress.commands_run().is_empty(),
        "ran {:?}",
        progress.commands_run()
    );
    assert!(
        progress
            .lines()
            .iter()
            .any(|line| line.starts_with("cached: "))
    );
    installed
}

async fn tools_of(program: &Path, args: &[&str], home: &Path) -> Vec<String> {
    let spec = ProcessSpec {
        program: program.to_path_buf(),
        args: args.iter().map(|arg| arg.to_string()).collect(),
        env: base_env(home),
        cwd: home.to_path_buf(),
    };
    let sink = Arc::new(RecordingSink::default());
    let mut instance = spawn(&spec, sink.clone()).unwrap();
    let tools = list_tools(&mut instance).await;
    instance.stop(Duration::from_secs(5)).await;
    tools
}

#[tokio::test]
async fn npm_server_everything_installs_once_and_runs_from_the_cache() {
    let version = output_of(
        "npm",
        &["view", "@modelcontextprotocol/server-everything", "version"],
    );
    let cache = tempfile::tempdir().unwrap();
    let installer = Installer::new(cache.path().join("cache"));
    let pkg = npm_package(
        "@modelcontextprotocol/server-everything",
        version.trim(),
        "mcp-server-everything",
    );

    let installed = install_twice(&installer, &pkg).await;
    let expected_prefix = cache.path().join(format!(
        "cache/npm/@modelcontextprotocol+server-everything@{}",
        version.trim()
    ));
    assert_eq!(installed.prefix, expected_prefix);
    assert_eq!(
        installed.program,
        expected_prefix.join("node_modules/.bin/mcp-server-everything")
    );

    let home = tempfile::tempdir().unwrap();
    let tools = tools_of(&installed.program, &["stdio"], home.path()).await;
    assert!(tools.iter().any(|tool| tool == "echo"), "{tools:?}");

    // A wrong command name is reported with the commands the package does have.
    let wrong = npm_package(&pkg.name, &pkg.version, "no-such-command");
    let error = installer
        .install(&wrong, &|_| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("no-such-command") && error.contains("mcp-server-everything"),
        "{error}"
    );
}

#[tokio::test]
async fn pypi_mcp_server_time_installs_once_and_runs_from_the_cache() {
    let versions = output_of(
        "python3",
        &["-m", "pip", "index", "versions", "mcp-server-time"],
    );
    // First line: "mcp-server-time (2026.10.19)".
    let version = versions
        .lines()
        .next()
        .and_then(|line| line.split_once('(')?.1.strip_suffix(')'))
        .unwrap_or_else(|| panic!("unexpected pip output: {versions}"))
        .to_string();
    let cache = tempfile::tempdir().unwrap();
    let installer = Installer::new(cache.path().to_path_buf());
    let pkg = pypi_package("mcp-server-time", &version, "mcp-server-time");

    let installed = install_twice(&installer, &pkg).await;
    assert_eq!(
        installed.prefix,
        cache
            .path()
            .join(format!("pypi/mcp-server-time=={version}"))
    );

    let home = tempfile::tempdir().unwrap();
    let tools = tools_of(&installed.program, &[], home.path()).await;
    assert!(
        tools.iter().any(|tool| tool == "get_current_time"),
        "{tools:?}"
    );
}

#[tokio::test]
async fn unknown_packages_fail_with_the_installers_reason_and_leave_no_cache_entry() {
    let cache = tempfile::tempdir().unwrap();
    let installer = Installer::new(cache.path().to_path_buf());

    let npm = npm_package("@catwalk-test-nonexistent/no-such-package", "1.0.0", "x");
    let error = installer.install(&npm, &|_| {}).await.unwrap_err();
    let RuntimeError::Install { package, message } = &error else {
        panic!("not an install error: {error}");
    };
    assert_eq!(
        package,
        "npm:@catwalk-test-nonexistent/no-such-package@1.0.0"
    );
    assert!(message.contains("E404"), "{message}");
    assert!(
        !cache
            .path()
            .join("npm/@catwalk-test-nonexistent+no-such-package@1.0.0")
            .exists()
    );

    let pypi = pypi_package("catwalk-test-nonexistent-package", "1.0.0", "x");
    let message = installer
        .install(&pypi, &|_| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(message.contains("No matching distribution"), "{message}");
    assert!(
        !cache
            .path()
            .join("pypi/catwalk-test-nonexistent-package==1.0.0")
            .exists()
    );
}

#[tokio::test]
async fn invalid_coordinates_are_rejected_before_running_anything() {
    let cache = tempfile::tempdir().unwrap();
    let installer = Installer::new(cache.path().to_path_buf());
    let progress = Progress::default();
    let pkg = npm_package("--global", "1.0.0", "x");
    let message = installer
        .install(&pkg, &progress.report())
        .await
        .unwrap_err()
        .to_string();
    assert!(message.contains("invalid package name"), "{message}");
    let pkg = npm_package("left-pad", "^1.0.0", "x");
    let message = installer
        .install(&pkg, &progress.report())
        .await
        .unwrap_err()
        .to_string();
    assert!(message.contains("exact version"), "{message}");
    assert!(progress.lines().is_empty());
}

fn write_npm_folder(dir: &Path, greeting: &str) {
    std::fs::write(
        dir.join("package.json"),
        r#"{"name": "catwalk-local-fixture", "version": "1.0.0",
            "bin": {"catwalk-local-fixture": "index.js"}}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("index.js"),
        format!("#!/usr/bin/env node\nconsole.log({greeting:?});\n"),
    )
    .unwrap();
}

#[tokio::test]
async fn a_local_npm_folder_is_copied_and_keyed_by_its_content() {
    let folder = tempfile::tempdir().unwrap();
    write_npm_folder(folder.path(), "hello from v1");
    let cache = tempfile::tempdir().unwrap();
    let installer = Installer::new(cache.path().to_path_buf());
    let pkg = PackageToInstall {
        path: Some(folder.path().to_path_buf()),
        ..npm_package("catwalk-local-fixture", "1.0.0", "catwalk-local-fixture")
    };

    // Two concurrent installs of one entry: one runs npm, the other waits and hits the cache.
    let (first_progress, second_progress) = (Progress::default(), Progress::default());
    let (report_first, report_second) = (first_progress.report(), second_progress.report());
    let (first, second) = tokio::join!(
        installer.install(&pkg, &report_first),
        installer.install(&pkg, &report_second),
    );
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(first.program, second.program);
    let installs = [
        first_progress.commands_run(),
        second_progress.commands_run(),
    ]
    .concat()
    .into_iter()
    .filter(|line| line.starts_with("$ npm install"))
    .count();
    assert_eq!(installs, 1);

    let installed_dir = first.prefix.join("node_modules/catwalk-local-fixture");
    assert!(
        !installed_dir
            .symlink_metadata()
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        output_of(first.program.to_str().unwrap(), &[]).trim(),
        "hello from v1"
    );
    assert!(
        !cache.path().join("tmp").read_dir().unwrap().any(|_| true),
        "tarball left behind"
    );

    // An edited folder is a new cache entry; the old one still runs the old code.
    write_npm_folder(folder.path(), "hello from v2");
    let progress = Progress::default();
    let edited = installer.install(&pkg, &progress.report()).await.unwrap();
    assert!(!progress.commands_run().is_empty());
    assert_ne!(edited.prefix, first.prefix);
    assert_eq!(
        output_of(edited.program.to_str().unwrap(), &[]).trim(),
        "hello from v2"
    );
    assert_eq!(
        output_of(first.program.to_str().unwrap(), &[]).trim(),
        "hello from v1"
    );

    // An entry without its completion marker (a crash mid-install) is redone.
    std::fs::remove_file(edited.prefix.join(".catwalk-complete")).unwrap();
    let progress = Progress::default();
    let redone = installer.install(&pkg, &progress.report()).await.unwrap();
    assert_eq!(redone.prefix, edited.prefix);
    assert!(
        progress
            .lines()
            .iter()
            .any(|line| line.starts_with("removing incomplete install"))
    );
    assert!(!progress.commands_run().is_empty());
    assert_eq!(
        output_of(redone.program.to_str().unwrap(), &[]).trim(),
        "hello from v2"
    );
}

#[tokio::test]
async fn a_local_python_folder_is_built_into_its_own_venv() {
    let folder = tempfile::tempdir().unwrap();
    std::fs::write(
        folder.path().join("pyproject.toml"),
        r#"[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "catwalk-local-fixture"
version = "1.0.0"

[project.scripts]
catwalk-local-fixture = "catwalk_local_fixture:main"

[tool.setuptools]
py-modules = ["catwalk_local_fixture"]
"#,
    )
    .unwrap();
    std::fs::write(
        folder.path().join("catwalk_local_fixture.py"),
        "def main():\n    print('hello from python')\n",
    )
    .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let installer = Installer::new(cache.path().to_path_buf());
    let pkg = PackageToInstall {
        path: Some(folder.path().to_path_buf()),
        ..pypi_package("catwalk-local-fixture", "1.0.0", "catwalk-local-fixture")
    };
    let installed = install_twice(&installer, &pkg).await;
    assert!(installed.prefix.starts_with(cache.path().join("pypi")));
    assert_eq!(
        output_of(installed.program.to_str().unwrap(), &[]).trim(),
        "hello from python"
    );

    // The venv's own tools are not offered as the package's commands.
    let wrong = PackageToInstall {
        command: "nope".to_string(),
        ..pkg
    };
    let error = installer
        .install(&wrong, &|_| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("it provides: catwalk-local-fixture"),
        "{error}"
    );
    assert!(!error.contains("pip"), "{error}");
}
