//! Transaction steps shared by the trait methods: each runs inside the caller's
//! transaction and returns an error (rolling it back) when its precondition fails.

use sqlx::Row;
use xkms_service::store::{
    AuditEvent, BindingStatus, CertificateRecord, KeyBindingRecord, Purpose, ReplayMark,
    Revocation, Serial, StoreError, audit_hash,
};

use crate::columns::{
    corrupt, key_usage_to_column, limit_to_column, optional_timestamp_to_column,
    timestamp_to_column,
};
use crate::db_error::db_error;
use crate::rows::{self, audit_columns, certificate_columns};

use super::{Db, Store, Tx};

/// The columns of a binding, encoded.
pub(super) struct BindingRow {
    pub(super) created_at: i64,
    pub(super) key_usage: String,
    pub(super) revoked_at: Option<i64>,
}

impl BindingRow {
    pub(super) fn encode(binding: &KeyBindingRecord) -> Result<BindingRow, StoreError> {
        Ok(BindingRow {
            created_at: timestamp_to_column(binding.created_at)?,
            key_usage: key_usage_to_column(&binding.key_usage)?,
            revoked_at: optional_timestamp_to_column(binding.revoked_at)?,
        })
    }

    pub(super) async fn insert(
        &self,
        tx: &mut Tx,
        binding: &KeyBindingRecord,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO key_bindings (id, key_name, modulus, exponent, \
             key_fingerprint, key_usage, status, revocation_code_identifier, \
             authorization_id, created_at, revoked_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&binding.id)
        .bind(binding.key_name.as_deref())
        .bind(binding.modulus.as_slice())
        .bind(binding.exponent.as_slice())
        .bind(binding.key_fingerprint.as_slice())
        .bind(self.key_usage.as_str())
        .bind(binding.status.as_str())
        .bind(binding.revocation_code_identifier.as_deref())
        .bind(binding.authorization_id.as_deref())
        .bind(self.created_at)
        .bind(self.revoked_at)
        .execute(&mut **tx)
        .await
        .map_err(db_error("binding"))?;
        if binding.use_key_with.is_empty() {
            return Ok(());
        }
        // All pairs in one statement.
        let mut q = sqlx::QueryBuilder::<Db>::new(
            "INSERT INTO use_key_with (binding_id, ordinal, application, identifier) ",
        );
        q.push_values(
            binding.use_key_with.iter().enumerate(),
            |mut b, (ordinal, pair)| {
                b.push_bind(binding.id.clone())
                    .push_bind(limit_to_column(ordinal))
                    .push_bind(pair.application.as_uri().to_owned())
                    .push_bind(pair.identifier.clone());
            },
        );
        q.build()
            .execute(&mut **tx)
            .await
            .map_err(db_error("use_key_with"))?;
        Ok(())
    }
}

/// Counts one use of an authorization of `purpose` that is unexpired at
/// `at` and not used up. The conditional `UPDATE` is the check: under
/// concurrency the row lock (PostgreSQL) or the write lock (SQLite) orders
/// the updates and each re-evaluates `uses < max_uses`.
pub(super) async fn use_authorization(
    tx: &mut Tx,
    id: &str,
    purpose: Purpose,
    at: i64,
) -> Result<(), StoreError> {
    let used = sqlx::query(
        "UPDATE authorizations SET uses = uses + 1 \
         WHERE id = $1 AND purpose = $2 AND expires_at > $3 \
         AND (max_uses IS NULL OR uses < max_uses) AND revoked_at IS NULL",
    )
    .bind(id)
    .bind(purpose.as_str())
    .bind(at)
    .execute(&mut **tx)
    .await
    .map_err(db_error("authorization"))?;
    if used.rows_affected() != 1 {
        return Err(StoreError::Conflict {
            what: "authorization missing, expired, used up, revoked or of another purpose",
        });
    }
    Ok(())
}

pub(super) async fn require_reserved(tx: &mut Tx, serial: &Serial) -> Result<(), StoreError> {
    let reserved = sqlx::query("SELECT 1 FROM serials WHERE serial = $1")
        .bind(serial.to_hex())
        .fetch_optional(&mut **tx)
        .await
        .map_err(db_error("serial"))?;
    if reserved.is_none() {
        return Err(StoreError::Conflict {
            what: "serial not reserved",
        });
    }
    Ok(())
}

/// The status of binding `id` (`NotFound` if absent), locked until commit
/// where the backend has row locks.
pub(super) async fn lock_binding(tx: &mut Tx, id: &str) -> Result<BindingStatus, StoreError> {
    let row = sqlx::query(<Store>::LOCK_BINDING_SQL)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
        .map_err(db_error("binding"))?;
    let Some(row) = row else {
        return Err(StoreError::NotFound { what: "binding" });
    };
    let status: String = row.try_get(0).map_err(db_error("binding"))?;
    crate::columns::status_from_column(&status)
}

