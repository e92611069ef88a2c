//! Copying a whole store from one database to another (`xkmsd admin migrate-store`).
//!
//! Every table is read in primary-key order in batches (keyset pagination, so a large
//! table costs one index range per batch) and written with multi-row `INSERT`s, one
//! transaction per batch, in an order that satisfies the foreign keys. Values are copied
//! as stored: both schemas use the same column encodings. The target must be empty; its
//! schema is created by opening it. Stop the service that uses the source first: a copy
//! of a store that changes meanwhile is not a consistent snapshot.

use async_trait::async_trait;
use xkms_service::store::StoreError;

use crate::db_error::DbError;
use crate::rows::ColumnReader;

/// Rows copied per batch (and per target transaction).
const COPY_BATCH_ROWS: usize = 2_000;

/// What [`copy_store`] copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    /// Every table in copy order with its number of rows.
    pub tables: Vec<TableCopied>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCopied {
    pub table: &'static str,
    pub rows: u64,
}

impl CopyReport {
    pub fn total_rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }
}

/// Copies every row of the store at `from` into the empty store at `to` (either URL of
/// [`open_store`](crate::open_store)). `progress(table, done, total)` is called when a
/// table starts and after each batch. Refuses (`Conflict`) a target that holds any row.
pub async fn copy_store(
    from: &str,
    to: &str,
    progress: &mut dyn FnMut(&str, u64, u64),
) -> Result<CopyReport, StoreError> {
    let source = crate::open_raw(from).await?;
    let target = crate::open_raw(to).await?;
    let report = copy_between(source.as_ref(), target.as_ref(), progress).await;
    source.close_raw().await;
    target.close_raw().await;
    report
}

async fn copy_between(
    source: &dyn RawTables,
    target: &dyn RawTables,
    progress: &mut dyn FnMut(&str, u64, u64),
) -> Result<CopyReport, StoreError> {
    for table in TABLES {
        if target.count_rows(table).await? != 0 {
            return Err(StoreError::Conflict {
                what: "target store is not empty",
            });
        }
    }
    let mut report = CopyReport { tables: Vec::new() };
    for table in TABLES {
        let total = source.count_rows(table).await?;
        let mut done = 0u64;
        progress(table.name, done, total);
        let mut after: Option<Vec<Value>> = None;
        loop {
            let batch = source
                .read_batch(table, after.as_deref(), COPY_BATCH_ROWS)
                .await?;
            let Some(last) = batch.last() else { break };
            after = Some(last[..table.key_len].to_vec());
            target.write_batch(table, &batch).await?;
            done += batch.len() as u64;
            progress(table.name, done, total.max(done));
        }
        report.tables.push(TableCopied {
            table: table.name,
            rows: done,
        });
    }
    target.finish_copy().await?;
    Ok(report)
}

/// Untyped access to whole tables, implemented by every backend.
#[async_trait]
pub(crate) trait RawTables: Send + Sync {
    async fn count_rows(&self, table: &Table) -> Result<u64, StoreError>;
    /// Up to `limit` rows with a key greater than `after`, in key order.
    async fn read_batch(
        &self,
        table: &'static Table,
        after: Option<&[Value]>,
        limit: usize,
    ) -> Result<Vec<Vec<Value>>, StoreError>;
    /// Inserts `rows` in one transaction.
    async fn write_batch(
        &self,
        table: &'static Table,
        rows: &[Vec<Value>],
    ) -> Result<(), StoreError>;
    /// Backend fix-ups after a copy (PostgreSQL: move the audit id sequence past the
    /// copied ids), then fresh planner statistics (`refresh_statistics`).
    async fn finish_copy(&self) -> Result<(), StoreError>;
    async fn close_raw(&self);
}

/// The storage class of a column; every value may be NULL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Text,
    Blob,
    Int,
}

pub(crate) use crate::query::Value;

/// A table as the copy sees it. The first `key_len` columns are its primary key.
#[derive(Debug)]
pub(crate) struct Table {
    pub name: &'static str,
    pub columns: &'static [(&'static str, Kind)],
    pub key_len: usize,
}

/// Bind parameters per statement: below SQLite's (32766) and PostgreSQL's (65535) limits.
const PARAMETERS_PER_STATEMENT: usize = 16_000;

impl Table {
    pub(crate) fn column_list(&self) -> String {
        let names: Vec<&str> = self.columns.iter().map(|(n, _)| *n).collect();
        names.join(", ")
    }

