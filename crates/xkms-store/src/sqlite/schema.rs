//! Versioned schema migrations for SQLite.
//!
//! Each migration runs in its own `BEGIN IMMEDIATE` transaction together with the row
//! that records it, so two processes opening the same new file at once apply it once,
//! and a failed migration leaves the previous version intact.

use sqlx::{Row, SqlitePool};
use xkms_service::store::StoreError;

use crate::db_error::db_error;

/// (version, SQL). Append only; never edit a released migration.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/0001_initial.sql")),
    (2, include_str!("migrations/0002_lifecycle.sql")),
];

/// Brings the database to the newest schema this build knows.
pub(crate) async fn migrate(pool: &SqlitePool) -> Result<(), StoreError> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY NOT NULL)",
    )
    .execute(pool)
    .await
    .map_err(db_error("schema_migrations"))?;

    let newest_known = MIGRATIONS.iter().map(|(v, _)| *v).max().unwrap_or(0);
    for (version, sql) in MIGRATIONS {
        let mut tx = pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_error("migration"))?;
        let applied: i64 = sqlx::query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
            .fetch_one(&mut *tx)
            .await
            .and_then(|row| row.try_get(0))
            .map_err(db_error("schema version"))?;
        if applied > newest_known {
            return Err(StoreError::Backend(format!(
                "database schema version {applied} is newer than this build ({newest_known})"
            )));
        }
        if applied >= *version {
            continue;
        }
        sqlx::raw_sql(*sql)
            .execute(&mut *tx)
            .await
            .map_err(db_error("migration"))?;
        sqlx::query("INSERT INTO schema_migrations (version) VALUES (?)")
            .bind(*version)
            .execute(&mut *tx)
            .await
            .map_err(db_error("migration"))?;
        tx.commit().await.map_err(db_error("migration"))?;
        tracing::info!(version, "applied store migration");
    }
    Ok(())
}