/// Revokes a valid binding and its unrevoked certificates. `Ok(false)` if it
/// was already revoked (nothing changed), `NotFound` if absent.
pub(super) async fn revoke(tx: &mut Tx, revocation: &Revocation) -> Result<bool, StoreError> {
    let at = timestamp_to_column(revocation.at)?;
    let revoked = sqlx::query(
        "UPDATE key_bindings SET status = 'revoked', revoked_at = $2 \
         WHERE id = $1 AND status = 'valid'",
    )
    .bind(&revocation.binding_id)
    .bind(at)
    .execute(&mut **tx)
    .await
    .map_err(db_error("binding"))?;
    if revoked.rows_affected() != 1 {
        lock_binding(tx, &revocation.binding_id).await?;
        return Ok(false);
    }
    sqlx::query(
        "UPDATE certificates SET revoked_at = $2, revocation_reason = $3 \
         WHERE binding_id = $1 AND revoked_at IS NULL",
    )
    .bind(&revocation.binding_id)
    .bind(at)
    .bind(i64::from(revocation.reason))
    .execute(&mut **tx)
    .await
    .map_err(db_error("certificates"))?;
    // Every node's Validate cache sees the revocation through this counter.
    sqlx::query("UPDATE revocation_counter SET generation = generation + 1 WHERE id = 1")
        .execute(&mut **tx)
        .await
        .map_err(db_error("revocation counter"))?;
    Ok(true)
}

pub(super) async fn insert_certificate(
    tx: &mut Tx,
    certificate: &CertificateRecord,
) -> Result<(), StoreError> {
    sqlx::query(concat!(
        "INSERT INTO certificates (",
        certificate_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    ))
    .bind(certificate.serial.to_hex())
    .bind(&certificate.binding_id)
    .bind(certificate.der.as_slice())
    .bind(certificate.ski.as_slice())
    .bind(timestamp_to_column(certificate.not_before)?)
    .bind(timestamp_to_column(certificate.not_after)?)
    .bind(timestamp_to_column(certificate.issued_at)?)
    .bind(optional_timestamp_to_column(certificate.revoked_at)?)
    .bind(certificate.revocation_reason.map(i64::from))
    .execute(&mut **tx)
    .await
    .map_err(db_error("certificate"))?;
    Ok(())
}

/// Appends `events` to the audit chain: reads (and, where the backend has row
/// locks, locks) the head, links each event to the one before, writes them in
/// one statement and moves the head — all inside the caller's transaction.
pub(super) async fn insert_audits(tx: &mut Tx, events: &[AuditEvent]) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let head = sqlx::query(<Store>::LOCK_AUDIT_HEAD_SQL)
        .fetch_one(&mut **tx)
        .await
        .map_err(db_error("audit head"))?;
    let head = rows::audit_head(&head)?;
    let mut prev = head.hash;
    let mut seq = head.seq;
    let mut rows = Vec::with_capacity(events.len());
    for event in events {
        seq += 1;
        let hash = audit_hash(&prev, seq, event).to_vec();
        let column = i64::try_from(seq).map_err(|_| corrupt("audit seq"))?;
        rows.push((
            timestamp_to_column(event.at)?,
            column,
            prev,
            hash.clone(),
            event,
        ));
        prev = hash;
    }
    let mut q = sqlx::QueryBuilder::<Db>::new(concat!(
        "INSERT INTO audit_events (",
        audit_columns!(),
        ", seq, prev_hash, hash) "
    ));
    q.push_values(rows, |mut b, (at, seq, prev_hash, hash, event)| {
        b.push_bind(at)
            .push_bind(event.kind.as_str())
            .push_bind(event.request_id.clone())
            .push_bind(event.subject.clone())
            .push_bind(event.detail.clone())
            .push_bind(seq)
            .push_bind(prev_hash)
            .push_bind(hash);
    });
    q.build()
        .execute(&mut **tx)
        .await
        .map_err(db_error("audit event"))?;
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(i64::try_from(seq).map_err(|_| corrupt("audit seq"))?)
        .bind(prev)
        .execute(&mut **tx)
        .await
        .map_err(db_error("audit head"))?;
    Ok(())
}

pub(super) async fn insert_audit(tx: &mut Tx, event: &AuditEvent) -> Result<(), StoreError> {
    insert_audits(tx, std::slice::from_ref(event)).await
}

/// Remembers each single-use value until its expiry, inside the caller's
/// transaction; `Replayed` (rolling everything back) if one is remembered and
/// unexpired at `now` (column microseconds). Expired rows are taken over.
pub(super) async fn remember_all(
    tx: &mut Tx,
    marks: &[ReplayMark],
    now: i64,
) -> Result<(), StoreError> {
    for mark in marks {
        let remembered = sqlx::query(
            "INSERT INTO replay_values (kind, value, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (kind, value) DO UPDATE SET expires_at = excluded.expires_at \
             WHERE replay_values.expires_at <= $4",
        )
        .bind(&mark.kind)
        .bind(mark.value.as_slice())
        .bind(timestamp_to_column(mark.expires_at)?)
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(db_error("replay value"))?;
        if remembered.rows_affected() != 1 {
            return Err(StoreError::Replayed);
        }
    }
    Ok(())
}

/// After a conditional change matched no row: `NotFound` if `exists_sql`
/// (with `$1` = `key`) finds no row, else `Conflict`.
pub(super) async fn missing_or_conflict(
    tx: &mut Tx,
    exists_sql: &'static str,
    key: &str,
    what: &'static str,
    conflict: &'static str,
) -> StoreError {
    match sqlx::query(exists_sql)
        .bind(key)
        .fetch_optional(&mut **tx)
        .await
    {
        Ok(None) => StoreError::NotFound { what },
        Ok(Some(_)) => StoreError::Conflict { what: conflict },
        Err(e) => db_error(what)(e),
    }
}

pub(super) fn split_counters(
    counters: Option<(u32, u32, u32)>,
) -> (Option<i64>, Option<i64>, Option<i64>) {
    match counters {
        Some((s, f, p)) => (Some(s.into()), Some(f.into()), Some(p.into())),
        None => (None, None, None),
    }
}
