//! The SQLite store: one database file in WAL mode, on rusqlite.
//!
//! Writes go to one writer thread that owns the write connection (`write.rs`): callers
//! hand it a write unit and await the answer; the thread runs the queued units in one
//! `BEGIN IMMEDIATE` transaction, each in a savepoint, and answers after the one
//! `COMMIT`. Reads run on a small pool of read-only connections (`read.rs`), one blocking
//! task per store call; in WAL mode they read committed snapshots while the writer
//! writes. The `BEGIN IMMEDIATE` write lock also orders this process's writer against
//! other processes on the same file (`xkmsd admin` commands), which wait up to the busy
//! timeout.
//!
//! The trait methods are shared with PostgreSQL (`shared/`); pending jobs are claimed
//! inside the writer's transaction, so two claimants never see the same job as runnable.

mod read;
mod schema;
mod write;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use sqlx::sqlite::{SqliteConnectOptions, SqliteSynchronous};
use xkms_service::store::StoreError;

use crate::db_error::db_error;
use crate::query::Query;
use crate::rows::{ColumnReader, pending_columns};
use crate::write::UnitFuture;

/// How long a statement waits for another process's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// rusqlite connections for reads of a database file: reads run in place on the
/// runtime's workers, so more connections than workers are never in use at once.
const READ_POOL_SIZE: usize = 8;

/// The store traits of `xkms-service` on an SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// The writer thread (and, in memory, the only connection: reads go there too).
    writer: write::Writer,
    /// Readers of a database file (`None` in memory).
    reader: Option<read::ReadPool>,
    /// The database file (`None` in memory).
    path: Option<PathBuf>,
}

/// The transaction a write unit gets on this backend.
type Tx = write::WriteTx;

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` and brings its schema up to date.
    ///
    /// `url` is an SQLite URL as sqlx spells it: `sqlite:///abs/path/xkms.db`,
    /// `sqlite:relative.db`, or `sqlite::memory:` for a private in-memory database (tests
    /// and demos only: it lives as long as this store). Only the file name is taken from
    /// it. File databases use WAL, foreign keys and a 5 s busy timeout.
    ///
    /// `?synchronous=normal` (our parameter) trades durability for commit speed: in WAL
    /// mode a commit then no longer waits for fsync; a process crash loses nothing, a
    /// power loss may lose the last transactions. The default is `full`.
    pub async fn connect(url: &str) -> Result<SqliteStore, StoreError> {
        let (url, synchronous) = split_synchronous(url)?;
        let options = SqliteConnectOptions::from_str(&url)
            .map_err(|e| StoreError::Backend(format!("invalid SQLite URL: {e}")))?;
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let path = (!in_memory).then(|| options.get_filename().to_path_buf());
        Self::open(path, synchronous).await
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
        Self::open(Some(path.to_path_buf()), SqliteSynchronous::Full).await
    }

    async fn open(
        path: Option<PathBuf>,
        synchronous: SqliteSynchronous,
    ) -> Result<SqliteStore, StoreError> {
        let file = path.clone();
        let conn = tokio::task::spawn_blocking(move || open_writer(file.as_deref(), synchronous))
            .await
            .map_err(|_| StoreError::Backend("open SQLite database: task failed".into()))??;
        let writer = write::Writer::start(conn)?;
        let reader = path
            .clone()
            .map(|path| read::ReadPool::new(path, READ_POOL_SIZE, BUSY_TIMEOUT));
        let store = SqliteStore {
            writer,
            reader,
            path,
        };
        shared::migrate::migrate(&store, schema::MIGRATIONS).await?;
        Ok(store)
    }

    /// Writes a consistent copy of the database to `dest`, a file that must not exist
    /// (`VACUUM INTO`: one read transaction, so writers carry on meanwhile and the copy
    /// is the database as of its start, compacted).
    pub async fn backup_into(&self, dest: &Path) -> Result<(), StoreError> {
        let dest = dest
            .to_str()
            .ok_or_else(|| StoreError::Backend("backup path is not UTF-8".into()))?
            .to_owned();
        let Some(path) = self.path.clone() else {
            return Err(StoreError::Backend(
                "backup: an in-memory database has no file to copy".into(),
            ));
        };
        tokio::task::spawn_blocking(move || {
            let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_WRITE)
                .map_err(db_error("backup"))?;
            conn.busy_timeout(BUSY_TIMEOUT)
                .map_err(db_error("backup"))?;
            conn.execute("VACUUM INTO ?1", [dest])
                .map_err(db_error("backup"))?;
            Ok(())
        })
        .await
        .map_err(|_| StoreError::Backend("backup: task failed".into()))?
    }

    /// Stops the writer after what is queued (later writes fail) and closes the idle
    /// readers. Dropping every clone of the store also stops the writer.
    pub async fn close(&self) {
        self.writer.close();
        if let Some(reader) = &self.reader {
            reader.close();
        }
    }

    /// Runs the write unit `unit` on the writer thread, in the next group commit; returns
    /// once that group committed (or the unit failed, writing nothing).
    pub(crate) async fn write<T, F>(&self, what: &'static str, unit: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'t> FnOnce(&'t mut Tx) -> UnitFuture<'t, T> + Send + 'static,
    {
        self.writer.submit(what, unit).await
    }

    /// Runs the read `query`, feeding each row to `step` with `acc`: on a database file
    /// in place on a reader connection, in memory on the writer thread.
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
            None => {
                self.write(what, move |tx: &mut Tx| {
                    Box::pin(async move { tx.read_rows(query, what, acc, step).await })
                })
                .await
            }
        }
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

    /// The writer's `BEGIN IMMEDIATE` write lock already makes concurrent openers wait.
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

/// Opens the write connection: WAL (files), foreign keys, the busy timeout, the chosen
/// `synchronous`.
fn open_writer(
    path: Option<&Path>,
    synchronous: SqliteSynchronous,
) -> Result<Connection, StoreError> {
    let conn = match path {
        Some(path) => Connection::open(path),
        None => Connection::open_in_memory(),
    }
    .map_err(db_error("connect"))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(db_error("connect"))?;
    if path.is_some() {
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(db_error("connect"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Backend(format!(
                "connect: journal mode is {mode}, not WAL"
            )));
        }
    }
    let synchronous = match synchronous {
        SqliteSynchronous::Normal => "NORMAL",
        _ => "FULL",
    };
    conn.execute_batch(&format!(
        "PRAGMA foreign_keys = ON; PRAGMA synchronous = {synchronous};"
    ))
    .map_err(db_error("connect"))?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

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
