//! URL parsing cases, checked without a database.

use std::path::Path;

use super::{parse, sqlite_url};
use crate::{Backend, StoreError};

#[test]
fn sqlite_forms_are_normalised_and_create_the_file() {
    for (input, sqlx_url, file) in [
        (
            "sqlite:data/catwalk.db",
            "sqlite:data/catwalk.db?mode=rwc",
            "data/catwalk.db",
        ),
        (
            "sqlite://data/catwalk.db",
            "sqlite:data/catwalk.db?mode=rwc",
            "data/catwalk.db",
        ),
        (
            "sqlite:///var/lib/c.db",
            "sqlite:/var/lib/c.db?mode=rwc",
            "/var/lib/c.db",
        ),
        (
            "sqlite:/var/lib/c.db",
            "sqlite:/var/lib/c.db?mode=rwc",
            "/var/lib/c.db",
        ),
        ("sqlite:c.db?mode=ro", "sqlite:c.db?mode=ro", "c.db"),
        (
            "sqlite:c.db?cache=private",
            "sqlite:c.db?cache=private&mode=rwc",
            "c.db",
        ),
        (
            "sqlite:/my%20dir/c%23.db",
            "sqlite:/my%20dir/c%23.db?mode=rwc",
            "/my dir/c#.db",
        ),
    ] {
        let parsed = parse(input).unwrap();
        assert_eq!(parsed.backend, Backend::Sqlite);
        assert_eq!(parsed.sqlx_url, sqlx_url, "{input}");
        assert_eq!(
            parsed.sqlite_file.as_deref(),
            Some(Path::new(file)),
            "{input}"
        );
    }
    let memory = parse("sqlite::memory:").unwrap();
    assert_eq!(memory.sqlx_url, "sqlite::memory:");
    assert_eq!(memory.sqlite_file, None);
}

#[test]
fn sqlite_url_escapes_what_would_break_the_url() {
    assert_eq!(
        sqlite_url(Path::new("/tmp/a b/c?d#e%f.db")),
        "sqlite:/tmp/a%20b/c%3Fd%23e%25f.db?mode=rwc"
    );
    let round_trip = parse(&sqlite_url(Path::new("/tmp/a b/c?d#e%f.db"))).unwrap();
    assert_eq!(
        round_trip.sqlite_file.as_deref(),
        Some(Path::new("/tmp/a b/c?d#e%f.db"))
    );
}

#[test]
fn postgres_schemes_are_normalised_and_described_without_password() {
    for input in [
        "postgres://app:s3cret-pw@db.example:6543/catwalk?sslmode=disable",
        "postgresql://app:s3cret-pw@db.example:6543/catwalk?sslmode=disable",
        "POSTGRESQL://app:s3cret-pw@db.example:6543/catwalk?sslmode=disable",
    ] {
        let parsed = parse(input).unwrap();
        assert_eq!(parsed.backend, Backend::Postgres);
        assert_eq!(
            parsed.sqlx_url,
            "postgres://app:s3cret-pw@db.example:6543/catwalk?sslmode=disable"
        );
        assert_eq!(
            parsed.target,
            "PostgreSQL at db.example:6543 (database catwalk)"
        );
    }
    assert_eq!(
        parse("postgres://localhost").unwrap().target,
        "PostgreSQL at localhost:5432"
    );
}

#[test]
fn bad_urls_name_the_accepted_schemes_and_hide_the_rest() {
    for input in [
        "mysql://root:s3cret-pw@localhost/db",
        "catwalk.db",
        "",
        "sqlite:",
        "postgres://app:s3cret-pw@[bad/db",
    ] {
        let err = parse(input).unwrap_err();
        assert!(matches!(err, StoreError::Url(_)), "{input}: {err:?}");
        let message = err.to_string();
        assert!(!message.contains("s3cret-pw"), "{message}");
        if !input.starts_with("postgres") {
            assert!(message.contains("postgresql://"), "{message}");
            assert!(message.contains("sqlite:"), "{message}");
        }
    }
}
