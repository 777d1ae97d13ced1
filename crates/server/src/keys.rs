//! The vault as the running server holds it: shared by every task, and replaced during a key
//! rotation without stopping anything.
//!
//! A rotation puts a fresh key in front (written to the key file first, so an interruption
//! loses nothing), re-encrypts every stored secret under it, then drops the old keys. Writers
//! of secrets hold a read guard from encryption until their row is stored, and the rotation
//! swaps keys under the write guard: so every row written with an old key is stored before the
//! rotation lists the rows, and every later row is already under the new key.

use catwalk_store::{Store, StoreError};
use catwalk_vault::{KeyOrigin, Vault, VaultError};
use serde::Serialize;
use tokio::sync::{Mutex, RwLock, RwLockReadGuard};

pub struct Keys {
    vault: RwLock<Vault>,
    /// One rotation at a time.
    rotating: Mutex<()>,
}

/// What a rotation did, for the API and the CLI.
#[derive(Debug, Serialize)]
pub struct Rotation {
    /// Deployments whose credentials were re-encrypted under the new key.
    pub reencrypted: usize,
    /// Deployments whose credentials no loaded key can read (stored under a key that was lost
    /// earlier): left as they are, and named so that their owners can enter them again.
    pub unreadable: Vec<String>,
    /// Where the key now lives, and what the operator still has to do, in words.
    pub key: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Keys {
    pub fn new(vault: Vault) -> Keys {
        Keys {
            vault: RwLock::new(vault),
            rotating: Mutex::new(()),
        }
    }

    /// The current vault. Hold the guard until a secret encrypted with it is stored.
    pub async fn read(&self) -> RwLockReadGuard<'_, Vault> {
        self.vault.read().await
    }

    /// Re-encrypts every stored secret under a new key, while everything keeps running.
    ///
    /// When several keys are loaded already (an earlier rotation was interrupted, or the
    /// operator listed a new key first in `CATWALK_VAULT_KEY`), no key is added: the secrets
    /// are re-encrypted under the first one.
    pub async fn rotate(&self, store: &Store) -> Result<Rotation, RotateError> {
        let _one_at_a_time = self.rotating.lock().await;
        let current = self.vault.read().await.clone();
        let rotating = if current.key_count() > 1 {
            current
        } else {
            current.begin_rotation()?
        };
        *self.vault.write().await = rotating.clone();

        let mut reencrypted = 0;
        let mut unreadable = Vec::new();
        for (name, ciphertext) in store.list_credentials().await? {
            let Ok(plain) = rotating.decrypt(&ciphertext) else {
                unreadable.push(name);
                continue;
            };
            // A false swap means the row was written meanwhile, under the new key already.
            if store
                .swap_credentials(&name, &ciphertext, &rotating.encrypt(&plain))
                .await?
            {
                reencrypted += 1;
            }
        }

        let done = rotating.finish_rotation()?;
        let key = match done.origin() {
            KeyOrigin::Env => format!(
                "every secret is now under the first key of {}; remove the other keys from it",
                catwalk_vault::KEY_ENV
            ),
            KeyOrigin::File(path) | KeyOrigin::Generated(path) => format!(
                "the new key replaced the old one in {}; back that file up again",
                path.display()
            ),
            KeyOrigin::Given => "the new key is held in memory only".to_string(),
        };
        *self.vault.write().await = done;
        Ok(Rotation {
            reencrypted,
            unreadable,
            key,
        })
    }
}
