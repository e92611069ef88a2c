//! Encoding of many registrations into table rows for `bulk_insert_registrations`.

use xkms_service::store::{Registration, StoreError};

use crate::columns::{
    key_usage_to_column, limit_to_column, optional_timestamp_to_column, timestamp_to_column,
};
use crate::copy::{CERTIFICATES, ESCROWED_KEYS, KEY_BINDINGS, SERIALS, Table, USE_KEY_WITH, Value};

/// Registrations per transaction: large enough that commits (fsyncs) are rare, small
/// enough that a transaction's memory stays a few tens of megabytes.
pub(crate) const BULK_TRANSACTION_ROWS: usize = 10_000;

pub(crate) struct TableRows {
    pub table: &'static Table,
    pub rows: Vec<Vec<Value>>,
}

impl TableRows {
    pub(crate) fn rows_per_statement(&self) -> usize {
        self.table.rows_per_statement()
    }
}

/// The rows of a batch of registrations, table by table in foreign-key order.
pub(crate) struct Encoded {
    tables: [TableRows; 5],
}

impl Encoded {
    pub(crate) fn new(registrations: &[Registration]) -> Result<Encoded, StoreError> {
        let mut serials = Vec::with_capacity(registrations.len());
        let mut bindings = Vec::with_capacity(registrations.len());
        let mut pairs = Vec::with_capacity(registrations.len() * 2);
        let mut certificates = Vec::with_capacity(registrations.len());
        let mut escrow = Vec::new();
        for r in registrations {
            let b = &r.binding;
            let c = &r.certificate;
            if c.binding_id != b.id {
                return Err(StoreError::Conflict {
                    what: "certificate belongs to another binding",
                });
            }
            serials.push(vec![
                Value::Text(Some(c.serial.to_hex())),
                Value::Int(Some(timestamp_to_column(c.issued_at)?)),
            ]);
            bindings.push(vec![
                Value::Text(Some(b.id.clone())),
                Value::Text(b.key_name.clone()),
                Value::Blob(Some(b.modulus.clone())),
                Value::Blob(Some(b.exponent.clone())),
                Value::Blob(Some(b.key_fingerprint.clone())),
                Value::Text(Some(key_usage_to_column(&b.key_usage)?)),
                Value::Text(Some(b.status.as_str().to_owned())),
                Value::Blob(b.revocation_code_identifier.clone()),
                Value::Text(b.authorization_id.clone()),
                Value::Int(Some(timestamp_to_column(b.created_at)?)),
                Value::Int(optional_timestamp_to_column(b.revoked_at)?),
            ]);
            for (ordinal, pair) in b.use_key_with.iter().enumerate() {
                pairs.push(vec![
                    Value::Text(Some(b.id.clone())),
                    Value::Int(Some(limit_to_column(ordinal))),
                    Value::Text(Some(pair.application.as_uri().to_owned())),
                    Value::Text(Some(pair.identifier.clone())),
                ]);
            }
            certificates.push(vec![
                Value::Text(Some(c.serial.to_hex())),
                Value::Text(Some(c.binding_id.clone())),
                Value::Blob(Some(c.der.clone())),
                Value::Blob(Some(c.ski.clone())),
                Value::Int(Some(timestamp_to_column(c.not_before)?)),
                Value::Int(Some(timestamp_to_column(c.not_after)?)),
                Value::Int(Some(timestamp_to_column(c.issued_at)?)),
                Value::Int(optional_timestamp_to_column(c.revoked_at)?),
                Value::Int(c.revocation_reason.map(i64::from)),
            ]);
            if let Some(key) = &r.escrowed_private_key {
                escrow.push(vec![
                    Value::Text(Some(b.id.clone())),
                    Value::Blob(Some(key.clone())),
                    Value::Int(Some(crate::ESCROW_FORMAT_BOUND)),
                ]);
            }
        }
        Ok(Encoded {
            tables: [
                TableRows {
                    table: &SERIALS,
                    rows: serials,
                },
                TableRows {
                    table: &KEY_BINDINGS,
                    rows: bindings,
                },
                TableRows {
                    table: &USE_KEY_WITH,
                    rows: pairs,
                },
                TableRows {
                    table: &CERTIFICATES,
                    rows: certificates,
                },
                TableRows {
                    table: &ESCROWED_KEYS,
                    rows: escrow,
                },
            ],
        })
    }

    pub(crate) fn tables(&self) -> &[TableRows] {
        &self.tables
    }
}
