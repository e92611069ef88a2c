//! The SQLite store: one database file in WAL mode, shared by a small connection pool.
//!
//! Writes start with `BEGIN IMMEDIATE`, so a write transaction takes the database write
//! lock before it reads anything. Concurrent writers then wait for each other (up to the
//! busy timeout) instead of failing with `SQLITE_BUSY` when a deferred read lock cannot
//! be upgraded. Reads run in deferred transactions and see one consistent snapshot.

mod find;
mod rows;
mod schema;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{Row, Sqlite, SqlitePool, Transaction};
use time::OffsetDateTime;
use xkms_service::store::{
    AuditEvent, AuditStore, Authorization, AuthorizationStore, BindingSelector, CertificateRecord,
    KeyBindingRecord, KeyBindingStore, Purpose, Registration, StoreError,
};

use crate::columns::{
    key_usage_to_column, limit_to_column, optional_timestamp_to_column, timestamp_to_column,
};
use crate::db_error::db_error;
use rows::{audit_columns, authorization_columns, certificate_columns};

/// How long a statement waits for another connection's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections per pool for a database file. SQLite has one writer at a time; the rest
/// serve concurrent reads.
const FILE_POOL_SIZE: u32 = 8;

/// The store traits of `xkms-service` on an SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` and brings its schema up to date.
    ///
    /// `url` is an sqlx SQLite URL: `sqlite:///abs/path/xkms.db`, `sqlite:relative.db`, or
    /// `sqlite::memory:` for a private in-memory database (tests and demos only: it lives
    /// as long as this store and uses a single connection). File databases use WAL,
    /// foreign keys and a 5 s busy timeout.
    pub async fn connect(url: &str) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Backend(format!("invalid SQLite URL: {e}")))?;
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        Self::connect_with(options, in_memory).await
    }

    /// Opens (creating if missing) the database file at `path`.
    pub async fn open_path(path: &Path) -> Result<SqliteStore, StoreError> {
        Self::connect_with(SqliteConnectOptions::new().filename(path), false).await
    }

    async fn connect_with(
        options: SqliteConnectOptions,
        in_memory: bool,
    ) -> Result<SqliteStore, StoreError> {
        let options = options
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        // An in-memory database disappears with its last connection, so keep exactly one
        // for the life of the pool; WAL does not apply to it.
        let (options, pool_options) = if in_memory {
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
            (options, pool)
        } else {
            let pool = SqlitePoolOptions::new().max_connections(FILE_POOL_SIZE);
            (options.journal_mode(SqliteJournalMode::Wal), pool)
        };
        let pool = pool_options
            .connect_with(options)
            .await
            .map_err(db_error("connect"))?;
        schema::migrate(&pool).await?;
        Ok(SqliteStore { pool })
    }

    /// Closes all connections, waiting for running statements. Dropping the store also
    /// closes them, but without waiting.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_error("begin transaction"))
    }

    async fn begin_read(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.pool
            .begin()
            .await
            .map_err(db_error("begin transaction"))
    }
}

