//! Installs through the real npm and pip clients inside bubblewrap, then sandboxed runs of what
//! was installed without network. Local package folders keep the registries out of it, except
//! for the build backend pip fetches for a Python project.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use catwalk_runtime::{
    Installed, Installer, PackageKind, PackageToInstall, ProcessSpec, Sandbox, SandboxPolicy,
    base_env, spawn_sandboxed,
};
use common::{RecordingSink, next_line};
use serde_json::Value;

/// A Catwalk data directory: secrets, the package cache, one deployment.
struct Host {
    root: tempfile::TempDir,
}

impl Host {
    fn new() -> Host {
        let root = common::host_scratch();
        let data = root.path().join("catwalk-data");
        for folder in ["deployments/a/home", "deployments/a/data", "cache"] {
            std::fs::create_dir_all(data.join(folder)).unwrap();
        }
        std::fs::write(data.join("vault.key"), "the-vault-key").unwrap();
        std::fs::create_dir_all(root.path().join("outside")).unwrap();
        std::fs::write(root.path().join("outside/notes.txt"), "private notes").unwrap();
        Host { root }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.root.path().join(relative)
    }

    fn sandbox(&self) -> Sandbox {
        Sandbox::probe()
            .expect("bubblewrap must be installed and usable to run these tests")
            .hide([self.path("catwalk-data/vault.key")])
    }

    fn installer(&self) -> Installer {
        let mut installer = Installer::new(self.path("catwalk-data/cache"));
        installer.sandbox = Some(self.sandbox());
        installer
    }

    /// Runs the installed echo server sandboxed without network and checks it answers.
    async fn run_offline(&self, installed: &Installed) {
        let home = self.path("catwalk-data/deployments/a/home");
        let mut policy = SandboxPolicy::new(&home, self.path("catwalk-data/deployments/a/data"));
        policy.read_only.push(installed.prefix.clone());
        policy.network = false;
        let spec = ProcessSpec {
            program: installed.program.clone(),
            args: Vec::new(),
            env: base_env(&home),
            cwd: home,
        };
        let sink = Arc::new(RecordingSink::default());
        let mut instance = spawn_sandboxed(&spec, &self.sandbox(), &policy, sink.clone())
            .unwrap_or_else(|error| panic!("{error}"));
        instance
            .stdin
            .send(r#"{"jsonrpc":"2.0","id":1}"#.to_string())
            .await
            .unwrap();
        let echoed = tokio::time::timeout(Duration::from_secs(30), next_line(&mut instance, 30))
            .await
            .unwrap_or_else(|_| panic!("no answer; logs: {:?}", sink.lines("stderr")));
        assert_eq!(echoed, r#"{"jsonrpc":"2.0","id":1}"#);
        let exit = instance.stop(Duration::from_secs(5)).await;
        assert_eq!(exit.code, Some(0), "{exit}; {:?}", sink.lines("stderr"));
        assert!(sink.lines("catwalk")[0].contains("network off"));
    }
}

#[derive(Default)]
struct Progress(Mutex<Vec<String>>);

impl Progress {
    fn report(&self) -> impl Fn(&str) + Send + Sync + '_ {
        |line: &str| self.0.lock().unwrap().push(line.to_string())
    }
    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

fn write_npm_folder(dir: &Path, secret: &Path, outside_read: &Path, outside_write: &Path) {
    std::fs::write(
        dir.join("package.json"),
        r#"{"name": "catwalk-sandbox-fixture", "version": "1.0.0",
            "bin": {"catwalk-sandbox-fixture": "server.js"},
            "scripts": {"postinstall": "node postinstall.js"}}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("server.js"),
        "#!/usr/bin/env node\n\
         const lines = require('readline').createInterface({input: process.stdin});\n\
         lines.on('line', (line) => console.log(line));\n",
    )
    .unwrap();
    // What a hostile install script would try; it records what happened instead of failing,
    // so the install goes on and the test can read the outcome.
    let script = format!(
        "const fs = require('fs');\n\
         const report = {{}};\n\
         const attempt = (name, action) => {{\n\
           try {{ report[name] = {{ok: true, value: action()}}; }}\n\
           catch (error) {{ report[name] = {{ok: false, error: error.code}}; }}\n\
         }};\n\
         attempt('read_secret', () => fs.readFileSync({secret:?}, 'utf8'));\n\
         attempt('read_outside', () => fs.readFileSync({outside_read:?}, 'utf8'));\n\
         attempt('write_outside', () => fs.writeFileSync({outside_write:?}, 'pwned'));\n\
         attempt('write_usr', () => fs.writeFileSync('/usr/catwalk-pwned', 'pwned'));\n\
         report.env = Object.keys(process.env).sort();\n\
         report.processes = fs.readdirSync('/proc').filter((name) => /^[0-9]+$/.test(name));\n\
         fs.writeFileSync('install-report.json', JSON.stringify(report));\n"
    );
    std::fs::write(dir.join("postinstall.js"), script).unwrap();
}

#[tokio::test]
async fn an_npm_install_script_runs_sandboxed_and_the_package_still_installs() {
    let host = Host::new();
    let folder = host.path("package");
    std::fs::create_dir_all(&folder).unwrap();
    let secret = host.path("catwalk-data/vault.key");
    let outside_write = host.path("outside/pwned");
    write_npm_folder(
        &folder,
        &secret,
        &host.path("outside/notes.txt"),
        &outside_write,
    );
    let installer = host.installer();
    let pkg = PackageToInstall {
        kind: PackageKind::Npm,
        name: "catwalk-sandbox-fixture".to_string(),
        version: "1.0.0".to_string(),
        path: Some(folder.clone()),
        command: "catwalk-sandbox-fixture".to_string(),
    };
    let progress = Progress::default();
    let installed = installer
        .install(&pkg, &progress.report())
        .await
        .unwrap_or_else(|error| panic!("{error}; progress: {:?}", progress.lines()));
    assert!(
        installed
            .prefix
            .starts_with(host.path("catwalk-data/cache/npm"))
    );

    let report_path = installed
        .prefix
        .join("node_modules/catwalk-sandbox-fixture/install-report.json");
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(&report_path).expect("the postinstall script did not run"),
    )
    .unwrap();
    for attempt in ["read_secret", "read_outside", "write_outside", "write_usr"] {
        assert_eq!(report[attempt]["ok"], false, "{attempt}: {report}");
    }
    assert_eq!(report["read_secret"]["error"], "ENOENT", "{report}");
    assert!(!outside_write.exists());
    assert!(!Path::new("/usr/catwalk-pwned").exists());
    let env: Vec<String> = serde_json::from_value(report["env"].clone()).unwrap();
    assert!(env.contains(&"HOME".to_string()), "{env:?}");
    // Cargo's variables reach this test process, not the install.
    assert!(!env.iter().any(|name| name.starts_with("CARGO")), "{env:?}");
    // Its own PID namespace: bwrap's PID 1, npm, the shell and node running the script.
    let processes = report["processes"].as_array().unwrap().len();
    assert!(processes <= 6, "{report}");
    // The package folder was only read.
    assert!(!folder.join("install-report.json").exists());
    assert!(
        !host
            .path("catwalk-data/cache/tmp")
            .read_dir()
            .unwrap()
            .any(|_| true),
        "work folder left behind"
    );

