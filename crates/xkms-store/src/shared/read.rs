//! Reads: a backend-neutral [`Query`] in, decoded records out.
//!
//! Each backend supplies `read_rows(query, what, acc, step)`: it runs the one statement
//! and feeds every row, through [`ColumnReader`], to `step` with the accumulator `acc`
//! (SQLite: on a pooled rusqlite connection, in one blocking task per call; PostgreSQL:
//! through sqlx, with [`sqlx_read_rows`] below). The helpers here build on it.

use sqlx::AssertSqlSafe;
use xkms_service::store::StoreError;

use crate::columns::corrupt;
use crate::db_error::db_error;
use crate::query::{Query, Value};
use crate::rows::ColumnReader;

use super::{Db, Store};

impl Store {
    /// Every row of `query`, decoded.
    pub(super) async fn fetch_all<T: Send + 'static>(
        &self,
        query: Query,
        what: &'static str,
        decode: fn(&dyn ColumnReader) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        self.read_rows(
            query,
            what,
            Vec::new(),
            move |out: &mut Vec<T>, row: &dyn ColumnReader| {
                out.push(decode(row)?);
                Ok(())
            },
        )
        .await
    }

    /// The first row of `query`, decoded, if there is one.
    pub(super) async fn fetch_optional<T: Send + 'static>(
        &self,
        query: Query,
        what: &'static str,
        decode: fn(&dyn ColumnReader) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        self.read_rows(
            query,
            what,
            None,
            move |out: &mut Option<T>, row: &dyn ColumnReader| {
                if out.is_none() {
                    *out = Some(decode(row)?);
                }
                Ok(())
            },
        )
        .await
    }

    /// The first column of the one row of `query` as a count.
    pub(super) async fn fetch_count(
        &self,
        query: Query,
        what: &'static str,
    ) -> Result<u64, StoreError> {
        let n = self
            .fetch_optional(query, what, |row| {
                row.int_at(0)
                    .map_err(db_error("count"))?
                    .ok_or_else(|| corrupt("count"))
            })
            .await?
            .ok_or_else(|| corrupt(what))?;
        u64::try_from(n).map_err(|_| corrupt(what))
    }
}

/// `read_rows` through sqlx, on `pool`.
pub(crate) async fn sqlx_read_rows<A, F>(
    pool: &sqlx::Pool<Db>,
    query: Query,
    what: &'static str,
    mut acc: A,
    mut step: F,
) -> Result<A, StoreError>
where
    A: Send,
    F: FnMut(&mut A, &dyn ColumnReader) -> Result<(), StoreError> + Send,
{
    let mut q = sqlx::query(AssertSqlSafe(query.sql));
    for value in query.binds {
        q = match value {
            Value::Int(v) => q.bind(v),
            Value::Text(v) => q.bind(v),
            Value::Blob(v) => q.bind(v),
        };
    }
    let rows = q.fetch_all(pool).await.map_err(db_error(what))?;
    for row in &rows {
        step(&mut acc, row)?;
    }
    Ok(acc)
}
