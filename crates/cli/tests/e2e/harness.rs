//! A real Catwalk for end-to-end tests: the `catwalk` binary serving on a free port, with its own
//! data directory and its own database (a SQLite file, or a fresh PostgreSQL database).

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreKind {
    Sqlite,
    Postgres,
}

pub struct Catwalk {
    pub url: String,
    pub data_dir: tempfile::TempDir,
    pub database: Option<String>,
    pub log_file: PathBuf,
    process: Option<Child>,
    postgres_db: Option<String>,
    port: u16,
    serve_args: Vec<String>,
    serve_env: Vec<(String, String)>,
}

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A package cache shared by every test (and kept between runs), so each package installs once.
pub fn shared_cache() -> PathBuf {
    let dir = repo().join("target/e2e-cache");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn postgres_admin_url() -> String {
    std::env::var("CATWALK_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn psql(url: &str, sql: &str) -> String {
    let output = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql])
        .output()
        .expect("psql runs (PostgreSQL client tools are needed for the PostgreSQL tests)");
    assert!(
        output.status.success(),
        "psql failed on {sql:?}: {} (is PostgreSQL up on 127.0.0.1:5432? scripts/test starts it)",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

impl Catwalk {
    pub fn start(kind: StoreKind) -> Catwalk {
        Catwalk::start_with(kind, &[])
    }

    /// `start` with extra `catwalk serve` flags.
    pub fn start_with(kind: StoreKind, serve_args: &[&str]) -> Catwalk {
        Catwalk::start_with_env(kind, serve_args, &[])
    }

    /// `start_with` and environment variables for `catwalk serve` (for settings that are read
    /// only from the environment, such as client secrets).
    pub fn start_with_env(kind: StoreKind, serve_args: &[&str], env: &[(&str, &str)]) -> Catwalk {
        let data_dir = tempfile::Builder::new()
            .prefix("catwalk-e2e-")
            .tempdir()
            .unwrap();
        let (database, postgres_db) = match kind {
            StoreKind::Sqlite => (None, None),
            StoreKind::Postgres => {
                let name = format!("catwalk_e2e_{}", uuid::Uuid::new_v4().simple());
                psql(&postgres_admin_url(), &format!("CREATE DATABASE {name}"));
                let base = postgres_admin_url();
                let base = base.rsplit_once('/').unwrap().0;
                // The `postgresql://` scheme, as hosting providers hand it out.
                let url = format!("{base}/{name}").replacen("postgres://", "postgresql://", 1);
                (Some(url), Some(name))
            }
        };
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        let log_file = data_dir.path().with_extension("log");
        let mut catwalk = Catwalk {
            url,
            data_dir,
            database,
            log_file,
            process: None,
            postgres_db,
            port,
            serve_args: serve_args.iter().map(|a| a.to_string()).collect(),
            serve_env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        catwalk.spawn();
        catwalk
    }

    /// Kills Catwalk with SIGKILL (no chance to clean up) and waits for it.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.process.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// Starts Catwalk again on the same port, data directory and database.
    pub fn restart(&mut self) {
        assert!(self.process.is_none(), "stop or kill Catwalk first");
        self.spawn();
    }

    /// Starts another `catwalk serve` on the same data directory (and a free port); returns
    /// its output once it exits.
    pub fn serve_again(&self) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_catwalk"));
        command
            .args(["serve", "--listen", &format!("127.0.0.1:{}", free_port())])
            .arg("--data-dir")
            .arg(self.data_dir.path())
            .env("CATWALK_CACHE_DIR", shared_cache())
            .env_remove("CATWALK_VAULT_KEY");
        match &self.database {
            Some(url) => command.env("DATABASE_URL", url),
            None => command.env_remove("DATABASE_URL"),
        };
        command.output().unwrap()
    }

    fn spawn(&mut self) {
        let port = self.port;
        // Appended to, so a restarted Catwalk's log follows the earlier one's.
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_file)
            .unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_catwalk"));
        command
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(self.data_dir.path())
            .args(&self.serve_args)
            .envs(self.serve_env.iter().map(|(k, v)| (k, v)))
            .env("CATWALK_CACHE_DIR", shared_cache())
            .env("RUST_LOG", "info")
            .env_remove("CATWALK_VAULT_KEY")
            .stdout(Stdio::null())
            .stderr(log);
        match &self.database {
            Some(url) => command.env("DATABASE_URL", url),
            None => command.env_remove("DATABASE_URL"),
        };
        self.process = Some(command.spawn().expect("catwalk serve starts"));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(response) = reqwest::blocking::get(format!("{}/api/health", self.url))
                && response.status().is_success()
            {
                return;
            }
            if let Some(status) = self.process.as_mut().unwrap().try_wait().unwrap() {
                panic!("catwalk serve exited with {status}: {}", self.server_log());
            }
            assert!(
                Instant::now() < deadline,
                "catwalk serve did not answer: {}",
                self.server_log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops Catwalk with SIGTERM (as a service manager would) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.process.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while child.try_wait().unwrap().is_none() {
                assert!(
                    Instant::now() < deadline,
                    "catwalk did not stop within 30 s of SIGTERM"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    pub fn server_log(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = std::fs::File::open(&self.log_file) {
            let _ = file.read_to_string(&mut text);
        }
        text
    }

    pub fn admin_token(&self) -> String {
        std::fs::read_to_string(self.data_dir.path().join("admin-token"))
            .unwrap()
            .trim()
            .to_string()
    }

    /// Runs the CLI against this Catwalk.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_catwalk"))
            .args(args)
            .env("CATWALK_URL", &self.url)
            .env("CATWALK_DATA_DIR", self.data_dir.path())
            // Never the logins of whoever runs the tests.
            .env(
                "CATWALK_CONFIG_DIR",
                self.data_dir.path().join("cli-config"),
            )
            .env_remove("CATWALK_TOKEN")
            .output()
            .unwrap()
    }

    /// Runs the CLI with `--json` and expects success.
    pub fn cli_json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        let output = self.cli(&all);
        assert!(
            output.status.success(),
            "catwalk {args:?} failed ({}): {}\n--- server log ---\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr),
            self.server_log()
        );
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!(
                "catwalk {args:?} printed no JSON ({e}): {}",
                String::from_utf8_lossy(&output.stdout)
            )
        })
    }

    /// Deploys through the CLI and waits until it runs; returns (endpoint, token).
    pub fn deploy(&self, source: &str, name: &str, env: &[(&str, &str)]) -> (String, String) {
        self.deploy_with(source, name, env, &[])
    }

    /// `deploy` with extra CLI flags.
    pub fn deploy_with(
        &self,
        source: &str,
        name: &str,
        env: &[(&str, &str)],
        flags: &[&str],
    ) -> (String, String) {
        let pairs: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut args = vec!["deploy", source, "--name", name];
        args.extend(flags);
        for pair in &pairs {
            args.extend(["--env", pair.as_str()]);
        }
        let created = self.cli_json(&args);
        assert_eq!(created["deployment"]["status"], "running", "{created}");
        (
            created["endpoint"].as_str().unwrap().to_string(),
            created["token"].as_str().unwrap().to_string(),
        )
    }

    /// The rows of a one-column query on the live database, as text (psql for PostgreSQL,
    /// Python's sqlite3 for SQLite: the test needs no client library of its own). Changes are
    /// committed.
    pub fn query(&self, sql: &str) -> Vec<String> {
        let text = match &self.database {
            Some(url) => psql(url, sql),
            None => {
                let output = Command::new("python3")
                    .args([
                        "-c",
                        "import sqlite3, sys\ndb = sqlite3.connect(sys.argv[1])\nrows = list(db.execute(sys.argv[2]))\ndb.commit()\nfor row in rows: print(row[0])",
                    ])
                    .arg(self.data_dir.path().join("catwalk.db"))
                    .arg(sql)
                    .output()
                    .unwrap();
                assert!(
                    output.status.success(),
                    "{}",
                    String::from_utf8_lossy(&output.stderr)
                );
                String::from_utf8_lossy(&output.stdout).into_owned()
            }
        };
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// The PostgreSQL database's whole content as text, or the SQLite file's bytes as text.
    pub fn database_dump(&self) -> String {
        match &self.database {
            Some(url) => {
                let mut dump = String::new();
                for table in psql(
                    url,
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()",
                )
                .lines()
                {
                    dump.push_str(&psql(url, &format!("SELECT * FROM {table}")));
                }
                dump
            }
            None => String::from_utf8_lossy(
                &std::fs::read(self.data_dir.path().join("catwalk.db")).unwrap(),
            )
            .into_owned(),
        }
    }
}

impl Drop for Catwalk {
    fn drop(&mut self) {
        if let Some(mut child) = self.process.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(15);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(name) = &self.postgres_db {
            let _ = Command::new("psql")
                .args([
                    &postgres_admin_url(),
                    "-c",
                    &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                ])
                .output();
        }
        let _ = std::fs::remove_file(&self.log_file);
    }
}

/// Every file under `dir`, read as (lossy) text.
pub fn all_file_contents(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file()
                && let Ok(bytes) = std::fs::read(&path)
            {
                out.push((path, String::from_utf8_lossy(&bytes).into_owned()));
            }
        }
    }
    out
}

