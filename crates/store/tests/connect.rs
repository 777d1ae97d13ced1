//! Connecting: URL forms, SQLite file setup, PostgreSQL scheme spellings, and the errors a user
//! sees when the URL or the server is wrong.

mod common;

use std::time::{Duration, Instant};

use catwalk_store::{Backend, NewDeployment, Store, StoreError};

fn deployment(name: &str) -> NewDeployment {
    NewDeployment {
        name: name.to_string(),
        source: "npm:x".to_string(),
        spec_json: "{}".to_string(),
        env_ciphertext: String::new(),
        env_keys: Vec::new(),
        token_hash: format!("hash-of-{name}"),
        status: "pending".to_string(),
        public: false,
        options_json: "{}".to_string(),
        owner_id: None,
    }
}

async fn pragma(store: &Store, name: &str) -> String {
    // PRAGMA results come back as text or integer depending on the pragma.
    let sql = format!("SELECT CAST({name} AS TEXT) FROM pragma_{name}");
    sqlx::query_scalar(&sql)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn sqlite_file_and_directories_are_created_with_wal_and_foreign_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested dir/with #odd? chars%/catwalk.db");
    let store = Store::connect(&Store::sqlite_url(&path)).await.unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    assert!(path.is_file(), "{} was not created", path.display());
    assert_eq!(
        store.describe(),
        format!("SQLite database {}", path.display())
    );

    assert_eq!(pragma(&store, "journal_mode").await, "wal");
    // Checked on several pooled connections at once, since these pragmas are per connection.
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut connection = store.pool().acquire().await.unwrap();
        let foreign_keys: i64 = sqlx::query_scalar("SELECT foreign_keys FROM pragma_foreign_keys")
            .fetch_one(&mut *connection)
            .await
            .unwrap();
        let busy_timeout: i64 = sqlx::query_scalar("SELECT timeout FROM pragma_busy_timeout")
            .fetch_one(&mut *connection)
            .await
            .unwrap();
        assert_eq!((foreign_keys, busy_timeout), (1, 5_000));
        held.push(connection);
    }
    drop(held);

    // Foreign keys are really enforced: an event must belong to a deployment.
    let err = sqlx::query(
        "INSERT INTO deployment_events (deployment_id, at, kind, message) VALUES ($1, 0, 'x', 'x')",
    )
    .bind("no-such-deployment")
    .execute(store.pool())
    .await
    .unwrap_err();
    assert!(err.to_string().contains("FOREIGN KEY"), "{err}");
}

#[tokio::test]
async fn sqlite_url_spellings_reach_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catwalk.db");
    let path_text = path.to_str().unwrap();
    let first = Store::connect(&format!("sqlite:{path_text}"))
        .await
        .unwrap();
    first
        .create_deployment(&deployment("shared"))
        .await
        .unwrap();
    for url in [
        format!("sqlite://{path_text}"),
        format!("sqlite://{path_text}?mode=rwc"),
        Store::sqlite_url(&path),
    ] {
        let store = Store::connect(&url).await.unwrap();
        assert!(
            store.get_deployment("shared").await.unwrap().is_some(),
            "{url}"
        );
    }
}

#[tokio::test]
async fn sqlite_in_memory_works_for_quick_use() {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    store.create_deployment(&deployment("mem")).await.unwrap();
    // Spread over time and tasks, the data stays: the single pooled connection is never dropped.
    for _ in 0..5 {
        let store = store.clone();
        tokio::spawn(async move { store.get_deployment("mem").await.unwrap().unwrap() })
            .await
            .unwrap();
    }
    assert_eq!(store.describe(), "in-memory SQLite database");
}

#[tokio::test]
async fn postgresql_scheme_is_accepted() {
    let schema = common::PgSchema::create().await;
    assert!(schema.url.starts_with("postgres://"), "{}", schema.url);
    let url = schema.url.replacen("postgres://", "postgresql://", 1);
    let store = Store::connect(&url).await.unwrap();
    assert_eq!(store.backend(), Backend::Postgres);
    assert!(
        store.describe().starts_with("PostgreSQL at "),
        "{}",
        store.describe()
    );
    store.create_deployment(&deployment("pg")).await.unwrap();
    // The same schema through the other spelling: both reach one database.
    let other = Store::connect(&schema.url).await.unwrap();
    assert!(other.get_deployment("pg").await.unwrap().is_some());
    store.close().await;
    other.close().await;
}

#[tokio::test]
async fn postgres_that_is_down_is_reported_with_host_but_not_password() {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    let started = Instant::now();
    let err = Store::connect("postgres://catwalk:hunter2-secret@127.0.0.1:1/catwalk")
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(15));
    assert!(matches!(err, StoreError::Connect { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("PostgreSQL at 127.0.0.1:1"), "{message}");
    assert!(message.contains("database catwalk"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
    assert!(!format!("{err:?}").contains("hunter2"), "{err:?}");
}

#[tokio::test]
async fn unsupported_urls_list_the_accepted_schemes() {
    for url in [
        "mysql://root:hunter2-secret@localhost/catwalk",
        "catwalk.db",
        "",
    ] {
        let err = Store::connect(url).await.unwrap_err();
        assert!(matches!(err, StoreError::Url(_)), "{url}: {err:?}");
        let message = err.to_string();
        for scheme in ["sqlite:", "postgres://", "postgresql://"] {
            assert!(message.contains(scheme), "{message}");
        }
        assert!(!message.contains("hunter2"), "{message}");
    }
}

#[tokio::test]
async fn postgres_refusing_the_login_is_a_connect_error() {
    let schema = common::PgSchema::create().await;
    let url = format!(
        "{}&user=catwalk_no_such_role_{}",
        schema.url,
        std::process::id()
    );
    let err = Store::connect(&url).await.unwrap_err();
    assert!(matches!(err, StoreError::Connect { .. }), "{err:?}");
    assert!(err.to_string().contains("catwalk_no_such_role"), "{err}");
}

/// Hosted PostgreSQL hands out URLs with `sslmode=require`; the store must speak TLS for them.
#[tokio::test]
async fn postgres_tls_urls_work() {
    let schema = common::PgSchema::create().await;
    let store = Store::connect(&format!("{}&sslmode=require", schema.url))
        .await
        .unwrap();
    let encrypted: bool =
        sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert!(encrypted, "the connection is not using TLS");
    store.close().await;
}
