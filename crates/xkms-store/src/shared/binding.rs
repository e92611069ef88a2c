//! Key bindings, their certificates and the lifecycle (register, reissue, revoke, recover).

use async_trait::async_trait;
use time::OffsetDateTime;
use xkms_service::store::{
    BindingSelector, BindingStatus, CertificateRecord, KeyBindingRecord, KeyBindingStore, Purpose,
    Recovery, Registration, Reissue, Revocation, RevokedCertificate, Serial, StoreError,
};

use crate::columns::{corrupt, limit_to_column, timestamp_from_column, timestamp_to_column};
use crate::db_error::db_error;
use crate::query::Query;
use crate::rows::{self, ColumnReader, certificate_columns};

use super::steps::{
    BindingRow, change_one, exists, insert_audits, insert_certificate, lock_binding, remember_all,
    require_reserved, revoke, use_authorization_and_audit,
};
use super::{Store, Tx};

/// The certificates of a binding, newest first (Validate of one of our certificates,
/// Reissue, Revoke, the inventory).
pub(super) const CERTIFICATES_OF_SQL: &str = concat!(
    "SELECT ",
    certificate_columns!(),
    " FROM certificates WHERE binding_id = $1 \
     ORDER BY issued_at DESC, serial DESC"
);

/// Whether a key (its SPKI fingerprint) was revoked for key compromise (Register).
pub(super) const KEY_COMPROMISED_SQL: &str = "SELECT 1 FROM key_bindings kb JOIN certificates c ON c.binding_id = kb.id \
     WHERE kb.key_fingerprint = $1 AND c.revocation_reason = 1 LIMIT 1";

/// The liveness probe of `/healthz`: one indexed row at most.
pub(super) const PING_SQL: &str = "SELECT 1 FROM key_bindings LIMIT 1";

#[async_trait]
impl KeyBindingStore for Store {
    async fn ping(&self) -> Result<(), StoreError> {
        self.fetch_optional(Query::new(PING_SQL), "ping", |_| Ok(()))
            .await?;
        Ok(())
    }

