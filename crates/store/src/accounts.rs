//! Users, their API tokens and their browser sessions.
//!
//! Secrets arrive hashed: passwords as argon2id PHC strings, tokens and session ids as SHA-256
//! hashes (see catwalk-vault). Lookups by token hash return the token's user in the same query,
//! so authenticating a request is one round trip.

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Store, StoreError, now_millis};

/// A person (or a machine account) who signs in and owns deployments.
#[derive(Clone, Debug, Serialize)]
pub struct User {
    pub id: String,
    pub username: String,
    /// `admin` or `member` (the caller gives them meaning).
    pub role: String,
    #[serde(skip)]
    pub password_hash: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// An API token as stored: never the token itself.
#[derive(Clone, Debug, Serialize)]
pub struct ApiToken {
    pub id: String,
    #[serde(skip)]
    pub user_id: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

/// What the caller supplies to create an API token.
#[derive(Clone, Debug)]
pub struct NewApiToken<'a> {
    pub user_id: &'a str,
    pub name: &'a str,
    pub token_hash: &'a str,
    pub scopes: &'a [String],
    pub expires_at: Option<i64>,
}

/// A browser session: its user and the CSRF token its forms must carry.
#[derive(Clone, Debug)]
pub struct WebSession {
    pub user: User,
    pub csrf_token: String,
    pub expires_at: i64,
}

const USER_COLUMNS: &str = "u.id, u.username, u.role, u.password_hash, u.created_at, u.updated_at";
const TOKEN_COLUMNS: &str = "t.id, t.user_id, t.name, t.scopes, t.created_at, t.expires_at, \
                             t.revoked_at, t.last_used_at";

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

fn token_from_row(row: &AnyRow) -> Result<ApiToken, StoreError> {
    let scopes: String = row.try_get("scopes")?;
    Ok(ApiToken {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        name: row.try_get("name")?,
        scopes: serde_json::from_str(&scopes).map_err(|e| {
            StoreError::Corrupt(format!("an API token's scopes are not a JSON list: {e}"))
        })?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
        last_used_at: row.try_get("last_used_at")?,
    })
}

impl Store {
    /// Creates a user with a new UUID; `Conflict` if the username is taken.
    pub async fn create_user(
        &self,
        username: &str,
        role: &str,
        password_hash: Option<&str>,
    ) -> Result<User, StoreError> {
        let id = uuid::Uuid::new_v4().to_string();
        let now = now_millis();
        let inserted = sqlx::query(
            "INSERT INTO users (id, username, password_hash, role, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(&id)
        .bind(username)
        .bind(password_hash)
        .bind(role)
        .bind(now)
        .execute(&self.pool)
        .await;
        match inserted {
            Ok(_) => {}
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(StoreError::Conflict(format!(
                    "a user named `{username}` already exists"
                )));
            }
            Err(e) => return Err(e.into()),
        }
        Ok(User {
            id,
            username: username.to_string(),
            role: role.to_string(),
            password_hash: password_hash.map(str::to_string),
            created_at: now,
            updated_at: now,
        })
    }

    pub async fn get_user(&self, id: &str) -> Result<Option<User>, StoreError> {
        self.user_where("u.id = $1", id).await
    }

    pub async fn get_user_by_name(&self, username: &str) -> Result<Option<User>, StoreError> {
        self.user_where("u.username = $1", username).await
    }

    async fn user_where(&self, condition: &str, value: &str) -> Result<Option<User>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE {condition}");
        sqlx::query(&sql)
            .bind(value)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(user_from_row)
            .transpose()
    }

