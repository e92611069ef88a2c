//! The SQLite store: one database file in WAL mode, shared by a small connection pool.
//!
//! Writes start with `BEGIN IMMEDIATE`, so a write transaction takes the database write
//! lock before it reads anything. Concurrent writers then wait for each other (up to the
//! busy timeout) instead of failing with `SQLITE_BUSY` when a deferred read lock cannot
//! be upgraded. Reads run in deferred transactions and see one consistent snapshot.

//! The trait methods are shared with PostgreSQL (`shared/`); pending jobs are claimed
//! inside a `BEGIN IMMEDIATE` transaction, so two claimants never see the same job as
//! runnable.

mod read;
mod schema;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};
use xkms_service::store::StoreError;

use crate::db_error::db_error;
use crate::query::Query;
use crate::rows::{ColumnReader, pending_columns};

/// How long a statement waits for another connection's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections per pool for a database file. SQLite has one writer at a time; the rest
/// serve concurrent reads.
const FILE_POOL_SIZE: u32 = 8;
/// rusqlite connections for reads of a database file: reads run in blocking tasks, so
/// more connections than cores only queue on the CPU.
const READ_POOL_SIZE: usize = 8;

/// The store traits of `xkms-service` on an SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// Readers (WAL: they never block the writer).
    pub(crate) pool: SqlitePool,
    /// The one writer connection: writes queue here in FIFO order instead of competing
    /// for SQLite's write lock (whose busy handler sleeps and retries).
    pub(crate) writer: SqlitePool,
    /// rusqlite readers of a database file (`None` in memory: there `pool` reads).
    reader: Option<read::ReadPool>,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` and brings its schema up to date.
    ///
    /// `url` is an sqlx SQLite URL: `sqlite:///abs/path/xkms.db`, `sqlite:relative.db`, or
    /// `sqlite::memory:` for a private in-memory database (tests and demos only: it lives
    /// as long as this store and uses a single connection). File databases use WAL,
    /// foreign keys and a 5 s busy timeout.
    ///
    /// `?synchronous=normal` (our parameter, not sqlx's) trades durability for commit
    /// speed: in WAL mode a commit then no longer waits for fsync; a process crash loses
    /// nothing, a power loss may lose the last transactions. The default is `full`.
    pub async fn connect(url: &str) -> Result<SqliteStore, StoreError> {
        let (url, synchronous) = split_synchronous(url)?;
        let options = SqliteConnectOptions::from_str(&url)
            .map_err(|e| StoreError::Backend(format!("invalid SQLite URL: {e}")))?
            .synchronous(synchronous);
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        Self::connect_with(options, in_memory).await
    }

    /// The database file `url` names (`None` for an in-memory database), checked
    /// without opening or creating anything.
    pub fn database_file(url: &str) -> Result<Option<std::path::PathBuf>, StoreError> {
        let (url, _) = split_synchronous(url)?;
        let options = SqliteConnectOptions::from_str(&url)
            .map_err(|e| StoreError::Backend(format!("invalid SQLite URL: {e}")))?;
        if url.contains(":memory:") || url.contains("mode=memory") {
            return Ok(None);
        }
        Ok(Some(options.get_filename().to_path_buf()))
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
        let path = (!in_memory).then(|| options.get_filename().to_path_buf());
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
            .connect_with(options.clone())
            .await
            .map_err(db_error("connect"))?;
        shared::migrate::migrate(&pool, schema::MIGRATIONS).await?;
        let writer = if in_memory {
            pool.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await
                .map_err(db_error("connect"))?
        };
        let reader = path.map(|path| read::ReadPool::new(path, READ_POOL_SIZE, BUSY_TIMEOUT));
        Ok(SqliteStore {
            pool,
            writer,
            reader,
        })
    }

    /// Runs the read `query`, feeding each row to `step` with `acc`: on a database file
    /// in one blocking task on a rusqlite reader, in memory on the one sqlx connection.
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
        match &self.reader {
            Some(reader) => reader.read_rows(query, what, acc, step).await,
            None => shared::read::sqlx_read_rows(&self.pool, query, what, acc, step).await,
        }
    }

    /// Closes all connections, waiting for running statements. Dropping the store also
    /// closes them, but without waiting.
    /// Writes a consistent copy of the database to `dest`, a file that must not exist
    /// (`VACUUM INTO`: one read transaction, so writers carry on meanwhile and the copy
    /// is the database as of its start, compacted).
    pub async fn backup_into(&self, dest: &Path) -> Result<(), StoreError> {
        let dest = dest
            .to_str()
            .ok_or_else(|| StoreError::Backend("backup path is not UTF-8".into()))?;
        sqlx::query("VACUUM INTO $1")
            .bind(dest)
            .execute(&self.pool)
            .await
            .map_err(db_error("backup"))?;
        Ok(())
    }

    pub async fn close(&self) {
        if let Some(reader) = &self.reader {
            reader.close();
        }
        self.writer.close().await;
        self.pool.close().await;
    }

    /// Where single-statement writes go.
    pub(crate) fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_error("begin transaction"))
    }

    /// No row locks in SQLite: the `BEGIN IMMEDIATE` write lock already excludes every
    /// other writer until commit.
    const LOCK_BINDING_SQL: &'static str = "SELECT status FROM key_bindings WHERE id = $1";

    /// No row locks in SQLite: the `BEGIN IMMEDIATE` write lock orders appenders.
    const LOCK_AUDIT_HEAD_SQL: &'static str = "SELECT seq, hash FROM audit_head WHERE id = 1";

    /// Runs inside `BEGIN IMMEDIATE`: the select and the update are one atomic step.
    const CLAIM_PENDING_SQL: &'static str = concat!(
        "UPDATE pending_requests SET state = 'running', lease_until = $2, updated_at = $1 \
         WHERE response_id = (SELECT response_id FROM pending_requests \
         WHERE state = 'queued' OR (state = 'running' AND lease_until < $1) \
         ORDER BY created_at, response_id LIMIT 1) RETURNING ",
        pending_columns!()
    );

    /// How the migrations transaction starts.
    const MIGRATION_BEGIN_SQL: &'static str = "BEGIN IMMEDIATE";

    /// The `BEGIN IMMEDIATE` write lock already makes concurrent openers wait.
    const MIGRATION_LOCK_SQL: Option<&'static str> = None;

    /// A bounded ANALYZE (at most ~1,000 rows sampled per index, so it stays quick at a
    /// million bindings), then whatever else SQLite's optimizer asks for.
    const REFRESH_STATISTICS_SQL: &'static str =
        "PRAGMA analysis_limit = 1000; ANALYZE; PRAGMA optimize;";

    /// Plans are rows of (id, parent, notused, detail).
    const EXPLAIN_PREFIX: &'static str = "EXPLAIN QUERY PLAN ";
    const EXPLAIN_DETAIL_COLUMN: usize = 3;

    /// AUTOINCREMENT follows explicitly inserted ids by itself.
    const AFTER_COPY_SQL: Option<&'static str> = None;
}

