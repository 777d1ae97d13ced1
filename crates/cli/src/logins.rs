//! API tokens that `catwalk login` stored, one per Catwalk server, in
//! `<config-dir>/logins.json` (mode 0600): `{"http://host:port": "cwt_..."}`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::CliError;

pub const FILE: &str = "logins.json";

/// The key a server's login is stored under: its URL without a trailing slash.
fn key(server: &reqwest::Url) -> String {
    server.as_str().trim_end_matches('/').to_string()
}

fn path(config_dir: &Path) -> PathBuf {
    config_dir.join(FILE)
}

fn load(config_dir: &Path) -> Result<BTreeMap<String, String>, CliError> {
    let file = path(config_dir);
    match std::fs::read_to_string(&file) {
        Ok(text) => serde_json::from_str(&text).map_err(|error| {
            CliError::Failed(format!(
                "{} is not a JSON object of server URLs to tokens ({error}); remove it and run \
                 `catwalk login` again",
                file.display()
            ))
        }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(error) => Err(CliError::Failed(format!(
            "cannot read {}: {error}",
            file.display()
        ))),
    }
}

/// The token stored for `server`, if any.
pub fn token_for(config_dir: &Path, server: &reqwest::Url) -> Result<Option<String>, CliError> {
    Ok(load(config_dir)?.remove(&key(server)))
}

/// Stores (or, with `None`, forgets) the token for `server`. The file is written whole to a
/// temporary file (0600) and renamed over the old one, so it is never half-written.
pub fn set_token(
    config_dir: &Path,
    server: &reqwest::Url,
    token: Option<&str>,
) -> Result<(), CliError> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let mut logins = load(config_dir)?;
    match token {
        Some(token) => logins.insert(key(server), token.to_string()),
        None => logins.remove(&key(server)),
    };
    let fail = |what: &Path, error: std::io::Error| {
        CliError::Failed(format!("cannot write {}: {error}", what.display()))
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(config_dir)
        .map_err(|e| fail(config_dir, e))?;
    let file = path(config_dir);
    let temporary = config_dir.join(format!(".{FILE}.{}", std::process::id()));
    let text = serde_json::to_string_pretty(&logins).expect("a string map serializes");
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)
        .and_then(|mut out| out.write_all(text.as_bytes()).and_then(|()| out.sync_all()));
    written.map_err(|e| fail(&temporary, e))?;
    std::fs::rename(&temporary, &file).map_err(|e| fail(&file, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn logins_are_kept_per_server_in_a_private_file() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("catwalk");
        let a = reqwest::Url::parse("http://127.0.0.1:7411/").unwrap();
        let b = reqwest::Url::parse("https://catwalk.example").unwrap();
        assert_eq!(token_for(&config, &a).unwrap(), None);
        set_token(&config, &a, Some("cwt_a")).unwrap();
        set_token(&config, &b, Some("cwt_b")).unwrap();
        assert_eq!(token_for(&config, &a).unwrap().as_deref(), Some("cwt_a"));
        assert_eq!(token_for(&config, &b).unwrap().as_deref(), Some("cwt_b"));
        let mode = std::fs::metadata(config.join(FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        set_token(&config, &a, None).unwrap();
        assert_eq!(token_for(&config, &a).unwrap(), None);
        assert_eq!(token_for(&config, &b).unwrap().as_deref(), Some("cwt_b"));
        std::fs::write(config.join(FILE), "[").unwrap();
        let error = token_for(&config, &a).unwrap_err().to_string();
        assert!(error.contains("catwalk login"), "{error}");
    }
}