/// Processes whose working directory is under `dir` (server processes run in their deployment's
/// folder).
pub fn processes_under(dir: &Path) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(cwd) = std::fs::read_link(entry.path().join("cwd"))
            && cwd.starts_with(dir)
        {
            pids.push(pid);
        }
    }
    pids
}

/// Runs one of the official-SDK client scripts in tests/clients and returns its JSON line.
pub fn client(script: &str, url: &str, token: &str, extra: &[&str]) -> Value {
    let clients = repo().join("tests/clients");
    let mut command = if script.ends_with(".py") {
        Command::new("python3")
    } else {
        Command::new("node")
    };
    command
        .current_dir(&clients)
        .arg(clients.join(script))
        .args(["--url", url, "--token", token])
        .args(extra);
    let output = command.output().unwrap();
    let value = verdict_of(script, &output);
    assert!(
        output.status.success(),
        "{script} failed: {value}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    value
}

/// A random value that cannot appear anywhere by chance.
pub fn unique_secret(label: &str) -> String {
    format!("{label}-{}", uuid::Uuid::new_v4().simple())
}

/// What a test script said last: the last line of its output that is a JSON object.
pub fn verdict_of(script: &str, output: &std::process::Output) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .unwrap_or_else(|| {
            panic!(
                "{script} printed no JSON (exit {}): {stdout}\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            )
        });
    serde_json::from_str(line).unwrap()
}
