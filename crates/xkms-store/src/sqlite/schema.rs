//! Versioned schema migrations for SQLite (run by `shared/migrate.rs`).

/// (version, SQL). Append only; never edit a released migration.
pub(crate) const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/0001_initial.sql")),
    (2, include_str!("migrations/0002_lifecycle.sql")),
    (
        3,
        include_str!("migrations/0003_plain_revocation_index.sql"),
    ),
    (4, include_str!("migrations/0004_integrity.sql")),
    (5, include_str!("migrations/0005_bounds.sql")),
    (
        6,
        include_str!("migrations/0006_authorization_revocation.sql"),
    ),
    (7, include_str!("migrations/0007_revocation_counter.sql")),
    (8, include_str!("migrations/0008_compromised_key_index.sql")),
];

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::sqlite::SqliteConnectOptions;
    use sqlx::{Row, SqlitePool};

    /// A database written by the first release gains the new tables and columns, its
    /// certificates an empty SKI; its clear authorization secrets and first-format escrow
    /// are offered for sealing, and its audit events are reported outside the chain.
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
                 issued_at) VALUES ('01', 'k1', x'30', 0, 1, 0);
             INSERT INTO authorizations (id, identity, purpose, auth_key_saslprep,
                 auth_key_legacy, kek_saslprep, kek_legacy, created_at, expires_at)
                 VALUES ('a1', 'joe@example.com', 'register', x'01', x'02', x'03', x'04', 0, 1);
             INSERT INTO audit_events (at, kind, subject, detail)
                 VALUES (0, 'authorization.created', 'a1', 'v1');",
        )
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;

        let store = crate::SqliteStore::open_path(&path).await.unwrap();
        // A second connection looks at the file the store wrote.
        let pool = SqlitePool::connect_with(SqliteConnectOptions::new().filename(&path))
            .await
            .unwrap();
        let ski: Vec<u8> = sqlx::query("SELECT ski FROM certificates WHERE serial = '01'")
            .fetch_one(&pool)
            .await
            .unwrap()
            .get(0);
        assert!(ski.is_empty());
        let version: i64 = sqlx::query("SELECT MAX(version) FROM schema_migrations")
            .fetch_one(&pool)
            .await
            .unwrap()
            .get(0);
        assert_eq!(
            version,
            MIGRATIONS.iter().map(|(v, _)| *v).max().unwrap(),
            "upgraded to the newest version"
        );
        use xkms_service::store::{AuditStore, AuthorizationStore, KeyBindingStore};
        let unsealed = store.unsealed_authorizations(10).await.unwrap();
        assert_eq!(unsealed.len(), 1);
        assert_eq!(unsealed[0].0.identity, "joe@example.com");
        assert!(unsealed[0].0.sealed_secrets.is_empty());
        assert_eq!(unsealed[0].1.auth_key_saslprep, vec![1]);
        assert_eq!(unsealed[0].1.kek_legacy, vec![4]);
        store.seal_authorization("a1", b"sealed").await.unwrap();
        assert!(store.unsealed_authorizations(10).await.unwrap().is_empty());
        let sealed = store.get_authorization("a1").await.unwrap().unwrap();
        assert_eq!(sealed.sealed_secrets, b"sealed");
        let clear: Vec<u8> =
            sqlx::query("SELECT auth_key_saslprep || kek_legacy FROM authorizations")
                .fetch_one(&pool)
                .await
                .unwrap()
                .get(0);
        assert!(clear.is_empty(), "the clear secrets are erased");
        assert_eq!(store.unchained_audit_events().await.unwrap(), 1);
        assert!(store.audit_chain(0, 10).await.unwrap().is_empty());
        sqlx::query("INSERT INTO escrowed_keys (binding_id, private_key) VALUES ('k1', x'01')")
            .execute(&pool)
            .await
            .unwrap();
        assert_eq!(
            store.legacy_escrowed_keys(10).await.unwrap(),
            vec![("k1".to_owned(), vec![1u8])]
        );
        store.reseal_escrowed_key("k1", b"bound").await.unwrap();
        assert!(store.legacy_escrowed_keys(10).await.unwrap().is_empty());
        assert_eq!(
            store.escrowed_key("k1").await.unwrap().as_deref(),
            Some(&b"bound"[..])
        );
        for table in ["escrowed_keys", "pending_requests", "replay_values"] {
            sqlx::query(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                .fetch_one(&pool)
                .await
                .unwrap();
        }
    }
}
