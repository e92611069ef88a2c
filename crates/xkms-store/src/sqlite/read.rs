//! Reads on rusqlite: a small pool of connections to the database file, used in place by
//! the task that reads — no hand-off to another thread.
//!
//! sqlx-sqlite runs every statement on a per-connection worker thread, two hand-offs
//! (there and back) per statement. Here a store call takes an idle connection (or opens
//! one), runs its one statement from the connection's prepared-statement cache, decodes
//! the rows in place and returns, on the calling thread. Every read the service makes
//! while answering a request is one indexed statement bounded by a `LIMIT` or a key
//! (checked by `hot_queries_use_indexes_on_a_loaded_store`), answered from SQLite's page
//! cache in tens of microseconds — less than parsing the request's XML, which runs on
//! the same worker. Measured on Locate (docs/PERFORMANCE.md): one `spawn_blocking` per
//! read ran 8,400–9,600/s, `block_in_place` 11,000/s, in place 16,000–17,600/s; the
//! difference is two context switches per request. In WAL mode these readers never wait
//! for the writer (nor block it); each statement reads one committed snapshot. The
//! connections are `query_only`: a read path cannot write.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, ToSql};
use tokio::sync::Semaphore;
use xkms_service::store::StoreError;

use crate::db_error::db_error;
use crate::query::{Query, Value, placeholder};
use crate::rows::ColumnReader;

/// Prepared statements kept per connection (the store has a few dozen distinct reads).
const STATEMENT_CACHE: usize = 64;

/// Read-only connections to one database file.
#[derive(Clone)]
pub(crate) struct ReadPool {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    busy_timeout: Duration,
    idle: Mutex<Vec<Connection>>,
    /// At most this many reads run at once (so at most this many connections exist).
    permits: Arc<Semaphore>,
}

impl std::fmt::Debug for ReadPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadPool")
            .field("path", &self.inner.path)
            .field("available", &self.inner.permits.available_permits())
            .finish()
    }
}

impl ReadPool {
    /// A pool of at most `size` connections to `path`, opened when first needed.
    pub(crate) fn new(path: PathBuf, size: usize, busy_timeout: Duration) -> ReadPool {
        ReadPool {
            inner: Arc::new(Inner {
                path,
                busy_timeout,
                idle: Mutex::new(Vec::new()),
                permits: Arc::new(Semaphore::new(size)),
            }),
        }
    }

    /// Runs `query` on a pooled connection on this thread, feeding each row to
    /// `step` with `acc`; returns `acc`.
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
        // Wait for a free slot here, on the async side, not in a blocking thread.
        let permit = Arc::clone(&self.inner.permits)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Backend(format!("{what}: reader pool closed")))?;
        let _permit = permit;
        let conn = self.inner.take()?;
        let result = run(&conn, &query, what, acc, step);
        self.inner.give_back(conn);
        result
    }

    /// Closes the idle connections; later reads open new ones.
    pub(crate) fn close(&self) {
        self.inner.lock_idle().clear();
    }
}

impl Inner {
    fn lock_idle(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        // A panic while holding the lock leaves a plain Vec: still usable.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn take(&self) -> Result<Connection, StoreError> {
        if let Some(conn) = self.lock_idle().pop() {
            return Ok(conn);
        }
        self.open()
    }

    fn give_back(&self, conn: Connection) {
        self.lock_idle().push(conn);
    }

    fn open(&self) -> Result<Connection, StoreError> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(db_error("open reader"))?;
        conn.busy_timeout(self.busy_timeout)
            .map_err(db_error("open reader"))?;
        conn.pragma_update(None, "query_only", true)
            .map_err(db_error("open reader"))?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(conn)
    }
}

/// Runs one statement on `conn` (see [`ReadPool::read_rows`]).
pub(crate) fn run<A, F>(
    conn: &Connection,
    query: &Query,
    what: &'static str,
    mut acc: A,
    mut step: F,
) -> Result<A, StoreError>
where
    F: FnMut(&mut A, &dyn ColumnReader) -> Result<(), StoreError>,
{
    let mut statement = conn.prepare_cached(&query.sql).map_err(db_error(what))?;
    bind(&mut statement, &query.binds, what)?;
    let mut rows = statement.raw_query();
    while let Some(row) = rows.next().map_err(db_error(what))? {
        step(&mut acc, row)?;
    }
    Ok(acc)
}

/// Binds `binds` to the `$n` placeholders of `statement` (by name: SQLite numbers named
/// parameters in order of first appearance, not by their digits).
pub(crate) fn bind(
    statement: &mut rusqlite::Statement<'_>,
    binds: &[Value],
    what: &'static str,
) -> Result<(), StoreError> {
    for index in 1..=statement.parameter_count() {
        let value = match statement.parameter_name(index) {
            Some(name) => placeholder(binds, name),
            None => binds.get(index - 1),
        }
        .ok_or_else(|| StoreError::Backend(format!("{what}: unbound parameter {index}")))?;
        statement
            .raw_bind_parameter(index, value)
            .map_err(db_error(what))?;
    }
    Ok(())
}

impl ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Int(Some(v)) => ValueRef::Integer(*v),
            Value::Text(Some(v)) => ValueRef::Text(v.as_bytes()),
            Value::Blob(Some(v)) => ValueRef::Blob(v),
            Value::Int(None) | Value::Text(None) | Value::Blob(None) => ValueRef::Null,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER, b BLOB)")
            .unwrap();
        conn
    }

    fn texts(conn: &Connection, q: &Query) -> Result<Vec<String>, StoreError> {
        run(
            conn,
            q,
            "t",
            Vec::new(),
            |out: &mut Vec<String>, row: &dyn ColumnReader| {
                out.push(row.text_at(0).map_err(db_error("t"))?.unwrap_or_default());
                Ok(())
            },
        )
    }

    #[test]
    fn placeholders_bind_by_number_not_by_first_appearance() {
        let conn = memory();
        conn.execute("INSERT INTO t VALUES ('a', 1, x'00'), ('b', 2, NULL)", [])
            .unwrap();
        // `$2` appears first: SQLite numbers it parameter 1.
        let q = Query::new("SELECT k FROM t WHERE n = $2 AND k = $1 AND $2 = $2")
            .bind("b")
            .bind(2_i64);
        assert_eq!(texts(&conn, &q).unwrap(), ["b"]);
        let missing = Query::new("SELECT k FROM t WHERE k = $2").bind("b");
        assert!(texts(&conn, &missing).is_err());
        let null = Query::new("SELECT k FROM t WHERE b IS $1").bind(None::<&[u8]>);
        assert_eq!(texts(&conn, &null).unwrap(), ["b"]);
    }

    #[test]
    fn constraint_violations_map_like_sqlx() {
        let conn = memory();
        conn.execute("INSERT INTO t VALUES ('a', 1, NULL)", [])
            .unwrap();
        let error = conn
            .execute("INSERT INTO t VALUES ('a', 2, NULL)", [])
            .unwrap_err();
        assert!(matches!(
            db_error("t")(error),
            StoreError::Duplicate { what: "t" }
        ));
        let error = conn.execute("INSERT INTO nope VALUES (1)", []).unwrap_err();
        assert!(matches!(db_error("t")(error), StoreError::Backend(_)));
    }
}