/// The database type the shared trait implementations are compiled for.
type Db = sqlx::Sqlite;
/// The store type the shared trait implementations are for.
type Store = SqliteStore;

/// The store traits on this backend (the code is shared with the other backend).
#[path = "../shared/mod.rs"]
#[allow(
    clippy::duplicate_mod,
    reason = "compiled once per backend on purpose: see shared/mod.rs"
)]
mod shared;

/// Removes our `synchronous=full|normal` query parameter from `url`.
fn split_synchronous(url: &str) -> Result<(String, SqliteSynchronous), StoreError> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), SqliteSynchronous::Full));
    };
    let mut synchronous = SqliteSynchronous::Full;
    let mut kept = Vec::new();
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("synchronous", "full")) => synchronous = SqliteSynchronous::Full,
            Some(("synchronous", "normal")) => synchronous = SqliteSynchronous::Normal,
            Some(("synchronous", _)) => {
                return Err(StoreError::Backend(
                    "synchronous must be full or normal".into(),
                ));
            }
            _ => kept.push(pair),
        }
    }
    Ok(if kept.is_empty() {
        (base.to_owned(), synchronous)
    } else {
        (format!("{base}?{}", kept.join("&")), synchronous)
    })
}

#[cfg(test)]
mod synchronous_tests {
    use super::*;

    #[test]
    fn synchronous_parameter_is_ours() {
        let (url, s) = split_synchronous("sqlite:///x.db?synchronous=normal&mode=rwc").unwrap();
        assert_eq!(url, "sqlite:///x.db?mode=rwc");
        assert!(matches!(s, SqliteSynchronous::Normal));
        let (url, s) = split_synchronous("sqlite:///x.db").unwrap();
        assert_eq!(url, "sqlite:///x.db");
        assert!(matches!(s, SqliteSynchronous::Full));
        assert!(split_synchronous("sqlite:///x.db?synchronous=off").is_err());
    }
}
