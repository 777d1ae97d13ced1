//! The OAuth authorization server's state: registered clients, grants, authorization codes and
//! tokens.
//!
//! Codes and tokens arrive hashed (SHA-256, see catwalk-vault). The rules that make them safe
//! live in the queries, so that two racing requests cannot both win: a code or a refresh token is
//! consumed by an `UPDATE … WHERE used_at IS NULL` whose row count says who got it, and an access
//! token is valid only while its grant stands, its deployment still has that name and still
//! belongs to the user who granted it.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Store, StoreError, now_millis};

/// A dynamically registered client (RFC 7591): its id and the metadata it was registered with.
#[derive(Clone, Debug)]
pub struct OAuthClient {
    pub id: String,
    /// JSON text, as returned by the registration response.
    pub metadata: String,
    pub created_at: i64,
}

/// What an authorization code stands for, as stored when the user approved the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthCode {
    pub client_id: String,
    pub user_id: String,
    pub deployment_id: String,
    pub resource: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub scope: Option<String>,
    pub expires_at: i64,
}

/// One user's consent for one client to reach one deployment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthGrant {
    pub id: String,
    pub client_id: String,
    pub user_id: String,
    pub deployment_id: String,
    pub resource: String,
    pub scope: Option<String>,
    pub revoked_at: Option<i64>,
}

/// What happened to an attempt to consume a code or a refresh token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Consumed<T> {
    /// First use: here is what it stood for.
    Fresh(T),
    /// Unknown, or expired.
    Unknown,
    /// Used before (a replay): the grant it produced, if any, has been revoked.
    Replayed,
}

/// The kinds of token in `oauth_tokens`.
pub const ACCESS: &str = "access";
pub const REFRESH: &str = "refresh";

const GRANT_COLUMNS: &str =
    "g.id, g.client_id, g.user_id, g.deployment_id, g.resource, g.scope, g.revoked_at";

