//! Mapping of database rows to store records, shared by every backend.
//!
//! Both schemas use the same column names and the same three storage classes (text,
//! bytes, 64-bit integer), so one mapping serves SQLite and PostgreSQL rows through the
//! small [`ColumnReader`] trait.

use xkms_service::store::{
    AuditEvent, AuditHead, AuditKind, Authorization, CertificateRecord, ChainedAuditEvent,
    DerivedSecrets, FailureRecord, KeyBindingRecord, Operation, PendingRecord, PendingState,
    RevokedCertificate, Serial, StoreError, StoredUseKeyWith,
};

use crate::columns::{
    corrupt, count_from_column, granted_names_from_column, key_usage_from_column,
    optional_timestamp_from_column, purpose_from_column, reason_from_column, status_from_column,
    timestamp_from_column,
};
use crate::db_error::{DbError, db_error};

/// Typed column access by name or position, implemented for the row type of each driver
/// (sqlx's SQLite and PostgreSQL rows, rusqlite's row), so every record is decoded by one
/// function whichever driver read it.
pub(crate) trait ColumnReader {
    fn text(&self, column: &str) -> Result<Option<String>, DbError>;
    fn bytes(&self, column: &str) -> Result<Option<Vec<u8>>, DbError>;
    fn int(&self, column: &str) -> Result<Option<i64>, DbError>;
    fn int_at(&self, index: usize) -> Result<Option<i64>, DbError>;
    fn text_at(&self, index: usize) -> Result<Option<String>, DbError>;
    fn bytes_at(&self, index: usize) -> Result<Option<Vec<u8>>, DbError>;
}

macro_rules! sqlx_column_reader {
    ($row:ty) => {
        impl ColumnReader for $row {
            fn text(&self, column: &str) -> Result<Option<String>, DbError> {
                Ok(sqlx::Row::try_get(self, column)?)
            }
            fn bytes(&self, column: &str) -> Result<Option<Vec<u8>>, DbError> {
                Ok(sqlx::Row::try_get(self, column)?)
            }
            fn int(&self, column: &str) -> Result<Option<i64>, DbError> {
                Ok(sqlx::Row::try_get(self, column)?)
            }
            fn int_at(&self, index: usize) -> Result<Option<i64>, DbError> {
                Ok(sqlx::Row::try_get(self, index)?)
            }
            fn text_at(&self, index: usize) -> Result<Option<String>, DbError> {
                Ok(sqlx::Row::try_get(self, index)?)
            }
            fn bytes_at(&self, index: usize) -> Result<Option<Vec<u8>>, DbError> {
                Ok(sqlx::Row::try_get(self, index)?)
            }
        }
    };
}
sqlx_column_reader!(sqlx::sqlite::SqliteRow);
sqlx_column_reader!(sqlx::postgres::PgRow);

impl ColumnReader for rusqlite::Row<'_> {
    fn text(&self, column: &str) -> Result<Option<String>, DbError> {
        Ok(self.get(column)?)
    }
    fn bytes(&self, column: &str) -> Result<Option<Vec<u8>>, DbError> {
        Ok(self.get(column)?)
    }
    fn int(&self, column: &str) -> Result<Option<i64>, DbError> {
        Ok(self.get(column)?)
    }
    fn int_at(&self, index: usize) -> Result<Option<i64>, DbError> {
        Ok(self.get(index)?)
    }
    fn text_at(&self, index: usize) -> Result<Option<String>, DbError> {
        Ok(self.get(index)?)
    }
    fn bytes_at(&self, index: usize) -> Result<Option<Vec<u8>>, DbError> {
        Ok(self.get(index)?)
    }
}

/// Non-null accessors with the record name in the error.
struct Reader<'r> {
    row: &'r dyn ColumnReader,
    what: &'static str,
}

impl Reader<'_> {
    fn opt_text(&self, c: &str) -> Result<Option<String>, StoreError> {
        self.row.text(c).map_err(db_error(self.what))
    }
    fn text(&self, c: &str) -> Result<String, StoreError> {
        self.opt_text(c)?.ok_or_else(|| corrupt(self.what))
    }
    fn opt_bytes(&self, c: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.row.bytes(c).map_err(db_error(self.what))
    }
    fn bytes(&self, c: &str) -> Result<Vec<u8>, StoreError> {
        self.opt_bytes(c)?.ok_or_else(|| corrupt(self.what))
    }
    fn opt_int(&self, c: &str) -> Result<Option<i64>, StoreError> {
        self.row.int(c).map_err(db_error(self.what))
    }
    fn int(&self, c: &str) -> Result<i64, StoreError> {
        self.opt_int(c)?.ok_or_else(|| corrupt(self.what))
    }
    fn time(&self, c: &str) -> Result<time::OffsetDateTime, StoreError> {
        timestamp_from_column(self.int(c)?)
    }
    fn opt_time(&self, c: &str) -> Result<Option<time::OffsetDateTime>, StoreError> {
        optional_timestamp_from_column(self.opt_int(c)?)
    }
}

