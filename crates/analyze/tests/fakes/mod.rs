//! Local stand-ins, on 127.0.0.1, for the outside services the analyzer talks to: GitHub and
//! the official MCP registry.
//!
//! - Git: smart HTTP through the real `git http-backend` (as CGI), the protocol `git clone
//!   https://github.com/o/r` speaks. Like GitHub, `/o/r` and `/o/r.git` name the same bare
//!   repository, and any commit can be fetched by id (`uploadpack.allowAnySHA1InWant`).
//! - Files: any path can be given fixed bytes (archives such as GitHub's
//!   `/o/r/archive/refs/heads/main.tar.gz`), an endless body, or a body that never comes.
//! - MCP registry: `GET /v0.1/servers/{name}/versions/{version|latest}` and
//!   `GET /v0.1/servers?search=&version=latest`, answering the documented `ServerResponse` and
//!   `ServerList` shapes, with deleted entries hidden as the official registry does.
//!
//! Every request is logged, so tests can assert what was (or was not) fetched.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

/// What a registered path answers.
#[derive(Clone)]
pub enum Served {
    /// Fixed bytes.
    Bytes(Vec<u8>),
    /// Zeros forever, without a Content-Length.
    Endless,
    /// Headers at once, then a body that never arrives.
    Stalled,
}

struct Entry {
    server: Value,
    status: String,
    is_latest: bool,
}

struct Shared {
    git_root: PathBuf,
    files: Mutex<HashMap<String, Served>>,
    registry: Mutex<Vec<Entry>>,
    log: Mutex<Vec<String>>,
}

/// A running fake; the server stops with the test's runtime.
pub struct FakeHost {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    pub git_root: PathBuf,
    shared: Arc<Shared>,
    _root: tempfile::TempDir,
}

impl FakeHost {
    pub async fn start() -> FakeHost {
        let root = tempfile::tempdir().expect("a temporary folder");
        let git_root = root.path().join("git");
        std::fs::create_dir_all(&git_root).unwrap();
        let shared = Arc::new(Shared {
            git_root: git_root.clone(),
            files: Mutex::new(HashMap::new()),
            registry: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
        });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeHost {
            base: format!("http://{address}"),
            git_root,
            shared,
            _root: root,
        }
    }

    /// Serves `served` at `path` (the raw, percent-encoded path).
    pub fn serve(&self, path: &str, served: Served) {
        self.shared
            .files
            .lock()
            .unwrap()
            .insert(path.to_string(), served);
    }

    /// Publishes a server.json in the fake registry (`status`: active, deprecated, deleted).
    /// The last one published under a name is its latest version.
    pub fn publish(&self, server: Value, status: &str) {
        let mut registry = self.shared.registry.lock().unwrap();
        let name = server["name"].as_str().unwrap().to_string();
        for entry in registry.iter_mut() {
            if entry.server["name"] == name.as_str() {
                entry.is_latest = false;
            }
        }
        registry.push(Entry {
            server,
            status: status.to_string(),
            is_latest: true,
        });
    }

    /// The requests received so far, as `METHOD /path?query`.
    pub fn requests(&self) -> Vec<String> {
        self.shared.log.lock().unwrap().clone()
    }

    /// Publishes the working repository `work` as the bare `<owner>/<repo>.git`.
    pub fn publish_repo(&self, work: &Path, owner: &str, repo: &str) -> PathBuf {
        let bare = self.git_root.join(owner).join(format!("{repo}.git"));
        std::fs::create_dir_all(bare.parent().unwrap()).unwrap();
        git(
            work,
            &["clone", "--quiet", "--bare", ".", &bare.to_string_lossy()],
        );
        git(&bare, &["config", "uploadpack.allowAnySHA1InWant", "true"]);
        bare
    }

