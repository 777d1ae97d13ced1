//! The source strings `parse_source` accepts and refuses.

mod common;

use catwalk_analyze::{ACCEPTED_SOURCES, AnalyzeError, Source, parse_source};

fn npm(name: &str, version: Option<&str>) -> Source {
    Source::Npm {
        name: name.into(),
        version: version.map(String::from),
    }
}

fn pypi(name: &str, version: Option<&str>) -> Source {
    Source::Pypi {
        name: name.into(),
        version: version.map(String::from),
    }
}

fn git(url: &str, rev: Option<&str>) -> Source {
    Source::Git {
        url: url.into(),
        rev: rev.map(String::from),
        subdir: None,
    }
}

#[test]
fn registry_sources() {
    let cases = [
        (
            "npm:@modelcontextprotocol/server-brave-search@0.6.2",
            npm("@modelcontextprotocol/server-brave-search", Some("0.6.2")),
        ),
        (
            "npm:@modelcontextprotocol/server-everything",
            npm("@modelcontextprotocol/server-everything", None),
        ),
        ("npm:left-pad@^1.3", npm("left-pad", Some("^1.3"))),
        ("  npm:left-pad@latest  ", npm("left-pad", Some("latest"))),
        ("pypi:mcp-server-time", pypi("mcp-server-time", None)),
        (
            "pypi:mcp-server-time==0.6.2",
            pypi("mcp-server-time", Some("0.6.2")),
        ),
        (
            "pypi:mcp_server_time@0.6.2",
            pypi("mcp_server_time", Some("0.6.2")),
        ),
    ];
    for (input, expected) in cases {
        let parsed = parse_source(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(parsed, expected, "{input}");
        // The normalised form parses back to the same source.
        assert_eq!(parse_source(&parsed.to_string()).unwrap(), expected);
    }
    assert_eq!(
        parse_source("pypi:x@1.0").unwrap().to_string(),
        "pypi:x==1.0"
    );
}

#[test]
fn git_sources() {
    let cases = [
        (
            "https://git.example/owner/repo.git",
            git("https://git.example/owner/repo.git", None),
        ),
        (
            "https://git.example/owner/repo.git#v1.2.0",
            git("https://git.example/owner/repo.git", Some("v1.2.0")),
        ),
        (
            "git@git.example:owner/repo.git",
            git("git@git.example:owner/repo.git", None),
        ),
        (
            "ssh://git@host.example/owner/repo#main",
            git("ssh://git@host.example/owner/repo", Some("main")),
        ),
        (
            "git://host.example/repo.git",
            git("git://host.example/repo.git", None),
        ),
        (
            "file:///srv/repos/echo",
            git("file:///srv/repos/echo", None),
        ),
        (
            "file:///srv/repos/echo.git#0123abc",
            git("file:///srv/repos/echo.git", Some("0123abc")),
        ),
    ];
    for (input, expected) in cases {
        let parsed = parse_source(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(parsed, expected, "{input}");
        assert_eq!(parse_source(&parsed.to_string()).unwrap(), expected);
    }
}

#[test]
fn local_sources_resolve_to_canonical_folders() {
    let folder = common::fixture("echo-server").canonicalize().unwrap();
    for input in [
        folder.to_string_lossy().into_owned(),
        "./tests/fixtures/echo-server".into(),
        "file:./tests/fixtures/echo-server".into(),
    ] {
        assert_eq!(
            parse_source(&input).unwrap(),
            Source::Local {
                path: folder.clone()
            },
            "{input}"
        );
    }
    let home = std::env::var("HOME").expect("HOME is set for tests");
    assert_eq!(
        parse_source("~").unwrap(),
        Source::Local {
            path: std::path::Path::new(&home).canonicalize().unwrap()
        }
    );

    let missing = parse_source("/nonexistent/catwalk/folder").unwrap_err();
    assert!(matches!(missing, AnalyzeError::LocalPath { .. }));
    assert!(
        missing.to_string().contains("/nonexistent/catwalk/folder"),
        "{missing}"
    );
    let file = parse_source("./Cargo.toml").unwrap_err();
    assert!(file.to_string().ends_with("is not a folder"), "{file}");
}

#[test]
fn refused_sources_list_the_accepted_forms() {
    let refused = [
        "",
        "left-pad",
        "https://git.example/owner/repo",
        "npm:",
        "npm:@scope",
        "npm:left-pad@",
        "npm:left-pad@https://evil.example/x.tgz",
        "npm:-rf",
        "pypi:mcp-server-time>=1",
        "pypi:bad name",
        "https://github.com/owner/repo.git#",
        "https://github.com/owner/repo.git#--upload-pack=evil",
        "ftp://host/repo.git",
    ];
    for input in refused {
        let error = parse_source(input).unwrap_err();
        assert!(
            matches!(error, AnalyzeError::InvalidSource { .. }),
            "{input}: {error:?}"
        );
        assert!(
            error.to_string().contains(ACCEPTED_SOURCES),
            "{input}: {error}"
        );
    }
}

#[test]
fn credentials_in_urls_are_refused_and_never_shown() {
    for input in [
        "https://user:hunter2@host.example/repo.git",
        "https://ghp_hunter2@host.example/repo.git",
    ] {
        let error = parse_source(input).unwrap_err();
        assert!(matches!(error, AnalyzeError::InvalidSource { .. }));
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }
}
