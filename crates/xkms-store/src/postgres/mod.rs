//! The PostgreSQL store, for several service nodes sharing one database.
//!
//! Writes run in READ COMMITTED transactions whose preconditions are conditional
//! `UPDATE`s (`… WHERE uses < max_uses`, `… WHERE state = $from`): PostgreSQL locks the
//! row and re-evaluates the condition against the newest committed version, so of two
//! concurrent callers exactly one passes. A reissue or recovery locks the binding row
//! (`FOR SHARE` / `FOR UPDATE`) so a concurrent revocation waits for it. Pending jobs are
//! claimed with `FOR UPDATE SKIP LOCKED`: claimants never wait for each other and never
//! get the same job. Reads that span statements run in REPEATABLE READ.

mod schema;
pub use schema::MIGRATION_COUNT;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection, PgPool, Postgres, Transaction};
use xkms_service::store::StoreError;

use crate::db_error::db_error;
use crate::query::{Query, Value};
use crate::rows::{ColumnReader, pending_columns};
use crate::write::UnitFuture;

/// Connections per pool (per node).
const POOL_SIZE: u32 = 16;
/// How long a caller waits for a free pooled connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// The store traits of `xkms-service` on a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PgStore {
    pub(crate) pool: PgPool,
}

impl PgStore {
    /// Connects to `url` (`postgres://user@host:5432/db`, any libpq-style parameter sqlx
    /// accepts, e.g. `?options[search_path]=xkms`) and brings the schema up to date.
    /// Several nodes may start at once: migrations run under an advisory lock.
    pub async fn connect(url: &str) -> Result<PgStore, StoreError> {
        let options = parse(url)?;
        let pool = pool_options()
            .connect_with(options)
            .await
            .map_err(db_error("connect"))?;
        let store = PgStore { pool };
        shared::migrate::migrate(&store, schema::MIGRATIONS).await?;
        Ok(store)
    }

    /// Like [`connect`](Self::connect), in schema `schema` (created if missing), which
    /// every pooled connection uses as its `search_path`. Tests give each case its own
    /// schema this way. `schema` must be a plain identifier (`[a-z_][a-z0-9_]*`, at most
    /// 63 bytes).
    pub async fn connect_with_schema(url: &str, schema: &str) -> Result<PgStore, StoreError> {
        if !is_plain_identifier(schema) {
            return Err(StoreError::Backend("invalid schema name".into()));
        }
        let options = parse(url)?;
        let mut conn = sqlx::PgConnection::connect_with(&options)
            .await
            .map_err(db_error("connect"))?;
        // Concurrent `CREATE SCHEMA IF NOT EXISTS` may still collide in the catalog.
        let mut tx = conn.begin().await.map_err(db_error("create schema"))?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('xkms-store create schema'))")
            .execute(&mut *tx)
            .await
            .map_err(db_error("create schema"))?;
        sqlx::raw_sql(AssertSqlSafe(format!(
            "CREATE SCHEMA IF NOT EXISTS \"{schema}\""
        )))
        .execute(&mut *tx)
        .await
        .map_err(db_error("create schema"))?;
        tx.commit().await.map_err(db_error("create schema"))?;
        conn.close().await.map_err(db_error("connect"))?;

