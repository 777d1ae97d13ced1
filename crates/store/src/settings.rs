//! Instance-wide settings: a small key-value table. Values are stored as given; a setting that
//! holds a secret must be encrypted by the caller first.

use crate::{Store, StoreError, now_millis};

impl Store {
    pub async fn get_setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Inserts or replaces a setting.
    pub async fn put_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        // ON CONFLICT … DO UPDATE is understood by both PostgreSQL and SQLite (3.24+).
        sqlx::query(
            "INSERT INTO settings (name, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value, \
             updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(value)
        .bind(now_millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes a setting; returns whether it existed.
    pub async fn delete_setting(&self, key: &str) -> Result<bool, StoreError> {
        let deleted = sqlx::query("DELETE FROM settings WHERE name = $1")
            .bind(key)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(deleted > 0)
    }
}
