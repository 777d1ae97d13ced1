//! Database URL parsing: which backend a URL names, the exact form sqlx is given, and a
//! description of the target that is safe to print (it never contains a password).

use std::path::{Path, PathBuf};

use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};

use crate::{Backend, StoreError};

/// What `Store::connect` needs to know about a URL.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct DbUrl {
    pub backend: Backend,
    /// The URL handed to sqlx.
    pub sqlx_url: String,
    /// Human-readable target without credentials, e.g. `PostgreSQL at db:5432 (database app)`.
    pub target: String,
    /// The SQLite file, whose directory is created if missing; `None` for in-memory databases
    /// and PostgreSQL.
    pub sqlite_file: Option<PathBuf>,
}

const ACCEPTED: &str = "use sqlite:PATH, sqlite://PATH, postgres://USER@HOST/DB or \
                        postgresql://USER@HOST/DB";

/// Characters that would end or change the meaning of the path part of a URL; everything else,
/// including non-ASCII, passes through (the URL parser encodes it and SQLx decodes it again).
const PATH_ESCAPES: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// `sqlite:<path>?mode=rwc`, with the characters that would break a URL escaped. A path that is
/// not valid UTF-8 is converted lossily (SQLx only accepts UTF-8 URLs).
pub(crate) fn sqlite_url(path: &Path) -> String {
    let path = path.to_string_lossy();
    format!(
        "sqlite:{}?mode=rwc",
        utf8_percent_encode(&path, PATH_ESCAPES)
    )
}

pub(crate) fn parse(url: &str) -> Result<DbUrl, StoreError> {
    let url = url.trim();
    let scheme = url
        .split_once(':')
        .map(|(scheme, _)| scheme.to_ascii_lowercase())
        .filter(|scheme| {
            !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        });
    match scheme.as_deref() {
        Some("sqlite") => parse_sqlite(&url["sqlite:".len()..]),
        Some("postgres" | "postgresql") => parse_postgres(url),
        // Only the scheme is echoed: the rest of the URL may hold a password.
        Some(other) => Err(StoreError::Url(format!(
            "unsupported database URL scheme `{other}:`; {ACCEPTED}"
        ))),
        None => Err(StoreError::Url(format!(
            "the database URL has no scheme; {ACCEPTED}"
        ))),
    }
}

/// `rest` is what follows `sqlite:`, with or without the `//` that SQLx also accepts.
fn parse_sqlite(rest: &str) -> Result<DbUrl, StoreError> {
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (database, params) = match rest.split_once('?') {
        Some((database, params)) => (database, Some(params)),
        None => (rest, None),
    };
    let pairs: Vec<(String, String)> = params
        .map(|p| {
            url::form_urlencoded::parse(p.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let in_memory =
        database == ":memory:" || pairs.iter().any(|(k, v)| k == "mode" && v == "memory");

    if in_memory {
        return Ok(DbUrl {
            backend: Backend::Sqlite,
            sqlx_url: if database.is_empty() {
                "sqlite::memory:".to_string()
            } else {
                format!("sqlite:{rest}")
            },
            target: "in-memory SQLite database".to_string(),
            sqlite_file: None,
        });
    }
    if database.is_empty() {
        return Err(StoreError::Url(format!(
            "the SQLite URL names no file; {ACCEPTED}"
        )));
    }
    let path = percent_decode_str(database)
        .decode_utf8()
        .map_err(|_| StoreError::Url("the SQLite path is not valid UTF-8".to_string()))?;
    // `sqlite:////abs` and `sqlite:///abs` both mean `/abs`; one leading slash keeps the URL
    // free of an authority part that the URL parser would treat as a host name.
    let database = if database.starts_with('/') {
        format!("/{}", database.trim_start_matches('/'))
    } else {
        database.to_string()
    };
    let mut sqlx_url = format!("sqlite:{database}");
    // Creating the file on first start is what the user wants unless they said otherwise.
    let params = match params {
        Some(params) if pairs.iter().any(|(k, _)| k == "mode") => params.to_string(),
        Some(params) if !params.is_empty() => format!("{params}&mode=rwc"),
        _ => "mode=rwc".to_string(),
    };
    sqlx_url.push('?');
    sqlx_url.push_str(&params);
    Ok(DbUrl {
        backend: Backend::Sqlite,
        sqlx_url,
        target: format!("SQLite database {path}"),
        sqlite_file: Some(PathBuf::from(path.into_owned())),
    })
}

fn parse_postgres(url: &str) -> Result<DbUrl, StoreError> {
    // The URL parser's messages describe the problem without quoting the input.
    let mut parsed = url::Url::parse(url)
        .map_err(|e| StoreError::Url(format!("invalid PostgreSQL URL: {e}")))?;
    // SQLx accepts both schemes today, but hosting providers hand out `postgresql://` and a
    // single spelling downstream means one less thing to go wrong.
    if parsed.scheme() != "postgres" {
        parsed
            .set_scheme("postgres")
            .map_err(|()| StoreError::Url("cannot normalise the URL scheme".to_string()))?;
    }
    let query_value = |key: &str| {
        parsed
            .query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    };
    let host = parsed
        .host_str()
        .map(str::to_string)
        .filter(|h| !h.is_empty())
        .or_else(|| query_value("host"))
        .unwrap_or_else(|| "localhost".to_string());
    let port = parsed
        .port()
        .map(|p| p.to_string())
        .or_else(|| query_value("port"))
        .unwrap_or_else(|| "5432".to_string());
    let database = Some(parsed.path().trim_start_matches('/').to_string())
        .filter(|d| !d.is_empty())
        .or_else(|| query_value("dbname"));
    let target = match database {
        Some(database) => format!(
            "PostgreSQL at {host}:{port} (database {})",
            percent_decode_str(&database).decode_utf8_lossy()
        ),
        None => format!("PostgreSQL at {host}:{port}"),
    };
    Ok(DbUrl {
        backend: Backend::Postgres,
        sqlx_url: parsed.to_string(),
        target,
        sqlite_file: None,
    })
}

#[cfg(test)]
#[path = "db_url_tests.rs"]
mod tests;
