//! Versioned schema migrations for PostgreSQL.
//!
//! All pending migrations run in one transaction (PostgreSQL DDL is transactional) that
//! first takes a transaction-scoped advisory lock keyed by the current schema. When
//! several nodes start at once, the first migrates and the others wait on the lock, then
//! find the schema current; a failed migration rolls back completely.

use sqlx::{PgPool, Row};
use xkms_service::store::StoreError;

use crate::db_error::db_error;

/// (version, SQL). Append only; never edit a released migration. The versions are this
/// backend's own; they need not match SQLite's.
/// The number of migrations a current schema has applied.
pub const MIGRATION_COUNT: usize = MIGRATIONS.len();

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/0001_initial.sql")),
    (2, include_str!("migrations/0002_integrity.sql")),
    (3, include_str!("migrations/0003_bounds.sql")),
    (
        4,
        include_str!("migrations/0004_authorization_revocation.sql"),
    ),
];

/// Brings the schema in the connection's `search_path` to the newest version known.
pub(crate) async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
    let mut tx = pool.begin().await.map_err(db_error("migration"))?;
    sqlx::query(
        "SELECT pg_advisory_xact_lock(\
         hashtext('xkms-store migrate ' || COALESCE(current_schema(), '')))",
    )
    .execute(&mut *tx)
    .await
    .map_err(db_error("migration lock"))?;
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
    let newest_known = MIGRATIONS.iter().map(|(v, _)| *v).max().unwrap_or(0);
    if applied > newest_known {
        return Err(StoreError::Backend(format!(
            "database schema version {applied} is newer than this build ({newest_known})"
        )));
    }
    for (version, sql) in MIGRATIONS {
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
