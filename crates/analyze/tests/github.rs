//! GitHub URLs in every form users paste, cloned from a local stand-in for GitHub: the real
//! `git http-backend` behind an HTTP server on 127.0.0.1 (`Analyzer::github_base` points at
//! it), so `git clone` speaks the same smart-HTTP protocol it speaks to github.com.

mod fakes;

use catwalk_analyze::{AnalyzeError, Runtime, ServerSpec, Source, parse_source};
use fakes::{FakeHost, analyzer_for, commit_all, copy_fixture, git, init_repo, run};

/// The repositories every test here uses.
struct Repos {
    fake: FakeHost,
    /// `catwalk/servers` on main: a monorepo with `src/echo` (Node) and `src/weather` (Python).
    servers_main: String,
    /// `catwalk/echo`: commit 1 (tag v1) at 1.0.0, main at 1.0.1.
    echo_v1: String,
    _work: tempfile::TempDir,
}

fn set_version(package_json: &std::path::Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(package_json).unwrap();
    std::fs::write(
        package_json,
        text.replace(&format!("\"{from}\""), &format!("\"{to}\"")),
    )
    .unwrap();
}

async fn repos() -> Repos {
    let fake = FakeHost::start().await;
    let work = tempfile::tempdir().unwrap();

    let servers = work.path().join("servers");
    copy_fixture("monorepo-root", &servers);
    copy_fixture("echo-server", &servers.join("src/echo"));
    copy_fixture("py-weather", &servers.join("src/weather"));
    let servers_main = init_repo(&servers);
    // A branch whose name has slashes, and a tag named like its first component: the longest
    // matching ref must win when a tree/ URL is split.
    git(&servers, &["tag", "feature"]);
    git(&servers, &["checkout", "--quiet", "-b", "feature/deep/x"]);
    set_version(&servers.join("src/echo/package.json"), "1.0.0", "2.0.0");
    commit_all(&servers, "echo 2.0.0 on a branch");
    git(&servers, &["checkout", "--quiet", "main"]);
    fake.publish_repo(&servers, "catwalk", "servers");

    let echo = work.path().join("echo");
    copy_fixture("echo-server", &echo);
    let echo_v1 = init_repo(&echo);
    git(&echo, &["tag", "-a", "v1", "-m", "version 1"]);
    set_version(&echo.join("package.json"), "1.0.0", "1.0.1");
    commit_all(&echo, "echo 1.0.1");
    fake.publish_repo(&echo, "catwalk", "echo");

    Repos {
        fake,
        servers_main,
        echo_v1,
        _work: work,
    }
}

fn github(rev: Option<&str>, subdir: Option<&str>, tree: Option<&str>) -> Source {
    Source::GitHub {
        owner: "catwalk".into(),
        repo: "servers".into(),
        rev: rev.map(String::from),
        subdir: subdir.map(String::from),
        tree: tree.map(String::from),
    }
}

fn assert_echo(spec: &ServerSpec, version: &str) {
    assert_eq!(spec.runtime, Runtime::Node);
    assert_eq!(spec.package.name, "catwalk-echo-fixture");
    assert_eq!(spec.package.version, version);
    assert_eq!(spec.launch.command, "catwalk-echo");
    let names: Vec<&str> = spec.env.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["ECHO_PREFIX", "ECHO_SECRET_TOKEN"]);
}

