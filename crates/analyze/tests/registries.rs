//! Real packages from the real registries, through the machine's own `npm` and `pip`.
//!
//! These tests need network access to the configured npm registry and pip index; they fail
//! (never skip) without it.

mod common;

use catwalk_analyze::{AnalyzeError, Registry, Runtime, parse_source};
use common::{analyze, analyzer, assert_round_trip};

fn is_exact_version(v: &str) -> bool {
    !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '+')
        && v.contains('.')
}

#[tokio::test]
async fn server_everything_runs_its_bin_with_the_documented_stdio_argument() {
    let (analyzer, _guard) = analyzer();
    let (result, progress) =
        analyze(&analyzer, "npm:@modelcontextprotocol/server-everything").await;
    let spec = result.expect("server-everything analyzes");
    assert_eq!(spec.source, "npm:@modelcontextprotocol/server-everything");
    assert_eq!(spec.name, "server-everything");
    assert_eq!(spec.runtime, Runtime::Node);
    assert_eq!(spec.package.registry, Registry::Npm);
    assert_eq!(spec.package.name, "@modelcontextprotocol/server-everything");
    assert!(
        is_exact_version(&spec.package.version),
        "pinned version, got {}",
        spec.package.version
    );
    assert_eq!(spec.package.path, None);
    assert_eq!(spec.launch.command, "mcp-server-everything");
    assert_eq!(spec.launch.args, ["stdio"]);
    assert_eq!(
        spec.mcp_name.as_deref(),
        Some("io.github.modelcontextprotocol/server-everything")
    );
    // The argument comes from documented evidence, which the spec shows.
    let stdio = spec
        .evidence
        .iter()
        .find(|e| e.note.contains("stdio mode"))
        .expect("evidence for the stdio argument");
    assert_eq!(stdio.file, "README.md");
    assert!(stdio.line.is_some());
    assert!(
        spec.env.iter().all(|v| v.name != "PORT"),
        "PORT is on the ignore list"
    );
    assert!(
        progress
            .iter()
            .any(|l| l == "resolving npm:@modelcontextprotocol/server-everything"),
        "{progress:?}"
    );
    assert!(
        progress
            .iter()
            .any(|l| l.starts_with("downloading @modelcontextprotocol/server-everything@")),
        "{progress:?}"
    );
    assert!(
        progress.iter().any(|l| l == "reading package.json"),
        "{progress:?}"
    );
    assert_round_trip(&spec);

    // The extracted package is cached per version and reused.
    let cached = analyzer
        .work_dir
        .join("sources/npm")
        .join(format!("{}@{}", spec.package.name, spec.package.version));
    assert!(cached.join("package.json").is_file());
    let (again, progress) = analyze(
        &analyzer,
        &format!(
            "npm:@modelcontextprotocol/server-everything@{}",
            spec.package.version
        ),
    )
    .await;
    assert_eq!(again.unwrap().launch, spec.launch);
    assert!(
        progress.iter().any(|l| l.starts_with("using cached")),
        "{progress:?}"
    );
}

#[tokio::test]
async fn brave_search_needs_its_api_key() {
    let (analyzer, _guard) = analyzer();
    let (result, _) = analyze(
        &analyzer,
        "npm:@modelcontextprotocol/server-brave-search@0.6.2",
    )
    .await;
    let spec = result.expect("brave-search analyzes");
    assert_eq!(spec.package.version, "0.6.2");
    assert_eq!(spec.launch.command, "mcp-server-brave-search");
    assert!(spec.launch.args.is_empty());
    let key = spec
        .env
        .iter()
        .find(|v| v.name == "BRAVE_API_KEY")
        .expect("BRAVE_API_KEY found");
    assert!(key.required, "the server exits without it");
    assert!(key.secret);
    let read = key
        .evidence
        .iter()
        .find(|e| e.file == "dist/index.js")
        .expect("evidence in dist/index.js");
    let line = read.line.expect("a line number") as usize;
    // The evidence points at the real line of the real file.
    let source = std::fs::read_to_string(
        analyzer
            .work_dir
            .join("sources/npm/@modelcontextprotocol/server-brave-search@0.6.2/dist/index.js"),
    )
    .unwrap();
    assert!(
        source
            .lines()
            .nth(line - 1)
            .unwrap()
            .contains("process.env.BRAVE_API_KEY")
    );
    assert!(
        key.evidence.iter().any(|e| e.file == "README.md"),
        "the README's env block is evidence too"
    );
}

