//! Transaction steps shared by the trait methods: each runs inside the caller's
//! transaction and returns an error (rolling it back) when its precondition fails.

use xkms_service::store::{
    AuditEvent, AuditHead, BindingStatus, CertificateRecord, KeyBindingRecord, Purpose, ReplayMark,
    Revocation, Serial, StoreError, audit_hash,
};

use crate::columns::{
    corrupt, key_usage_to_column, limit_to_column, optional_timestamp_to_column,
    timestamp_to_column,
};
use crate::db_error::db_error;
use crate::query::Query;
use crate::rows::{self, ColumnReader, audit_columns, certificate_columns};

use super::{Store, Tx};

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
        let q = Query::new(
            "INSERT INTO key_bindings (id, key_name, modulus, exponent, \
             key_fingerprint, key_usage, status, revocation_code_identifier, \
             authorization_id, created_at, revoked_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(binding.id.as_str())
        .bind(binding.key_name.as_deref())
        .bind(binding.modulus.as_slice())
        .bind(binding.exponent.as_slice())
        .bind(binding.key_fingerprint.as_slice())
        .bind(self.key_usage.as_str())
        .bind(binding.status.as_str())
        .bind(binding.revocation_code_identifier.as_deref())
        .bind(binding.authorization_id.as_deref())
        .bind(self.created_at)
        .bind(self.revoked_at);
        tx.execute(q, "binding").await?;
        if binding.use_key_with.is_empty() {
            return Ok(());
        }
        // All pairs in one statement.
        let mut q = Query::new(
            "INSERT INTO use_key_with (binding_id, ordinal, application, identifier) VALUES ",
        );
        for (ordinal, pair) in binding.use_key_with.iter().enumerate() {
            if ordinal > 0 {
                q.push(", ");
            }
            q.push("(")
                .push_bind(binding.id.as_str())
                .push(", ")
                .push_bind(limit_to_column(ordinal))
                .push(", ")
                .push_bind(pair.application.as_uri())
                .push(", ")
                .push_bind(pair.identifier.as_str())
                .push(")");
        }
        tx.execute(q, "use_key_with").await?;
        Ok(())
    }
}

/// Counts one use of an authorization of `purpose` that is unexpired at
/// `at` and not used up. The conditional `UPDATE` is the check: under
/// concurrency the row lock (PostgreSQL) or the write lock (SQLite) orders
/// the updates and each re-evaluates `uses < max_uses`.
async fn use_authorization(
    tx: &mut Tx,
    id: &str,
    purpose: Purpose,
    at: i64,
) -> Result<(), StoreError> {
    let q = Query::new(
        "UPDATE authorizations SET uses = uses + 1 \
         WHERE id = $1 AND purpose = $2 AND expires_at > $3 \
         AND (max_uses IS NULL OR uses < max_uses) AND revoked_at IS NULL",
    )
    .bind(id)
    .bind(purpose.as_str())
    .bind(at);
    if tx.execute(q, "authorization").await? != 1 {
        return Err(StoreError::Conflict {
            what: "authorization missing, expired, used up, revoked or of another purpose",
        });
    }
    Ok(())
}

/// Whether `query` returns a row, inside the transaction.
pub(super) async fn exists(
    tx: &mut Tx,
    query: Query,
    what: &'static str,
) -> Result<bool, StoreError> {
    tx.read_rows(
        query,
        what,
        false,
        |found: &mut bool, _: &dyn ColumnReader| {
            *found = true;
            Ok(())
        },
    )
    .await
}

pub(super) async fn require_reserved(tx: &mut Tx, serial: &Serial) -> Result<(), StoreError> {
    let q = Query::new("SELECT 1 FROM serials WHERE serial = $1").bind(serial.to_hex());
    if !exists(tx, q, "serial").await? {
        return Err(StoreError::Conflict {
            what: "serial not reserved",
        });
    }
    Ok(())
}

/// The status of binding `id` (`NotFound` if absent), locked until commit
/// where the backend has row locks.
pub(super) async fn lock_binding(tx: &mut Tx, id: &str) -> Result<BindingStatus, StoreError> {
    let q = Query::new(<Store>::LOCK_BINDING_SQL).bind(id);
    let status = tx
        .read_rows(
            q,
            "binding",
            None,
            |status: &mut Option<String>, row: &dyn ColumnReader| {
                *status = row.text_at(0).map_err(db_error("binding"))?;
                Ok(())
            },
        )
        .await?;
    let Some(status) = status else {
        return Err(StoreError::NotFound { what: "binding" });
    };
    crate::columns::status_from_column(&status)
}

/// Revokes a valid binding and its unrevoked certificates. `Ok(false)` if it
/// was already revoked (nothing changed), `NotFound` if absent.
pub(super) async fn revoke(tx: &mut Tx, revocation: &Revocation) -> Result<bool, StoreError> {
    let at = timestamp_to_column(revocation.at)?;
    let q = Query::new(
        "UPDATE key_bindings SET status = 'revoked', revoked_at = $2 \
         WHERE id = $1 AND status = 'valid'",
    )
    .bind(revocation.binding_id.as_str())
    .bind(at);
    if tx.execute(q, "binding").await? != 1 {
        lock_binding(tx, &revocation.binding_id).await?;
        return Ok(false);
    }
    let q = Query::new(
        "UPDATE certificates SET revoked_at = $2, revocation_reason = $3 \
         WHERE binding_id = $1 AND revoked_at IS NULL",
    )
    .bind(revocation.binding_id.as_str())
    .bind(at)
    .bind(i64::from(revocation.reason));
    tx.execute(q, "certificates").await?;
    // Every node's Validate cache sees the revocation through this counter.
    let q = Query::new("UPDATE revocation_counter SET generation = generation + 1 WHERE id = 1");
    tx.execute(q, "revocation counter").await?;
    Ok(true)
}

