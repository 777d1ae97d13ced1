//! Vault behaviour: encryption round trips, key rotation, wrong keys, and the key file's life
//! cycle on a real file system.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use catwalk_vault::{KEY_FILE, KeyOrigin, Vault, VaultError};

fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn round_trip() {
    let vault = Vault::from_keys(&[&Vault::generate_key()]).unwrap();
    let token = vault.encrypt(b"ghp_secret value");
    assert_ne!(token.as_bytes(), b"ghp_secret value");
    assert_eq!(vault.decrypt(&token).unwrap(), b"ghp_secret value");
    assert_eq!(vault.decrypt_string(&token).unwrap(), "ghp_secret value");
    // A fresh IV each time: equal plaintexts must not be recognisable from their ciphertexts.
    assert_ne!(vault.encrypt(b"same"), vault.encrypt(b"same"));
    assert_eq!(vault.decrypt(&vault.encrypt(b"")).unwrap(), b"");
}

#[test]
fn first_key_encrypts_and_every_key_decrypts() {
    let old_key = Vault::generate_key();
    let new_key = Vault::generate_key();
    let old = Vault::from_keys(&[&old_key]).unwrap();
    let old_token = old.encrypt(b"made with the old key");

    // The environment form: a comma-separated list with the new key first.
    let rotating = Vault::from_keys(&[&format!("{new_key}, {old_key}")]).unwrap();
    assert_eq!(rotating.key_count(), 2);
    assert_eq!(
        rotating.decrypt(&old_token).unwrap(),
        b"made with the old key"
    );

    let new_token = rotating.encrypt(b"made with the new key");
    let new_only = Vault::from_keys(&[&new_key]).unwrap();
    assert_eq!(
        new_only.decrypt(&new_token).unwrap(),
        b"made with the new key"
    );
    assert!(matches!(old.decrypt(&new_token), Err(VaultError::Decrypt)));

    let rotated = rotating.rotate(&old_token).unwrap();
    assert_eq!(
        new_only.decrypt(&rotated).unwrap(),
        b"made with the old key"
    );
}

#[test]
fn wrong_key_and_garbage_fail_without_revealing_anything() {
    let key = Vault::generate_key();
    let vault = Vault::from_keys(&[&key]).unwrap();
    let other = Vault::from_keys(&[&Vault::generate_key()]).unwrap();
    let token = vault.encrypt(b"hunter2-password");

    for bad in [
        other.encrypt(b"hunter2-password"),
        "not a token".to_string(),
        String::new(),
        // A flipped character in the MAC must be caught.
        {
            let mut chars: Vec<char> = token.chars().collect();
            let last = chars.len() - 3;
            chars[last] = if chars[last] == 'A' { 'B' } else { 'A' };
            chars.into_iter().collect()
        },
    ] {
        let err = vault.decrypt(&bad).unwrap_err();
        assert!(matches!(err, VaultError::Decrypt), "{err:?}");
        let message = err.to_string();
        assert_eq!(message, "invalid token or wrong key");
    }
    assert!(!format!("{vault:?}").contains(&key));
}

#[test]
fn invalid_keys_are_rejected_without_echoing_them() {
    let err = Vault::from_keys(&["correct horse battery staple"]).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, VaultError::InvalidKey { index: 1, .. }));
    assert!(!message.contains("horse"), "{message}");
    assert!(message.contains("url-safe base64"), "{message}");

    let good = Vault::generate_key();
    let err = Vault::from_keys(&[&format!("{good},tooshort")]).unwrap_err();
    assert!(
        matches!(err, VaultError::InvalidKey { index: 2, .. }),
        "{err:?}"
    );
    assert!(matches!(
        Vault::from_keys(&[]).unwrap_err(),
        VaultError::NoKey { .. }
    ));
}

#[test]
fn key_file_is_created_private_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");

    let first = Vault::load_or_create(&data_dir, None).unwrap();
    let key_path = data_dir.join(KEY_FILE);
    assert_eq!(first.origin(), &KeyOrigin::Generated(key_path.clone()));
    assert_eq!(mode_of(&key_path), 0o600);
    // We created the data directory, so we made it private as well.
    assert_eq!(mode_of(&data_dir), 0o700);
    // No staging file is left behind with a copy of the key.
    let entries: Vec<_> = std::fs::read_dir(&data_dir).unwrap().collect();
    assert_eq!(entries.len(), 1);

    let token = first.encrypt(b"persisted secret");
    let second = Vault::load_or_create(&data_dir, None).unwrap();
    assert_eq!(second.origin(), &KeyOrigin::File(key_path.clone()));
    assert_eq!(second.decrypt(&token).unwrap(), b"persisted secret");
    assert_eq!(mode_of(&key_path), 0o600);
}

#[test]
fn environment_key_wins_over_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let from_file = Vault::load_or_create(dir.path(), None).unwrap();
    let env_key = Vault::generate_key();
    let from_env = Vault::load_or_create(dir.path(), Some(&env_key)).unwrap();
    assert_eq!(from_env.origin(), &KeyOrigin::Env);

    let token = Vault::from_keys(&[&env_key]).unwrap().encrypt(b"x-secret");
    assert_eq!(from_env.decrypt(&token).unwrap(), b"x-secret");
    assert!(from_file.decrypt(&token).is_err());
}

