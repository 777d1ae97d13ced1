//! The [`Vault`]: Fernet encryption with an ordered key list (MultiFernet semantics) and the
//! rules for where the key comes from.

use std::fmt;
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use fernet::{Fernet, MultiFernet};

use crate::VaultError;
use crate::private_file::{self, replace_private_file, write_private_file};

/// Environment variable holding the vault key, or a comma-separated list of keys for rotation
/// (the first encrypts, every key decrypts).
pub const KEY_ENV: &str = "CATWALK_VAULT_KEY";

/// Name of the key file inside the data directory, used when [`KEY_ENV`] is not set.
pub const KEY_FILE: &str = "vault.key";

/// Where the keys of a [`Vault`] came from, so the server can log it (never the key itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyOrigin {
    /// From the [`KEY_ENV`] environment variable.
    Env,
    /// From an existing key file.
    File(PathBuf),
    /// Generated just now and written to this file: the operator should back it up, since
    /// every stored secret is lost with it.
    Generated(PathBuf),
    /// Passed to [`Vault::from_keys`].
    Given,
}

/// Fernet encryption with one or more keys: the first key encrypts, all keys are tried to decrypt.
/// Tokens are interchangeable with Python's `cryptography.fernet.Fernet`/`MultiFernet`.
#[derive(Clone)]
pub struct Vault {
    fernet: MultiFernet,
    /// Kept to write the key file again during a rotation; never shown.
    keys: Vec<String>,
    origin: KeyOrigin,
}