    pub(crate) fn key_list(&self) -> String {
        let names: Vec<&str> = self.columns[..self.key_len]
            .iter()
            .map(|(n, _)| *n)
            .collect();
        names.join(", ")
    }

    pub(crate) fn rows_per_statement(&self) -> usize {
        (PARAMETERS_PER_STATEMENT / self.columns.len().max(1)).clamp(1, 1_000)
    }

    pub(crate) fn decode(&self, row: &dyn ColumnReader) -> Result<Vec<Value>, DbError> {
        self.columns
            .iter()
            .enumerate()
            .map(|(i, (_, kind))| {
                Ok(match kind {
                    Kind::Text => Value::Text(row.text_at(i)?),
                    Kind::Blob => Value::Blob(row.bytes_at(i)?),
                    Kind::Int => Value::Int(row.int_at(i)?),
                })
            })
            .collect()
    }
}

use Kind::{Blob, Int, Text};

pub(crate) static AUTHORIZATIONS: Table = Table {
    name: "authorizations",
    columns: &[
        ("id", Text),
        ("identity", Text),
        ("purpose", Text),
        ("auth_key_saslprep", Blob),
        ("auth_key_legacy", Blob),
        ("kek_saslprep", Blob),
        ("kek_legacy", Blob),
        ("created_at", Int),
        ("expires_at", Int),
        ("max_uses", Int),
        ("uses", Int),
        ("granted_names", Text),
        ("sealed_secrets", Blob),
        ("revoked_at", Int),
    ],
    key_len: 1,
};

pub(crate) static SERIALS: Table = Table {
    name: "serials",
    columns: &[("serial", Text), ("reserved_at", Int)],
    key_len: 1,
};

pub(crate) static KEY_BINDINGS: Table = Table {
    name: "key_bindings",
    columns: &[
        ("id", Text),
        ("key_name", Text),
        ("modulus", Blob),
        ("exponent", Blob),
        ("key_fingerprint", Blob),
        ("key_usage", Text),
        ("status", Text),
        ("revocation_code_identifier", Blob),
        ("authorization_id", Text),
        ("created_at", Int),
        ("revoked_at", Int),
    ],
    key_len: 1,
};

pub(crate) static USE_KEY_WITH: Table = Table {
    name: "use_key_with",
    columns: &[
        ("binding_id", Text),
        ("ordinal", Int),
        ("application", Text),
        ("identifier", Text),
    ],
    key_len: 2,
};

pub(crate) static CERTIFICATES: Table = Table {
    name: "certificates",
    columns: &[
        ("serial", Text),
        ("binding_id", Text),
        ("der", Blob),
        ("ski", Blob),
        ("not_before", Int),
        ("not_after", Int),
        ("issued_at", Int),
        ("revoked_at", Int),
        ("revocation_reason", Int),
    ],
    key_len: 1,
};

pub(crate) static ESCROWED_KEYS: Table = Table {
    name: "escrowed_keys",
    columns: &[("binding_id", Text), ("private_key", Blob), ("format", Int)],
    key_len: 1,
};

static AUDIT_EVENTS: Table = Table {
    name: "audit_events",
    columns: &[
        ("id", Int),
        ("at", Int),
        ("kind", Text),
        ("request_id", Text),
        ("subject", Text),
        ("detail", Text),
        ("seq", Int),
        ("prev_hash", Blob),
        ("hash", Blob),
    ],
    key_len: 1,
};

static PENDING_REQUESTS: Table = Table {
    name: "pending_requests",
    columns: &[
        ("response_id", Text),
        ("original_request_id", Text),
        ("operation", Text),
        ("requester", Text),
        ("state", Text),
        ("document", Text),
        ("result", Text),
        ("created_at", Int),
        ("updated_at", Int),
        ("lease_until", Int),
        ("counter_success", Int),
        ("counter_failure", Int),
        ("counter_pending", Int),
    ],
    key_len: 1,
};

static REPLAY_VALUES: Table = Table {
    name: "replay_values",
    columns: &[("kind", Text), ("value", Blob), ("expires_at", Int)],
    key_len: 2,
};

/// Every table of the schema (except `schema_migrations`, and `audit_head`, which every
/// store has from its migration and `finish_copy` moves to the copied chain's end),
/// parents before children.
static TABLES: [&Table; 9] = [
    &AUTHORIZATIONS,
    &SERIALS,
    &KEY_BINDINGS,
    &USE_KEY_WITH,
    &CERTIFICATES,
    &ESCROWED_KEYS,
    &AUDIT_EVENTS,
    &PENDING_REQUESTS,
    &REPLAY_VALUES,
];