#[async_trait]
impl AuthorizationStore for SqliteStore {
    async fn insert_authorization(
        &self,
        authorization: &Authorization,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let a = authorization;
        let mut tx = self.begin_write().await?;
        sqlx::query(concat!(
            "INSERT INTO authorizations (",
            authorization_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(&a.id)
        .bind(&a.identity)
        .bind(a.purpose.as_str())
        .bind(a.secrets.auth_key_saslprep.as_slice())
        .bind(a.secrets.auth_key_legacy.as_slice())
        .bind(a.secrets.kek_saslprep.as_slice())
        .bind(a.secrets.kek_legacy.as_slice())
        .bind(timestamp_to_column(a.created_at)?)
        .bind(timestamp_to_column(a.expires_at)?)
        .bind(a.max_uses.map(i64::from))
        .bind(i64::from(a.uses))
        .execute(&mut *tx)
        .await
        .map_err(db_error("authorization"))?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await.map_err(db_error("commit"))
    }

    async fn usable_authorizations(
        &self,
        identities: &[String],
        purpose: Purpose,
        now: OffsetDateTime,
    ) -> Result<Vec<Authorization>, StoreError> {
        if identities.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = sqlx::QueryBuilder::<Sqlite>::new(concat!(
            "SELECT ",
            authorization_columns!(),
            " FROM authorizations WHERE identity IN ("
        ));
        let mut list = q.separated(", ");
        for identity in identities {
            list.push_bind(identity.clone());
        }
        q.push(") AND purpose = ")
            .push_bind(purpose.as_str())
            .push(" AND expires_at > ")
            .push_bind(timestamp_to_column(now)?)
            .push(" AND (max_uses IS NULL OR uses < max_uses) ORDER BY created_at, id");
        let rows = q
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(db_error("authorizations"))?;
        rows.iter().map(rows::authorization).collect()
    }
}

#[async_trait]
impl KeyBindingStore for SqliteStore {
    async fn reserve_serial(&self, serial: &str, now: OffsetDateTime) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO serials (serial, reserved_at) VALUES (?, ?)")
            .bind(serial)
            .bind(timestamp_to_column(now)?)
            .execute(&self.pool)
            .await
            .map_err(db_error("serial"))?;
        Ok(())
    }

    async fn commit_registration(&self, registration: &Registration) -> Result<(), StoreError> {
        let binding = &registration.binding;
        let certificate = &registration.certificate;
        if certificate.binding_id != binding.id {
            return Err(StoreError::Conflict {
                what: "certificate belongs to another binding",
            });
        }
        // Encode before taking the write lock: a bad value fails without touching the file.
        let created_at = timestamp_to_column(binding.created_at)?;
        let key_usage = key_usage_to_column(&binding.key_usage)?;

        // Dropping `tx` on any early return rolls everything back.
        let mut tx = self.begin_write().await?;

        if let Some(authorization_id) = &registration.authorization_id {
            let used = sqlx::query(
                "UPDATE authorizations SET uses = uses + 1 \
                 WHERE id = ? AND expires_at > ? AND (max_uses IS NULL OR uses < max_uses)",
            )
            .bind(authorization_id)
            .bind(created_at)
            .execute(&mut *tx)
            .await
            .map_err(db_error("authorization"))?;
            if used.rows_affected() != 1 {
                return Err(StoreError::Conflict {
                    what: "authorization missing, expired or used up",
                });
            }
        }

        let reserved = sqlx::query("SELECT 1 FROM serials WHERE serial = ?")
            .bind(&certificate.serial)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error("serial"))?;
        if reserved.is_none() {
            return Err(StoreError::Conflict {
                what: "serial not reserved",
            });
        }

        sqlx::query(
            "INSERT INTO key_bindings (id, key_name, modulus, exponent, key_fingerprint, \
             key_usage, status, revocation_code_identifier, authorization_id, created_at, \
             revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&binding.id)
        .bind(binding.key_name.as_deref())
        .bind(binding.modulus.as_slice())
        .bind(binding.exponent.as_slice())
        .bind(binding.key_fingerprint.as_slice())
        .bind(key_usage)
        .bind(binding.status.as_str())
        .bind(binding.revocation_code_identifier.as_deref())
        .bind(binding.authorization_id.as_deref())
        .bind(created_at)
        .bind(optional_timestamp_to_column(binding.revoked_at)?)
        .execute(&mut *tx)
        .await
        .map_err(db_error("binding"))?;

        for (ordinal, pair) in binding.use_key_with.iter().enumerate() {
            sqlx::query(
                "INSERT INTO use_key_with (binding_id, ordinal, application, identifier) \
                 VALUES (?, ?, ?, ?)",
            )
            .bind(&binding.id)
            .bind(limit_to_column(ordinal))
            .bind(&pair.application)
            .bind(&pair.identifier)
            .execute(&mut *tx)
            .await
            .map_err(db_error("use_key_with"))?;
        }

        sqlx::query(concat!(
            "INSERT INTO certificates (",
            certificate_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(&certificate.serial)
        .bind(&certificate.binding_id)
        .bind(certificate.der.as_slice())
        .bind(timestamp_to_column(certificate.not_before)?)
        .bind(timestamp_to_column(certificate.not_after)?)
        .bind(timestamp_to_column(certificate.issued_at)?)
        .bind(optional_timestamp_to_column(certificate.revoked_at)?)
        .bind(certificate.revocation_reason.map(i64::from))
        .execute(&mut *tx)
        .await
        .map_err(db_error("certificate"))?;

        for event in &registration.audit {
            insert_audit(&mut tx, event).await?;
        }
        tx.commit().await.map_err(db_error("commit"))
    }

    async fn find_bindings(
        &self,
        selector: &BindingSelector,
        limit: usize,
    ) -> Result<Vec<KeyBindingRecord>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let Some(mut q) = find::bindings_query(selector, limit_to_column(limit)) else {
            return Ok(Vec::new());
        };
        let mut tx = self.begin_read().await?;
        let rows = q
            .build()
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error("key bindings"))?;
        let mut bindings = rows
            .iter()
            .map(rows::key_binding)
            .collect::<Result<Vec<_>, _>>()?;
        for binding in &mut bindings {
            let pairs = sqlx::query(
                "SELECT application, identifier FROM use_key_with \
                 WHERE binding_id = ? ORDER BY ordinal",
            )
            .bind(&binding.id)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error("use_key_with"))?;
            binding.use_key_with = pairs
                .iter()
                .map(rows::use_key_with)
                .collect::<Result<_, _>>()?;
        }
        tx.commit().await.map_err(db_error("commit"))?;
        Ok(bindings)
    }

    async fn certificates_of(
        &self,
        binding_id: &str,
    ) -> Result<Vec<CertificateRecord>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            certificate_columns!(),
            " FROM certificates WHERE binding_id = ? ORDER BY issued_at DESC, serial DESC"
        ))
        .bind(binding_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error("certificates"))?;
        rows.iter().map(rows::certificate).collect()
    }

    async fn count_bindings(&self) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query("SELECT COUNT(*) FROM key_bindings")
            .fetch_one(&self.pool)
            .await
            .and_then(|row| row.try_get(0))
            .map_err(db_error("binding count"))?;
        u64::try_from(count).map_err(|_| crate::columns::corrupt("binding count"))
    }
}

#[async_trait]
impl AuditStore for SqliteStore {
    async fn recent_audit_events(&self, limit: usize) -> Result<Vec<AuditEvent>, StoreError> {
        // Insertion order, not `at`: clocks of several nodes need not agree.
        let rows = sqlx::query(concat!(
            "SELECT ",
            audit_columns!(),
            " FROM audit_events ORDER BY id DESC LIMIT ?"
        ))
        .bind(limit_to_column(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error("audit events"))?;
        rows.iter().map(rows::audit_event).collect()
    }
}

async fn insert_audit(
    tx: &mut Transaction<'static, Sqlite>,
    event: &AuditEvent,
) -> Result<(), StoreError> {
    sqlx::query(concat!(
        "INSERT INTO audit_events (",
        audit_columns!(),
        ") VALUES (?, ?, ?, ?, ?)"
    ))
    .bind(timestamp_to_column(event.at)?)
    .bind(&event.kind)
    .bind(event.request_id.as_deref())
    .bind(&event.subject)
    .bind(&event.detail)
    .execute(&mut **tx)
    .await
    .map_err(db_error("audit event"))?;
    Ok(())
}
