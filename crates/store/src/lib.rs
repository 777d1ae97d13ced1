//! catwalk-store: Catwalk's persistent state (users, deployments, their events and logs, settings) on
//! SQLite by default or PostgreSQL, behind one [`Store`].
//!
//! Both backends go through the sqlx `Any` driver with one set of queries. That constrains the
//! SQL: placeholders are `$1, $2, …` numbered in ascending order of first use (PostgreSQL's
//! syntax; SQLite reads `$N` as a named parameter and SQLx binds it to argument N), and only
//! `BIGINT`, `TEXT` and their `NULL`s cross the boundary (timestamps are unix milliseconds,
//! deployment ids UUID text). Each backend has its own migration folder, applied at connect.
//!
//! To keep Catwalk's tables in a PostgreSQL schema other than `public`, create the schema and add
//! `options=-c%20search_path%3D<schema>` to the URL's query string; the tests do exactly that.
//!
//! Invariant: the store knows nothing about HTTP or encryption. Columns such as
//! `env_ciphertext` and the token hashes arrive already encrypted or hashed (see catwalk-vault), and
//! settings that hold secrets must be encrypted by the caller.

mod accounts;
mod audit;
mod db_url;
mod deployments;
mod identities;
mod logs;
mod oauth;
mod settings;
mod store;

pub use accounts::{ApiToken, NewApiToken, User, WebSession};
pub use audit::{AuditEvent, NewAuditEvent};
pub use deployments::{
    DEFAULT_TOKEN, Deployment, DeploymentPage, DeploymentPageQuery, DeploymentToken, Event,
    MAX_DEPLOYMENT_PAGE, NewDeployment, TokenHash,
};
pub use identities::{Identity, Linked, ProviderAccount, SignInFlow};
pub use logs::{LogLine, StoredLog};
pub use oauth::{ACCESS as OAUTH_ACCESS, REFRESH as OAUTH_REFRESH};
pub use oauth::{Consumed, OAuthClient, OAuthCode, OAuthGrant};
pub use store::{Backend, Store};

/// Current time as unix milliseconds, the timestamp format of every column.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Everything that can go wrong in the store. Messages never contain a password or a stored
/// value.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was violated; the message says which (e.g. a deployment name is taken).
    #[error("{0}")]
    Conflict(String),
    /// The named deployment does not exist.
    #[error("no deployment named `{0}`")]
    NotFound(String),
    /// The database URL is malformed or uses an unsupported scheme.
    #[error("{0}")]
    Url(String),
    /// The database could not be reached or refused the connection. `target` names the host
    /// (or file) without credentials.
    #[error("cannot connect to {target}: {source}{hint}", hint = connect_hint(source))]
    Connect {
        target: String,
        #[source]
        source: sqlx::Error,
    },
    /// Applying the schema migrations failed (for example, the database was migrated by a newer
    /// Catwalk).
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Any other database error.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A row holds data this version cannot read.
    #[error("unreadable data in the database: {0}")]
    Corrupt(String),
}

/// The likely fix for the connection failures people actually meet.
fn connect_hint(source: &sqlx::Error) -> &'static str {
    match source {
        sqlx::Error::Io(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            " (is the server running and accepting TCP connections on that host and port?)"
        }
        sqlx::Error::Io(e) if e.kind() == std::io::ErrorKind::TimedOut => {
            " (check the host name, the port and any firewall in between)"
        }
        _ => "",
    }
}