    /// Serves `git archive` of `rev` where GitHub serves it:
    /// `/<owner>/<repo>/archive/refs/heads/<rev>.tar.gz`, with one `<repo>-<rev>/` top folder.
    pub fn publish_archive(&self, owner: &str, repo: &str, rev: &str) -> String {
        let bare = self.git_root.join(owner).join(format!("{repo}.git"));
        let out = Command::new("git")
            .arg("-C")
            .arg(&bare)
            .args([
                "archive",
                "--format=tar.gz",
                &format!("--prefix={repo}-{rev}/"),
                rev,
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "git archive failed");
        let path = format!("/{owner}/{repo}/archive/refs/heads/{rev}.tar.gz");
        self.serve(&path, Served::Bytes(out.stdout));
        path
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared.log.lock().unwrap().push(format!(
        "{method} {}{}",
        uri.path(),
        uri.query().map(|q| format!("?{q}")).unwrap_or_default()
    ));
    let served = shared.files.lock().unwrap().get(uri.path()).cloned();
    match served {
        Some(Served::Bytes(bytes)) => return bytes.into_response(),
        Some(Served::Endless) => {
            let zeros = futures::stream::repeat_with(|| {
                Ok::<_, std::io::Error>(Bytes::from(vec![0u8; 64 * 1024]))
            });
            return Response::new(Body::from_stream(zeros));
        }
        Some(Served::Stalled) => {
            let never = futures::stream::pending::<Result<Bytes, std::io::Error>>();
            return Response::new(Body::from_stream(never));
        }
        None => {}
    }
    let path = uri.path();
    if path.starts_with("/v0.1/servers") || path.starts_with("/v0/servers") {
        return registry(&shared, path, uri.query().unwrap_or(""));
    }
    if path.ends_with("/info/refs") || path.ends_with("/git-upload-pack") {
        return git_http_backend(&shared.git_root, &method, &uri, &headers, body).await;
    }
    (StatusCode::NOT_FOUND, "not found").into_response()
}

fn registry(shared: &Shared, path: &str, query: &str) -> Response {
    let registry = shared.registry.lock().unwrap();
    let response = |entry: &Entry| {
        json!({
            "server": entry.server,
            "_meta": {
                "io.modelcontextprotocol.registry/official": {
                    "status": entry.status,
                    "publishedAt": "2025-12-01T10:30:00Z",
                    "updatedAt": "2025-12-01T10:30:00Z",
                    "isLatest": entry.is_latest
                }
            }
        })
    };
    let visible = |e: &&Entry| e.status != "deleted";
    let rest = path
        .trim_start_matches("/v0.1/servers")
        .trim_start_matches("/v0/servers");
    if rest.is_empty() || rest == "/" {
        let params: HashMap<String, String> = query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_string(), decode(v)))
            .collect();
        let search = params
            .get("search")
            .cloned()
            .unwrap_or_default()
            .to_lowercase();
        let latest_only = params.get("version").is_some_and(|v| v == "latest");
        let servers: Vec<Value> = registry
            .iter()
            .filter(visible)
            .filter(|e| !latest_only || e.is_latest)
            .filter(|e| {
                e.server["name"]
                    .as_str()
                    .unwrap_or("")
                    .to_lowercase()
                    .contains(&search)
                    || e.server["description"]
                        .as_str()
                        .unwrap_or("")
                        .to_lowercase()
                        .contains(&search)
            })
            .map(response)
            .collect();
        let count = servers.len();
        return axum::Json(json!({"servers": servers, "metadata": {"count": count}}))
            .into_response();
    }
    // `/{serverName}/versions/{version}`, the name URL-encoded (`io.github.o%2Fname`).
    let parts: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    if let [name, "versions", version] = parts[..] {
        let name = decode(name);
        let version = decode(version);
        let found = registry.iter().filter(visible).find(|e| {
            e.server["name"] == name.as_str()
                && if version == "latest" {
                    e.is_latest
                } else {
                    e.server["version"] == version.as_str()
                }
        });
        return match found {
            Some(entry) => axum::Json(response(entry)).into_response(),
            None => (
                StatusCode::NOT_FOUND,
                axum::Json(json!({"error": "Server not found"})),
            )
                .into_response(),
        };
    }
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({"error": "Not found"})),
    )
        .into_response()
}