/// The columns [`authorization`] reads. The four clear secret columns of rows written
/// before sealing are read only by [`unsealed_secrets`].
macro_rules! authorization_columns {
    () => {
        "id, identity, purpose, granted_names, sealed_secrets, created_at, expires_at, \
         max_uses, uses, revoked_at"
    };
}
pub(crate) use authorization_columns;

/// The clear secrets of a row written before sealing.
macro_rules! unsealed_secret_columns {
    () => {
        "auth_key_saslprep, auth_key_legacy, kek_saslprep, kek_legacy"
    };
}
pub(crate) use unsealed_secret_columns;

pub(crate) fn authorization(row: &dyn ColumnReader) -> Result<Authorization, StoreError> {
    let r = Reader {
        row,
        what: "authorization row",
    };
    Ok(Authorization {
        id: r.text("id")?,
        identity: r.text("identity")?,
        purpose: purpose_from_column(&r.text("purpose")?)?,
        granted_names: granted_names_from_column(&r.text("granted_names")?)?,
        sealed_secrets: r.opt_bytes("sealed_secrets")?.unwrap_or_default(),
        created_at: r.time("created_at")?,
        expires_at: r.time("expires_at")?,
        max_uses: r
            .opt_int("max_uses")?
            .map(|v| count_from_column(v, "max_uses"))
            .transpose()?,
        uses: count_from_column(r.int("uses")?, "uses")?,
        revoked_at: r.opt_time("revoked_at")?,
    })
}

pub(crate) fn unsealed_secrets(row: &dyn ColumnReader) -> Result<DerivedSecrets, StoreError> {
    let r = Reader {
        row,
        what: "authorization row",
    };
    Ok(DerivedSecrets {
        auth_key_saslprep: r.bytes("auth_key_saslprep")?,
        auth_key_legacy: r.bytes("auth_key_legacy")?,
        kek_saslprep: r.bytes("kek_saslprep")?,
        kek_legacy: r.bytes("kek_legacy")?,
    })
}

/// Columns of `key_bindings` (aliased `kb`) as [`key_binding`] reads them. The escrowed
/// private key lives in its own table and is never part of a binding row.
macro_rules! key_binding_columns {
    () => {
        "kb.id, kb.key_name, kb.modulus, kb.exponent, \
     kb.key_fingerprint, kb.key_usage, kb.status, kb.revocation_code_identifier, \
     kb.authorization_id, kb.created_at, kb.revoked_at"
    };
}
pub(crate) use key_binding_columns;

/// A binding without its UseKeyWith pairs, which live in their own table.
pub(crate) fn key_binding(row: &dyn ColumnReader) -> Result<KeyBindingRecord, StoreError> {
    let r = Reader {
        row,
        what: "key binding row",
    };
    Ok(KeyBindingRecord {
        id: r.text("id")?,
        key_name: r.opt_text("key_name")?,
        modulus: r.bytes("modulus")?,
        exponent: r.bytes("exponent")?,
        key_fingerprint: r.bytes("key_fingerprint")?,
        key_usage: key_usage_from_column(&r.text("key_usage")?)?,
        use_key_with: Vec::new(),
        status: status_from_column(&r.text("status")?)?,
        revocation_code_identifier: r.opt_bytes("revocation_code_identifier")?,
        authorization_id: r.opt_text("authorization_id")?,
        created_at: r.time("created_at")?,
        revoked_at: r.opt_time("revoked_at")?,
    })
}

/// The binding id of a joined binding row.
pub(crate) fn binding_id_of(row: &dyn ColumnReader) -> Result<String, StoreError> {
    Reader {
        row,
        what: "key binding row",
    }
    .text("id")
}

