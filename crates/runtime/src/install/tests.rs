//! Unit tests of package validation and cache keys (installs themselves are tested for real in
//! `tests/install.rs`).

use std::path::PathBuf;

use super::names::{cache_entry_name, hash_folder, normalize_pypi_name, validate};
use super::{PackageKind, PackageToInstall};

fn package(kind: PackageKind, name: &str, version: &str) -> PackageToInstall {
    PackageToInstall {
        kind,
        name: name.to_string(),
        version: version.to_string(),
        path: None,
        command: "server".to_string(),
    }
}

#[test]
fn accepts_real_package_coordinates() {
    for (kind, name, version) in [
        (
            PackageKind::Npm,
            "@modelcontextprotocol/server-everything",
            "2026.8.31",
        ),
        (PackageKind::Npm, "left-pad", "1.3.0-beta.1+build.5"),
        (PackageKind::Pypi, "mcp-server-time", "2026.10.19"),
        (PackageKind::Pypi, "Zope.Interface_x", "1!2.0.post1"),
    ] {
        assert_eq!(
            validate(&package(kind, name, version)),
            Ok(()),
            "{name} {version}"
        );
    }
}

#[test]
fn rejects_names_that_would_be_flags_or_paths() {
    for (kind, name, version) in [
        (PackageKind::Npm, "--global", "1.0.0"),
        (PackageKind::Npm, "@scope", "1.0.0"),
        (PackageKind::Npm, "../evil", "1.0.0"),
        (PackageKind::Npm, "ok", "^1.0.0"),
        (PackageKind::Npm, "ok", "../../x"),
        (PackageKind::Npm, "ok", ""),
        (PackageKind::Pypi, "-r", "1.0"),
        (PackageKind::Pypi, "pkg[extra]", "1.0"),
        (PackageKind::Pypi, "ok", ">=1.0"),
    ] {
        assert!(
            validate(&package(kind, name, version)).is_err(),
            "{name} {version}"
        );
    }
    let mut bad_command = package(PackageKind::Npm, "ok", "1.0.0");
    bad_command.command = "../../bin/sh".to_string();
    assert!(
        validate(&bad_command)
            .unwrap_err()
            .contains("invalid command name")
    );
}

#[test]
fn cache_entry_names_follow_the_documented_layout() {
    let npm = package(
        PackageKind::Npm,
        "@modelcontextprotocol/server-everything",
        "1.2.3",
    );
    assert_eq!(
        cache_entry_name(&npm, None),
        "@modelcontextprotocol+server-everything@1.2.3"
    );
    let pypi = package(PackageKind::Pypi, "Mcp_Server.time", "0.6.2");
    assert_eq!(cache_entry_name(&pypi, None), "mcp-server-time==0.6.2");
    assert_eq!(normalize_pypi_name("a__b--c..D"), "a-b-c-d");

    let mut local = package(PackageKind::Npm, "my tool/../x", "");
    local.path = Some(PathBuf::from("/somewhere"));
    let hash = "0123456789abcdef0123456789abcdef";
    let name = cache_entry_name(&local, Some(hash));
    assert_eq!(name, "my_tool+..+x@+local.0123456789abcdef");
    assert!(!name.contains('/'));
}

#[test]
fn folder_hash_follows_content_and_ignores_dependencies() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.js"), "console.log(1)").unwrap();
    std::fs::create_dir_all(dir.path().join("src")).unwrap();
    std::fs::write(dir.path().join("src/lib.js"), "x").unwrap();
    let first = hash_folder(dir.path(), PackageKind::Npm).unwrap();
    assert_eq!(first, hash_folder(dir.path(), PackageKind::Npm).unwrap());

    std::fs::create_dir_all(dir.path().join("node_modules/dep")).unwrap();
    std::fs::write(dir.path().join("node_modules/dep/a.js"), "y").unwrap();
    assert_eq!(
        first,
        hash_folder(dir.path(), PackageKind::Npm).unwrap(),
        "node_modules must not count"
    );

    std::fs::write(dir.path().join("src/lib.js"), "z").unwrap();
    assert_ne!(
        first,
        hash_folder(dir.path(), PackageKind::Npm).unwrap(),
        "an edit must change the hash"
    );
}

#[test]
fn python_build_output_does_not_change_the_folder_hash() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pyproject.toml"), "[project]").unwrap();
    let before = hash_folder(dir.path(), PackageKind::Pypi).unwrap();
    for built in ["build/lib", "dist", "pkg.egg-info"] {
        std::fs::create_dir_all(dir.path().join(built)).unwrap();
        std::fs::write(dir.path().join(built).join("x"), "built").unwrap();
    }
    assert_eq!(before, hash_folder(dir.path(), PackageKind::Pypi).unwrap());
    assert_ne!(
        before,
        hash_folder(dir.path(), PackageKind::Npm).unwrap(),
        "npm keeps dist"
    );
}

#[test]
fn sandboxed_installs_keep_only_the_package_managers_configuration() {
    use super::jail::carried_over;
    for name in [
        "npm_config_registry",
        "NPM_CONFIG_STRICT_SSL",
        "npm_config_@scope:registry",
        "PIP_INDEX_URL",
        "PIP_CERT",
        "UV_INDEX_URL",
        "HTTPS_PROXY",
        "no_proxy",
        "SSL_CERT_FILE",
        "NODE_EXTRA_CA_CERTS",
    ] {
        assert!(carried_over(name), "{name} should be carried over");
    }
    for name in [
        // Where the clients would write: outside the jail's writable folders.
        "npm_config_cache",
        "NPM_CONFIG_PREFIX",
        "PIP_CACHE_DIR",
        "PIP_TARGET",
        "UV_CACHE_DIR",
        // Set from the bound file instead.
        "NPM_CONFIG_USERCONFIG",
        // Nothing to do with installing.
        "AWS_SECRET_ACCESS_KEY",
        "CATWALK_VAULT_KEY",
        "CARGO_HOME",
        "HOME",
    ] {
        assert!(!carried_over(name), "{name} should not be carried over");
    }
}