    /// Every user, ordered by username.
    pub async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u ORDER BY u.username");
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        rows.iter().map(user_from_row).collect()
    }

    /// How many users hold `role`.
    pub async fn count_users_with_role(&self, role: &str) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = $1")
                .bind(role)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Replaces a user's password hash (`None`: no password sign-in). `NotFound` for an unknown
    /// id. Every browser session of the user ends: whoever knew the old password is signed out.
    pub async fn set_password_hash(
        &self,
        user_id: &str,
        password_hash: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let updated =
            sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
                .bind(password_hash)
                .bind(now_millis())
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if updated == 0 {
            return Err(StoreError::NotFound(user_id.to_string()));
        }
        sqlx::query("DELETE FROM web_sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Changes a user's role; `NotFound` for an unknown id.
    pub async fn set_role(&self, user_id: &str, role: &str) -> Result<(), StoreError> {
        let updated = sqlx::query("UPDATE users SET role = $1, updated_at = $2 WHERE id = $3")
            .bind(role)
            .bind(now_millis())
            .bind(user_id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if updated == 0 {
            return Err(StoreError::NotFound(user_id.to_string()));
        }
        Ok(())
    }

    /// Removes a user with their tokens and sessions. `Conflict` while they own deployments
    /// (those hold credentials and running servers: they are removed first, on purpose).
    pub async fn delete_user(&self, user_id: &str) -> Result<bool, StoreError> {
        let owned: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM deployments WHERE owner_id = $1")
            .bind(user_id)
            .fetch_one(&self.pool)
            .await?;
        if owned > 0 {
            return Err(StoreError::Conflict(format!(
                "the user owns {owned} deployment(s); remove them first"
            )));
        }
        let deleted = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(user_id)
            .execute(&self.pool)
            .await;
        match deleted {
            Ok(done) => Ok(done.rows_affected() > 0),
            // A deployment created between the count and the delete.
            Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => Err(
                StoreError::Conflict("the user owns deployments; remove them first".to_string()),
            ),
            Err(e) => Err(e.into()),
        }
    }

    /// Stores a new API token (its hash) and returns it.
    pub async fn create_api_token(&self, new: &NewApiToken<'_>) -> Result<ApiToken, StoreError> {
        let id = uuid::Uuid::new_v4().to_string();
        let now = now_millis();
        let scopes = serde_json::to_string(new.scopes).expect("strings serialize");
        sqlx::query(
            "INSERT INTO api_tokens (id, user_id, name, token_hash, scopes, created_at, \
             expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&id)
        .bind(new.user_id)
        .bind(new.name)
        .bind(new.token_hash)
        .bind(&scopes)
        .bind(now)
        .bind(new.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(ApiToken {
            id,
            user_id: new.user_id.to_string(),
            name: new.name.to_string(),
            scopes: new.scopes.to_vec(),
            created_at: now,
            expires_at: new.expires_at,
            revoked_at: None,
            last_used_at: None,
        })
    }

    /// The live token with this hash and its user: `None` when unknown, revoked or expired.
    pub async fn find_api_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<(ApiToken, User)>, StoreError> {
        let sql = format!(
            "SELECT {TOKEN_COLUMNS}, u.username, u.role, u.password_hash, \
             u.created_at AS user_created_at, u.updated_at AS user_updated_at \
             FROM api_tokens t JOIN users u ON u.id = t.user_id \
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL \
             AND (t.expires_at IS NULL OR t.expires_at > $2)"
        );
        let Some(row) = sqlx::query(&sql)
            .bind(token_hash)
            .bind(now_millis())
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let token = token_from_row(&row)?;
        let user = User {
            id: token.user_id.clone(),
            username: row.try_get("username")?,
            role: row.try_get("role")?,
            password_hash: row.try_get("password_hash")?,
            created_at: row.try_get("user_created_at")?,
            updated_at: row.try_get("user_updated_at")?,
        };
        Ok(Some((token, user)))
    }

    /// Notes when a token was last used (callers do this at most now and then, not per request).
    pub async fn touch_api_token(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
            .bind(now_millis())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A user's tokens, newest first, revoked ones included (they show when and what).
    pub async fn list_api_tokens(&self, user_id: &str) -> Result<Vec<ApiToken>, StoreError> {
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens t WHERE t.user_id = $1 \
             ORDER BY t.created_at DESC, t.id"
        );
        let rows = sqlx::query(&sql)
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(token_from_row).collect()
    }

    /// Revokes one of the user's tokens; false when the user has no such live token.
    pub async fn revoke_api_token(&self, user_id: &str, id: &str) -> Result<bool, StoreError> {
        let updated = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 \
             WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL",
        )
        .bind(now_millis())
        .bind(id)
        .bind(user_id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(updated > 0)
    }

    pub async fn create_web_session(
        &self,
        id_hash: &str,
        user_id: &str,
        csrf_token: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO web_sessions (id_hash, user_id, csrf_token, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id_hash)
        .bind(user_id)
        .bind(csrf_token)
        .bind(now_millis())
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The unexpired session with this id hash, with its user.
    pub async fn find_web_session(&self, id_hash: &str) -> Result<Option<WebSession>, StoreError> {
        let sql = format!(
            "SELECT {USER_COLUMNS}, s.csrf_token, s.expires_at FROM web_sessions s \
             JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1 AND s.expires_at > $2"
        );
        let Some(row) = sqlx::query(&sql)
            .bind(id_hash)
            .bind(now_millis())
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(WebSession {
            user: user_from_row(&row)?,
            csrf_token: row.try_get("csrf_token")?,
            expires_at: row.try_get("expires_at")?,
        }))
    }

    /// Ends a session (sign-out); expired ones go too, so the table does not grow forever.
    pub async fn delete_web_session(&self, id_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM web_sessions WHERE id_hash = $1 OR expires_at <= $2")
            .bind(id_hash)
            .bind(now_millis())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