fn decode(text: &str) -> String {
    percent_encoding::percent_decode_str(&text.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// Runs `git http-backend` as a CGI program for one request.
async fn git_http_backend(
    git_root: &Path,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    // GitHub answers `/o/r` and `/o/r.git` alike; the bare repositories are `o/r.git`.
    let mut segments: Vec<String> = uri.path().split('/').map(String::from).collect();
    if segments.len() > 2 && !segments[2].ends_with(".git") {
        segments[2].push_str(".git");
    }
    let path_info = segments.join("/");
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let mut child = tokio::process::Command::new("git")
        .arg("http-backend")
        .env("GIT_PROJECT_ROOT", git_root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", method.as_str())
        .env("PATH_INFO", &path_info)
        .env("QUERY_STRING", uri.query().unwrap_or(""))
        .env("CONTENT_TYPE", header("content-type"))
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("HTTP_CONTENT_ENCODING", header("content-encoding"))
        .env("HTTP_GIT_PROTOCOL", header("git-protocol"))
        .env("GIT_PROTOCOL", header("git-protocol"))
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("git http-backend starts");
    let mut stdin = child.stdin.take().unwrap();
    let writer = tokio::spawn(async move {
        let _ = stdin.write_all(&body).await;
    });
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("git http-backend finishes")
        .unwrap();
    let _ = writer.await;
    cgi_response(&output.stdout)
}

/// Turns CGI output (headers, blank line, body) into a response.
fn cgi_response(raw: &[u8]) -> Response {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let Some((end, gap)) = split else {
        return (StatusCode::BAD_GATEWAY, "bad CGI output").into_response();
    };
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut response = Response::new(Body::from(raw[end + gap..].to_vec()));
    for line in head.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code = value.split_whitespace().next().unwrap_or("200");
            *response.status_mut() = StatusCode::from_bytes(code.as_bytes()).unwrap();
        } else if let (Ok(name), Ok(value)) = (
            axum::http::HeaderName::from_bytes(name.trim().as_bytes()),
            axum::http::HeaderValue::from_str(value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// Runs git in `dir` as a test author, asserting success; returns its trimmed stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=Catwalk Test",
            "-c",
            "user.email=test@catwalk.invalid",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "tag.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Copies the files of a fixture folder (recursively) into `dest`.
pub fn copy_fixture(name: &str, dest: &Path) {
    let from = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(name);
    copy_tree(&from, dest);
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A new working repository at `dir` with everything in it committed on `main`.
pub fn init_repo(dir: &Path) -> String {
    git(dir, &["init", "--quiet"]);
    commit_all(dir, "initial")
}

/// Commits everything in `dir`; returns the commit id.
pub fn commit_all(dir: &Path, message: &str) -> String {
    git(dir, &["add", "--all"]);
    git(dir, &["commit", "--quiet", "-m", message]);
    git(dir, &["rev-parse", "HEAD"])
}

/// An analyzer allowed to reach the fakes, with GitHub and the registry pointed at `fake`.
pub fn analyzer_for(fake: &FakeHost) -> (catwalk_analyze::Analyzer, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut analyzer = catwalk_analyze::Analyzer::new(dir.path().join("work"));
    analyzer.github_base = fake.base.clone();
    analyzer.registry_base = fake.base.clone();
    analyzer.allow_private_network = true;
    analyzer.fetch_timeout = Duration::from_secs(30);
    (analyzer, dir)
}

/// Runs one analysis, bounded in time, with its progress lines.
pub async fn run(
    analyzer: &catwalk_analyze::Analyzer,
    source: &str,
) -> (
    Result<catwalk_analyze::ServerSpec, catwalk_analyze::AnalyzeError>,
    Vec<String>,
) {
    let lines = Mutex::new(Vec::new());
    let record = |line: &str| lines.lock().unwrap().push(line.to_string());
    let result = tokio::time::timeout(Duration::from_secs(120), analyzer.analyze(source, &record))
        .await
        .unwrap_or_else(|_| panic!("analyzing {source} took more than 120 s"));
    (result, lines.into_inner().unwrap())
}
