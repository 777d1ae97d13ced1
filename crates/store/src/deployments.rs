//! Deployments and their event timeline.

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Store, StoreError, now_millis};

/// What the caller supplies to create a deployment. Secrets arrive encrypted (`env_ciphertext`)
/// or hashed (`token_hash`, its first access token, named `default`); `env_keys` lists the
/// variable names, which are not secret.
#[derive(Clone, Debug)]
pub struct NewDeployment {
    pub name: String,
    pub source: String,
    pub spec_json: String,
    pub env_ciphertext: String,
    pub env_keys: Vec<String>,
    pub token_hash: String,
    pub status: String,
    /// Open to anyone, without a token.
    pub public: bool,
    /// Per-deployment options as a JSON object (opaque to the store).
    pub options_json: String,
    /// The user the deployment belongs to.
    pub owner_id: Option<String>,
}

/// A stored deployment. Serializing it leaves out the ciphertext and the token hash, so it can
/// be returned by an API as it is.
#[derive(Clone, Debug, Serialize)]
pub struct Deployment {
    pub id: String,
    pub name: String,
    pub source: String,
    pub spec_json: String,
    #[serde(skip)]
    pub env_ciphertext: String,
    pub env_keys: Vec<String>,
    /// Its access tokens' names and hashes (empty in brief listings).
    #[serde(skip)]
    pub token_hashes: Vec<TokenHash>,
    pub status: String,
    pub status_reason: Option<String>,
    pub public: bool,
    pub options_json: String,
    pub owner_id: Option<String>,
    /// The server's last MCP handshake (opaque JSON the server writes), if it ever made one.
    #[serde(skip)]
    pub handshake_json: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The name every deployment's first access token gets.
pub const DEFAULT_TOKEN: &str = "default";

/// An access token as the gateway checks it: its name and hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenHash {
    pub name: String,
    pub hash: String,
}

/// One of a deployment's access tokens, as shown: never the token or its hash.
#[derive(Clone, Debug, Serialize)]
pub struct DeploymentToken {
    pub id: String,
    pub name: String,
    pub created_at: i64,
}

/// One entry of a deployment's timeline. `id` increases with every event, so readers resume
/// with "events after id N"; inserts are serialized per deployment, so none is skipped.
#[derive(Clone, Debug, Serialize)]
pub struct Event {
    pub id: i64,
    pub at: i64,
    pub kind: String,
    pub message: String,
}

/// Which page of a user's deployments [`Store::deployments_page_of`] returns.
#[derive(Clone, Copy, Debug, Default)]
pub struct DeploymentPageQuery<'a> {
    /// Only deployments whose name sorts after this one (the last name of the previous page).
    pub after: Option<&'a str>,
    /// Only deployments with this status.
    pub status: Option<&'a str>,
    pub limit: i64,
}

/// A page of deployments in name order, and whether more follow it.
#[derive(Clone, Debug)]
pub struct DeploymentPage {
    pub deployments: Vec<Deployment>,
    pub more: bool,
}

/// Largest page of deployments [`Store::deployments_page_of`] returns.
pub const MAX_DEPLOYMENT_PAGE: i64 = 1000;

/// The `WHERE` clause for one owner's deployments (`$1` is the owner), narrowed to a status and to
/// names after a cursor when given, and the values for its further placeholders, in order. The
/// values are bound, never written into the SQL.
fn owner_filter<'a>(status: Option<&'a str>, after: Option<&'a str>) -> (String, Vec<&'a str>) {
    let mut filter = String::from("owner_id = $1");
    let mut binds = Vec::new();
    for (column, value) in [("status =", status), ("name >", after)] {
        if let Some(value) = value {
            binds.push(value);
            filter.push_str(&format!(" AND {column} ${}", binds.len() + 1));
        }
    }
    (filter, binds)
}

/// Largest page `events_after` and `logs_after` return, whatever the caller asks for.
pub(crate) const MAX_PAGE: i64 = 10_000;

const BRIEF_SELECT: &str = "SELECT id, name, source, CAST('' AS TEXT) AS spec_json, \
                            CAST('' AS TEXT) AS env_ciphertext, env_keys, status, \
                            status_reason, public, options_json, owner_id, \
                            CAST(NULL AS TEXT) AS handshake_json, created_at, updated_at \
                            FROM deployments";

const DEPLOYMENT_COLUMNS: &str = "id, name, source, spec_json, env_ciphertext, env_keys, \
                                  status, status_reason, public, options_json, \
                                  owner_id, handshake_json, created_at, updated_at";

