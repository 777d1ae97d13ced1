//! Bearer tokens: generated here, stored only as hashes, compared in constant time.
//!
//! A token is 256 bits from the OS random generator, so a single fast SHA-256 is enough to store
//! it: there is nothing to brute-force, unlike a password, and a slow KDF would only cost CPU on
//! every request.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A new random token `<prefix>_<43 url-safe base64 characters>`. The readable prefix tells a
/// human (and secret scanners) what kind of token leaked.
pub fn new_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{prefix}_{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The lowercase hex SHA-256 of a token: the only form in which tokens are stored.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether `token` hashes to `hash` (as produced by [`hash_token`]; hex case is ignored).
/// The comparison takes the same time wherever the first difference is.
pub fn token_matches(token: &str, hash: &str) -> bool {
    let expected = hash_token(token);
    let stored = hash.trim().to_ascii_lowercase();
    expected.as_bytes().ct_eq(stored.as_bytes()).into()
}