#[test]
fn every_pasted_form_parses() {
    let sha = "0123456789abcdef0123456789abcdef01234567";
    let cases = [
        (
            "https://github.com/catwalk/servers",
            github(None, None, None),
        ),
        (
            "https://github.com/catwalk/servers.git",
            github(None, None, None),
        ),
        (
            "https://github.com/catwalk/servers/",
            github(None, None, None),
        ),
        (
            "http://www.github.com/catwalk/servers",
            github(None, None, None),
        ),
        ("github.com/catwalk/servers", github(None, None, None)),
        (
            "git@github.com:catwalk/servers.git",
            github(None, None, None),
        ),
        (
            "https://github.com/catwalk/servers?tab=readme-ov-file",
            github(None, None, None),
        ),
        (
            "https://github.com/catwalk/servers/tree/main/src/echo",
            github(None, None, Some("main/src/echo")),
        ),
        (
            "https://github.com/catwalk/servers/tree/feature/deep/x/src/echo/",
            github(None, None, Some("feature/deep/x/src/echo")),
        ),
        (
            "https://github.com/catwalk/servers/blob/main/src/echo/index.js",
            github(None, None, Some("main/src/echo")),
        ),
        (
            &format!("https://github.com/catwalk/servers/tree/{sha}/src/weather"),
            github(Some(sha), Some("src/weather"), None),
        ),
        (
            &format!("https://github.com/catwalk/servers/commit/{sha}"),
            github(Some(sha), None, None),
        ),
        (
            "https://github.com/catwalk/servers#v1:src/echo",
            github(Some("v1"), Some("src/echo"), None),
        ),
        (
            "git@github.com:catwalk/servers.git#:src/echo",
            github(None, Some("src/echo"), None),
        ),
    ];
    for (input, expected) in cases {
        let parsed = parse_source(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(parsed, expected, "{input}");
        assert_eq!(
            parse_source(&parsed.to_string()).unwrap(),
            expected,
            "{input} normalises to {parsed}, which parses back"
        );
    }
    assert_eq!(
        parse_source("https://github.com/catwalk/echo/archive/refs/heads/main.tar.gz").unwrap(),
        Source::Archive {
            url: "https://github.com/catwalk/echo/archive/refs/heads/main.tar.gz".into(),
            subdir: None
        }
    );
    for refused in [
        "https://github.com/catwalk",
        "https://github.com/catwalk/servers/issues/3",
        "https://github.com/catwalk/servers/pulls",
        "https://github.com/catwalk/servers/blob/main",
        "https://github.com/catwalk/servers/tree/main/../../etc",
        "https://github.com/catwalk/servers/commit/not-a-commit",
        "https://github.com/catwalk/servers/tree/main/src#v2",
        "https://github.com/catwalk/servers#main:/etc",
        "https://github.com/catwalk/servers#main:src/../..",
        "git@github.com:catwalk/servers/extra.git",
        "https://github.com/-bad/servers",
    ] {
        let error = parse_source(refused).unwrap_err();
        assert!(
            matches!(error, AnalyzeError::InvalidSource { .. }),
            "{refused}: {error:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monorepo_root_lists_its_servers_in_every_form() {
    let repos = repos().await;
    let (analyzer, _guard) = analyzer_for(&repos.fake);
    let forms = [
        "https://github.com/catwalk/servers",
        "https://github.com/catwalk/servers.git",
        "https://github.com/catwalk/servers/",
        "github.com/catwalk/servers",
        "git@github.com:catwalk/servers.git",
    ];
    let mut pick = String::new();
    for form in forms {
        let (result, _) = run(&analyzer, form).await;
        let Err(AnalyzeError::SeveralServers { input, candidates }) = &result else {
            panic!("{form}: expected the candidates, got {result:?}");
        };
        assert_eq!(input, "https://github.com/catwalk/servers");
        let listed: Vec<(&str, &str, Runtime, &str)> = candidates
            .iter()
            .map(|c| {
                (
                    c.subdir.as_str(),
                    c.name.as_str(),
                    c.runtime,
                    c.source.as_str(),
                )
            })
            .collect();
        assert_eq!(
            listed,
            [
                (
                    "src/echo",
                    "catwalk-echo-fixture",
                    Runtime::Node,
                    "https://github.com/catwalk/servers#:src/echo"
                ),
                (
                    "src/weather",
                    "catwalk-weather-fixture",
                    Runtime::Python,
                    "https://github.com/catwalk/servers#:src/weather"
                ),
            ],
            "{form}"
        );
        pick = candidates[1].source.clone();
        let message = result.unwrap_err().to_string();
        assert!(message.contains("holds 2 servers"), "{message}");
        assert!(
            message.contains("src/weather (python, catwalk-weather-fixture)"),
            "{message}"
        );
    }

    // git spoke smart HTTP to the fake, as it does to github.com.
    let requests = repos.fake.requests();
    assert!(
        requests
            .contains(&"GET /catwalk/servers.git/info/refs?service=git-upload-pack".to_string()),
        "{requests:?}"
    );
    assert!(
        requests.contains(&"POST /catwalk/servers.git/git-upload-pack".to_string()),
        "{requests:?}"
    );

    // The pick is a source of its own.
    let (result, _) = run(&analyzer, &pick).await;
    let spec = result.expect("the picked server analyzes");
    assert_eq!(spec.runtime, Runtime::Python);
    assert_eq!(spec.package.name, "catwalk-weather-fixture");
    assert_eq!(spec.launch.command, "catwalk-weather-mcp");
    assert_eq!(spec.source, pick);
    assert_eq!(
        spec.package.revision.as_deref(),
        Some(repos.servers_main.as_str())
    );
    let path = spec.package.path.expect("installed from the checkout");
    assert!(path.ends_with("src/weather"), "{}", path.display());
    assert!(path.join("pyproject.toml").is_file());
    assert!(
        path.starts_with(
            analyzer
                .work_dir
                .join("sources/git")
                .canonicalize()
                .unwrap()
        ),
        "{}",
        path.display()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tree_blob_and_commit_urls_pick_the_revision_and_folder() {
    let repos = repos().await;
    let (analyzer, _guard) = analyzer_for(&repos.fake);
    let base = "https://github.com/catwalk";

    let (result, _) = run(&analyzer, &format!("{base}/servers/tree/main/src/echo")).await;
    let spec = result.expect("tree/main/src/echo analyzes");
    assert_echo(&spec, "1.0.0");
    assert_eq!(spec.source, format!("{base}/servers#main:src/echo"));
    assert_eq!(
        spec.package.revision.as_deref(),
        Some(repos.servers_main.as_str())
    );
    assert!(spec.package.path.unwrap().ends_with("src/echo"));

    // Branch `feature/deep/x` (the longest match) wins over tag `feature`.
    let (result, progress) = run(
        &analyzer,
        &format!("{base}/servers/tree/feature/deep/x/src/echo"),
    )
    .await;
    let spec = result.expect("a branch with slashes resolves");
    assert_echo(&spec, "2.0.0");
    assert_eq!(
        spec.source,
        format!("{base}/servers#feature/deep/x:src/echo")
    );
    assert!(
        progress.iter().any(|l| l.contains("at feature/deep/x")),
        "{progress:?}"
    );

    // The branch's root is the monorepo's root: the candidates keep the branch.
    let (result, _) = run(&analyzer, &format!("{base}/servers/tree/feature/deep/x")).await;
    match result {
        Err(AnalyzeError::SeveralServers { candidates, .. }) => assert_eq!(
            candidates[0].source,
            format!("{base}/servers#feature/deep/x:src/echo")
        ),
        other => panic!("expected the candidates, got {other:?}"),
    }

    let (result, _) = run(
        &analyzer,
        &format!("{base}/servers/tree/{}/src/weather", repos.servers_main),
    )
    .await;
    let spec = result.expect("tree/<commit>/src/weather analyzes");
    assert_eq!(spec.runtime, Runtime::Python);
    assert_eq!(
        spec.package.revision.as_deref(),
        Some(repos.servers_main.as_str())
    );

    let (result, _) = run(
        &analyzer,
        &format!("{base}/servers/blob/main/src/echo/index.js"),
    )
    .await;
    assert_echo(&result.expect("blob/ takes the file's folder"), "1.0.0");

    for form in [
        format!("{base}/echo/commit/{}", repos.echo_v1),
        format!("{base}/echo/tree/v1"),
        format!("{base}/echo#v1"),
        format!("{base}/echo/tree/{}", &repos.echo_v1[..12]),
    ] {
        let (result, _) = run(&analyzer, &form).await;
        let spec = result.unwrap_or_else(|e| panic!("{form}: {e}"));
        assert_echo(&spec, "1.0.0");
        assert_eq!(
            spec.package.revision.as_deref(),
            Some(repos.echo_v1.as_str()),
            "{form}"
        );
    }
    let (result, _) = run(&analyzer, &format!("{base}/echo")).await;
    assert_echo(&result.expect("the default branch analyzes"), "1.0.1");

    let (result, _) = run(
        &analyzer,
        &format!("{base}/servers/tree/no-such-branch/src"),
    )
    .await;
    let error = result.unwrap_err();
    assert!(matches!(error, AnalyzeError::GitClone { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .contains("no branch or tag matches the start of \"no-such-branch/src\""),
        "{error}"
    );
    let (result, _) = run(&analyzer, &format!("{base}/servers#main:src/nothing")).await;
    let error = result.unwrap_err();
    assert!(matches!(error, AnalyzeError::BadSubdir { .. }), "{error:?}");
    assert!(error.to_string().contains("does not exist"), "{error}");

    let (result, _) = run(&analyzer, &format!("{base}/missing")).await;
    let error = result.unwrap_err();
    assert!(matches!(error, AnalyzeError::GitClone { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .contains(&format!("{}/catwalk/missing.git", repos.fake.base)),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_github_archive_is_downloaded_and_its_top_folder_stripped() {
    let repos = repos().await;
    let (analyzer, _guard) = analyzer_for(&repos.fake);
    let path = repos.fake.publish_archive("catwalk", "echo", "main");
    let (result, progress) = run(&analyzer, &format!("https://github.com{path}")).await;
    let spec = result.expect("the archive analyzes");
    assert_echo(&spec, "1.0.1");
    let root = spec
        .package
        .path
        .expect("installed from the extracted archive");
    assert!(root.ends_with("echo-main"), "{}", root.display());
    assert!(root.join("package.json").is_file());
    assert!(
        progress
            .iter()
            .any(|l| l.starts_with(&format!("downloading {}", repos.fake.base))),
        "{progress:?}"
    );
    assert!(repos.fake.requests().contains(&format!("GET {path}")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_on_a_private_address_is_refused_unless_allowed() {
    let repos = repos().await;
    let (mut analyzer, _guard) = analyzer_for(&repos.fake);
    analyzer.allow_private_network = false;
    for source in [
        "https://github.com/catwalk/echo",
        "https://github.com/catwalk/echo/archive/refs/heads/main.tar.gz",
    ] {
        let (result, _) = run(&analyzer, source).await;
        let error = result.unwrap_err();
        assert!(
            matches!(error, AnalyzeError::PrivateNetwork { .. }),
            "{source}: {error:?}"
        );
        let message = error.to_string();
        assert!(message.contains("127.0.0.1"), "{message}");
        assert!(message.contains("allow_private_network"), "{message}");
    }
    assert!(
        repos.fake.requests().is_empty(),
        "nothing reached the server: {:?}",
        repos.fake.requests()
    );
}