        let set_path: Arc<str> = format!("SET search_path TO \"{schema}\"").into();
        let pool = pool_options()
            .after_connect(move |conn, _meta| {
                let set_path = Arc::clone(&set_path);
                Box::pin(async move {
                    sqlx::raw_sql(AssertSqlSafe(set_path)).execute(conn).await?;
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(db_error("connect"))?;
        let store = PgStore { pool };
        shared::migrate::migrate(&store, schema::MIGRATIONS).await?;
        Ok(store)
    }

    /// Closes all connections, waiting for running statements.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Runs the read `query` through sqlx, feeding each row to `step` with `acc`.
    pub(crate) async fn read_rows<A, F>(
        &self,
        query: Query,
        what: &'static str,
        acc: A,
        step: F,
    ) -> Result<A, StoreError>
    where
        A: Send + 'static,
        F: FnMut(&mut A, &dyn ColumnReader) -> Result<(), StoreError> + Send + 'static,
    {
        sqlx_read_rows(&self.pool, query, what, acc, step).await
    }

    /// Runs the write unit `unit` in a READ COMMITTED transaction of its own and commits
    /// it (a failed unit is rolled back: it wrote nothing).
    pub(crate) async fn write<T, F>(&self, what: &'static str, unit: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'t> FnOnce(&'t mut Tx) -> UnitFuture<'t, T> + Send + 'static,
    {
        let mut tx = PgTx(self.pool.begin().await.map_err(db_error(what))?);
        let value = unit(&mut tx).await?;
        tx.0.commit().await.map_err(db_error("commit"))?;
        Ok(value)
    }

    /// `FOR UPDATE`, not `FOR SHARE`: a recovery may go on to revoke the binding, and two
    /// share locks upgrading to exclusive would deadlock.
    const LOCK_BINDING_SQL: &'static str =
        "SELECT status FROM key_bindings WHERE id = $1 FOR UPDATE";

    /// Appenders of audit events wait here for each other until commit: the chain is
    /// one sequence however many nodes write. Taken as the last lock of a transaction
    /// (audit events are written last), so it never waits inside a lock cycle.
    const LOCK_AUDIT_HEAD_SQL: &'static str =
        "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE";

    /// The inner select locks the oldest runnable job, skipping rows another
    /// transaction has locked; the outer update takes it.
    const CLAIM_PENDING_SQL: &'static str = concat!(
        "UPDATE pending_requests SET state = 'running', lease_until = $2, updated_at = $1 \
         WHERE response_id = (SELECT response_id FROM pending_requests \
         WHERE state = 'queued' OR (state = 'running' AND lease_until < $1) \
         ORDER BY created_at, response_id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING ",
        pending_columns!()
    );

    /// Concurrent nodes migrating the same schema wait for each other (the lock is
    /// released at commit or rollback).
    const MIGRATION_LOCK_SQL: Option<&'static str> = Some(
        "SELECT pg_advisory_xact_lock(\
         hashtext('xkms-store migrate ' || COALESCE(current_schema(), '')))",
    );

    /// The tables bulk loads fill (in the connection's schema).
    const REFRESH_STATISTICS_SQL: &'static str =
        "ANALYZE key_bindings, use_key_with, certificates, serials, escrowed_keys";

    /// One text row per plan line.
    const EXPLAIN_PREFIX: &'static str = "EXPLAIN ";
    const EXPLAIN_DETAIL_COLUMN: usize = 0;

    /// Copied audit ids were inserted explicitly; the identity sequence must continue
    /// after them.
    const AFTER_COPY_SQL: Option<&'static str> = Some(
        "SELECT setval(pg_get_serial_sequence('audit_events', 'id'), \
         COALESCE((SELECT MAX(id) FROM audit_events), 0) + 1, false)",
    );
}

/// The store type the shared trait implementations are for.
type Store = PgStore;
/// The transaction a write unit gets on this backend.
type Tx = PgTx;

/// A write unit's transaction on PostgreSQL.
pub(crate) struct PgTx(Transaction<'static, Postgres>);

impl PgTx {
    /// Runs a statement; the number of rows it changed.
    pub(crate) async fn execute(
        &mut self,
        query: Query,
        what: &'static str,
    ) -> Result<u64, StoreError> {
        Ok(sqlx_query(query)
            .execute(&mut *self.0)
            .await
            .map_err(db_error(what))?
            .rows_affected())
    }

    /// Runs a statement that returns rows (a `SELECT`, or a change `RETURNING`).
    pub(crate) async fn read_rows<A, F>(
        &mut self,
        query: Query,
        what: &'static str,
        mut acc: A,
        mut step: F,
    ) -> Result<A, StoreError>
    where
        F: FnMut(&mut A, &dyn ColumnReader) -> Result<(), StoreError>,
    {
        let rows = sqlx_query(query)
            .fetch_all(&mut *self.0)
            .await
            .map_err(db_error(what))?;
        for row in &rows {
            step(&mut acc, row)?;
        }
        Ok(acc)
    }

    /// Runs several `;`-separated statements without parameters (migrations).
    pub(crate) async fn execute_batch(
        &mut self,
        sql: &'static str,
        what: &'static str,
    ) -> Result<(), StoreError> {
        sqlx::raw_sql(sql)
            .execute(&mut *self.0)
            .await
            .map_err(db_error(what))?;
        Ok(())
    }
}

/// The store traits on this backend (the code is shared with the other backend).
#[path = "../shared/mod.rs"]
#[allow(
    clippy::duplicate_mod,
    reason = "compiled once per backend on purpose: see shared/mod.rs"
)]
mod shared;

/// `query` as an sqlx query with its values bound.
fn sqlx_query(
    query: Query,
) -> sqlx::query::Query<'static, Postgres, <Postgres as sqlx::Database>::Arguments> {
    let mut q = sqlx::query(AssertSqlSafe(query.sql));
    for value in query.binds {
        q = match value {
            Value::Int(v) => q.bind(v),
            Value::Text(v) => q.bind(v),
            Value::Blob(v) => q.bind(v),
        };
    }
    q
}

/// `read_rows` through sqlx, on `pool`.
async fn sqlx_read_rows<A, F>(
    pool: &PgPool,
    query: Query,
    what: &'static str,
    mut acc: A,
    mut step: F,
) -> Result<A, StoreError>
where
    A: Send,
    F: FnMut(&mut A, &dyn ColumnReader) -> Result<(), StoreError> + Send,
{
    let rows = sqlx_query(query)
        .fetch_all(pool)
        .await
        .map_err(db_error(what))?;
    for row in &rows {
        step(&mut acc, row)?;
    }
    Ok(acc)
}

/// Whether `url` is a PostgreSQL URL sqlx accepts (no connection is made).
pub(crate) fn check_url(url: &str) -> Result<(), StoreError> {
    parse(url).map(drop)
}

fn parse(url: &str) -> Result<PgConnectOptions, StoreError> {
    // The sqlx error may quote the URL, password included: do not pass it on.
    PgConnectOptions::from_str(url)
        .map_err(|_| StoreError::Backend("invalid PostgreSQL URL".into()))
}

fn pool_options() -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(POOL_SIZE)
        .acquire_timeout(ACQUIRE_TIMEOUT)
}

fn is_plain_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z' | '_'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
        && name.len() <= 63
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_plain_identifiers() {
        assert!(is_plain_identifier("xkms_test_1"));
        assert!(is_plain_identifier("_x"));
        assert!(!is_plain_identifier(""));
        assert!(!is_plain_identifier("1abc"));
        assert!(!is_plain_identifier("a\"; DROP SCHEMA public; --"));
        assert!(!is_plain_identifier("Upper"));
        assert!(!is_plain_identifier(&"a".repeat(64)));
    }
}
