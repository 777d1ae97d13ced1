//! The audit trail: who did what, when, how it ended and how long it took. Rows are written by
//! one writer per Catwalk (in order, so "after id N" cursors are safe) and kept for
//! [`Store::trim_audit`]'s horizon.

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::deployments::MAX_PAGE;
use crate::{Store, StoreError};

/// A row to add. `owner_id` names whose trail it is in; `None`: the instance's (admins').
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAuditEvent {
    pub at: i64,
    pub owner_id: Option<String>,
    pub actor: String,
    pub deployment: Option<String>,
    /// `tool_call` or `api`.
    pub kind: String,
    pub action: String,
    pub outcome: String,
    pub duration_ms: Option<i64>,
    /// The call's arguments (JSON), only when the owner turned their recording on.
    pub arguments: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct AuditEvent {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub deployment: Option<String>,
    pub kind: String,
    pub action: String,
    pub outcome: String,
    pub duration_ms: Option<i64>,
    pub arguments: Option<String>,
}

/// Rows inserted by one statement at most: 9 × 100 parameters stays below SQLite's historical
/// limit of 999 bound parameters.
const ROWS_PER_INSERT: usize = 100;

fn event_from_row(row: &AnyRow) -> Result<AuditEvent, StoreError> {
    Ok(AuditEvent {
        id: row.try_get("id")?,
        at: row.try_get("at")?,
        actor: row.try_get("actor")?,
        deployment: row.try_get("deployment")?,
        kind: row.try_get("kind")?,
        action: row.try_get("action")?,
        outcome: row.try_get("outcome")?,
        duration_ms: row.try_get("duration_ms")?,
        arguments: row.try_get("arguments")?,
    })
}

impl Store {
    pub async fn append_audit(&self, events: &[NewAuditEvent]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for chunk in events.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                "INSERT INTO audit_events (at, owner_id, actor, deployment, kind, action, \
                 outcome, duration_ms, arguments) VALUES {}",
                self.insert_values(chunk.len(), 9)
            );
            let mut query = sqlx::query(&sql);
            for event in chunk {
                query = query
                    .bind(event.at)
                    .bind(&event.owner_id)
                    .bind(&event.actor)
                    .bind(&event.deployment)
                    .bind(&event.kind)
                    .bind(&event.action)
                    .bind(&event.outcome)
                    .bind(event.duration_ms)
                    .bind(&event.arguments);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Up to `limit` rows of one trail with id above `after`, oldest first: `owner_id`'s, or
    /// with `None` the instance's; optionally of one deployment only.
    pub async fn audit_after(
        &self,
        owner_id: Option<&str>,
        deployment: Option<&str>,
        after: i64,
        limit: i64,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let owner_clause = match owner_id {
            Some(_) => "owner_id = $1",
            None => "(owner_id IS NULL AND $1 = '')",
        };
        let deployment_clause = match deployment {
            Some(_) => "deployment = $2",
            None => "$2 = ''",
        };
        let sql = format!(
            "SELECT id, at, actor, deployment, kind, action, outcome, duration_ms, arguments \
             FROM audit_events WHERE {owner_clause} AND {deployment_clause} AND id > $3 \
             ORDER BY id LIMIT $4"
        );
        sqlx::query(&sql)
            .bind(owner_id.unwrap_or(""))
            .bind(deployment.unwrap_or(""))
            .bind(after)
            .bind(limit.clamp(1, MAX_PAGE))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(event_from_row)
            .collect()
    }

    /// Deletes rows older than `before` (unix ms); returns how many.
    pub async fn trim_audit(&self, before: i64) -> Result<u64, StoreError> {
        Ok(sqlx::query("DELETE FROM audit_events WHERE at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }
}
