//! Single sign-on: provider accounts linked to users, and sign-ins in progress.
//!
//! An identity is found by `(provider, issuer, subject)` alone. Usernames and emails never
//! decide whom an identity belongs to: someone else may hold the same name at the provider.

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Store, StoreError, User, now_millis};

/// A provider account linked to a user (no provider token: none is kept).
#[derive(Clone, Debug, Serialize)]
pub struct Identity {
    pub provider: String,
    pub issuer: String,
    #[serde(skip)]
    pub subject: String,
    /// The provider's name for the account as of the last sign-in.
    pub login: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Who a provider says signed in.
#[derive(Clone, Copy, Debug)]
pub struct ProviderAccount<'a> {
    pub provider: &'a str,
    pub issuer: &'a str,
    pub subject: &'a str,
    pub login: &'a str,
}

/// A sign-in begun and not yet back from the provider.
#[derive(Clone, Debug)]
pub struct SignInFlow {
    pub provider: String,
    pub state: String,
    pub pkce_verifier: String,
    pub nonce: String,
    /// The signed-in user who asked to link an account, if any.
    pub link_user_id: Option<String>,
    pub expires_at: i64,
}

/// What [`Store::link_identity`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Linked {
    /// Newly linked to the user.
    New,
    /// It was the user's already.
    Already,
    /// Another user holds it: nothing changed.
    OtherUser,
}

const USER_COLUMNS: &str = "u.id, u.username, u.role, u.password_hash, u.created_at, u.updated_at";

fn user_from_row(row: &AnyRow) -> Result<User, StoreError> {
    Ok(User {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        role: row.try_get("role")?,
        password_hash: row.try_get("password_hash")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    /// The user an account is linked to, its login refreshed to what the provider says now.
    pub async fn user_of_identity(
        &self,
        account: &ProviderAccount<'_>,
    ) -> Result<Option<User>, StoreError> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM identities i JOIN users u ON u.id = i.user_id \
             WHERE i.provider = $1 AND i.issuer = $2 AND i.subject = $3"
        );
        let user = sqlx::query(&sql)
            .bind(account.provider)
            .bind(account.issuer)
            .bind(account.subject)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(user_from_row)
            .transpose()?;
        if user.is_some() {
            sqlx::query(
                "UPDATE identities SET login = $1, updated_at = $2 \
                 WHERE provider = $3 AND issuer = $4 AND subject = $5 AND login <> $1",
            )
            .bind(account.login)
            .bind(now_millis())
            .bind(account.provider)
            .bind(account.issuer)
            .bind(account.subject)
            .execute(&self.pool)
            .await?;
        }
        Ok(user)
    }

    /// Creates a user together with their first identity, in one transaction.
    /// `Conflict` when the username is taken or the identity is linked already (a concurrent
    /// first sign-in of the same account): the caller looks again.
    pub async fn create_user_with_identity(
        &self,
        username: &str,
        role: &str,
        account: &ProviderAccount<'_>,
    ) -> Result<User, StoreError> {
        let id = uuid::Uuid::new_v4().to_string();
        let now = now_millis();
        let mut tx = self.pool.begin().await?;
        let conflict = |e: sqlx::Error, what: String| match e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what),
            other => other.into(),
        };
        sqlx::query(
            "INSERT INTO users (id, username, password_hash, role, created_at, updated_at) \
             VALUES ($1, $2, NULL, $3, $4, $4)",
        )
        .bind(&id)
        .bind(username)
        .bind(role)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict(e, format!("a user named `{username}` already exists")))?;
        sqlx::query(
            "INSERT INTO identities (provider, issuer, subject, user_id, login, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
        )
        .bind(account.provider)
        .bind(account.issuer)
        .bind(account.subject)
        .bind(&id)
        .bind(account.login)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict(e, "the account is linked already".to_string()))?;
        tx.commit().await?;
        Ok(User {
            id,
            username: username.to_string(),
            role: role.to_string(),
            password_hash: None,
            created_at: now,
            updated_at: now,
        })
    }

    /// Links an account to an existing user, unless another user holds it.
    pub async fn link_identity(
        &self,
        user_id: &str,
        account: &ProviderAccount<'_>,
    ) -> Result<Linked, StoreError> {
        let now = now_millis();
        let inserted = sqlx::query(
            "INSERT INTO identities (provider, issuer, subject, user_id, login, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
        )
        .bind(account.provider)
        .bind(account.issuer)
        .bind(account.subject)
        .bind(user_id)
        .bind(account.login)
        .bind(now)
        .execute(&self.pool)
        .await;
        match inserted {
            Ok(_) => Ok(Linked::New),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                let holder: Option<String> = sqlx::query_scalar(
                    "SELECT user_id FROM identities \
                     WHERE provider = $1 AND issuer = $2 AND subject = $3",
                )
                .bind(account.provider)
                .bind(account.issuer)
                .bind(account.subject)
                .fetch_optional(&self.pool)
                .await?;
                Ok(if holder.as_deref() == Some(user_id) {
                    Linked::Already
                } else {
                    Linked::OtherUser
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// A user's linked accounts, oldest first.
    pub async fn list_identities(&self, user_id: &str) -> Result<Vec<Identity>, StoreError> {
        let rows = sqlx::query(
            "SELECT provider, issuer, subject, login, created_at, updated_at FROM identities \
             WHERE user_id = $1 ORDER BY created_at, provider",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Identity {
                    provider: row.try_get("provider")?,
                    issuer: row.try_get("issuer")?,
                    subject: row.try_get("subject")?,
                    login: row.try_get("login")?,
                    created_at: row.try_get("created_at")?,
                    updated_at: row.try_get("updated_at")?,
                })
            })
            .collect()
    }

    /// Remembers a sign-in in progress under the hash of the id its browser holds, and
    /// forgets the ones that expired.
    pub async fn create_sign_in_flow(
        &self,
        id_hash: &str,
        flow: &SignInFlow,
    ) -> Result<(), StoreError> {
        let now = now_millis();
        sqlx::query("DELETE FROM sign_in_flows WHERE expires_at < $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO sign_in_flows (id_hash, provider, state, pkce_verifier, nonce, \
             link_user_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id_hash)
        .bind(&flow.provider)
        .bind(&flow.state)
        .bind(&flow.pkce_verifier)
        .bind(&flow.nonce)
        .bind(&flow.link_user_id)
        .bind(now)
        .bind(flow.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Takes a sign-in in progress: it can be taken once, and not after it expired.
    pub async fn take_sign_in_flow(&self, id_hash: &str) -> Result<Option<SignInFlow>, StoreError> {
        let row = sqlx::query(
            "DELETE FROM sign_in_flows WHERE id_hash = $1 RETURNING provider, state, \
             pkce_verifier, nonce, link_user_id, expires_at",
        )
        .bind(id_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let flow = SignInFlow {
            provider: row.try_get("provider")?,
            state: row.try_get("state")?,
            pkce_verifier: row.try_get("pkce_verifier")?,
            nonce: row.try_get("nonce")?,
            link_user_id: row.try_get("link_user_id")?,
            expires_at: row.try_get("expires_at")?,
        };
        Ok((flow.expires_at >= now_millis()).then_some(flow))
    }
}
