//! Mapping of driver errors (sqlx, rusqlite) to [`StoreError`], shared by all backends.

use xkms_service::store::StoreError;

/// An error of one of the database drivers this crate uses.
#[derive(Debug)]
pub(crate) enum DbError {
    Sqlx(sqlx::Error),
    Sqlite(rusqlite::Error),
}

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> DbError {
        DbError::Sqlx(e)
    }
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> DbError {
        DbError::Sqlite(e)
    }
}

/// Maps an error of the statement that writes or reads `what`.
///
/// Unique and primary-key violations become `Duplicate { what }`, foreign-key violations
/// `Conflict { what }`. Everything else is `Backend`: the driver error texts name tables,
/// columns and constraint kinds but never bound values, so no secret ends up in a log.
pub(crate) fn db_error<E: Into<DbError>>(what: &'static str) -> impl Fn(E) -> StoreError {
    move |error| match error.into() {
        DbError::Sqlx(sqlx::Error::Database(db)) if db.is_unique_violation() => {
            StoreError::Duplicate { what }
        }
        DbError::Sqlx(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
            StoreError::Conflict { what }
        }
        DbError::Sqlx(error) => StoreError::Backend(format!("{what}: {error}")),
        DbError::Sqlite(error) => match error.sqlite_error().map(|e| e.extended_code) {
            Some(
                rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY,
            ) => StoreError::Duplicate { what },
            Some(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY) => StoreError::Conflict { what },
            _ => StoreError::Backend(format!("{what}: {error}")),
        },
    }
}