/// The UseKeyWith pair of a binding row joined with `use_key_with` (aliases
/// `ukw_application`, `ukw_identifier`; both NULL for a binding without pairs).
pub(crate) fn joined_use_key_with(
    row: &dyn ColumnReader,
) -> Result<Option<StoredUseKeyWith>, StoreError> {
    let r = Reader {
        row,
        what: "use_key_with row",
    };
    match (
        r.opt_text("ukw_application")?,
        r.opt_text("ukw_identifier")?,
    ) {
        (Some(application), Some(identifier)) => Ok(Some(StoredUseKeyWith {
            application: xkms_service::store::Application::from_uri(&application),
            identifier,
        })),
        _ => Ok(None),
    }
}

/// Bindings from rows of bindings joined with their UseKeyWith pairs (each binding's
/// rows consecutive, its pairs in order; see `find::bindings_with_pairs_query`), one row
/// at a time.
pub(crate) fn push_binding_with_pair(
    bindings: &mut Vec<KeyBindingRecord>,
    row: &dyn ColumnReader,
) -> Result<(), StoreError> {
    let id = binding_id_of(row)?;
    if bindings.last().is_none_or(|b| b.id != id) {
        bindings.push(key_binding(row)?);
    }
    if let (Some(binding), Some(pair)) = (bindings.last_mut(), joined_use_key_with(row)?) {
        binding.use_key_with.push(pair);
    }
    Ok(())
}

macro_rules! certificate_columns {
    () => {
        "serial, binding_id, der, ski, not_before, not_after, issued_at, revoked_at, \
         revocation_reason"
    };
}
pub(crate) use certificate_columns;

/// Where a row holds a certificate's columns (all but its binding id): `certificates`' own
/// names, or the `cert_` aliases of a binding row joined with its certificates (see
/// `find::bindings_with_certificates_query`), whose own `revoked_at` is the binding's.
struct CertificateColumns {
    serial: &'static str,
    der: &'static str,
    ski: &'static str,
    not_before: &'static str,
    not_after: &'static str,
    issued_at: &'static str,
    revoked_at: &'static str,
    revocation_reason: &'static str,
}

const CERTIFICATE: CertificateColumns = CertificateColumns {
    serial: "serial",
    der: "der",
    ski: "ski",
    not_before: "not_before",
    not_after: "not_after",
    issued_at: "issued_at",
    revoked_at: "revoked_at",
    revocation_reason: "revocation_reason",
};

const JOINED_CERTIFICATE: CertificateColumns = CertificateColumns {
    serial: "cert_serial",
    der: "cert_der",
    ski: "cert_ski",
    not_before: "cert_not_before",
    not_after: "cert_not_after",
    issued_at: "cert_issued_at",
    revoked_at: "cert_revoked_at",
    revocation_reason: "cert_revocation_reason",
};

pub(crate) fn certificate(row: &dyn ColumnReader) -> Result<CertificateRecord, StoreError> {
    let r = Reader {
        row,
        what: "certificate row",
    };
    let binding_id = r.text("binding_id")?;
    certificate_in(&r, &CERTIFICATE, binding_id, r.text(CERTIFICATE.serial)?)
}

/// The certificate of binding `binding_id` whose serial column reads `serial`.
fn certificate_in(
    r: &Reader<'_>,
    c: &CertificateColumns,
    binding_id: String,
    serial: String,
) -> Result<CertificateRecord, StoreError> {
    Ok(CertificateRecord {
        serial: Serial::from_hex(&serial).map_err(|_| corrupt(r.what))?,
        binding_id,
        der: r.bytes(c.der)?,
        ski: r.bytes(c.ski)?,
        not_before: r.time(c.not_before)?,
        not_after: r.time(c.not_after)?,
        issued_at: r.time(c.issued_at)?,
        revoked_at: r.opt_time(c.revoked_at)?,
        revocation_reason: reason_from_column(r.opt_int(c.revocation_reason)?)?,
    })
}

/// Bindings with their certificates from the rows of
/// `find::bindings_with_certificates_query` (each binding's rows consecutive: its pairs
/// in order, then its certificates newest first), one row at a time.
pub(crate) fn push_binding_with_pair_or_certificate(
    found: &mut Vec<(KeyBindingRecord, Vec<CertificateRecord>)>,
    row: &dyn ColumnReader,
) -> Result<(), StoreError> {
    let id = binding_id_of(row)?;
    if found.last().is_none_or(|(b, _)| b.id != id) {
        found.push((key_binding(row)?, Vec::new()));
    }
    let Some((binding, certificates)) = found.last_mut() else {
        return Err(corrupt("key binding row"));
    };
    let r = Reader {
        row,
        what: "certificate row",
    };
    match r.opt_text(JOINED_CERTIFICATE.serial)? {
        Some(serial) => certificates.push(certificate_in(&r, &JOINED_CERTIFICATE, id, serial)?),
        None => binding.use_key_with.extend(joined_use_key_with(row)?),
    }
    Ok(())
}

