//! MCP registry names, resolved against a local stand-in for the official registry that
//! answers the documented `/v0.1/servers` API with `server.json` documents (schema
//! 2025-12-11). Entries point to a repository served by the local GitHub stand-in; one test
//! follows an entry to a real npm package through the machine's own `npm` (like
//! `registries.rs`, it needs the configured npm registry and fails without it).

mod fakes;

use catwalk_analyze::{AnalyzeError, Registry, Runtime, Source, parse_source};
use fakes::{FakeHost, analyzer_for, copy_fixture, init_repo, run};
use serde_json::json;

const SCHEMA: &str = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json";

/// The fake, with `catwalk/servers` (a monorepo: `src/echo`, `src/weather`) published.
async fn registry() -> (FakeHost, tempfile::TempDir) {
    let fake = FakeHost::start().await;
    let work = tempfile::tempdir().unwrap();
    let servers = work.path().join("servers");
    copy_fixture("monorepo-root", &servers);
    copy_fixture("echo-server", &servers.join("src/echo"));
    copy_fixture("py-weather", &servers.join("src/weather"));
    init_repo(&servers);
    fake.publish_repo(&servers, "catwalk", "servers");
    (fake, work)
}

/// A weather entry published as a container image only, with its source repository.
fn weather_entry(version: &str) -> serde_json::Value {
    json!({
        "$schema": SCHEMA,
        "name": "io.github.catwalk/weather",
        "title": "Weather",
        "description": "Weather forecasts for Catwalk's tests",
        "version": version,
        "repository": {
            "url": "https://github.com/catwalk/servers",
            "source": "github",
            "id": "123456",
            "subfolder": "src/weather"
        },
        "packages": [{
            "registryType": "oci",
            "identifier": "ghcr.io/catwalk/weather:0.3.1",
            "transport": {"type": "stdio"},
            "environmentVariables": [
                {
                    "name": "WEATHER_API_KEY",
                    "description": "Key of the weather provider (from the registry)",
                    "isRequired": true,
                    "isSecret": true
                },
                {
                    "name": "WEATHER_REGISTRY_REGION",
                    "description": "Only the registry's server.json declares this one",
                    "default": "eu"
                }
            ]
        }]
    })
}