    // Cached: the next install runs nothing, and the server starts without network.
    let progress = Progress::default();
    let again = installer.install(&pkg, &progress.report()).await.unwrap();
    assert_eq!(again.program, installed.program);
    assert!(!progress.lines().iter().any(|line| line.starts_with("$ ")));
    host.run_offline(&installed).await;
}

#[tokio::test]
async fn a_python_folder_is_built_sandboxed_and_runs_without_network() {
    let host = Host::new();
    let folder = host.path("pyproject");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("pyproject.toml"),
        r#"[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "catwalk-sandbox-echo"
version = "1.0.0"

[project.scripts]
catwalk-sandbox-echo = "catwalk_sandbox_echo:main"

[tool.setuptools]
py-modules = ["catwalk_sandbox_echo"]
"#,
    )
    .unwrap();
    std::fs::write(
        folder.join("catwalk_sandbox_echo.py"),
        "import sys\n\ndef main():\n    for line in sys.stdin:\n        \
         sys.stdout.write(line)\n        sys.stdout.flush()\n",
    )
    .unwrap();
    let pkg = PackageToInstall {
        kind: PackageKind::Pypi,
        name: "catwalk-sandbox-echo".to_string(),
        version: "1.0.0".to_string(),
        path: Some(folder.clone()),
        command: "catwalk-sandbox-echo".to_string(),
    };
    let progress = Progress::default();
    let installed = host
        .installer()
        .install(&pkg, &progress.report())
        .await
        .unwrap_or_else(|error| panic!("{error}; progress: {:?}", progress.lines()));
    assert!(
        installed
            .prefix
            .starts_with(host.path("catwalk-data/cache/pypi"))
    );
    // pip built a copy: the user's folder is untouched.
    let entries: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(entries.len(), 2, "{entries:?}");
    host.run_offline(&installed).await;
}