/// A certificate revoked without a recorded reason is listed as `unspecified` (0).
pub(crate) fn revoked_certificate(
    row: &dyn ColumnReader,
) -> Result<RevokedCertificate, StoreError> {
    let r = Reader {
        row,
        what: "revoked certificate row",
    };
    Ok(RevokedCertificate {
        serial: Serial::from_hex(&r.text("serial")?).map_err(|_| corrupt(r.what))?,
        revoked_at: r.time("revoked_at")?,
        reason: reason_from_column(r.opt_int("revocation_reason")?)?.unwrap_or(0),
    })
}

pub(crate) fn failure_record(row: &dyn ColumnReader) -> Result<FailureRecord, StoreError> {
    let r = Reader {
        row,
        what: "authentication failure row",
    };
    Ok(FailureRecord {
        subject: r.text("subject")?,
        failures: u32::try_from(r.int("failures")?).map_err(|_| corrupt(r.what))?,
        last_failure: r.time("last_failure")?,
        locked_until: r.opt_time("locked_until")?,
    })
}

macro_rules! audit_columns {
    () => {
        "at, kind, request_id, subject, detail"
    };
}
pub(crate) use audit_columns;

pub(crate) fn audit_event(row: &dyn ColumnReader) -> Result<AuditEvent, StoreError> {
    let r = Reader {
        row,
        what: "audit row",
    };
    Ok(AuditEvent {
        at: r.time("at")?,
        kind: AuditKind::parse(&r.text("kind")?).ok_or_else(|| corrupt("audit kind"))?,
        request_id: r.opt_text("request_id")?,
        subject: r.text("subject")?,
        detail: r.text("detail")?,
    })
}

macro_rules! chained_audit_columns {
    () => {
        "seq, prev_hash, hash, at, kind, request_id, subject, detail"
    };
}
pub(crate) use chained_audit_columns;

pub(crate) fn chained_audit_event(row: &dyn ColumnReader) -> Result<ChainedAuditEvent, StoreError> {
    let r = Reader {
        row,
        what: "audit row",
    };
    Ok(ChainedAuditEvent {
        seq: u64::try_from(r.int("seq")?).map_err(|_| corrupt("audit seq"))?,
        event: audit_event(row)?,
        prev_hash: r.bytes("prev_hash")?,
        hash: r.bytes("hash")?,
    })
}

pub(crate) fn audit_head(row: &dyn ColumnReader) -> Result<AuditHead, StoreError> {
    let r = Reader {
        row,
        what: "audit head",
    };
    Ok(AuditHead {
        seq: u64::try_from(r.int("seq")?).map_err(|_| corrupt("audit seq"))?,
        hash: r.bytes("hash")?,
    })
}

macro_rules! pending_columns {
    () => {
        "response_id, original_request_id, operation, requester, state, document, result, \
         created_at, updated_at, lease_until, counter_success, counter_failure, counter_pending"
    };
}
pub(crate) use pending_columns;

pub(crate) fn pending(row: &dyn ColumnReader) -> Result<PendingRecord, StoreError> {
    let r = Reader {
        row,
        what: "pending row",
    };
    let counter = |c: &str| -> Result<Option<u32>, StoreError> {
        r.opt_int(c)?
            .map(|v| count_from_column(v, "pending counter"))
            .transpose()
    };
    let counters = match (
        counter("counter_success")?,
        counter("counter_failure")?,
        counter("counter_pending")?,
    ) {
        (Some(s), Some(f), Some(p)) => Some((s, f, p)),
        (None, None, None) => None,
        _ => return Err(corrupt("pending counters")),
    };
    Ok(PendingRecord {
        response_id: r.text("response_id")?,
        original_request_id: r.text("original_request_id")?,
        operation: Operation::parse(&r.text("operation")?)
            .ok_or_else(|| corrupt("pending operation"))?,
        requester: r.text("requester")?,
        state: PendingState::parse(&r.text("state")?).ok_or_else(|| corrupt("pending state"))?,
        document: r.text("document")?,
        result: r.opt_text("result")?,
        created_at: r.time("created_at")?,
        updated_at: r.time("updated_at")?,
        lease_until: r.opt_time("lease_until")?,
        counters,
    })
}
