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
    (
        3,
        include_str!("migrations/0003_plain_revocation_index.sql"),
    ),
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

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::sqlite::SqliteConnectOptions;

    /// A database written by the first release gains the new tables and columns, and
    /// its certificates an empty SKI.
    #[tokio::test]
    async fn version_1_database_is_upgraded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        let pool = SqlitePool::connect_with(
            SqliteConnectOptions::new()
                .filename(&path)
                .create_if_missing(true),
        )
        .await
        .unwrap();
        sqlx::raw_sql(MIGRATIONS[0].1).execute(&pool).await.unwrap();
        sqlx::raw_sql(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY NOT NULL);
             INSERT INTO schema_migrations VALUES (1);
             INSERT INTO serials VALUES ('01', 0);
             INSERT INTO key_bindings (id, modulus, exponent, key_fingerprint, key_usage,
                 status, created_at) VALUES ('k1', x'00', x'010001', x'00', '', 'valid', 0);
             INSERT INTO certificates (serial, binding_id, der, not_before, not_after,
                 issued_at) VALUES ('01', 'k1', x'30', 0, 1, 0);",
        )
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;

        let store = crate::SqliteStore::open_path(&path).await.unwrap();
        let ski: Vec<u8> = sqlx::query("SELECT ski FROM certificates WHERE serial = '01'")
            .fetch_one(&store.pool)
            .await
            .unwrap()
            .get(0);
        assert!(ski.is_empty());
        let version: i64 = sqlx::query("SELECT MAX(version) FROM schema_migrations")
            .fetch_one(&store.pool)
            .await
            .unwrap()
            .get(0);
        assert_eq!(
            version,
            MIGRATIONS.len() as i64,
            "upgraded to the newest version"
        );
        for table in ["escrowed_keys", "pending_requests", "replay_values"] {
            sqlx::query(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                .fetch_one(&store.pool)
                .await
                .unwrap();
        }
    }
}
