//! Reads: a backend-neutral [`Query`] in, decoded records out.
//!
//! Each backend supplies `read_rows(query, what, acc, step)`: it runs the one statement
//! and feeds every row, through [`ColumnReader`], to `step` with the accumulator `acc`
//! (SQLite: on a pooled rusqlite connection, in place on the calling thread; PostgreSQL:
//! through sqlx). The helpers here build on it.

use xkms_service::store::StoreError;

use crate::columns::corrupt;
use crate::db_error::db_error;
use crate::query::Query;
use crate::rows::ColumnReader;

use super::Store;

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