#[tokio::test]
async fn an_npm_range_resolves_to_its_highest_version() {
    let (analyzer, _guard) = analyzer();
    // npm lists these versions out of order; lexical order would pick 2025.9.25.
    let (result, _) = analyze(
        &analyzer,
        "npm:@modelcontextprotocol/server-everything@>=2025.1.0 <2026.0.0",
    )
    .await;
    let spec = result.expect("a range resolves");
    assert_eq!(spec.package.version, "2025.12.18");
    assert_eq!(
        spec.source,
        "npm:@modelcontextprotocol/server-everything@>=2025.1.0 <2026.0.0"
    );
}

#[tokio::test]
async fn mcp_server_time_runs_its_console_script() {
    let (analyzer, _guard) = analyzer();
    let (result, progress) = analyze(&analyzer, "pypi:mcp-server-time").await;
    let spec = result.expect("mcp-server-time analyzes");
    assert_eq!(spec.runtime, Runtime::Python);
    assert_eq!(spec.package.registry, Registry::Pypi);
    assert_eq!(spec.package.name, "mcp-server-time");
    assert_eq!(spec.name, "mcp-server-time");
    assert!(
        is_exact_version(&spec.package.version),
        "pinned version, got {}",
        spec.package.version
    );
    assert_eq!(spec.launch.command, "mcp-server-time");
    assert!(spec.launch.args.is_empty(), "{:?}", spec.launch.args);
    assert!(spec.runtime_requirement.is_some());
    assert!(
        spec.evidence
            .iter()
            .any(|e| e.file.ends_with("entry_points.txt")),
        "{:?}",
        spec.evidence
    );
    let cached = analyzer
        .work_dir
        .join("sources/pypi")
        .join(format!("mcp-server-time=={}", spec.package.version));
    assert!(cached.is_dir(), "{} exists", cached.display());
    assert!(
        progress
            .iter()
            .any(|l| l.starts_with("downloading mcp-server-time")),
        "{progress:?}"
    );
    assert_round_trip(&spec);

    // `@` is accepted for PyPI versions, and a pinned version is served from the cache.
    let (again, progress) = analyze(
        &analyzer,
        &format!("pypi:mcp-server-time@{}", spec.package.version),
    )
    .await;
    let again = again.unwrap();
    assert_eq!(
        again.source,
        format!("pypi:mcp-server-time=={}", spec.package.version)
    );
    assert!(
        progress.iter().any(|l| l.starts_with("using cached")),
        "{progress:?}"
    );
}

#[tokio::test]
async fn unknown_npm_package_is_a_clear_error() {
    let (analyzer, _guard) = analyzer();
    let name = "catwalk-this-package-does-not-exist-7f3a9";
    let (result, _) = analyze(&analyzer, &format!("npm:{name}")).await;
    let error = result.unwrap_err();
    assert!(
        matches!(&error, AnalyzeError::NpmNotFound { name: n } if n == name),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .starts_with(&format!("npm package {name} not found")),
        "{error}"
    );
}

#[tokio::test]
async fn unknown_npm_version_is_a_clear_error() {
    let (analyzer, _guard) = analyzer();
    let (result, _) = analyze(
        &analyzer,
        "npm:@modelcontextprotocol/server-brave-search@99.0.0",
    )
    .await;
    let error = result.unwrap_err();
    assert!(
        matches!(error, AnalyzeError::NpmVersionNotFound { .. }),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains("has no version matching \"99.0.0\""),
        "{error}"
    );
}

#[tokio::test]
async fn unknown_pypi_package_is_a_clear_error() {
    let (analyzer, _guard) = analyzer();
    let name = "catwalk-this-package-does-not-exist-7f3a9";
    let (result, _) = analyze(&analyzer, &format!("pypi:{name}")).await;
    let error = result.unwrap_err();
    assert!(
        matches!(&error, AnalyzeError::PypiNotFound { name: n } if n == name),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .starts_with(&format!("PyPI package {name} not found")),
        "{error}"
    );
}

#[tokio::test]
async fn unknown_pypi_version_lists_the_available_ones() {
    let (analyzer, _guard) = analyzer();
    let (result, _) = analyze(&analyzer, "pypi:mcp-server-time==0.0.0.1").await;
    let error = result.unwrap_err();
    assert!(
        matches!(error, AnalyzeError::PypiVersionNotFound { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("available: "), "{error}");
}

#[tokio::test]
async fn a_missing_tool_is_named() {
    let (mut analyzer, _guard) = analyzer();
    analyzer.npm = "catwalk-no-such-npm".into();
    let (result, _) = analyze(&analyzer, "npm:left-pad").await;
    let error = result.unwrap_err();
    assert!(
        matches!(&error, AnalyzeError::ToolMissing { tool, .. } if tool == "catwalk-no-such-npm"),
        "{error:?}"
    );
    assert!(parse_source("npm:left-pad").is_ok());
}
