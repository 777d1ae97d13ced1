//! [`Store`]: connecting, choosing the backend, applying migrations.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyConnection, AnyPool, Connection, Executor};

use crate::StoreError;
use crate::db_url::{self, DbUrl};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// How long the first connection may take before `connect` gives up with a clear error (the
/// pool's own retry loop would otherwise wait its full acquire timeout and report only
/// "pool timed out").
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long SQLite waits for another writer before failing with "database is locked".
const SQLITE_BUSY_TIMEOUT_MS: u32 = 5_000;

/// Which database engine a [`Store`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        })
    }
}

/// Handle to the database. Cheap to clone: clones share one connection pool.
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: AnyPool,
    backend: Backend,
    target: String,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Connects and applies any pending migrations. Accepts `sqlite:PATH`, `sqlite://PATH`
    /// (the file and its directory are created if missing), `sqlite::memory:`, `postgres://…`
    /// and `postgresql://…`.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let db_url = db_url::parse(url)?;
        // SQLx logs statements at debug level by default; they hold placeholders, never values.
        let options = AnyConnectOptions::from_str(&db_url.sqlx_url)
            .map_err(|e| StoreError::Url(format!("invalid database URL: {e}")))?;

        if let Some(file) = &db_url.sqlite_file
            && let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::Connect {
                target: db_url.target.clone(),
                source: sqlx::Error::Io(e),
            })?;
        }

        // One direct connection first: it fails fast with the driver's own reason (connection
        // refused, authentication failed) and, for an in-memory database, keeps the database
        // alive until the pool holds a connection of its own.
        let mut first = first_connection(&db_url, &options).await?;
        if db_url.backend == Backend::Sqlite && db_url.sqlite_file.is_some() {
            // WAL lets readers proceed while one connection writes. The mode is stored in the
            // file, so setting it once here covers every later connection; doing it per pooled
            // connection could fail, because the switch needs an exclusive lock that
            // busy_timeout does not wait for.
            first.execute("PRAGMA journal_mode = WAL").await?;
        }

        let pool = pool_options(&db_url).connect_with(options).await?;
        let migrator = match db_url.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&pool).await?;
        first.close().await?;

        tracing::debug!(target = %db_url.target, "store connected and migrated");
        Ok(Store {
            pool,
            backend: db_url.backend,
            target: db_url.target,
        })
    }

    /// The URL for a SQLite database file at `path` (created if missing), with characters that
    /// would break the URL escaped.
    pub fn sqlite_url(path: &std::path::Path) -> String {
        db_url::sqlite_url(path)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The placeholders of a multi-row `INSERT … VALUES`: `rows` tuples of `columns`, bound in
    /// order. PostgreSQL needs them numbered (`($1, $2), ($3, $4)`); SQLite gets anonymous
    /// ones (`(?, ?), (?, ?)`), since sqlx looks every numbered one up by index in a list that
    /// SQLite scans from its start: for the hundreds of a batch, quadratic work on every write.
    pub(crate) fn insert_values(&self, rows: usize, columns: usize) -> String {
        use std::fmt::Write;
        let mut sql = String::with_capacity(rows * columns * 6);
        for row in 0..rows {
            sql.push_str(if row == 0 { "(" } else { ", (" });
            for column in 0..columns {
                if column > 0 {
                    sql.push_str(", ");
                }
                match self.backend {
                    Backend::Sqlite => sql.push('?'),
                    Backend::Postgres => {
                        let _ = write!(sql, "${}", 1 + row * columns + column);
                    }
                }
            }
            sql.push(')');
        }
        sql
    }

    /// The database this store talks to, safe to log: `SQLite database PATH` or
    /// `PostgreSQL at HOST:PORT (database NAME)`, never credentials.
    pub fn describe(&self) -> &str {
        &self.target
    }

    /// Checks that the database answers, for readiness probes.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// The underlying pool, for health checks and tests. Queries through it must follow the
    /// crate's portability rules (see the crate documentation).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Closes every connection; later calls fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

async fn first_connection(
    db_url: &DbUrl,
    options: &AnyConnectOptions,
) -> Result<AnyConnection, StoreError> {
    let connect_error = |source| StoreError::Connect {
        target: db_url.target.clone(),
        source,
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, AnyConnection::connect_with(options)).await {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(e)) => Err(connect_error(e)),
        Err(_) => Err(connect_error(sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()),
        )))),
    }
}

fn pool_options(db_url: &DbUrl) -> AnyPoolOptions {
    let options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(30));
    if db_url.backend == Backend::Postgres {
        return options.max_connections(10);
    }
    let options = options.after_connect(|connection, _| {
        Box::pin(async move {
            // SQLx sets these today, but the store's integrity depends on them, so they are not
            // left to a driver default.
            connection.execute("PRAGMA foreign_keys = ON").await?;
            let busy_timeout = format!("PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}");
            connection.execute(busy_timeout.as_str()).await?;
            Ok(())
        })
    });
    match db_url.sqlite_file {
        // SQLite allows one writer at a time anyway; a few connections serve concurrent reads.
        Some(_) => options.max_connections(4),
        // An in-memory database lives as long as one connection to it: keep exactly one,
        // forever. (Several would also meet shared-cache table locks, which busy_timeout does
        // not cover.)
        None => options
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None),
    }
}
