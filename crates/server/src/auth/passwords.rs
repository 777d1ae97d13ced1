//! Passwords: argon2id hashes in PHC form, computed off the async threads (each takes tens of
//! milliseconds of CPU on purpose).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Argon2, password_hash::rand_core::OsRng};

/// The shortest password Catwalk accepts.
pub const MIN_LENGTH: usize = 12;

/// Why a password is refused, in words for the person choosing it.
pub fn check_policy(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_LENGTH {
        return Err(format!(
            "the password must have at least {MIN_LENGTH} characters"
        ));
    }
    if password.len() > 1024 {
        return Err("the password must have at most 1024 bytes".to_string());
    }
    Ok(())
}

/// The argon2id PHC string of `password` with a fresh salt (argon2's recommended parameters).
pub async fn hash(password: String) -> String {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .expect("argon2id hashes any password with the default parameters")
            .to_string()
    })
    .await
    .expect("the hashing task does not panic")
}

/// Whether `password` matches the PHC string. With no stored hash (an unknown user or one
/// without a password) a hash is still verified, so that the answer takes as long either way
/// and does not tell which usernames exist.
pub async fn verify(password: String, stored: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let phc = stored.unwrap_or_else(|| DECOY.to_string());
        let Ok(parsed) = PasswordHash::new(&phc) else {
            return false;
        };
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        known && matches
    })
    .await
    .expect("the verifying task does not panic")
}

/// The hash of a random password nobody knows, with the default parameters: the work done for
/// an unknown user.
const DECOY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$\
                     m0ZZ5Gbe5cYoxWHTEjWHmIU9C6GbwBR6E0J7KHcrFt0";

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_differ_by_salt() {
        let first = hash("correct horse battery".into()).await;
        let second = hash("correct horse battery".into()).await;
        assert!(first.starts_with("$argon2id$v=19$"), "{first}");
        assert_ne!(first, second, "each hash has its own salt");
        assert!(verify("correct horse battery".into(), Some(first.clone())).await);
        assert!(!verify("correct horse batterY".into(), Some(first)).await);
        assert!(!verify("anything".into(), None).await);
        assert!(!verify("anything".into(), Some("not a phc string".into())).await);
    }

    #[test]
    fn the_decoy_is_a_valid_hash_with_the_default_parameters() {
        let parsed = PasswordHash::new(DECOY).unwrap();
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        assert_eq!(parsed.params.get_decimal("m"), Some(19456));
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(check_policy("short").unwrap_err().contains("12"));
        assert!(check_policy("twelve chars").is_ok());
        assert!(check_policy(&"x".repeat(2000)).is_err());
    }
}
