//! Deployment log lines: batch append, paging by id, tail and trim.

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::deployments::{MAX_PAGE, lock_deployment};
use crate::{Store, StoreError};

/// A line to store. `stream` is e.g. `stdout`, `stderr` or `catwalk` (our own messages).
#[derive(Clone, Debug)]
pub struct LogLine {
    pub at: i64,
    pub stream: String,
    pub line: String,
}

/// A stored line; `id` increases with every line, so readers resume with "logs after id N".
#[derive(Clone, Debug, Serialize)]
pub struct StoredLog {
    pub id: i64,
    pub at: i64,
    pub stream: String,
    pub line: String,
}

/// Rows per INSERT statement: 4 × 200 parameters stays below SQLite's historical limit of 999
/// bound parameters.
const ROWS_PER_INSERT: usize = 200;

fn log_from_row(row: &AnyRow) -> Result<StoredLog, StoreError> {
    Ok(StoredLog {
        id: row.try_get("id")?,
        at: row.try_get("at")?,
        stream: row.try_get("stream")?,
        line: row.try_get("line")?,
    })
}

impl Store {
    /// Appends lines in order, all or none, in one transaction. Fails with `NotFound` for an
    /// unknown deployment (unless `lines` is empty, which does nothing).
    pub async fn append_logs(&self, name: &str, lines: &[LogLine]) -> Result<(), StoreError> {
        if lines.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        let id = lock_deployment(&mut tx, name).await?;
        for chunk in lines.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                "INSERT INTO deployment_logs (deployment_id, at, stream, line) VALUES {}",
                self.insert_values(chunk.len(), 4)
            );
            let mut query = sqlx::query(&sql);
            for line in chunk {
                query = query
                    .bind(&id)
                    .bind(line.at)
                    .bind(&line.stream)
                    .bind(&line.line);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Up to `limit` lines with id greater than `after_id`, in ascending id order (start with
    /// 0). An unknown deployment has no lines. `limit` is capped at 10 000.
    pub async fn logs_after(
        &self,
        name: &str,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<StoredLog>, StoreError> {
        sqlx::query(
            "SELECT l.id, l.at, l.stream, l.line FROM deployment_logs l \
             JOIN deployments d ON d.id = l.deployment_id \
             WHERE d.name = $1 AND l.id > $2 ORDER BY l.id LIMIT $3",
        )
        .bind(name)
        .bind(after_id)
        .bind(limit.clamp(0, MAX_PAGE))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(log_from_row)
        .collect()
    }

    /// The last `limit` lines (capped at 10 000), in ascending id order: what `logs` shows
    /// before following with [`Store::logs_after`].
    pub async fn logs_tail(&self, name: &str, limit: i64) -> Result<Vec<StoredLog>, StoreError> {
        let mut lines = sqlx::query(
            "SELECT l.id, l.at, l.stream, l.line FROM deployment_logs l \
             JOIN deployments d ON d.id = l.deployment_id \
             WHERE d.name = $1 ORDER BY l.id DESC LIMIT $2",
        )
        .bind(name)
        .bind(limit.clamp(0, MAX_PAGE))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(log_from_row)
        .collect::<Result<Vec<_>, _>>()?;
        lines.reverse();
        Ok(lines)
    }

    /// Deletes all but the newest `keep` lines of a deployment, returning how many went.
    /// Log retention is the caller's policy; this is its tool.
    pub async fn trim_logs(&self, name: &str, keep: i64) -> Result<u64, StoreError> {
        // The cut-off is the id of the oldest line to keep (the keep-th newest); everything
        // older goes. OFFSET needs a non-negative count, so keeping none is its own case.
        let deployment = "(SELECT id FROM deployments WHERE name = $1)";
        let result = if keep <= 0 {
            sqlx::query(&format!(
                "DELETE FROM deployment_logs WHERE deployment_id = {deployment}"
            ))
            .bind(name)
            .execute(&self.pool)
            .await?
        } else {
            sqlx::query(&format!(
                "DELETE FROM deployment_logs WHERE deployment_id = {deployment} AND id < \
                 (SELECT id FROM deployment_logs WHERE deployment_id = {deployment} \
                  ORDER BY id DESC LIMIT 1 OFFSET $2)"
            ))
            .bind(name)
            .bind(keep - 1)
            .execute(&self.pool)
            .await?
        };
        Ok(result.rows_affected())
    }
}
