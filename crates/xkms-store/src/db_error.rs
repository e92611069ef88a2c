//! Mapping of `sqlx` errors to [`StoreError`], shared by all backends.

use xkms_service::store::StoreError;

/// Maps an error of the statement that writes or reads `what`.
///
/// Unique and primary-key violations become `Duplicate { what }`, foreign-key violations
/// `Conflict { what }`. Everything else is `Backend`: sqlx error texts name tables,
/// columns and constraint kinds but never bound values, so no secret ends up in a log.
pub(crate) fn db_error(what: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |error| match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Duplicate { what },
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::Conflict { what },
        _ => StoreError::Backend(format!("{what}: {error}")),
    }
}