    async fn reserve_serials(
        &self,
        serials: &[Serial],
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        if serials.is_empty() {
            return Ok(());
        }
        // One statement, one transaction: all reserved, or none (a duplicate fails it).
        let at = timestamp_to_column(now)?;
        let mut q = Query::new("INSERT INTO serials (serial, reserved_at) VALUES ");
        for (i, serial) in serials.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push("(")
                .push_bind(serial.to_hex())
                .push(", ")
                .push_bind(at)
                .push(")");
        }
        self.write("serial", move |tx: &mut Tx| {
            Box::pin(async move {
                tx.execute(q, "serial").await?;
                Ok(())
            })
        })
        .await
    }

    async fn commit_registration(&self, registration: &Registration) -> Result<(), StoreError> {
        let binding = &registration.binding;
        if registration.certificate.binding_id != binding.id {
            return Err(StoreError::Conflict {
                what: "certificate belongs to another binding",
            });
        }
        // Encode before the transaction: a bad value fails without touching
        // the database.
        let row = BindingRow::encode(binding)?;
        let registration = registration.clone();
        self.write("registration", move |tx: &mut Tx| {
            Box::pin(async move {
                let binding = &registration.binding;
                require_reserved(tx, &registration.certificate.serial).await?;
                remember_all(tx, &registration.replay, row.created_at).await?;
                row.insert(tx, binding).await?;
                insert_certificate(tx, &registration.certificate).await?;
                if let Some(key) = &registration.escrowed_private_key {
                    let q = Query::new(
                        "INSERT INTO escrowed_keys (binding_id, private_key, format) \
                         VALUES ($1, $2, $3)",
                    )
                    .bind(binding.id.as_str())
                    .bind(key.as_slice())
                    .bind(crate::ESCROW_FORMAT_BOUND);
                    tx.execute(q, "escrowed key").await?;
                }
                use_authorization_and_audit(
                    tx,
                    registration
                        .authorization_id
                        .as_deref()
                        .map(|id| (id, Purpose::Register)),
                    row.created_at,
                    &registration.audit,
                )
                .await
            })
        })
        .await
    }

    async fn find_bindings(
        &self,
        selector: &BindingSelector,
        limit: usize,
    ) -> Result<Vec<KeyBindingRecord>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // One statement: the bindings with their UseKeyWith pairs joined in
        // (each binding's rows are consecutive, pairs in their order).
        let Some(q) = crate::find::bindings_with_pairs_query(selector, limit_to_column(limit))
        else {
            return Ok(Vec::new());
        };
        self.read_rows(q, "key bindings", Vec::new(), rows::push_binding_with_pair)
            .await
    }

    async fn certificates_of(
        &self,
        binding_id: &str,
    ) -> Result<Vec<CertificateRecord>, StoreError> {
        let q = Query::new(CERTIFICATES_OF_SQL).bind(binding_id);
        self.fetch_all(q, "certificates", rows::certificate).await
    }

    async fn find_bindings_with_certificates(
        &self,
        selector: &BindingSelector,
        limit: usize,
    ) -> Result<Vec<(KeyBindingRecord, Vec<CertificateRecord>)>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // One statement: the bindings with their UseKeyWith pairs and their
        // certificates (each binding's rows consecutive, pairs then certificates).
        let Some(q) =
            crate::find::bindings_with_certificates_query(selector, limit_to_column(limit))
        else {
            return Ok(Vec::new());
        };
        self.read_rows(
            q,
            "key bindings",
            Vec::new(),
            rows::push_binding_with_pair_or_certificate,
        )
        .await
    }

    async fn count_bindings(&self) -> Result<u64, StoreError> {
        self.fetch_count(
            Query::new("SELECT COUNT(*) FROM key_bindings"),
            "binding count",
        )
        .await
    }

    async fn revocation_generation(&self) -> Result<(u64, Option<OffsetDateTime>), StoreError> {
        let q = Query::new(
            "SELECT COUNT(*), MAX(revoked_at) FROM certificates \
             WHERE revoked_at IS NOT NULL",
        );
        let (revoked, newest) = self
            .fetch_optional(q, "revocation generation", |row| {
                let what = "revocation generation";
                Ok((
                    row.int_at(0).map_err(db_error(what))?.unwrap_or(0),
                    row.int_at(1).map_err(db_error(what))?,
                ))
            })
            .await?
            .ok_or_else(|| corrupt("revocation generation"))?;
        Ok((
            u64::try_from(revoked).map_err(|_| corrupt("revocation count"))?,
            newest.map(timestamp_from_column).transpose()?,
        ))
    }

    async fn revocation_counter(&self) -> Result<u64, StoreError> {
        let q = Query::new("SELECT generation FROM revocation_counter WHERE id = 1");
        self.fetch_count(q, "revocation counter").await
    }

    async fn next_crl_number(&self, at_least: u64) -> Result<u64, StoreError> {
        let at_least = i64::try_from(at_least).map_err(|_| corrupt("CRL number"))?;
        // One statement: the row lock (or SQLite's write lock) orders nodes.
        let q = Query::new(
            "UPDATE crl_number SET number = CASE WHEN number + 1 > $1 \
             THEN number + 1 ELSE $1 END WHERE id = 1 RETURNING number",
        )
        .bind(at_least);
        let number = self
            .write("CRL number", move |tx: &mut Tx| {
                Box::pin(async move {
                    tx.read_rows(
                        q,
                        "CRL number",
                        None,
                        |n: &mut Option<i64>, row: &dyn ColumnReader| {
                            *n = row.int_at(0).map_err(db_error("CRL number"))?;
                            Ok(())
                        },
                    )
                    .await
                })
            })
            .await?
            .ok_or_else(|| corrupt("CRL number"))?;
        u64::try_from(number).map_err(|_| corrupt("CRL number"))
    }

    async fn commit_reissue(&self, reissue: &Reissue) -> Result<(), StoreError> {
        let certificate = &reissue.certificate;
        if certificate.binding_id != reissue.binding_id {
            return Err(StoreError::Conflict {
                what: "certificate belongs to another binding",
            });
        }
        let issued_at = timestamp_to_column(certificate.issued_at)?;
        let reissue = reissue.clone();
        self.write("reissue", move |tx: &mut Tx| {
            Box::pin(async move {
                let certificate = &reissue.certificate;
                if lock_binding(tx, &reissue.binding_id).await? != BindingStatus::Valid {
                    return Err(StoreError::Conflict {
                        what: "binding is revoked",
                    });
                }
                require_reserved(tx, &certificate.serial).await?;
                remember_all(tx, &reissue.replay, issued_at).await?;
                insert_certificate(tx, certificate).await?;
                use_authorization_and_audit(
                    tx,
                    reissue
                        .authorization_id
                        .as_deref()
                        .map(|id| (id, Purpose::Register)),
                    issued_at,
                    &reissue.audit,
                )
                .await
            })
        })
        .await
    }

    async fn revoke_binding(&self, revocation: &Revocation) -> Result<(), StoreError> {
        let at = timestamp_to_column(revocation.at)?;
        let revocation = revocation.clone();
        self.write("revocation", move |tx: &mut Tx| {
            Box::pin(async move {
                if !revoke(tx, &revocation).await? {
                    return Err(StoreError::Conflict {
                        what: "binding already revoked",
                    });
                }
                remember_all(tx, &revocation.replay, at).await?;
                insert_audits(tx, &revocation.audit).await
            })
        })
        .await
    }

    async fn escrowed_key(&self, binding_id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let q = Query::new("SELECT private_key FROM escrowed_keys WHERE binding_id = $1")
            .bind(binding_id);
        self.fetch_optional(q, "escrowed key", |row| {
            row.bytes_at(0)
                .map_err(db_error("escrowed key"))?
                .ok_or_else(|| corrupt("escrowed key"))
        })
        .await
    }

    async fn legacy_escrowed_keys(
        &self,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let q = Query::new(
            "SELECT binding_id, private_key FROM escrowed_keys WHERE format = 1 \
             ORDER BY binding_id LIMIT $1",
        )
        .bind(limit_to_column(limit));
        self.fetch_all(q, "escrowed keys", |row| {
            let what = "escrowed keys";
            Ok((
                row.text_at(0)
                    .map_err(db_error(what))?
                    .ok_or_else(|| corrupt(what))?,
                row.bytes_at(1)
                    .map_err(db_error(what))?
                    .ok_or_else(|| corrupt(what))?,
            ))
        })
        .await
    }

    async fn reseal_escrowed_key(&self, binding_id: &str, blob: &[u8]) -> Result<(), StoreError> {
        let binding_id = binding_id.to_owned();
        let q = Query::new(
            "UPDATE escrowed_keys SET private_key = $2, format = $3 \
             WHERE binding_id = $1 AND format = 1",
        )
        .bind(binding_id.as_str())
        .bind(blob)
        .bind(crate::ESCROW_FORMAT_BOUND);
        self.write("escrowed key", move |tx: &mut Tx| {
            Box::pin(async move {
                change_one(
                    tx,
                    q,
                    "escrowed key",
                    "SELECT 1 FROM escrowed_keys WHERE binding_id = $1",
                    &binding_id,
                    "escrowed key already resealed",
                )
                .await?;
                Ok(())
            })
        })
        .await
    }

    async fn key_compromised(&self, key_fingerprint: &[u8]) -> Result<bool, StoreError> {
        let q = Query::new(KEY_COMPROMISED_SQL).bind(key_fingerprint);
        let row = self
            .fetch_optional(q, "compromised keys", |_| Ok(()))
            .await?;
        Ok(row.is_some())
    }

    async fn holds_records(&self) -> Result<bool, StoreError> {
        let q = Query::new(
            "SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM authorizations LIMIT 1) a) \
             + (SELECT COUNT(*) FROM (SELECT 1 FROM key_bindings LIMIT 1) b) \
             + (SELECT COUNT(*) FROM (SELECT 1 FROM serials LIMIT 1) s)",
        );
        let n = self.fetch_count(q, "record count").await?;
        Ok(n > 0)
    }

    async fn commit_recovery(&self, recovery: &Recovery) -> Result<(), StoreError> {
        if let Some(revocation) = &recovery.revoke
            && revocation.binding_id != recovery.binding_id
        {
            return Err(StoreError::Conflict {
                what: "revocation of another binding",
            });
        }
        // The recovery happens at its first audit event (or, without one, at
        // the revocation time): that is when the authorization must be valid.
        let Some(at) = recovery
            .audit
            .first()
            .map(|e| e.at)
            .or(recovery.revoke.as_ref().map(|r| r.at))
        else {
            return Err(StoreError::Conflict {
                what: "recovery without audit event",
            });
        };
        let at = timestamp_to_column(at)?;
        let recovery = recovery.clone();
        self.write("recovery", move |tx: &mut Tx| {
            Box::pin(async move {
                lock_binding(tx, &recovery.binding_id).await?;
                let q = Query::new("SELECT 1 FROM escrowed_keys WHERE binding_id = $1")
                    .bind(recovery.binding_id.as_str());
                if !exists(tx, q, "escrowed key").await? {
                    return Err(StoreError::NotFound {
                        what: "escrowed key",
                    });
                }
                remember_all(tx, &recovery.replay, at).await?;
                // An already revoked binding may still be recovered: then there is
                // nothing to revoke, and the revocation's own events are not written.
                let mut events = recovery.audit.clone();
                if let Some(revocation) = &recovery.revoke
                    && revoke(tx, revocation).await?
                {
                    events.extend(revocation.audit.iter().cloned());
                }
                use_authorization_and_audit(
                    tx,
                    Some((recovery.authorization_id.as_str(), Purpose::Recover)),
                    at,
                    &events,
                )
                .await
            })
        })
        .await
    }

    async fn revoked_certificates(&self) -> Result<Vec<RevokedCertificate>, StoreError> {
        let q = Query::new(
            "SELECT serial, revoked_at, revocation_reason FROM certificates \
             WHERE revoked_at IS NOT NULL ORDER BY revoked_at, serial",
        );
        self.fetch_all(q, "revoked certificates", rows::revoked_certificate)
            .await
    }
}