#[test]
fn environment_key_set_but_empty_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = Vault::load_or_create(dir.path(), Some("  ")).unwrap_err();
    assert!(err.to_string().contains("CATWALK_VAULT_KEY"), "{err}");
    // Nothing was generated behind the operator's back.
    assert!(!dir.path().join(KEY_FILE).exists());

    let err = Vault::load_or_create(dir.path(), Some("not-a-key")).unwrap_err();
    assert!(err.to_string().contains("CATWALK_VAULT_KEY"), "{err}");
    assert!(!err.to_string().contains("not-a-key"), "{err}");
}

#[test]
fn key_file_readable_by_others_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    Vault::load_or_create(dir.path(), None).unwrap();
    let key_path = dir.path().join(KEY_FILE);
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o644)).unwrap();

    let err = Vault::load_or_create(dir.path(), None).unwrap_err();
    assert!(
        matches!(err, VaultError::InsecureKeyFile { mode: 0o644, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("chmod 600"), "{err}");
}

#[test]
fn empty_key_file_is_an_error_not_a_new_key() {
    let dir = tempfile::tempdir().unwrap();
    catwalk_vault::write_private_file(&dir.path().join(KEY_FILE), b"\n").unwrap();
    let err = Vault::load_or_create(dir.path(), None).unwrap_err();
    assert!(matches!(err, VaultError::NoKey { .. }), "{err:?}");
}

#[test]
fn key_file_may_list_several_keys_one_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let (new_key, old_key) = (Vault::generate_key(), Vault::generate_key());
    catwalk_vault::write_private_file(
        &dir.path().join(KEY_FILE),
        format!("{new_key}\n{old_key}\n").as_bytes(),
    )
    .unwrap();
    let vault = Vault::load_or_create(dir.path(), None).unwrap();
    assert_eq!(vault.key_count(), 2);
    let old_token = Vault::from_keys(&[&old_key]).unwrap().encrypt(b"old");
    assert_eq!(vault.decrypt(&old_token).unwrap(), b"old");
}

#[test]
fn concurrent_first_starts_agree_on_one_key() {
    let dir = tempfile::tempdir().unwrap();
    let vaults: Vec<Vault> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| scope.spawn(|| Vault::load_or_create(dir.path(), None).unwrap()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let token = vaults[0].encrypt(b"shared");
    for vault in &vaults {
        assert_eq!(vault.decrypt(&token).unwrap(), b"shared");
    }
    let generated = vaults
        .iter()
        .filter(|v| matches!(v.origin(), KeyOrigin::Generated(_)))
        .count();
    assert_eq!(generated, 1);
}

#[test]
fn rotation_rewrites_the_key_file_with_every_key_then_with_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let first = Vault::load_or_create(dir.path(), None).unwrap();
    let old_token = first.encrypt(b"stored before the rotation");
    let path = dir.path().join(KEY_FILE);
    let old_file = std::fs::read_to_string(&path).unwrap();

    let rotating = first.begin_rotation().unwrap();
    assert_eq!(rotating.key_count(), 2);
    // Written before anything is re-encrypted: a crash now restarts with both keys.
    let reopened = Vault::load_or_create(dir.path(), None).unwrap();
    assert_eq!(reopened.key_count(), 2);
    assert_eq!(mode_of(&path), 0o600);
    assert_eq!(
        reopened.decrypt(&old_token).unwrap(),
        b"stored before the rotation"
    );
    let rotated = rotating.rotate(&old_token).unwrap();
    assert!(matches!(first.decrypt(&rotated), Err(VaultError::Decrypt)));

    let done = rotating.finish_rotation().unwrap();
    assert_eq!(done.key_count(), 1);
    let reopened = Vault::load_or_create(dir.path(), None).unwrap();
    assert_eq!(reopened.key_count(), 1);
    assert_eq!(mode_of(&path), 0o600);
    assert_ne!(std::fs::read_to_string(&path).unwrap(), old_file);
    assert_eq!(
        reopened.decrypt(&rotated).unwrap(),
        b"stored before the rotation"
    );
    // The old key is gone: what was not re-encrypted can no longer be read.
    assert!(matches!(
        reopened.decrypt(&old_token),
        Err(VaultError::Decrypt)
    ));
    // No staging copy of a key is left beside the file.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, [std::ffi::OsString::from(KEY_FILE)]);
}

#[test]
fn keys_from_the_environment_cannot_be_rotated_by_catwalk() {
    let dir = tempfile::tempdir().unwrap();
    let key = Vault::generate_key();
    let vault = Vault::load_or_create(dir.path(), Some(&key)).unwrap();
    let error = vault.begin_rotation().unwrap_err();
    assert!(matches!(error, VaultError::KeysFromEnv));
    let message = error.to_string();
    assert!(
        message.contains("CATWALK_VAULT_KEY=NEW_KEY,OLD_KEY"),
        "{message}"
    );
    assert!(!message.contains(&key));
    assert!(!dir.path().join(KEY_FILE).exists());
}