pub(super) async fn insert_certificate(
    tx: &mut Tx,
    certificate: &CertificateRecord,
) -> Result<(), StoreError> {
    let q = Query::new(concat!(
        "INSERT INTO certificates (",
        certificate_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    ))
    .bind(certificate.serial.to_hex())
    .bind(certificate.binding_id.as_str())
    .bind(certificate.der.as_slice())
    .bind(certificate.ski.as_slice())
    .bind(timestamp_to_column(certificate.not_before)?)
    .bind(timestamp_to_column(certificate.not_after)?)
    .bind(timestamp_to_column(certificate.issued_at)?)
    .bind(optional_timestamp_to_column(certificate.revoked_at)?)
    .bind(certificate.revocation_reason.map(i64::from));
    tx.execute(q, "certificate").await?;
    Ok(())
}

/// The end of every unit that uses an authorization: its use counter, then the audit
/// chain's head. These are the rows concurrent writes under one authorization wait for
/// (PostgreSQL row locks held until commit); taken last, they are held for these few
/// statements and the commit, not the whole unit (issue 13: 342 of ~420 sampled backend
/// states of 16-way registration waited on the use counter while it was taken first).
/// Lock order of every unit: binding, authorization, audit head.
pub(super) async fn use_authorization_and_audit(
    tx: &mut Tx,
    authorization: Option<(&str, Purpose)>,
    at: i64,
    events: &[AuditEvent],
) -> Result<(), StoreError> {
    if let Some((id, purpose)) = authorization {
        use_authorization(tx, id, purpose, at).await?;
    }
    insert_audits(tx, events).await
}

/// Appends `events` to the audit chain: reads (and, where the backend has row
/// locks, locks) the head, links each event to the one before, writes them in
/// one statement and moves the head — all inside the caller's transaction.
pub(super) async fn insert_audits(tx: &mut Tx, events: &[AuditEvent]) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let head = tx
        .read_rows(
            Query::new(<Store>::LOCK_AUDIT_HEAD_SQL),
            "audit head",
            None,
            |head: &mut Option<AuditHead>, row: &dyn ColumnReader| {
                *head = Some(rows::audit_head(row)?);
                Ok(())
            },
        )
        .await?
        .ok_or_else(|| corrupt("audit head"))?;
    let mut prev = head.hash;
    let mut seq = head.seq;
    let mut q = Query::new(concat!(
        "INSERT INTO audit_events (",
        audit_columns!(),
        ", seq, prev_hash, hash) VALUES "
    ));
    for (i, event) in events.iter().enumerate() {
        seq += 1;
        let hash = audit_hash(&prev, seq, event).to_vec();
        let column = i64::try_from(seq).map_err(|_| corrupt("audit seq"))?;
        if i > 0 {
            q.push(", ");
        }
        q.push("(")
            .push_bind(timestamp_to_column(event.at)?)
            .push(", ")
            .push_bind(event.kind.as_str())
            .push(", ")
            .push_bind(event.request_id.as_deref())
            .push(", ")
            .push_bind(event.subject.as_str())
            .push(", ")
            .push_bind(event.detail.as_str())
            .push(", ")
            .push_bind(column)
            .push(", ")
            .push_bind(prev)
            .push(", ")
            .push_bind(hash.as_slice())
            .push(")");
        prev = hash;
    }
    tx.execute(q, "audit event").await?;
    let q = Query::new("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(i64::try_from(seq).map_err(|_| corrupt("audit seq"))?)
        .bind(prev);
    tx.execute(q, "audit head").await?;
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
        let q = Query::new(
            "INSERT INTO replay_values (kind, value, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (kind, value) DO UPDATE SET expires_at = excluded.expires_at \
             WHERE replay_values.expires_at <= $4",
        )
        .bind(mark.kind.as_str())
        .bind(mark.value.as_slice())
        .bind(timestamp_to_column(mark.expires_at)?)
        .bind(now);
        if tx.execute(q, "replay value").await? != 1 {
            return Err(StoreError::Replayed);
        }
    }
    Ok(())
}

/// Runs a conditional change that must touch exactly one row. When it matched none:
/// `NotFound` if `exists_sql` (with `$1` = `key`) finds no row, else `Conflict`.
pub(super) async fn change_one(
    tx: &mut Tx,
    change: Query,
    what: &'static str,
    exists_sql: &'static str,
    key: &str,
    conflict: &'static str,
) -> Result<(), StoreError> {
    if tx.execute(change, what).await? == 1 {
        return Ok(());
    }
    Err(
        match exists(tx, Query::new(exists_sql).bind(key), what).await {
            Ok(false) => StoreError::NotFound { what },
            Ok(true) => StoreError::Conflict { what: conflict },
            Err(e) => e,
        },
    )
}

pub(super) fn split_counters(
    counters: Option<(u32, u32, u32)>,
) -> (Option<i64>, Option<i64>, Option<i64>) {
    match counters {
        Some((s, f, p)) => (Some(s.into()), Some(f.into()), Some(p.into())),
        None => (None, None, None),
    }
}
