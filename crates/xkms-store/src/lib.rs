//! Persistent implementations of the `xkms-service` store traits.
//!
//! [`SqliteStore`] is the default, embedded backend; [`PgStore`] lets several service
//! nodes share one PostgreSQL database. Both implement every trait with the same SQL
//! (`shared/`, compiled once per backend), the same column encodings (`columns`) and the same error mapping
//! (`db_error`), so a database written by one reads back identically from the other and
//! [`copy_store`] can move a store between them.
//!
//! Timestamps are stored as 64-bit integer microseconds since the Unix epoch (UTC) on both
//! backends. Sub-microsecond parts of an `OffsetDateTime` are truncated; the offset is
//! normalised to UTC on the way back.

mod bulk;
mod columns;
mod copy;
mod db_error;
mod find;
mod inventory;
pub mod postgres;
mod query;
mod rows;
pub mod sqlite;
mod write;

use std::sync::Arc;

use xkms_service::store::{Store, StoreError};

pub use copy::{CopyReport, TableCopied, copy_store};

/// The plan a database chose for one hot query (`hot_query_plans` of each store): the
/// lines of `EXPLAIN QUERY PLAN` (SQLite) or `EXPLAIN` (PostgreSQL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryPlan {
    /// What the query is for (e.g. "find by KeyName").
    pub query: &'static str,
    pub plan: Vec<String>,
}

/// `escrowed_keys.format` of rows this version writes: the blob's associated data names
/// its binding (the service's escrow sealing); format 1 rows are resealed at start.
pub(crate) const ESCROW_FORMAT_BOUND: i64 = 2;
pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// Opens the store at `url`: `sqlite:…` ([`SqliteStore::connect`]) or `postgres:…` /
/// `postgresql:…` ([`PgStore::connect`]), migrating its schema.
pub async fn open_store(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match Backend::of(url)? {
        Backend::Sqlite => Arc::new(SqliteStore::connect(url).await?),
        Backend::Postgres => Arc::new(PgStore::connect(url).await?),
    })
}

/// Where a store URL points, as far as can be told without connecting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// A SQLite database file (it may not exist yet: opening creates it).
    SqliteFile(std::path::PathBuf),
    /// A private in-memory SQLite database.
    SqliteMemory,
    /// A PostgreSQL server (its URL parses; reachability is not checked).
    Postgres,
}

/// Checks `url` without connecting or creating anything (`xkmsd check-config`): a
/// supported scheme and a URL its backend accepts.
pub fn check_url(url: &str) -> Result<StoreLocation, StoreError> {
    Ok(match Backend::of(url)? {
        Backend::Sqlite => match SqliteStore::database_file(url)? {
            Some(path) => StoreLocation::SqliteFile(path),
            None => StoreLocation::SqliteMemory,
        },
        Backend::Postgres => {
            postgres::check_url(url)?;
            StoreLocation::Postgres
        }
    })
}

/// `url` with any password replaced by `***`, for logs and error messages: the password
/// of the user-info part (`scheme://user:secret@host`) and `password=` query parameters.
pub fn redact_url(url: &str) -> String {
    let (before_query, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut out = match before_query.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(authority_end);
            let authority = match authority.rsplit_once('@') {
                Some((userinfo, host)) => match userinfo.split_once(':') {
                    Some((user, _password)) => format!("{user}:***@{host}"),
                    None => authority.to_owned(),
                },
                None => authority.to_owned(),
            };
            format!("{scheme}://{authority}{path}")
        }
        None => before_query.to_owned(),
    };
    if let Some(query) = query {
        let params: Vec<String> = query
            .split('&')
            .map(|param| match param.split_once('=') {
                Some((key, _)) if key.to_ascii_lowercase().contains("password") => {
                    format!("{key}=***")
                }
                _ => param.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn of(url: &str) -> Result<Backend, StoreError> {
        let scheme = url.split_once(':').map(|(s, _)| s.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("sqlite") => Ok(Backend::Sqlite),
            Some("postgres" | "postgresql") => Ok(Backend::Postgres),
            _ => Err(StoreError::Backend(
                "store URL must start with sqlite:, postgres: or postgresql:".into(),
            )),
        }
    }
}

/// The store at `url` for [`copy_store`].
async fn open_raw(url: &str) -> Result<Box<dyn copy::RawTables>, StoreError> {
    Ok(match Backend::of(url)? {
        Backend::Sqlite => Box::new(SqliteStore::connect(url).await?),
        Backend::Postgres => Box::new(PgStore::connect(url).await?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_url_hides_passwords_only() {
        assert_eq!(
            redact_url("postgres://xkms:s3cr3t@db.example:5432/xkms"),
            "postgres://xkms:***@db.example:5432/xkms"
        );
        assert_eq!(
            redact_url("postgresql://xkms:p@ss@db/xkms?sslmode=require&password=x"),
            "postgresql://xkms:***@db/xkms?sslmode=require&password=***"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1:5432/test"),
            "postgres://postgres@127.0.0.1:5432/test"
        );
        assert_eq!(
            redact_url("sqlite:///var/lib/xkms/xkms.db"),
            "sqlite:///var/lib/xkms/xkms.db"
        );
        assert_eq!(redact_url("sqlite::memory:"), "sqlite::memory:");
        assert_eq!(
            redact_url("postgres:///xkms?user=a&sslpassword=b"),
            "postgres:///xkms?user=a&sslpassword=***"
        );
    }

    #[test]
    fn urls_are_checked_without_connecting() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sub").join("x.db");
        let url = format!("sqlite://{}?synchronous=normal", file.display());
        assert_eq!(check_url(&url).unwrap(), StoreLocation::SqliteFile(file));
        assert!(!dir.path().join("sub").exists(), "nothing is created");
        assert_eq!(
            check_url("sqlite::memory:").unwrap(),
            StoreLocation::SqliteMemory
        );
        assert_eq!(
            check_url("postgres://xkms@db.example/xkms").unwrap(),
            StoreLocation::Postgres
        );
        assert!(check_url("mysql://db/xkms").is_err());
        assert!(check_url("sqlite:///x.db?synchronous=sometimes").is_err());
    }

    #[test]
    fn backend_is_chosen_by_scheme() {
        assert!(matches!(
            Backend::of("sqlite::memory:"),
            Ok(Backend::Sqlite)
        ));
        assert!(matches!(Backend::of("SQLite:x.db"), Ok(Backend::Sqlite)));
        assert!(matches!(
            Backend::of("postgres://h/d"),
            Ok(Backend::Postgres)
        ));
        assert!(matches!(
            Backend::of("postgresql://h/d"),
            Ok(Backend::Postgres)
        ));
        assert!(Backend::of("mysql://h/d").is_err());
        assert!(Backend::of("/tmp/x.db").is_err());
    }
}
