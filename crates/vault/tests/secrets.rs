//! Tokens, redaction and private files.

use std::borrow::Cow;
use std::collections::HashSet;
use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;

use catwalk_vault::{
    Redactor, hash_token, new_token, read_private_file, token_matches, write_private_file,
};

#[test]
fn tokens_have_a_prefix_and_256_random_bits() {
    let token = new_token("cwd");
    let (prefix, random) = token.split_once('_').unwrap();
    assert_eq!(prefix, "cwd");
    assert_eq!(random.len(), 43);
    assert!(
        random
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    );
    let many: HashSet<String> = (0..1000).map(|_| new_token("cwd")).collect();
    assert_eq!(many.len(), 1000);
}

#[test]
fn token_hashes_are_sha256_hex_and_match_only_their_token() {
    // Known SHA-256 test vector, so stored hashes stay compatible with other tools.
    assert_eq!(
        hash_token("abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    let token = new_token("cwa");
    let hash = hash_token(&token);
    assert_eq!(hash.len(), 64);
    assert!(!hash.contains(&token));
    assert!(token_matches(&token, &hash));
    assert!(token_matches(&token, &hash.to_ascii_uppercase()));
    assert!(!token_matches(&new_token("cwa"), &hash));
    assert!(!token_matches(&token, ""));
    assert!(!token_matches(&token, &hash[..63]));
    assert!(!token_matches("", &hash));
}

#[test]
fn redactor_replaces_every_known_secret() {
    let redactor = Redactor::new(vec![
        "sk-live-123456".to_string(),
        "abc".to_string(), // too short to redact without wrecking ordinary text
        "pa\"ss\\word".to_string(),
    ]);
    assert_eq!(redactor.len(), 2);
    assert_eq!(
        redactor.redact("key=sk-live-123456 and again sk-live-123456."),
        "key=[REDACTED] and again [REDACTED]."
    );
    assert_eq!(redactor.redact("abc stays"), "abc stays");
    // As written, and as it appears once serialised inside JSON.
    assert_eq!(redactor.redact("pw pa\"ss\\word"), "pw [REDACTED]");
    assert_eq!(
        redactor.redact(r#"{"pw":"pa\"ss\\word"}"#),
        r#"{"pw":"[REDACTED]"}"#
    );
    assert!(matches!(redactor.redact("nothing here"), Cow::Borrowed(_)));
    assert!(!format!("{redactor:?}").contains("sk-live"));
}

#[test]
fn redactor_removes_overlapping_secrets_whole() {
    let redactor = Redactor::new(vec!["token".to_string(), "token-extended".to_string()]);
    assert_eq!(
        redactor.redact("a token-extended b token"),
        "a [REDACTED] b [REDACTED]"
    );
    let empty = Redactor::new(Vec::<String>::new());
    assert!(empty.is_empty());
    assert_eq!(empty.redact("anything"), "anything");
}

#[test]
fn private_files_are_0600_from_the_start_and_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("admin.token");
    write_private_file(&path, b"first").unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(read_private_file(&path).unwrap(), "first");

    let err = write_private_file(&path, b"second").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists);
    assert_eq!(read_private_file(&path).unwrap(), "first");
    // Only the target remains: the staging file is gone even after the failed attempt.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn private_file_readable_by_others_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("admin.token");
    write_private_file(&path, b"secret").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let err = read_private_file(&path).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert!(err.to_string().contains("chmod 600"), "{err}");
    assert!(!err.to_string().contains("secret"), "{err}");

    let missing = read_private_file(&dir.path().join("missing")).unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound);
}
