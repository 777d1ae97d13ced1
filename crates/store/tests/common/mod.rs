//! Test databases: a SQLite file in a temporary directory, or a fresh PostgreSQL schema.
//!
//! PostgreSQL comes from `CATWALK_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`). Each test gets its own schema, selected with the
//! URL parameter `options=-c search_path=<schema>`, which SQLx passes to the server as a startup
//! option on every connection of the pool; tests can therefore run concurrently, and the
//! migrations (including sqlx's `_sqlx_migrations` table) land in that schema. The schema is
//! dropped when the test ends, even if it panics, after ending the test's connections (found by
//! their `application_name`, also set in the URL). An unreachable server fails the test.

#![allow(dead_code)] // each test binary uses a different part of this module

use catwalk_store::Store;
use sqlx::Connection;

pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

pub fn postgres_base_url() -> String {
    std::env::var("CATWALK_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_string())
}

/// A store plus whatever must outlive it; dropping it removes the database.
pub struct TestDb {
    pub store: Store,
    /// The URL the store was opened with, to open it again.
    pub url: String,
    _cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(tempfile::TempDir),
    Postgres(PgSchema),
}

pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let url = Store::sqlite_url(&dir.path().join("catwalk.db"));
    let store = Store::connect(&url).await.unwrap();
    TestDb {
        store,
        url,
        _cleanup: Cleanup::Sqlite(dir),
    }
}

pub async fn postgres() -> TestDb {
    let schema = PgSchema::create().await;
    let url = schema.url.clone();
    let store = Store::connect(&url).await.unwrap();
    TestDb {
        store,
        url,
        _cleanup: Cleanup::Postgres(schema),
    }
}

/// A uniquely named schema, dropped with everything in it when this value is dropped.
pub struct PgSchema {
    pub name: String,
    /// The base URL with `search_path` set to this schema.
    pub url: String,
    base_url: String,
}

impl PgSchema {
    pub async fn create() -> PgSchema {
        let base_url = postgres_base_url();
        let name = format!("catwalk_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = admin_connection(&base_url).await;
        sqlx::query(&format!("CREATE SCHEMA {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
        admin.close().await.unwrap();
        let separator = if base_url.contains('?') { '&' } else { '?' };
        // The application name tags this test's connections so the clean-up can end them.
        let url = format!(
            "{base_url}{separator}options=-c%20search_path%3D{name}&application_name={name}"
        );
        PgSchema {
            name,
            url,
            base_url,
        }
    }
}

async fn admin_connection(base_url: &str) -> sqlx::PgConnection {
    sqlx::PgConnection::connect(base_url)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is required for these tests and is not usable ({e}). Start it \
             (expected: 127.0.0.1:5432, trust auth, database `test`) or set \
             CATWALK_TEST_POSTGRES_URL to a server where this user may create schemas."
            )
        })
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, which cannot be blocked on; a private runtime on
        // a scoped thread does the async clean-up.
        let (base_url, name) = (self.base_url.clone(), self.name.clone());
        std::thread::scope(|scope| {
            scope.spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async {
                    let Ok(mut admin) = sqlx::PgConnection::connect(&base_url).await else {
                        return;
                    };
                    // The test's pool may still hold connections, even one inside a transaction
                    // whose rollback was queued on the (now blocked) test runtime; its locks
                    // would make DROP SCHEMA wait forever.
                    let _ = sqlx::query(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                         WHERE application_name = $1 AND pid <> pg_backend_pid()",
                    )
                    .bind(&name)
                    .execute(&mut admin)
                    .await;
                    let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                        .execute(&mut admin)
                        .await;
                    let _ = admin.close().await;
                });
            });
        });
    }
}
