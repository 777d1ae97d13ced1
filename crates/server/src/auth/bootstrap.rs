//! The first admin. There is no default password anywhere: at first start Catwalk creates the
//! user `admin` without a password and an API token for it, written once to the data
//! directory's `admin-token` file (0600) for the local CLI. With that token the admin signs in
//! to the dashboard, sets a password (`catwalk passwd`) and adds users.

use std::path::Path;

use anyhow::Context;
use catwalk_store::{NewApiToken, Store};

use super::{ADMIN, SCOPES};

/// The file in the data directory that holds the first admin's API token.
pub const ADMIN_TOKEN_FILE: &str = "admin-token";
/// Where Catwalk kept the admin token's hash before it had users.
const LEGACY_ADMIN_TOKEN_SETTING: &str = "admin_token_hash";
const ADMIN_TOKEN_NAME: &str = "admin-token file";

/// Creates the admin and its token at first start (or takes over the token of a Catwalk from
/// before accounts), and gives deployments without an owner to the first admin.
pub async fn ensure_admin(store: &Store, data_dir: &Path) -> anyhow::Result<()> {
    let file = data_dir.join(ADMIN_TOKEN_FILE);
    let admin = match store
        .list_users()
        .await?
        .into_iter()
        .find(|u| u.role == ADMIN)
    {
        Some(admin) => admin,
        None => {
            let admin = store.create_user("admin", ADMIN, None).await?;
            let scopes: Vec<String> = SCOPES.iter().map(|s| s.to_string()).collect();
            let legacy = store.get_setting(LEGACY_ADMIN_TOKEN_SETTING).await?;
            let token_hash = match legacy {
                // The file the CLI already reads stays valid.
                Some(hash) => hash,
                None => {
                    let token = catwalk_vault::new_token("cwa");
                    if file.exists() {
                        // A data directory from another database: its token is stale.
                        std::fs::remove_file(&file)
                            .with_context(|| format!("cannot replace {}", file.display()))?;
                    }
                    catwalk_vault::write_private_file(&file, token.as_bytes())
                        .with_context(|| format!("cannot write {}", file.display()))?;
                    catwalk_vault::hash_token(&token)
                }
            };
            store
                .create_api_token(&NewApiToken {
                    user_id: &admin.id,
                    name: ADMIN_TOKEN_NAME,
                    token_hash: &token_hash,
                    scopes: &scopes,
                    expires_at: None,
                })
                .await?;
            store.delete_setting(LEGACY_ADMIN_TOKEN_SETTING).await?;
            tracing::info!(
                "created the user `admin` (no password yet) and its API token in {}",
                file.display()
            );
            admin
        }
    };
    let adopted = store.adopt_unowned_deployments(&admin.id).await?;
    if adopted > 0 {
        tracing::info!(
            "gave {adopted} deployment(s) from before accounts to `{}`",
            admin.username
        );
    }
    Ok(())
}
