//! Mapping of SQLite rows to store records.

use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use xkms_service::store::{
    AuditEvent, Authorization, CertificateRecord, DerivedSecrets, KeyBindingRecord, StoreError,
    StoredUseKeyWith,
};

use crate::columns::{
    count_from_column, key_usage_from_column, optional_timestamp_from_column, purpose_from_column,
    reason_from_column, status_from_column, timestamp_from_column,
};
use crate::db_error::db_error;

macro_rules! authorization_columns {
    () => {
        "id, identity, purpose, auth_key_saslprep, \
     auth_key_legacy, kek_saslprep, kek_legacy, created_at, expires_at, max_uses, uses"
    };
}
pub(crate) use authorization_columns;

pub(crate) fn authorization(row: &SqliteRow) -> Result<Authorization, StoreError> {
    let e = db_error("authorization row");
    Ok(Authorization {
        id: row.try_get("id").map_err(&e)?,
        identity: row.try_get("identity").map_err(&e)?,
        purpose: purpose_from_column(row.try_get("purpose").map_err(&e)?)?,
        secrets: DerivedSecrets {
            auth_key_saslprep: row.try_get("auth_key_saslprep").map_err(&e)?,
            auth_key_legacy: row.try_get("auth_key_legacy").map_err(&e)?,
            kek_saslprep: row.try_get("kek_saslprep").map_err(&e)?,
            kek_legacy: row.try_get("kek_legacy").map_err(&e)?,
        },
        created_at: timestamp_from_column(row.try_get("created_at").map_err(&e)?)?,
        expires_at: timestamp_from_column(row.try_get("expires_at").map_err(&e)?)?,
        max_uses: row
            .try_get::<Option<i64>, _>("max_uses")
            .map_err(&e)?
            .map(|v| count_from_column(v, "max_uses"))
            .transpose()?,
        uses: count_from_column(row.try_get("uses").map_err(&e)?, "uses")?,
    })
}

/// Columns of `key_bindings` (aliased `kb`) as [`key_binding`] reads them.
macro_rules! key_binding_columns {
    () => {
        "kb.id, kb.key_name, kb.modulus, kb.exponent, \
     kb.key_fingerprint, kb.key_usage, kb.status, kb.revocation_code_identifier, \
     kb.authorization_id, kb.created_at, kb.revoked_at"
    };
}
pub(crate) use key_binding_columns;

/// A binding without its UseKeyWith pairs, which live in their own table.
pub(crate) fn key_binding(row: &SqliteRow) -> Result<KeyBindingRecord, StoreError> {
    let e = db_error("key binding row");
    Ok(KeyBindingRecord {
        id: row.try_get("id").map_err(&e)?,
        key_name: row.try_get("key_name").map_err(&e)?,
        modulus: row.try_get("modulus").map_err(&e)?,
        exponent: row.try_get("exponent").map_err(&e)?,
        key_fingerprint: row.try_get("key_fingerprint").map_err(&e)?,
        key_usage: key_usage_from_column(row.try_get("key_usage").map_err(&e)?),
        use_key_with: Vec::new(),
        status: status_from_column(row.try_get("status").map_err(&e)?)?,
        revocation_code_identifier: row.try_get("revocation_code_identifier").map_err(&e)?,
        authorization_id: row.try_get("authorization_id").map_err(&e)?,
        created_at: timestamp_from_column(row.try_get("created_at").map_err(&e)?)?,
        revoked_at: optional_timestamp_from_column(row.try_get("revoked_at").map_err(&e)?)?,
    })
}

pub(crate) fn use_key_with(row: &SqliteRow) -> Result<StoredUseKeyWith, StoreError> {
    let e = db_error("use_key_with row");
    Ok(StoredUseKeyWith {
        application: row.try_get("application").map_err(&e)?,
        identifier: row.try_get("identifier").map_err(&e)?,
    })
}

macro_rules! certificate_columns {
    () => {
        "serial, binding_id, der, not_before, not_after, issued_at, revoked_at, revocation_reason"
    };
}
pub(crate) use certificate_columns;

pub(crate) fn certificate(row: &SqliteRow) -> Result<CertificateRecord, StoreError> {
    let e = db_error("certificate row");
    Ok(CertificateRecord {
        serial: row.try_get("serial").map_err(&e)?,
        binding_id: row.try_get("binding_id").map_err(&e)?,
        der: row.try_get("der").map_err(&e)?,
        not_before: timestamp_from_column(row.try_get("not_before").map_err(&e)?)?,
        not_after: timestamp_from_column(row.try_get("not_after").map_err(&e)?)?,
        issued_at: timestamp_from_column(row.try_get("issued_at").map_err(&e)?)?,
        revoked_at: optional_timestamp_from_column(row.try_get("revoked_at").map_err(&e)?)?,
        revocation_reason: reason_from_column(row.try_get("revocation_reason").map_err(&e)?)?,
    })
}

macro_rules! audit_columns {
    () => {
        "at, kind, request_id, subject, detail"
    };
}
pub(crate) use audit_columns;

pub(crate) fn audit_event(row: &SqliteRow) -> Result<AuditEvent, StoreError> {
    let e = db_error("audit row");
    Ok(AuditEvent {
        at: timestamp_from_column(row.try_get("at").map_err(&e)?)?,
        kind: row.try_get("kind").map_err(&e)?,
        request_id: row.try_get("request_id").map_err(&e)?,
        subject: row.try_get("subject").map_err(&e)?,
        detail: row.try_get("detail").map_err(&e)?,
    })
}
