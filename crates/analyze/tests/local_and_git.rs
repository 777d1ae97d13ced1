//! Local folders and git repositories (built here with the real `git`, served over file://).

mod common;

use std::path::Path;
use std::process::Command;

use catwalk_analyze::{AnalyzeError, Registry, Runtime, ServerSpec, git_cache_key};
use common::{analyze, analyzer, assert_round_trip, fixture};

/// The findings every analysis of the echo fixture must produce, wherever it comes from.
fn assert_echo_spec(spec: &ServerSpec, version: &str) {
    assert_eq!(spec.runtime, Runtime::Node);
    assert_eq!(spec.package.registry, Registry::Npm);
    assert_eq!(spec.package.name, "catwalk-echo-fixture");
    assert_eq!(spec.package.version, version);
    assert_eq!(spec.name, "catwalk-echo-fixture");
    assert_eq!(spec.launch.command, "catwalk-echo");
    assert!(spec.launch.args.is_empty());
    assert_eq!(spec.runtime_requirement.as_deref(), Some(">=18"));
    let names: Vec<&str> = spec.env.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["ECHO_PREFIX", "ECHO_SECRET_TOKEN"]);
    let token = &spec.env[1];
    assert!(token.required && token.secret);
    assert!(
        token.description.contains("refuses to start"),
        "{}",
        token.description
    );
    let read = token
        .evidence
        .iter()
        .find(|e| e.file == "index.js")
        .expect("code evidence");
    assert!(
        read.note.contains("exits when it is unset"),
        "{}",
        read.note
    );
    assert!(token.evidence.iter().any(|e| e.file == "README.md"));
    let prefix = &spec.env[0];
    assert!(!prefix.required && !prefix.secret);
    assert_eq!(prefix.description, "Text put before every echoed message");
    assert!(spec.warnings.is_empty(), "{:?}", spec.warnings);
    assert_round_trip(spec);
}

#[tokio::test]
async fn local_folder_is_read_in_place() {
    let (analyzer, _guard) = analyzer();
    let folder = fixture("echo-server").canonicalize().unwrap();
    let (result, _) = analyze(&analyzer, &folder.to_string_lossy()).await;
    let spec = result.expect("the fixture analyzes");
    assert_echo_spec(&spec, "1.0.0");
    assert_eq!(spec.package.path.as_deref(), Some(folder.as_path()));
    assert_eq!(spec.source, folder.to_string_lossy());
    assert!(
        !analyzer.work_dir.join("sources").exists(),
        "nothing is copied for a local folder"
    );

    // Relative and file: forms resolve to the same folder (tests run in the crate folder).
    for form in [
        "./tests/fixtures/echo-server",
        "file:tests/fixtures/echo-server",
    ] {
        let (result, _) = analyze(&analyzer, form).await;
        assert_eq!(
            result.unwrap().package.path.as_deref(),
            Some(folder.as_path()),
            "{form}"
        );
    }
}