fn deployment_from_row(row: &AnyRow) -> Result<Deployment, StoreError> {
    let name: String = row.try_get("name")?;
    let env_keys_json: String = row.try_get("env_keys")?;
    let env_keys = serde_json::from_str(&env_keys_json).map_err(|e| {
        StoreError::Corrupt(format!(
            "deployment `{name}` has an env_keys column that is not a JSON array of strings: {e}"
        ))
    })?;
    Ok(Deployment {
        id: row.try_get("id")?,
        name,
        source: row.try_get("source")?,
        spec_json: row.try_get("spec_json")?,
        env_ciphertext: row.try_get("env_ciphertext")?,
        env_keys,
        token_hashes: Vec::new(),
        status: row.try_get("status")?,
        status_reason: row.try_get("status_reason")?,
        public: row.try_get::<i64, _>("public")? != 0,
        options_json: row.try_get("options_json")?,
        owner_id: row.try_get("owner_id")?,
        handshake_json: row.try_get("handshake_json")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    /// Creates a deployment with a new UUID. Fails with [`StoreError::Conflict`] if the name is
    /// taken.
    pub async fn create_deployment(&self, new: &NewDeployment) -> Result<Deployment, StoreError> {
        let id = uuid::Uuid::new_v4().to_string();
        let now = now_millis();
        let env_keys_json =
            serde_json::to_string(&new.env_keys).expect("a list of strings always serializes");
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO deployments (id, name, source, spec_json, env_ciphertext, env_keys, \
             status, status_reason, public, options_json, owner_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8, $9, $10, $11, $11)",
        )
        .bind(&id)
        .bind(&new.name)
        .bind(&new.source)
        .bind(&new.spec_json)
        .bind(&new.env_ciphertext)
        .bind(&env_keys_json)
        .bind(&new.status)
        .bind(i64::from(new.public))
        .bind(&new.options_json)
        .bind(&new.owner_id)
        .bind(now)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            // The constraint, not a prior SELECT, decides: two concurrent creations cannot both
            // win.
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(StoreError::Conflict(format!(
                    "a deployment named `{}` already exists",
                    new.name
                )));
            }
            Err(e) => return Err(e.into()),
        }
        insert_token(&mut tx, &id, DEFAULT_TOKEN, &new.token_hash, now).await?;
        tx.commit().await?;
        Ok(Deployment {
            id,
            name: new.name.clone(),
            source: new.source.clone(),
            spec_json: new.spec_json.clone(),
            env_ciphertext: new.env_ciphertext.clone(),
            env_keys: new.env_keys.clone(),
            token_hashes: vec![TokenHash {
                name: DEFAULT_TOKEN.to_string(),
                hash: new.token_hash.clone(),
            }],
            status: new.status.clone(),
            status_reason: None,
            public: new.public,
            options_json: new.options_json.clone(),
            owner_id: new.owner_id.clone(),
            handshake_json: None,
            created_at: now,
            updated_at: now,
        })
    }

    pub async fn get_deployment(&self, name: &str) -> Result<Option<Deployment>, StoreError> {
        let sql = format!("SELECT {DEPLOYMENT_COLUMNS} FROM deployments WHERE name = $1");
        let Some(mut deployment) = sqlx::query(&sql)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(deployment_from_row)
            .transpose()?
        else {
            return Ok(None);
        };
        deployment.token_hashes = self.deployment_token_hashes(&deployment.id).await?;
        Ok(Some(deployment))
    }

    /// All deployments, ordered by name.
    pub async fn list_deployments(&self) -> Result<Vec<Deployment>, StoreError> {
        let sql = format!("SELECT {DEPLOYMENT_COLUMNS} FROM deployments ORDER BY name");
        let mut deployments = sqlx::query(&sql)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(deployment_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let rows = sqlx::query("SELECT deployment_id, name, token_hash FROM deployment_tokens")
            .fetch_all(&self.pool)
            .await?;
        let mut hashes: std::collections::HashMap<String, Vec<TokenHash>> = Default::default();
        for row in &rows {
            hashes
                .entry(row.try_get("deployment_id")?)
                .or_default()
                .push(token_hash_from_row(row)?);
        }
        for deployment in &mut deployments {
            deployment.token_hashes = hashes.remove(&deployment.id).unwrap_or_default();
        }
        Ok(deployments)
    }

    async fn deployment_token_hashes(&self, id: &str) -> Result<Vec<TokenHash>, StoreError> {
        sqlx::query("SELECT name, token_hash FROM deployment_tokens WHERE deployment_id = $1")
            .bind(id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(token_hash_from_row)
            .collect()
    }

    /// A deployment's access tokens (never the tokens themselves), oldest first.
    pub async fn list_deployment_tokens(
        &self,
        name: &str,
    ) -> Result<Vec<DeploymentToken>, StoreError> {
        let rows = sqlx::query(
            "SELECT t.id, t.name, t.created_at FROM deployment_tokens t \
             JOIN deployments d ON d.id = t.deployment_id WHERE d.name = $1 \
             ORDER BY t.created_at, t.name",
        )
        .bind(name)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(DeploymentToken {
                    id: row.try_get("id")?,
                    name: row.try_get("name")?,
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Adds a named access token (`Conflict` if the deployment has one of that name already) or,
    /// with `replace`, puts it in place of the one of that name. `NotFound` for an unknown
    /// deployment.
    pub async fn put_deployment_token(
        &self,
        name: &str,
        token_name: &str,
        token_hash: &str,
        replace: bool,
    ) -> Result<DeploymentToken, StoreError> {
        let mut tx = self.pool.begin().await?;
        let id = lock_deployment(&mut tx, name).await?;
        if replace {
            sqlx::query("DELETE FROM deployment_tokens WHERE deployment_id = $1 AND name = $2")
                .bind(&id)
                .bind(token_name)
                .execute(&mut *tx)
                .await?;
        }
        let now = now_millis();
        let token = insert_token(&mut tx, &id, token_name, token_hash, now).await?;
        tx.commit().await?;
        Ok(token)
    }

    /// Revokes one access token of a deployment; false when it has no token with that id.
    pub async fn revoke_deployment_token(&self, name: &str, id: &str) -> Result<bool, StoreError> {
        let deleted = sqlx::query(
            "DELETE FROM deployment_tokens WHERE id = $1 AND deployment_id = \
             (SELECT id FROM deployments WHERE name = $2)",
        )
        .bind(id)
        .bind(name)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(deleted > 0)
    }

    /// Every deployment without its large parts: `spec_json` and `env_ciphertext` come back empty
    /// and `handshake_json` as `None`. What lists and counts need, at a fraction of the reading
    /// (a spec is kilobytes).
    pub async fn list_deployments_brief(&self) -> Result<Vec<Deployment>, StoreError> {
        sqlx::query(&format!("{BRIEF_SELECT} ORDER BY name"))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(deployment_from_row)
            .collect()
    }

    /// One page of an owner's deployments, brief as in [`Store::list_deployments_brief`]: up to
    /// `limit` (at least 1, at most [`MAX_DEPLOYMENT_PAGE`]) in name order, those named after
    /// `page.after` only (keyset paging: a page costs the same wherever it starts, and a
    /// deployment created or removed meanwhile shifts no other one into or out of the walk).
    pub async fn deployments_page_of(
        &self,
        owner_id: &str,
        page: &DeploymentPageQuery<'_>,
    ) -> Result<DeploymentPage, StoreError> {
        let limit = page.limit.clamp(1, MAX_DEPLOYMENT_PAGE);
        let (filter, binds) = owner_filter(page.status, page.after);
        // One more than asked tells whether another page follows, without a second query.
        let sql = format!(
            "{BRIEF_SELECT} WHERE {filter} ORDER BY name LIMIT ${}",
            binds.len() + 2
        );
        let mut query = sqlx::query(&sql).bind(owner_id);
        for value in binds {
            query = query.bind(value);
        }
        let mut deployments = query
            .bind(limit + 1)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(deployment_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let more = deployments.len() as i64 > limit;
        deployments.truncate(limit as usize);
        Ok(DeploymentPage { deployments, more })
    }

    /// How many deployments `owner_id` has (with `status` only, if given): the total beside a
    /// page. Without a status, the index on (owner_id, name) answers it without reading a row.
    pub async fn count_deployments_of(
        &self,
        owner_id: &str,
        status: Option<&str>,
    ) -> Result<i64, StoreError> {
        let (filter, binds) = owner_filter(status, None);
        let sql = format!("SELECT COUNT(*) FROM deployments WHERE {filter}");
        let mut query = sqlx::query_scalar(&sql).bind(owner_id);
        for value in binds {
            query = query.bind(value);
        }
        Ok(query.fetch_one(&self.pool).await?)
    }

    /// Gives every deployment without an owner to `owner_id` (those made before accounts
    /// existed); returns how many.
    pub async fn adopt_unowned_deployments(&self, owner_id: &str) -> Result<u64, StoreError> {
        Ok(
            sqlx::query("UPDATE deployments SET owner_id = $1 WHERE owner_id IS NULL")
                .bind(owner_id)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }

    /// Deletes a deployment with its events and logs, in one transaction. Returns false if there
    /// was no such deployment.
    pub async fn delete_deployment(&self, name: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        // Writes only, starting with the first statement: on SQLite a transaction that reads
        // first and writes later can fail with SQLITE_BUSY without waiting for the busy timeout.
        // (ON DELETE CASCADE would also remove the children; deleting them explicitly keeps
        // this correct even on a connection where foreign keys are off.)
        for sql in [
            "DELETE FROM deployment_events WHERE deployment_id IN \
             (SELECT id FROM deployments WHERE name = $1)",
            "DELETE FROM deployment_logs WHERE deployment_id IN \
             (SELECT id FROM deployments WHERE name = $1)",
            "DELETE FROM deployment_tokens WHERE deployment_id IN \
             (SELECT id FROM deployments WHERE name = $1)",
        ] {
            sqlx::query(sql).bind(name).execute(&mut *tx).await?;
        }
        let deleted = sqlx::query("DELETE FROM deployments WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(deleted > 0)
    }

    /// Sets the status (and reason, cleared when `None`) and appends a `status` event whose
    /// message is `status` or `status: reason`, in one transaction.
    pub async fn set_status(
        &self,
        name: &str,
        status: &str,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        let now = now_millis();
        let mut tx = self.pool.begin().await?;
        let id: Option<String> = sqlx::query_scalar(
            "UPDATE deployments SET status = $1, status_reason = $2, updated_at = $3 \
             WHERE name = $4 RETURNING id",
        )
        .bind(status)
        .bind(reason)
        .bind(now)
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(id) = id else {
            return Err(StoreError::NotFound(name.to_string()));
        };
        let message = match reason {
            Some(reason) => format!("{status}: {reason}"),
            None => status.to_string(),
        };
        sqlx::query(
            "INSERT INTO deployment_events (deployment_id, at, kind, message) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(&id)
        .bind(now)
        .bind("status")
        .bind(&message)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Appends an event of any kind (e.g. `progress`) to a deployment's timeline.
    pub async fn add_event(&self, name: &str, kind: &str, message: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let id = lock_deployment(&mut tx, name).await?;
        sqlx::query(
            "INSERT INTO deployment_events (deployment_id, at, kind, message) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(&id)
        .bind(now_millis())
        .bind(kind)
        .bind(message)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Up to `limit` events with id greater than `after_id`, oldest first (start with 0). An
    /// unknown deployment has no events. `limit` is capped at 10 000.
    pub async fn events_after(
        &self,
        name: &str,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<Event>, StoreError> {
        let rows = sqlx::query(
            "SELECT e.id, e.at, e.kind, e.message FROM deployment_events e \
             JOIN deployments d ON d.id = e.deployment_id \
             WHERE d.name = $1 AND e.id > $2 ORDER BY e.id LIMIT $3",
        )
        .bind(name)
        .bind(after_id)
        .bind(limit.clamp(0, MAX_PAGE))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Event {
                    id: row.try_get("id")?,
                    at: row.try_get("at")?,
                    kind: row.try_get("kind")?,
                    message: row.try_get("message")?,
                })
            })
            .collect()
    }

    /// Opens a deployment to anyone (or closes it again).
    pub async fn set_public(&self, name: &str, public: bool) -> Result<(), StoreError> {
        self.set_column(name, Column::Public, i64::from(public))
            .await
    }

    /// Replaces a deployment's options (a JSON object the caller owns).
    pub async fn set_options(&self, name: &str, options_json: &str) -> Result<(), StoreError> {
        self.set_column(name, Column::Options, options_json).await
    }

    /// Records the server's latest MCP handshake (JSON the caller owns).
    pub async fn set_handshake(&self, name: &str, handshake_json: &str) -> Result<(), StoreError> {
        self.set_column(name, Column::Handshake, handshake_json)
            .await
    }

    /// Replaces a deployment's encrypted credentials and the names of its variables.
    pub async fn set_credentials(
        &self,
        name: &str,
        env_ciphertext: &str,
        env_keys: &[String],
    ) -> Result<(), StoreError> {
        let env_keys_json =
            serde_json::to_string(env_keys).expect("a list of strings always serializes");
        let updated = sqlx::query(
            "UPDATE deployments SET env_ciphertext = $1, env_keys = $2, updated_at = $3 \
             WHERE name = $4",
        )
        .bind(env_ciphertext)
        .bind(env_keys_json)
        .bind(now_millis())
        .bind(name)
        .execute(&self.pool)
        .await?
        .rows_affected();
        found(updated, name)
    }

    /// Every deployment's encrypted credentials, by name: what a key rotation re-encrypts.
    pub async fn list_credentials(&self) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query("SELECT name, env_ciphertext FROM deployments ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("name")?, row.try_get("env_ciphertext")?)))
            .collect()
    }

    /// Replaces a deployment's encrypted credentials only if they are still `expected`, so a
    /// re-encryption never overwrites an edit made meanwhile. False when they changed (or the
    /// deployment is gone). `updated_at` is left alone: the content did not change.
    pub async fn swap_credentials(
        &self,
        name: &str,
        expected: &str,
        env_ciphertext: &str,
    ) -> Result<bool, StoreError> {
        let updated = sqlx::query(
            "UPDATE deployments SET env_ciphertext = $1 WHERE name = $2 AND env_ciphertext = $3",
        )
        .bind(env_ciphertext)
        .bind(name)
        .bind(expected)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(updated == 1)
    }

    /// Updates one column of a deployment (and its `updated_at`); `NotFound` for an unknown name.
    async fn set_column<'q, T>(
        &self,
        name: &'q str,
        column: Column,
        value: T,
    ) -> Result<(), StoreError>
    where
        T: 'q + Send + sqlx::Encode<'q, sqlx::Any> + sqlx::Type<sqlx::Any>,
    {
        let updated = sqlx::query(column.update_sql())
            .bind(value)
            .bind(now_millis())
            .bind(name)
            .execute(&self.pool)
            .await?
            .rows_affected();
        found(updated, name)
    }
}

/// `NotFound` when an update by name touched no row.
fn found(updated: u64, name: &str) -> Result<(), StoreError> {
    if updated == 0 {
        return Err(StoreError::NotFound(name.to_string()));
    }
    Ok(())
}

/// The columns [`Store::set_column`] may write, each with its statement written out (statements
/// are `'static` for sqlx, and a closed list keeps caller text out of the SQL).
#[derive(Clone, Copy)]
enum Column {
    Public,
    Options,
    Handshake,
}

impl Column {
    fn update_sql(self) -> &'static str {
        match self {
            Column::Public => "UPDATE deployments SET public = $1, updated_at = $2 WHERE name = $3",
            Column::Options => {
                "UPDATE deployments SET options_json = $1, updated_at = $2 WHERE name = $3"
            }
            Column::Handshake => {
                "UPDATE deployments SET handshake_json = $1, updated_at = $2 WHERE name = $3"
            }
        }
    }
}

/// Locks the deployment's row until the transaction ends and returns its id, or `NotFound`.
///
/// Every insert of an event or log line happens under this lock, which is what makes "after id
/// N" cursors safe: a PostgreSQL sequence hands out ids in call order, not commit order, so
/// without the lock a reader could see id 12 committed, move its cursor past it, and never see a
/// slower id 11. With it, ids for one deployment are drawn and committed one transaction at a
/// time. (SQLite has a single writer, so there it only matters that the lock is a write: a
/// transaction that starts with a read can fail with SQLITE_BUSY without waiting.) Holding the
/// row also keeps a concurrent delete from orphaning the new rows.
pub(crate) async fn lock_deployment(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    name: &str,
) -> Result<String, StoreError> {
    let id: Option<String> = sqlx::query_scalar(
        "UPDATE deployments SET updated_at = updated_at WHERE name = $1 RETURNING id",
    )
    .bind(name)
    .fetch_optional(&mut **tx)
    .await?;
    id.ok_or_else(|| StoreError::NotFound(name.to_string()))
}

async fn insert_token(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    deployment_id: &str,
    name: &str,
    token_hash: &str,
    now: i64,
) -> Result<DeploymentToken, StoreError> {
    let id = uuid::Uuid::new_v4().to_string();
    let inserted = sqlx::query(
        "INSERT INTO deployment_tokens (id, deployment_id, name, token_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&id)
    .bind(deployment_id)
    .bind(name)
    .bind(token_hash)
    .bind(now)
    .execute(&mut **tx)
    .await;
    match inserted {
        Ok(_) => Ok(DeploymentToken {
            id,
            name: name.to_string(),
            created_at: now,
        }),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::Conflict(
            format!("the deployment already has a token named `{name}`"),
        )),
        Err(e) => Err(e.into()),
    }
}

fn token_hash_from_row(row: &AnyRow) -> Result<TokenHash, StoreError> {
    Ok(TokenHash {
        name: row.try_get("name")?,
        hash: row.try_get("token_hash")?,
    })
}
