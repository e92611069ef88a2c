//! Bulk loads and the raw table access of `copy_store`.

use async_trait::async_trait;
use xkms_service::store::{Registration, StoreError};

use crate::columns::limit_to_column;
use crate::copy::{RawTables, Table, Value};
use crate::db_error::db_error;
use crate::query::Query;
use crate::rows::ColumnReader;

use super::{Store, Tx};

impl Store {
    /// Loads many registrations fast (benchmarks, imports): multi-row
    /// `INSERT`s in transactions of `bulk::BULK_TRANSACTION_ROWS` registrations.
    /// Writes serials, bindings, UseKeyWith pairs, certificates and escrowed
    /// keys; no authorization accounting, no audit events. A failure rolls
    /// back the current transaction only: earlier ones stay committed.
    pub async fn bulk_insert_registrations(
        &self,
        registrations: &[Registration],
    ) -> Result<(), StoreError> {
        for chunk in registrations.chunks(crate::bulk::BULK_TRANSACTION_ROWS) {
            let encoded = crate::bulk::Encoded::new(chunk)?;
            self.write("bulk load", move |tx: &mut Tx| {
                Box::pin(async move {
                    for table in encoded.tables() {
                        for rows in table.rows.chunks(table.rows_per_statement()) {
                            insert_values(tx, table.table, rows).await?;
                        }
                    }
                    Ok(())
                })
            })
            .await?;
        }
        Ok(())
    }
}

#[async_trait]
impl RawTables for Store {
    async fn count_rows(&self, table: &Table) -> Result<u64, StoreError> {
        let q = Query::new(format!("SELECT COUNT(*) FROM {}", table.name));
        self.fetch_count(q, "row count").await
    }

    async fn read_batch(
        &self,
        table: &'static Table,
        after: Option<&[Value]>,
        limit: usize,
    ) -> Result<Vec<Vec<Value>>, StoreError> {
        let mut q = Query::new(format!(
            "SELECT {} FROM {}",
            table.column_list(),
            table.name
        ));
        if let Some(after) = after {
            q.push(" WHERE (").push(&table.key_list()).push(") > (");
            for (i, value) in after.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.push_bind(value.clone());
            }
            q.push(")");
        }
        q.push(" ORDER BY ")
            .push(&table.key_list())
            .push(" LIMIT ")
            .push_bind(limit_to_column(limit));
        self.read_rows(
            q,
            "copy read",
            Vec::new(),
            move |out: &mut Vec<Vec<Value>>, row: &dyn ColumnReader| {
                out.push(table.decode(row).map_err(db_error("copy read"))?);
                Ok(())
            },
        )
        .await
    }

    async fn write_batch(
        &self,
        table: &'static Table,
        rows: &[Vec<Value>],
    ) -> Result<(), StoreError> {
        let rows = rows.to_vec();
        self.write("copy write", move |tx: &mut Tx| {
            Box::pin(async move {
                for rows in rows.chunks(table.rows_per_statement()) {
                    insert_values(tx, table, rows).await?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn finish_copy(&self) -> Result<(), StoreError> {
        // The chain continues after the copied events.
        let q = Query::new(
            "UPDATE audit_head SET \
             seq = COALESCE((SELECT MAX(seq) FROM audit_events), 0), \
             hash = COALESCE((SELECT hash FROM audit_events WHERE seq = \
             (SELECT MAX(seq) FROM audit_events)), $1) WHERE id = 1",
        )
        .bind(xkms_service::store::AUDIT_GENESIS.to_vec());
        self.write("copy finish", move |tx: &mut Tx| {
            Box::pin(async move {
                tx.execute(q, "copy finish").await?;
                if let Some(sql) = <Store>::AFTER_COPY_SQL {
                    tx.execute_batch(sql, "copy finish").await?;
                }
                Ok(())
            })
        })
        .await?;
        // A store filled in one go has no planner statistics yet.
        self.refresh_statistics().await
    }

    async fn close_raw(&self) {
        self.close().await;
    }
}

/// One multi-row `INSERT` of `rows` (all of `table`'s columns, in order).
pub(super) async fn insert_values(
    tx: &mut Tx,
    table: &Table,
    rows: &[Vec<Value>],
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut q = Query::new(format!(
        "INSERT INTO {} ({}) VALUES ",
        table.name,
        table.column_list()
    ));
    for (i, row) in rows.iter().enumerate() {
        q.push(if i == 0 { "(" } else { ", (" });
        for (j, value) in row.iter().enumerate() {
            if j > 0 {
                q.push(", ");
            }
            q.push_bind(value.clone());
        }
        q.push(")");
    }
    tx.execute(q, table.name).await?;
    Ok(())
}