#[tokio::test]
async fn python_folder_with_server_json() {
    let (analyzer, _guard) = analyzer();
    let (result, _) = analyze(&analyzer, &fixture("py-weather").to_string_lossy()).await;
    let spec = result.expect("the Python fixture analyzes");
    assert_eq!(spec.runtime, Runtime::Python);
    assert_eq!(spec.package.registry, Registry::Pypi);
    assert_eq!(
        (spec.package.name.as_str(), spec.package.version.as_str()),
        ("catwalk-weather-fixture", "0.3.1")
    );
    // Two scripts: the one with "mcp" in its name is the server.
    assert_eq!(spec.launch.command, "catwalk-weather-mcp");
    // server.json's packageArguments win over the README's invocation.
    assert_eq!(spec.launch.args, ["--transport", "stdio"]);
    // Its required positional argument without a value is a field the user fills in, matched
    // with the README's `~/weather-data`.
    assert_eq!(spec.args.len(), 1, "{:?}", spec.args);
    let data_dir = &spec.args[0];
    assert_eq!(
        (
            data_dir.name.as_str(),
            data_dir.flag.as_deref(),
            data_dir.required
        ),
        ("data-dir", None, true)
    );
    assert_eq!(data_dir.description, "Where forecasts are cached");
    assert_eq!(data_dir.evidence.len(), 2);
    assert!(spec.warnings.is_empty(), "{:?}", spec.warnings);
    assert_eq!(
        spec.mcp_name.as_deref(),
        Some("io.github.catwalk/weather-fixture")
    );
    let var = |name: &str| {
        spec.env
            .iter()
            .find(|v| v.name == name)
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    let key = var("WEATHER_API_KEY");
    assert!(key.required && key.secret);
    assert_eq!(key.description, "API key of the weather provider");
    let units = var("WEATHER_UNITS");
    assert_eq!(units.default.as_deref(), Some("metric"));
    assert_eq!(units.choices, ["metric", "imperial"]);
    assert!(
        !var("WEATHER_SESSION_TOKEN").secret,
        "server.json's isSecret=false beats the name"
    );
    let timeout = var("WEATHER_TIMEOUT");
    assert_eq!(
        (timeout.required, timeout.default.as_deref()),
        (false, Some("30"))
    );
    assert_eq!(
        timeout.description,
        "Seconds to wait for the weather provider"
    );
    assert!(
        var("WEATHER_REGION").required,
        "the code raises SystemExit without it"
    );
    assert!(!var("WEATHER_LOG_LEVEL").required);
    assert!(spec.env.iter().all(|v| v.name != "HOME"));
    assert_round_trip(&spec);
}

fn git(dir: &Path, args: &[&str]) -> String {
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

/// A repository with the echo fixture: commit 1 (tagged v1) at 1.0.0, commit 2 at 1.0.1.
fn echo_repository(root: &Path) -> (String, String) {
    let repo = root.join("echo-repo");
    std::fs::create_dir_all(&repo).unwrap();
    for name in ["package.json", "index.js", "README.md"] {
        std::fs::copy(fixture("echo-server").join(name), repo.join(name)).unwrap();
    }
    git(&repo, &["init", "--quiet"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "--quiet", "-m", "echo fixture 1.0.0"]);
    git(&repo, &["tag", "v1"]);
    let first = git(&repo, &["rev-parse", "HEAD"]);
    let manifest = std::fs::read_to_string(repo.join("package.json"))
        .unwrap()
        .replace("\"1.0.0\"", "\"1.0.1\"");
    std::fs::write(repo.join("package.json"), manifest).unwrap();
    git(&repo, &["commit", "--quiet", "-am", "echo fixture 1.0.1"]);
    (format!("file://{}", repo.display()), first)
}

#[tokio::test]
async fn git_repository_over_file_url() {
    let (analyzer, guard) = analyzer();
    let (url, first_commit) = echo_repository(guard.path());

    let (result, progress) = analyze(&analyzer, &url).await;
    let spec = result.expect("the repository analyzes");
    assert_echo_spec(&spec, "1.0.1");
    let checkout = analyzer
        .work_dir
        .join("sources/git")
        .join(git_cache_key(&url, None));
    assert_eq!(spec.package.path.as_deref(), Some(checkout.as_path()));
    assert!(checkout.join("index.js").is_file());
    assert!(!checkout.join(".git").exists(), "the history is not kept");
    let head = spec
        .package
        .revision
        .clone()
        .expect("the commit is recorded");
    assert_eq!(head.len(), 40);
    assert_ne!(head, first_commit);
    assert!(
        progress.iter().any(|l| l.starts_with("cloning file://")),
        "{progress:?}"
    );

    // A tag, then a commit id (which `clone --branch` cannot take).
    for rev in ["v1", first_commit.as_str()] {
        let source = format!("{url}#{rev}");
        let (result, _) = analyze(&analyzer, &source).await;
        let spec = result.unwrap_or_else(|e| panic!("{source}: {e}"));
        assert_echo_spec(&spec, "1.0.0");
        assert_eq!(
            spec.package.revision.as_deref(),
            Some(first_commit.as_str())
        );
        assert_eq!(spec.source, source);
        assert!(
            spec.package
                .path
                .unwrap()
                .ends_with(git_cache_key(&url, Some(rev)))
        );
    }

    let (result, _) = analyze(&analyzer, &format!("{url}#no-such-branch")).await;
    let error = result.unwrap_err();
    assert!(matches!(error, AnalyzeError::GitClone { .. }), "{error:?}");
    assert!(error.to_string().contains("no-such-branch"), "{error}");
}

#[tokio::test]
async fn unreachable_git_url_is_a_clear_error() {
    let (analyzer, _guard) = analyzer();
    let (result, _) = analyze(&analyzer, "file:///nonexistent/repo.git").await;
    let error = result.unwrap_err();
    assert!(matches!(error, AnalyzeError::GitClone { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.starts_with("cannot clone file:///nonexistent/repo.git: "),
        "{message}"
    );
    assert!(
        message.contains("does not appear to be a git repository"),
        "{message}"
    );
    let leftovers: Vec<_> = std::fs::read_dir(analyzer.work_dir.join("sources/git"))
        .unwrap()
        .collect();
    assert!(leftovers.is_empty(), "a failed clone leaves nothing behind");
}

#[tokio::test]
async fn folder_without_manifest_is_refused() {
    let (analyzer, guard) = analyzer();
    let empty = guard.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("notes.txt"), "nothing to run").unwrap();
    let (result, _) = analyze(&analyzer, &empty.to_string_lossy()).await;
    assert!(matches!(
        result.unwrap_err(),
        AnalyzeError::NoManifest { .. }
    ));
}