#[test]
fn registry_names_parse() {
    let cases = [
        ("registry:io.github.catwalk/weather", None),
        ("io.github.catwalk/weather", None),
        ("registry:io.github.catwalk/weather@latest", None),
        ("registry:io.github.catwalk/weather@0.3.1", Some("0.3.1")),
        (
            "com.example.mcp/weather-server@1.0.0+build.5",
            Some("1.0.0+build.5"),
        ),
    ];
    for (input, version) in cases {
        let parsed = parse_source(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        let Source::McpRegistry { name, version: v } = &parsed else {
            panic!("{input} parsed as {parsed:?}");
        };
        assert!(name.ends_with("/weather") || name.ends_with("/weather-server"));
        assert_eq!(v.as_deref(), version, "{input}");
        assert_eq!(parse_source(&parsed.to_string()).unwrap(), parsed);
    }
    for refused in [
        "registry:weather",
        "registry:io.github.catwalk/weather/extra",
        "registry:io.github.catwalk/weather@",
        "registry:io.github.catwalk/we ather",
        "registry:io.github.catwalk/weather@../../x",
    ] {
        assert!(
            matches!(
                parse_source(refused),
                Err(AnalyzeError::InvalidSource { .. })
            ),
            "{refused}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_without_an_installable_package_analyzes_its_repository_folder() {
    let (fake, _work) = registry().await;
    fake.publish(weather_entry("0.3.0"), "active");
    fake.publish(weather_entry("0.3.1"), "deprecated");
    let (analyzer, _guard) = analyzer_for(&fake);

    let (result, progress) = run(&analyzer, "io.github.catwalk/weather").await;
    let spec = result.expect("the registry entry analyzes");
    assert!(
        fake.requests()
            .contains(&"GET /v0.1/servers/io.github.catwalk%2Fweather/versions/latest".to_string()),
        "{:?}",
        fake.requests()
    );
    assert!(
        progress.iter().any(|l| l.contains(
            "io.github.catwalk/weather 0.3.1 in the MCP registry points to https://github.com/catwalk/servers#:src/weather"
        )),
        "{progress:?}"
    );
    assert_eq!(spec.source, "registry:io.github.catwalk/weather");
    assert_eq!(spec.runtime, Runtime::Python);
    assert_eq!(spec.package.registry, Registry::Pypi);
    assert_eq!(spec.package.name, "catwalk-weather-fixture");
    assert!(spec.package.path.unwrap().ends_with("src/weather"));
    assert_eq!(spec.mcp_name.as_deref(), Some("io.github.catwalk/weather"));

    // The registry's server.json is the evidence, saved on disk.
    let registry_note = &spec.evidence[0];
    assert_eq!(registry_note.file, "server.json");
    assert!(
        registry_note
            .note
            .contains("from the MCP registry at http://127.0.0.1"),
        "{}",
        registry_note.note
    );
    let saved = analyzer
        .work_dir
        .join("sources/registry/io.github.catwalk_weather@0.3.1.server.json");
    let saved_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    assert_eq!(saved_json, weather_entry("0.3.1"));
    let key = spec
        .env
        .iter()
        .find(|v| v.name == "WEATHER_API_KEY")
        .unwrap();
    assert_eq!(
        key.description,
        "Key of the weather provider (from the registry)"
    );
    let only_registry = spec
        .env
        .iter()
        .find(|v| v.name == "WEATHER_REGISTRY_REGION")
        .expect("declared by the registry's server.json");
    assert_eq!(only_registry.default.as_deref(), Some("eu"));
    assert!(
        spec.warnings.iter().any(|w| w.contains("deprecated")),
        "{:?}",
        spec.warnings
    );
    assert!(
        spec.warnings
            .iter()
            .any(|w| w.contains("its repository was analyzed instead")),
        "{:?}",
        spec.warnings
    );

    // A pinned older version, and the cache for the same entry and commit.
    let (result, _) = run(&analyzer, "registry:io.github.catwalk/weather@0.3.0").await;
    let older = result.expect("an older version analyzes");
    assert!(!older.warnings.iter().any(|w| w.contains("deprecated")));
    let (result, progress) = run(&analyzer, "registry:io.github.catwalk/weather@0.3.0").await;
    assert_eq!(result.unwrap(), older);
    assert!(
        progress
            .iter()
            .any(|l| l.starts_with("using the cached analysis")),
        "{progress:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_remote_only_and_hostile_entries_are_explained() {
    let (fake, _work) = registry().await;
    fake.publish(weather_entry("0.3.1"), "active");
    fake.publish(
        json!({
            "$schema": SCHEMA,
            "name": "io.github.catwalk/gone",
            "description": "Deleted",
            "version": "1.0.0",
            "repository": {"url": "https://github.com/catwalk/servers", "source": "github"}
        }),
        "deleted",
    );
    fake.publish(
        json!({
            "$schema": SCHEMA,
            "name": "io.github.catwalk/remote",
            "description": "Served remotely only",
            "version": "1.0.0",
            "remotes": [{"type": "streamable-http", "url": "https://mcp.example.com/mcp"}]
        }),
        "active",
    );
    for (name, url) in [
        ("io.github.catwalk/local-path", "/etc"),
        ("io.github.catwalk/file-url", "file:///etc"),
        (
            "io.github.catwalk/tarball",
            "https://files.example/x.tar.gz",
        ),
    ] {
        fake.publish(
            json!({
                "$schema": SCHEMA,
                "name": name,
                "description": "A repository URL that is not a repository",
                "version": "1.0.0",
                "packages": [{
                    "registryType": "npm",
                    "identifier": "left-pad",
                    "version": "https://evil.example/x.tgz",
                    "transport": {"type": "stdio"}
                }],
                "repository": {"url": url, "source": "github"}
            }),
            "active",
        );
    }
    let (analyzer, _guard) = analyzer_for(&fake);

    let (result, _) = run(&analyzer, "registry:io.github.catwalk/wether").await;
    let error = result.unwrap_err();
    let AnalyzeError::McpRegistryNotFound { suggestions, .. } = &error else {
        panic!("{error:?}");
    };
    assert!(
        suggestions.contains(&"io.github.catwalk/weather".to_string()),
        "{suggestions:?}"
    );
    assert!(
        !suggestions.contains(&"io.github.catwalk/gone".to_string()),
        "deleted entries are not suggested"
    );
    assert!(error.to_string().contains("similar names: "), "{error}");

    let (result, _) = run(&analyzer, "registry:io.github.catwalk/gone").await;
    assert!(
        matches!(result, Err(AnalyzeError::McpRegistryNotFound { .. })),
        "{result:?}"
    );
    let (result, _) = run(&analyzer, "registry:io.github.catwalk/weather@9.9.9").await;
    let error = result.unwrap_err();
    assert!(
        error.to_string().contains("weather version 9.9.9"),
        "{error}"
    );

    let (result, _) = run(&analyzer, "registry:io.github.catwalk/remote").await;
    let error = result.unwrap_err();
    assert!(
        matches!(error, AnalyzeError::McpRegistry { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("https://mcp.example.com/mcp"), "{message}");
    assert!(message.contains("connect to it directly"), "{message}");

    for name in ["local-path", "file-url", "tarball"] {
        let (result, _) = run(&analyzer, &format!("registry:io.github.catwalk/{name}")).await;
        let error = result.unwrap_err();
        assert!(
            matches!(error, AnalyzeError::McpRegistry { .. }),
            "{error:?}"
        );
        assert!(
            error
                .to_string()
                .contains("is not an https git or GitHub repository URL"),
            "{name}: {error}"
        );
    }

    // The registry on a private address is refused like any other host.
    let mut strict = analyzer.clone();
    strict.allow_private_network = false;
    let before = fake.requests().len();
    let (result, _) = run(&strict, "registry:io.github.catwalk/weather").await;
    assert!(
        matches!(result, Err(AnalyzeError::PrivateNetwork { .. })),
        "{result:?}"
    );
    assert_eq!(fake.requests().len(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_npm_package_entry_is_fetched_through_npm() {
    let fake = FakeHost::start().await;
    fake.publish(
        json!({
            "$schema": SCHEMA,
            "name": "io.github.modelcontextprotocol/server-everything",
            "description": "MCP server that exercises all the features of the MCP protocol",
            "version": "2026.1.26",
            "repository": {
                "url": "https://github.com/modelcontextprotocol/servers",
                "source": "github",
                "subfolder": "src/everything"
            },
            "packages": [
                {
                    "registryType": "pypi",
                    "identifier": "mcp-everything-over-http",
                    "version": "1.0.0",
                    "transport": {"type": "streamable-http", "url": "http://localhost:3001/mcp"}
                },
                {
                    "registryType": "npm",
                    "registryBaseUrl": "https://npm.example",
                    "identifier": "@modelcontextprotocol/server-everything",
                    "version": "2026.1.26",
                    "transport": {"type": "stdio"},
                    "packageArguments": [{"type": "positional", "value": "stdio"}]
                }
            ]
        }),
        "active",
    );
    let (analyzer, _guard) = analyzer_for(&fake);
    let (result, progress) = run(
        &analyzer,
        "registry:io.github.modelcontextprotocol/server-everything",
    )
    .await;
    let spec = result.expect("the npm package of the entry analyzes");
    assert!(
        progress
            .iter()
            .any(|l| l.contains("points to npm:@modelcontextprotocol/server-everything@2026.1.26")),
        "{progress:?}"
    );
    assert_eq!(
        spec.source,
        "registry:io.github.modelcontextprotocol/server-everything"
    );
    assert_eq!(spec.package.registry, Registry::Npm);
    assert_eq!(spec.package.name, "@modelcontextprotocol/server-everything");
    assert_eq!(spec.package.version, "2026.1.26");
    assert_eq!(spec.package.path, None);
    assert_eq!(spec.launch.command, "mcp-server-everything");
    assert_eq!(
        spec.launch.args,
        ["stdio"],
        "from the stdio package's arguments"
    );
    assert!(spec.evidence[0].note.contains("MCP registry"));
}