fn grant_from_row(row: &AnyRow) -> Result<OAuthGrant, StoreError> {
    Ok(OAuthGrant {
        id: row.try_get("id")?,
        client_id: row.try_get("client_id")?,
        user_id: row.try_get("user_id")?,
        deployment_id: row.try_get("deployment_id")?,
        resource: row.try_get("resource")?,
        scope: row.try_get("scope")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

impl Store {
    /// Stores a dynamically registered client.
    pub async fn create_oauth_client(&self, id: &str, metadata: &str) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO oauth_clients (id, metadata, created_at) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(metadata)
            .bind(now_millis())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn get_oauth_client(&self, id: &str) -> Result<Option<OAuthClient>, StoreError> {
        let row = sqlx::query("SELECT id, metadata, created_at FROM oauth_clients WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(OAuthClient {
                id: row.try_get("id")?,
                metadata: row.try_get("metadata")?,
                created_at: row.try_get("created_at")?,
            })
        })
        .transpose()
    }

    /// How many clients are registered (registration refuses more than a limit).
    pub async fn count_oauth_clients(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM oauth_clients")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    /// Stores an authorization code (its hash) for what the user approved.
    pub async fn create_oauth_code(
        &self,
        code_hash: &str,
        code: &OAuthCode,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO oauth_codes (code_hash, client_id, user_id, deployment_id, resource, \
             redirect_uri, code_challenge, scope, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(code_hash)
        .bind(&code.client_id)
        .bind(&code.user_id)
        .bind(&code.deployment_id)
        .bind(&code.resource)
        .bind(&code.redirect_uri)
        .bind(&code.code_challenge)
        .bind(&code.scope)
        .bind(now_millis())
        .bind(code.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Marks a code used and returns what it stood for. A code used before is a replay: the
    /// grant it produced is revoked, with every token of it (OAuth 2.1, section 4.1.3).
    pub async fn consume_oauth_code(
        &self,
        code_hash: &str,
    ) -> Result<Consumed<OAuthCode>, StoreError> {
        let now = now_millis();
        let row = sqlx::query(
            "SELECT client_id, user_id, deployment_id, resource, redirect_uri, code_challenge, \
             scope, expires_at, used_at, grant_id FROM oauth_codes WHERE code_hash = $1",
        )
        .bind(code_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(Consumed::Unknown);
        };
        let used_at: Option<i64> = row.try_get("used_at")?;
        if used_at.is_some() {
            if let Some(grant_id) = row.try_get::<Option<String>, _>("grant_id")? {
                self.revoke_oauth_grant(&grant_id).await?;
            }
            return Ok(Consumed::Replayed);
        }
        let code = OAuthCode {
            client_id: row.try_get("client_id")?,
            user_id: row.try_get("user_id")?,
            deployment_id: row.try_get("deployment_id")?,
            resource: row.try_get("resource")?,
            redirect_uri: row.try_get("redirect_uri")?,
            code_challenge: row.try_get("code_challenge")?,
            scope: row.try_get("scope")?,
            expires_at: row.try_get("expires_at")?,
        };
        let taken = sqlx::query(
            "UPDATE oauth_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL",
        )
        .bind(now)
        .bind(code_hash)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if taken != 1 {
            // Another request consumed it between the read and the update.
            return Ok(Consumed::Replayed);
        }
        if code.expires_at <= now {
            return Ok(Consumed::Unknown);
        }
        Ok(Consumed::Fresh(code))
    }

    /// Creates the grant a code was exchanged for and records it on the code.
    pub async fn create_oauth_grant(
        &self,
        code_hash: &str,
        code: &OAuthCode,
    ) -> Result<OAuthGrant, StoreError> {
        let id = uuid::Uuid::new_v4().to_string();
        sqlx::query(
            "INSERT INTO oauth_grants (id, client_id, user_id, deployment_id, resource, scope, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&id)
        .bind(&code.client_id)
        .bind(&code.user_id)
        .bind(&code.deployment_id)
        .bind(&code.resource)
        .bind(&code.scope)
        .bind(now_millis())
        .execute(&self.pool)
        .await?;
        sqlx::query("UPDATE oauth_codes SET grant_id = $1 WHERE code_hash = $2")
            .bind(&id)
            .bind(code_hash)
            .execute(&self.pool)
            .await?;
        Ok(OAuthGrant {
            id,
            client_id: code.client_id.clone(),
            user_id: code.user_id.clone(),
            deployment_id: code.deployment_id.clone(),
            resource: code.resource.clone(),
            scope: code.scope.clone(),
            revoked_at: None,
        })
    }

    /// Revokes a grant: none of its tokens works any more.
    pub async fn revoke_oauth_grant(&self, grant_id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE oauth_grants SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now_millis())
            .bind(grant_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Stores a token (its hash) of a grant.
    pub async fn create_oauth_token(
        &self,
        token_hash: &str,
        grant_id: &str,
        kind: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO oauth_tokens (token_hash, grant_id, kind, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(grant_id)
        .bind(kind)
        .bind(now_millis())
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Consumes a refresh token: its grant when it is fresh, unexpired and its grant stands. A
    /// refresh token used before is a replay (someone holds a copy): its whole grant is revoked.
    pub async fn consume_oauth_refresh_token(
        &self,
        token_hash: &str,
    ) -> Result<Consumed<OAuthGrant>, StoreError> {
        let now = now_millis();
        let sql = format!(
            "SELECT {GRANT_COLUMNS}, t.expires_at AS token_expires_at, t.used_at AS token_used_at \
             FROM oauth_tokens t JOIN oauth_grants g ON g.id = t.grant_id \
             WHERE t.token_hash = $1 AND t.kind = $2"
        );
        let row = sqlx::query(&sql)
            .bind(token_hash)
            .bind(REFRESH)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Ok(Consumed::Unknown);
        };
        let grant = grant_from_row(&row)?;
        if row.try_get::<Option<i64>, _>("token_used_at")?.is_some() {
            self.revoke_oauth_grant(&grant.id).await?;
            return Ok(Consumed::Replayed);
        }
        let expires_at: i64 = row.try_get("token_expires_at")?;
        if grant.revoked_at.is_some() || expires_at <= now {
            return Ok(Consumed::Unknown);
        }
        let taken = sqlx::query(
            "UPDATE oauth_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL",
        )
        .bind(now)
        .bind(token_hash)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if taken != 1 {
            self.revoke_oauth_grant(&grant.id).await?;
            return Ok(Consumed::Replayed);
        }
        Ok(Consumed::Fresh(grant))
    }

    /// The grant of a valid access token for the deployment named `deployment`: unexpired,
    /// its grant not revoked, the deployment the very one it was issued for (by id, so a new
    /// deployment reusing a name does not inherit tokens) and still owned by the user who
    /// granted it. One query: this runs on every MCP request that carries such a token.
    pub async fn oauth_access_grant(
        &self,
        token_hash: &str,
        deployment: &str,
    ) -> Result<Option<OAuthGrant>, StoreError> {
        let sql = format!(
            "SELECT {GRANT_COLUMNS} FROM oauth_tokens t \
             JOIN oauth_grants g ON g.id = t.grant_id \
             JOIN deployments d ON d.id = g.deployment_id \
             WHERE t.token_hash = $1 AND t.kind = $2 AND t.expires_at > $3 \
             AND g.revoked_at IS NULL AND d.name = $4 AND d.owner_id = g.user_id"
        );
        let row = sqlx::query(&sql)
            .bind(token_hash)
            .bind(ACCESS)
            .bind(now_millis())
            .bind(deployment)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(grant_from_row).transpose()
    }

    /// Forgets codes and tokens that expired more than a day ago (their hashes are useless).
    pub async fn purge_expired_oauth(&self) -> Result<u64, StoreError> {
        let before = now_millis() - 24 * 3600 * 1000;
        let codes = sqlx::query("DELETE FROM oauth_codes WHERE expires_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?
            .rows_affected();
        let tokens = sqlx::query("DELETE FROM oauth_tokens WHERE expires_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(codes + tokens)
    }
}