// Hand-written so that no key material can ever reach a log line through `{:?}`.
impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault")
            .field("key_count", &self.keys.len())
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl Vault {
    /// Loads the keys from `env_value` (the value of [`KEY_ENV`], passed in so that callers and
    /// tests control the environment) if it is set, otherwise from `<data_dir>/vault.key`,
    /// generating that file (mode 0600) on first start.
    ///
    /// A set but empty `env_value` is an error rather than "unset": silently falling back to a
    /// different key would make every stored secret undecryptable.
    pub fn load_or_create(data_dir: &Path, env_value: Option<&str>) -> Result<Vault, VaultError> {
        if let Some(value) = env_value {
            let keys = split_keys(value);
            if keys.is_empty() {
                return Err(VaultError::NoKey {
                    origin: KEY_ENV.to_string(),
                    hint: format!(
                        "unset it to use {}, or set it to a Fernet key",
                        data_dir.join(KEY_FILE).display()
                    ),
                });
            }
            return Self::build(&keys, KeyOrigin::Env);
        }

        let path = data_dir.join(KEY_FILE);
        let io_err = |source: io::Error| VaultError::Io {
            path: path.clone(),
            source,
        };
        match std::fs::symlink_metadata(&path) {
            Ok(_) => Self::load_file(&path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // The data directory may also hold the database; keep it private when we make it.
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(data_dir)
                    .map_err(io_err)?;
                let key = Self::generate_key();
                match write_private_file(&path, format!("{key}\n").as_bytes()) {
                    Ok(()) => Self::build(&[key.as_str()], KeyOrigin::Generated(path)),
                    // Another process created it first: use theirs, so both agree on one key.
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Self::load_file(&path),
                    Err(e) => Err(io_err(e)),
                }
            }
            Err(e) => Err(io_err(e)),
        }
    }

    fn load_file(path: &Path) -> Result<Vault, VaultError> {
        let contents = private_file::read_private_file(path).map_err(|source| {
            match private_file::insecure_mode(&source) {
                Some(mode) => VaultError::InsecureKeyFile {
                    path: path.to_path_buf(),
                    mode,
                },
                None => VaultError::Io {
                    path: path.to_path_buf(),
                    source,
                },
            }
        })?;
        let keys = split_keys(&contents);
        if keys.is_empty() {
            return Err(VaultError::NoKey {
                origin: format!("key file {}", path.display()),
                hint: "it may be left from an interrupted first start: delete it only if no \
                       secrets were stored with it, or set it to the key they were stored with"
                    .to_string(),
            });
        }
        Self::build(&keys, KeyOrigin::File(path.to_path_buf()))
    }

    /// Builds a vault from explicit keys (the first encrypts). Each entry may itself be a
    /// comma-separated list, as in [`KEY_ENV`].
    pub fn from_keys(keys: &[&str]) -> Result<Vault, VaultError> {
        let keys: Vec<&str> = keys.iter().flat_map(|k| split_keys(k)).collect();
        if keys.is_empty() {
            return Err(VaultError::NoKey {
                origin: "the key list".to_string(),
                hint: "pass at least one Fernet key".to_string(),
            });
        }
        Self::build(&keys, KeyOrigin::Given)
    }

    fn build(keys: &[&str], origin: KeyOrigin) -> Result<Vault, VaultError> {
        let fernets = keys
            .iter()
            .enumerate()
            .map(|(i, key)| {
                Fernet::new(key).ok_or_else(|| VaultError::InvalidKey {
                    origin: origin_label(&origin),
                    index: i + 1,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Vault {
            fernet: MultiFernet::new(fernets),
            keys: keys.iter().map(|k| k.to_string()).collect(),
            origin,
        })
    }

    /// A fresh random key in the format Python's `Fernet.generate_key()` produces.
    pub fn generate_key() -> String {
        Fernet::generate_key()
    }

    /// Encrypts with the first key. The token embeds a timestamp and a random IV, so encrypting
    /// the same plaintext twice gives different tokens.
    pub fn encrypt(&self, plaintext: &[u8]) -> String {
        self.fernet.encrypt(plaintext)
    }

    /// Decrypts with whichever key fits. The error never says which part failed, by design.
    pub fn decrypt(&self, token: &str) -> Result<Vec<u8>, VaultError> {
        self.fernet
            .decrypt(token.trim())
            .map_err(|_| VaultError::Decrypt)
    }

    /// [`Vault::decrypt`] for values that are text.
    pub fn decrypt_string(&self, token: &str) -> Result<String, VaultError> {
        String::from_utf8(self.decrypt(token)?).map_err(|_| VaultError::NotUtf8)
    }

    /// Re-encrypts a token with the first key, like Python's `MultiFernet.rotate`: after adding a
    /// new key in front, rotate every stored token, then drop the old key.
    pub fn rotate(&self, token: &str) -> Result<String, VaultError> {
        Ok(self.encrypt(&self.decrypt(token)?))
    }

    /// How many keys are loaded (1 unless a rotation is in progress).
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// Starts a key rotation: a vault whose fresh first key encrypts from now on, with this
    /// vault's keys behind it to read what is stored. A vault read from the key file writes the
    /// file first, holding every key, so that an interruption at any later point loses nothing.
    /// Keys from [`KEY_ENV`] cannot be changed by Catwalk: the operator puts the new key first
    /// and restarts, and the rotation then only re-encrypts (see [`Vault::key_count`]).
    pub fn begin_rotation(&self) -> Result<Vault, VaultError> {
        if self.origin == KeyOrigin::Env {
            return Err(VaultError::KeysFromEnv);
        }
        let fresh = Self::generate_key();
        let keys: Vec<&str> = std::iter::once(fresh.as_str())
            .chain(self.keys.iter().map(String::as_str))
            .collect();
        let vault = Self::build(&keys, self.origin.clone())?;
        vault.persist()?;
        Ok(vault)
    }

    /// Ends a rotation, once every stored token has been [`Vault::rotate`]d: a vault with the
    /// first key alone, written to the key file when the keys came from it.
    pub fn finish_rotation(&self) -> Result<Vault, VaultError> {
        let vault = Self::build(&[self.keys[0].as_str()], self.origin.clone())?;
        vault.persist()?;
        Ok(vault)
    }

    fn persist(&self) -> Result<(), VaultError> {
        let (KeyOrigin::File(path) | KeyOrigin::Generated(path)) = &self.origin else {
            return Ok(());
        };
        let contents = format!("{}\n", self.keys.join("\n"));
        replace_private_file(path, contents.as_bytes()).map_err(|source| VaultError::Io {
            path: path.clone(),
            source,
        })
    }

    /// Where the keys came from.
    pub fn origin(&self) -> &KeyOrigin {
        &self.origin
    }
}

/// Keys are separated by commas (as in the environment variable) or by whitespace and newlines
/// (as is natural in a file).
fn split_keys(value: &str) -> Vec<&str> {
    value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|k| !k.is_empty())
        .collect()
}

fn origin_label(origin: &KeyOrigin) -> String {
    match origin {
        KeyOrigin::Env => KEY_ENV.to_string(),
        KeyOrigin::File(path) | KeyOrigin::Generated(path) => {
            format!("key file {}", path.display())
        }
        KeyOrigin::Given => "the key list".to_string(),
    }
}
