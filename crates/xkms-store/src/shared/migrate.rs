//! The versioned schema migrations runner (the migrations themselves are each backend's
//! own: `MIGRATIONS` in its `schema.rs`).
//!
//! All pending migrations run in one write transaction together with the rows that
//! record them (DDL is transactional on both backends): a failed migration leaves the
//! previous version intact. The transaction starts with the backend's
//! `MIGRATION_BEGIN_SQL` and `MIGRATION_LOCK_SQL` — SQLite: `BEGIN IMMEDIATE`, whose write
//! lock is the lock; PostgreSQL: a transaction-scoped advisory lock keyed by the current
//! schema — so when several processes or nodes open a new database at once, the first
//! migrates and the others wait, then find the schema current.

use sqlx::Row;
use xkms_service::store::StoreError;

use crate::db_error::db_error;

use super::{Db, Store};

/// Brings the schema to the newest of `migrations` ((version, SQL), ascending); refuses a
/// database whose schema is newer than this build knows.
pub(crate) async fn migrate(
    pool: &sqlx::Pool<Db>,
    migrations: &[(i64, &'static str)],
) -> Result<(), StoreError> {
    let mut tx = pool
        .begin_with(Store::MIGRATION_BEGIN_SQL)
        .await
        .map_err(db_error("migration"))?;
    if let Some(lock) = Store::MIGRATION_LOCK_SQL {
        sqlx::query(lock)
            .execute(&mut *tx)
            .await
            .map_err(db_error("migration lock"))?;
    }
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY NOT NULL)",
    )
    .execute(&mut *tx)
    .await
    .map_err(db_error("schema_migrations"))?;
    let applied: i64 = sqlx::query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
        .fetch_one(&mut *tx)
        .await
        .and_then(|row| row.try_get(0))
        .map_err(db_error("schema version"))?;
    let newest_known = migrations.iter().map(|(v, _)| *v).max().unwrap_or(0);
    if applied > newest_known {
        return Err(StoreError::Backend(format!(
            "database schema version {applied} is newer than this build ({newest_known})"
        )));
    }
    for (version, sql) in migrations {
        if applied >= *version {
            continue;
        }
        sqlx::raw_sql(*sql)
            .execute(&mut *tx)
            .await
            .map_err(db_error("migration"))?;
        sqlx::query("INSERT INTO schema_migrations (version) VALUES ($1)")
            .bind(*version)
            .execute(&mut *tx)
            .await
            .map_err(db_error("migration"))?;
        tracing::info!(version, "applied store migration");
    }
    tx.commit().await.map_err(db_error("migration"))
}
