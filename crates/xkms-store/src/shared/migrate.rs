//! The versioned schema migrations runner (the migrations themselves are each backend's
//! own: `MIGRATIONS` in its `schema.rs`).
//!
//! All pending migrations run in one write unit together with the rows that record them
//! (DDL is transactional on both backends): a failed migration leaves the previous
//! version intact. SQLite runs the unit on its writer, inside `BEGIN IMMEDIATE`, whose
//! write lock is the lock; PostgreSQL first takes `MIGRATION_LOCK_SQL`, a
//! transaction-scoped advisory lock keyed by the current schema. So when several
//! processes or nodes open a new database at once, the first migrates and the others
//! wait, then find the schema current.

use xkms_service::store::StoreError;

use crate::db_error::db_error;
use crate::query::Query;
use crate::rows::ColumnReader;

use super::{Store, Tx};

/// Brings the schema to the newest of `migrations` ((version, SQL), ascending); refuses a
/// database whose schema is newer than this build knows.
pub(crate) async fn migrate(
    store: &Store,
    migrations: &'static [(i64, &'static str)],
) -> Result<(), StoreError> {
    store
        .write("migration", move |tx: &mut Tx| {
            Box::pin(async move { migrate_in(tx, migrations).await })
        })
        .await
}

async fn migrate_in(
    tx: &mut Tx,
    migrations: &'static [(i64, &'static str)],
) -> Result<(), StoreError> {
    if let Some(lock) = Store::MIGRATION_LOCK_SQL {
        tx.execute(Query::new(lock), "migration lock").await?;
    }
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY NOT NULL)",
        "schema_migrations",
    )
    .await?;
    let applied = tx
        .read_rows(
            Query::new("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"),
            "schema version",
            0_i64,
            |applied: &mut i64, row: &dyn ColumnReader| {
                *applied = row
                    .int_at(0)
                    .map_err(db_error("schema version"))?
                    .unwrap_or(0);
                Ok(())
            },
        )
        .await?;
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
        tx.execute_batch(sql, "migration").await?;
        tx.execute(
            Query::new("INSERT INTO schema_migrations (version) VALUES ($1)").bind(*version),
            "migration",
        )
        .await?;
        tracing::info!(version, "applied store migration");
    }
    Ok(())
}
