//! catwalk-vault: every secret Catwalk keeps at rest goes through here.
//!
//! - [`Vault`] encrypts and decrypts with Fernet, byte-compatible with Python's
//!   `cryptography.fernet` so keys and ciphertexts from the original Catwalk migrate as they are.
//!   Several keys may be loaded at once (the first encrypts, all decrypt) to rotate keys.
//! - [`new_token`], [`hash_token`], [`token_matches`] handle bearer tokens, which are stored
//!   only as hashes.
//! - [`Redactor`] scrubs known secret values from text before it is logged or shown.
//! - [`write_private_file`] and [`read_private_file`] keep small secret files (the vault key, the
//!   admin token) readable by their owner only.
//!
//! Invariant: no error message or `Debug` output of this crate contains key material, a token or
//! a plaintext.

mod private_file;
mod redact;
mod token;
mod vault;

pub use private_file::{read_private_file, replace_private_file, write_private_file};
pub use redact::{REDACTED, Redactor};
pub use token::{hash_token, new_token, token_matches};
pub use vault::{KEY_ENV, KEY_FILE, KeyOrigin, Vault};

use std::path::PathBuf;

/// Everything that can go wrong in the vault. Messages name the place to look (the environment
/// variable, the file) but never a key, token or plaintext.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// A key is not 32 bytes of url-safe base64. `origin` says where it came from, `index` is
    /// 1-based within that origin's comma-separated list.
    #[error(
        "vault key #{index} from {origin} is not a valid Fernet key: expected 32 random bytes \
         encoded as url-safe base64 (44 characters, as produced by Python's \
         `Fernet.generate_key()`)"
    )]
    InvalidKey { origin: String, index: usize },
    /// A rotation was asked for while the keys come from the environment, which Catwalk cannot
    /// rewrite.
    #[error(
        "the vault keys come from {env}, which Catwalk cannot change: generate a key (`python3 \
         -c 'import base64,os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())'`), set \
         {env}=NEW_KEY,OLD_KEY, restart Catwalk, and rotate again: that re-encrypts every secret \
         under NEW_KEY, after which OLD_KEY can be removed",
        env = KEY_ENV
    )]
    KeysFromEnv,
    /// A key source was present but held no key at all.
    #[error("{origin} is set but contains no key; {hint}")]
    NoKey { origin: String, hint: String },
    /// The ciphertext is malformed, was tampered with, or was made with a key we do not hold.
    #[error("invalid token or wrong key")]
    Decrypt,
    /// The decrypted bytes were expected to be text but are not UTF-8.
    #[error("decrypted value is not valid UTF-8")]
    NotUtf8,
    /// The key file grants access to other users, so the key must be considered exposed.
    #[error(
        "vault key file {path} is accessible by other users (mode {mode:o}); run `chmod 600 {path}` \
         (and consider rotating the key), or pass the key in {env} instead",
        path = path.display(),
        env = KEY_ENV
    )]
    InsecureKeyFile { path: PathBuf, mode: u32 },
    /// Reading or creating the key file or its directory failed.
    #[error("vault key file {path}: {source}", path = path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
