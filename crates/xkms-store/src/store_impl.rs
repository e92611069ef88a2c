//! The store traits, written once for every sqlx backend.
//!
//! `impl_store!(SqliteStore, sqlx::Sqlite)` expands to the trait impls in a child module
//! of the backend. The SQL is shared (`$n` placeholders work on SQLite and PostgreSQL);
//! a backend supplies only what differs, as inherent items of its store type:
//!
//! - `pool: sqlx::Pool<DB>` (reads), `writer()` and `begin_write()`: where writes go and how they start
//!   (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: READ COMMITTED writes whose preconditions are
//!   conditional `UPDATE`s or row locks, and REPEATABLE READ reads);
//! - `LOCK_BINDING_SQL`: reads a binding's status and, where the backend has row locks,
//!   locks the row until commit so a concurrent revocation waits;
//! - `LOCK_AUDIT_HEAD_SQL`: reads the audit chain's head and, where the backend has row
//!   locks, locks it until commit, so the events of concurrent transactions (several
//!   nodes) link one after the other (SQLite: the `BEGIN IMMEDIATE` write lock does it);
//! - `CLAIM_PENDING_SQL`: the claim of the oldest runnable pending job;
//! - `AFTER_COPY_SQL`: statements run once after `copy_store` filled the store.
//!
//! Preconditions are checked inside the transaction, and every early return drops the
//! transaction, which rolls it back: a failed call writes nothing.

macro_rules! impl_store {
    ($store:ident, $db:ty) => {
        mod shared {
            use async_trait::async_trait;
            use sqlx::Row;
            use time::OffsetDateTime;
            use xkms_service::store::{
                AuditEvent, AuditHead, AuditStore, Authorization, AuthorizationStore,
                BindingSelector, BindingStatus, CertificateRecord, ChainedAuditEvent,
                DerivedSecrets, FailureRecord, FailureSubject, KeyBindingRecord, KeyBindingStore,
                LockoutStore, PendingRecord, PendingState,
                PendingStore, Purpose, Recovery, Registration, Reissue, ReplayMark, ReplayStore, Serial,
                Revocation, RevokedCertificate, StoreError, audit_hash,
            };

            use super::$store;
            use $crate::columns::{
                corrupt, granted_names_to_column, key_usage_to_column, limit_to_column,
                optional_timestamp_to_column, timestamp_from_column, timestamp_to_column,
            };
            use $crate::copy::{RawTables, Table, Value};
            use $crate::db_error::db_error;
            use $crate::rows::{
                self, audit_columns, authorization_columns, certificate_columns,
                chained_audit_columns, pending_columns, unsealed_secret_columns,
            };

            type Db = $db;
            type Tx = sqlx::Transaction<'static, Db>;

            #[async_trait]
            impl AuthorizationStore for $store {
                async fn insert_authorization(
                    &self,
                    authorization: &Authorization,
                    audit: &AuditEvent,
                ) -> Result<(), StoreError> {
                    let a = authorization;
                    let granted = granted_names_to_column(&a.granted_names)?;
                    let mut tx = self.begin_write().await?;
                    // The clear secret columns of the first schema stay empty.
                    sqlx::query(concat!(
                        "INSERT INTO authorizations (",
                        authorization_columns!(),
                        ", ",
                        unsealed_secret_columns!(),
                        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $11, $11)"
                    ))
                    .bind(&a.id)
                    .bind(&a.identity)
                    .bind(a.purpose.as_str())
                    .bind(granted)
                    .bind(a.sealed_secrets.as_slice())
                    .bind(timestamp_to_column(a.created_at)?)
                    .bind(timestamp_to_column(a.expires_at)?)
                    .bind(a.max_uses.map(i64::from))
                    .bind(i64::from(a.uses))
                    .bind(optional_timestamp_to_column(a.revoked_at)?)
                    .bind(Vec::<u8>::new())
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error("authorization"))?;
                    insert_audit(&mut tx, audit).await?;
                    tx.commit().await.map_err(db_error("commit"))
                }

                async fn usable_authorizations(
                    &self,
                    identities: &[String],
                    purpose: Purpose,
                    now: OffsetDateTime,
                ) -> Result<Vec<Authorization>, StoreError> {
                    if identities.is_empty() {
                        return Ok(Vec::new());
                    }
                    let mut q = sqlx::QueryBuilder::<Db>::new(concat!(
                        "SELECT ",
                        authorization_columns!(),
                        " FROM authorizations WHERE identity IN ("
                    ));
                    let mut list = q.separated(", ");
                    for identity in identities {
                        list.push_bind(identity.clone());
                    }
                    q.push(") AND purpose = ")
                        .push_bind(purpose.as_str())
                        .push(" AND expires_at > ")
                        .push_bind(timestamp_to_column(now)?)
                        .push(
                            " AND (max_uses IS NULL OR uses < max_uses) AND revoked_at IS NULL \
                             ORDER BY created_at, id",
                        );
                    let rows = q
                        .build()
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db_error("authorizations"))?;
                    rows.iter().map(rows::authorization).collect()
                }

                async fn get_authorization(
                    &self,
                    id: &str,
                ) -> Result<Option<Authorization>, StoreError> {
                    let row = sqlx::query(concat!(
                        "SELECT ",
                        authorization_columns!(),
                        " FROM authorizations WHERE id = $1"
                    ))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_error("authorization"))?;
                    row.as_ref().map(rows::authorization).transpose()
                }

                async fn unsealed_authorizations(
                    &self,
                    limit: usize,
                ) -> Result<Vec<(Authorization, DerivedSecrets)>, StoreError> {
                    let rows = sqlx::query(concat!(
                        "SELECT ",
                        authorization_columns!(),
                        ", ",
                        unsealed_secret_columns!(),
                        " FROM authorizations WHERE sealed_secrets IS NULL ORDER BY id LIMIT $1"
                    ))
                    .bind(limit_to_column(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_error("authorizations"))?;
                    rows.iter()
                        .map(|row| Ok((rows::authorization(row)?, rows::unsealed_secrets(row)?)))
                        .collect()
                }

                async fn seal_authorization(
                    &self,
                    id: &str,
                    sealed_secrets: &[u8],
                ) -> Result<(), StoreError> {
                    let mut tx = self.begin_write().await?;
                    let sealed = sqlx::query(
                        "UPDATE authorizations SET sealed_secrets = $2, auth_key_saslprep = $3, \
                         auth_key_legacy = $3, kek_saslprep = $3, kek_legacy = $3 \
                         WHERE id = $1 AND sealed_secrets IS NULL",
                    )
                    .bind(id)
                    .bind(sealed_secrets)
                    .bind(Vec::<u8>::new())
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error("authorization"))?;
                    if sealed.rows_affected() != 1 {
                        return Err(missing_or_conflict(
                            &mut tx,
                            "SELECT 1 FROM authorizations WHERE id = $1",
                            id,
                            "authorization",
                            "authorization already sealed",
                        )
                        .await);
                    }
                    tx.commit().await.map_err(db_error("commit"))
                }
            }

            #[async_trait]
            impl KeyBindingStore for $store {
                async fn reserve_serial(
                    &self,
                    serial: &Serial,
                    now: OffsetDateTime,
                ) -> Result<(), StoreError> {
                    sqlx::query("INSERT INTO serials (serial, reserved_at) VALUES ($1, $2)")
                        .bind(serial.to_hex())
                        .bind(timestamp_to_column(now)?)
                        .execute(self.writer())
                        .await
                        .map_err(db_error("serial"))?;
                    Ok(())
                }

                async fn commit_registration(
                    &self,
                    registration: &Registration,
                ) -> Result<(), StoreError> {
                    let binding = &registration.binding;
                    if registration.certificate.binding_id != binding.id {
                        return Err(StoreError::Conflict {
                            what: "certificate belongs to another binding",
                        });
                    }
                    // Encode before the transaction: a bad value fails without touching
                    // the database.
                    let row = BindingRow::encode(binding)?;
                    let mut tx = self.begin_write().await?;
                    if let Some(authorization_id) = &registration.authorization_id {
                        let at = row.created_at;
                        use_authorization(&mut tx, authorization_id, Purpose::Register, at)
                            .await?;
                    }
                    require_reserved(&mut tx, &registration.certificate.serial).await?;
                    remember_all(&mut tx, &registration.replay, row.created_at).await?;
                    row.insert(&mut tx, binding).await?;
                    insert_certificate(&mut tx, &registration.certificate).await?;
                    if let Some(key) = &registration.escrowed_private_key {
                        sqlx::query(
                            "INSERT INTO escrowed_keys (binding_id, private_key, format) \
                             VALUES ($1, $2, $3)",
                        )
                        .bind(&binding.id)
                        .bind(key.as_slice())
                        .bind($crate::ESCROW_FORMAT_BOUND)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error("escrowed key"))?;
                    }
                    insert_audits(&mut tx, &registration.audit).await?;
                    tx.commit().await.map_err(db_error("commit"))
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
                    let Some(mut q) = $crate::find::bindings_with_pairs_query::<Db>(
                        selector,
                        limit_to_column(limit),
                    ) else {
                        return Ok(Vec::new());
                    };
                    let rows = q
                        .build()
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db_error("key bindings"))?;
                    rows::bindings_with_pairs(&rows)
                }

                async fn certificates_of(
                    &self,
                    binding_id: &str,
                ) -> Result<Vec<CertificateRecord>, StoreError> {
                    let rows = sqlx::query(concat!(
                        "SELECT ",
                        certificate_columns!(),
                        " FROM certificates WHERE binding_id = $1 \
                         ORDER BY issued_at DESC, serial DESC"
                    ))
                    .bind(binding_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_error("certificates"))?;
                    rows.iter().map(rows::certificate).collect()
                }

                async fn count_bindings(&self) -> Result<u64, StoreError> {
                    count(&self.pool, "SELECT COUNT(*) FROM key_bindings", "binding count").await
                }

                async fn revocation_generation(
                    &self,
                ) -> Result<(u64, Option<OffsetDateTime>), StoreError> {
                    let row = sqlx::query(
                        "SELECT COUNT(*), MAX(revoked_at) FROM certificates \
                         WHERE revoked_at IS NOT NULL",
                    )
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db_error("revocation generation"))?;
                    let revoked: i64 = row.try_get(0).map_err(db_error("revocation generation"))?;
                    let newest: Option<i64> =
                        row.try_get(1).map_err(db_error("revocation generation"))?;
                    Ok((
                        u64::try_from(revoked).map_err(|_| corrupt("revocation count"))?,
                        newest.map(timestamp_from_column).transpose()?,
                    ))
                }

                async fn next_crl_number(&self, at_least: u64) -> Result<u64, StoreError> {
                    let at_least = i64::try_from(at_least).map_err(|_| corrupt("CRL number"))?;
                    // One statement: the row lock (or SQLite's write lock) orders nodes.
                    let number: i64 = sqlx::query(
                        "UPDATE crl_number SET number = CASE WHEN number + 1 > $1 \
                         THEN number + 1 ELSE $1 END WHERE id = 1 RETURNING number",
                    )
                    .bind(at_least)
                    .fetch_one(self.writer())
                    .await
                    .and_then(|row| row.try_get(0))
                    .map_err(db_error("CRL number"))?;
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
                    let mut tx = self.begin_write().await?;
                    if lock_binding(&mut tx, &reissue.binding_id).await? != BindingStatus::Valid {
                        return Err(StoreError::Conflict {
                            what: "binding is revoked",
                        });
                    }
                    if let Some(authorization_id) = &reissue.authorization_id {
                        use_authorization(&mut tx, authorization_id, Purpose::Register, issued_at)
                            .await?;
                    }
                    require_reserved(&mut tx, &certificate.serial).await?;
                    remember_all(&mut tx, &reissue.replay, issued_at).await?;
                    insert_certificate(&mut tx, certificate).await?;
                    insert_audits(&mut tx, &reissue.audit).await?;
                    tx.commit().await.map_err(db_error("commit"))
                }

                async fn revoke_binding(&self, revocation: &Revocation) -> Result<(), StoreError> {
                    let at = timestamp_to_column(revocation.at)?;
                    let mut tx = self.begin_write().await?;
                    if !revoke(&mut tx, revocation).await? {
                        return Err(StoreError::Conflict {
                            what: "binding already revoked",
                        });
                    }
                    remember_all(&mut tx, &revocation.replay, at).await?;
                    insert_audits(&mut tx, &revocation.audit).await?;
                    tx.commit().await.map_err(db_error("commit"))
                }

                async fn escrowed_key(
                    &self,
                    binding_id: &str,
                ) -> Result<Option<Vec<u8>>, StoreError> {
                    let row = sqlx::query(
                        "SELECT private_key FROM escrowed_keys WHERE binding_id = $1",
                    )
                    .bind(binding_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_error("escrowed key"))?;
                    row.map(|r| r.try_get::<Vec<u8>, _>(0))
                        .transpose()
                        .map_err(db_error("escrowed key"))
                }

                async fn legacy_escrowed_keys(
                    &self,
                    limit: usize,
                ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT binding_id, private_key FROM escrowed_keys WHERE format = 1 \
                         ORDER BY binding_id LIMIT $1",
                    )
                    .bind(limit_to_column(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_error("escrowed keys"))?;
                    rows.iter()
                        .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<Vec<u8>, _>(1)?)))
                        .collect::<Result<_, sqlx::Error>>()
                        .map_err(db_error("escrowed keys"))
                }

                async fn reseal_escrowed_key(
                    &self,
                    binding_id: &str,
                    blob: &[u8],
                ) -> Result<(), StoreError> {
                    let mut tx = self.begin_write().await?;
                    let resealed = sqlx::query(
                        "UPDATE escrowed_keys SET private_key = $2, format = $3 \
                         WHERE binding_id = $1 AND format = 1",
                    )
                    .bind(binding_id)
                    .bind(blob)
                    .bind($crate::ESCROW_FORMAT_BOUND)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error("escrowed key"))?;
                    if resealed.rows_affected() != 1 {
                        return Err(missing_or_conflict(
                            &mut tx,
                            "SELECT 1 FROM escrowed_keys WHERE binding_id = $1",
                            binding_id,
                            "escrowed key",
                            "escrowed key already resealed",
                        )
                        .await);
                    }
                    tx.commit().await.map_err(db_error("commit"))
                }

                async fn key_compromised(&self, key_fingerprint: &[u8]) -> Result<bool, StoreError> {
                    let row = sqlx::query(
                        "SELECT 1 FROM key_bindings kb JOIN certificates c ON c.binding_id = kb.id \
                         WHERE kb.key_fingerprint = $1 AND c.revocation_reason = 1 LIMIT 1",
                    )
                    .bind(key_fingerprint)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_error("compromised keys"))?;
                    Ok(row.is_some())
                }

                async fn holds_records(&self) -> Result<bool, StoreError> {
                    let n = count(
                        &self.pool,
                        "SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM authorizations LIMIT 1) a) \
                         + (SELECT COUNT(*) FROM (SELECT 1 FROM key_bindings LIMIT 1) b) \
                         + (SELECT COUNT(*) FROM (SELECT 1 FROM serials LIMIT 1) s)",
                        "record count",
                    )
                    .await?;
                    Ok(n > 0)
                }

                async fn commit_recovery(&self, recovery: &Recovery) -> Result<(), StoreError> {
                    if let Some(revocation) = &recovery.revoke {
                        if revocation.binding_id != recovery.binding_id {
                            return Err(StoreError::Conflict {
                                what: "revocation of another binding",
                            });
                        }
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
                    let mut tx = self.begin_write().await?;
                    lock_binding(&mut tx, &recovery.binding_id).await?;
                    let escrowed = sqlx::query("SELECT 1 FROM escrowed_keys WHERE binding_id = $1")
                        .bind(&recovery.binding_id)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db_error("escrowed key"))?;
                    if escrowed.is_none() {
                        return Err(StoreError::NotFound {
                            what: "escrowed key",
                        });
                    }
                    use_authorization(&mut tx, &recovery.authorization_id, Purpose::Recover, at)
                        .await?;
                    remember_all(&mut tx, &recovery.replay, at).await?;
                    // An already revoked binding may still be recovered: then there is
                    // nothing to revoke, and the revocation's own events are not written.
                    let mut events = recovery.audit.clone();
                    if let Some(revocation) = &recovery.revoke {
                        if revoke(&mut tx, revocation).await? {
                            events.extend(revocation.audit.iter().cloned());
                        }
                    }
                    // Last: the audit chain's head is the last lock a transaction takes.
                    insert_audits(&mut tx, &events).await?;
                    tx.commit().await.map_err(db_error("commit"))
                }

                async fn revoked_certificates(
                    &self,
                ) -> Result<Vec<RevokedCertificate>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT serial, revoked_at, revocation_reason FROM certificates \
                         WHERE revoked_at IS NOT NULL ORDER BY revoked_at, serial",
                    )
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_error("revoked certificates"))?;
                    rows.iter().map(rows::revoked_certificate).collect()
                }
            }

            #[async_trait]
            impl AuditStore for $store {
                async fn recent_audit_events(
                    &self,
                    limit: usize,
                ) -> Result<Vec<AuditEvent>, StoreError> {
                    // Insertion order, not `at`: clocks of several nodes need not agree.
                    let rows = sqlx::query(concat!(
                        "SELECT ",
                        audit_columns!(),
                        " FROM audit_events ORDER BY id DESC LIMIT $1"
                    ))
                    .bind(limit_to_column(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_error("audit events"))?;
                    rows.iter().map(rows::audit_event).collect()
                }

                async fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
                    if events.is_empty() {
                        return Ok(());
                    }
                    let mut tx = self.begin_write().await?;
                    insert_audits(&mut tx, events).await?;
                    tx.commit().await.map_err(db_error("commit"))
                }

                async fn audit_chain(
                    &self,
                    after: u64,
                    limit: usize,
                ) -> Result<Vec<ChainedAuditEvent>, StoreError> {
                    let after = i64::try_from(after).unwrap_or(i64::MAX);
                    let rows = sqlx::query(concat!(
                        "SELECT ",
                        chained_audit_columns!(),
                        " FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2"
                    ))
                    .bind(after)
                    .bind(limit_to_column(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_error("audit events"))?;
                    rows.iter().map(rows::chained_audit_event).collect()
                }

                async fn audit_head(&self) -> Result<AuditHead, StoreError> {
                    let row = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
                        .fetch_one(&self.pool)
                        .await
                        .map_err(db_error("audit head"))?;
                    rows::audit_head(&row)
                }

                async fn unchained_audit_events(&self) -> Result<u64, StoreError> {
                    count(
                        &self.pool,
                        "SELECT COUNT(*) FROM audit_events WHERE seq IS NULL",
                        "audit events",
                    )
                    .await
                }
            }

            #[async_trait]
            impl PendingStore for $store {
                async fn open_pending_counts(
                    &self,
                    requester: &str,
                ) -> Result<(u64, u64), StoreError> {
                    let row = sqlx::query(
                        "SELECT COALESCE(SUM(CASE WHEN requester = $1 THEN 1 ELSE 0 END), 0), \
                         COUNT(*) FROM pending_requests \
                         WHERE state IN ('awaiting-approval', 'queued', 'running')",
                    )
                    .bind(requester)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db_error("pending counts"))?;
                    let mine: i64 = row.try_get(0).map_err(db_error("pending counts"))?;
                    let all: i64 = row.try_get(1).map_err(db_error("pending counts"))?;
                    Ok((
                        u64::try_from(mine).map_err(|_| corrupt("pending count"))?,
                        u64::try_from(all).map_err(|_| corrupt("pending count"))?,
                    ))
                }

                async fn pending_counts(&self) -> Result<Vec<(PendingState, u64)>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT state, COUNT(*) FROM pending_requests GROUP BY state",
                    )
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_error("pending counts"))?;
                    rows.iter()
                        .map(|row| {
                            let state: String = row.try_get(0).map_err(db_error("pending counts"))?;
                            let n: i64 = row.try_get(1).map_err(db_error("pending counts"))?;
                            Ok((
                                PendingState::parse(&state).ok_or_else(|| corrupt("pending state"))?,
                                u64::try_from(n).map_err(|_| corrupt("pending count"))?,
                            ))
                        })
                        .collect()
                }

                async fn insert_pending(
                    &self,
                    record: &PendingRecord,
                    audit: &AuditEvent,
                ) -> Result<(), StoreError> {
                    let r = record;
                    let (success, failure, pending) = split_counters(r.counters);
                    let mut tx = self.begin_write().await?;
                    sqlx::query(concat!(
                        "INSERT INTO pending_requests (",
                        pending_columns!(),
                        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
                    ))
                    .bind(&r.response_id)
                    .bind(&r.original_request_id)
                    .bind(r.operation.as_str())
                    .bind(&r.requester)
                    .bind(r.state.as_str())
                    .bind(&r.document)
                    .bind(r.result.as_deref())
                    .bind(timestamp_to_column(r.created_at)?)
                    .bind(timestamp_to_column(r.updated_at)?)
                    .bind(optional_timestamp_to_column(r.lease_until)?)
                    .bind(success)
                    .bind(failure)
                    .bind(pending)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error("pending request"))?;
                    insert_audit(&mut tx, audit).await?;
                    tx.commit().await.map_err(db_error("commit"))
                }

                async fn get_pending(
                    &self,
                    response_id: &str,
                ) -> Result<Option<PendingRecord>, StoreError> {
                    let row = sqlx::query(concat!(
                        "SELECT ",
                        pending_columns!(),
                        " FROM pending_requests WHERE response_id = $1"
                    ))
                    .bind(response_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_error("pending request"))?;
                    row.as_ref().map(rows::pending).transpose()
                }

                async fn claim_pending(
                    &self,
                    now: OffsetDateTime,
                    lease_until: OffsetDateTime,
                ) -> Result<Option<PendingRecord>, StoreError> {
                    let now = timestamp_to_column(now)?;
                    let lease_until = timestamp_to_column(lease_until)?;
                    let mut tx = self.begin_write().await?;
                    let row = sqlx::query(<$store>::CLAIM_PENDING_SQL)
                        .bind(now)
                        .bind(lease_until)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db_error("pending claim"))?;
                    let claimed = row.as_ref().map(rows::pending).transpose()?;
                    tx.commit().await.map_err(db_error("commit"))?;
                    Ok(claimed)
                }

                async fn transition_pending(
                    &self,
                    response_id: &str,
                    from: PendingState,
                    to: PendingState,
                    result: Option<&str>,
                    counters: Option<(u32, u32, u32)>,
                    now: OffsetDateTime,
                    audit: &AuditEvent,
                ) -> Result<(), StoreError> {
                    let (success, failure, pending) = split_counters(counters);
                    let now = timestamp_to_column(now)?;
                    let mut tx = self.begin_write().await?;
                    // The `state = from` condition is the precondition: a concurrent
                    // transition makes this one match no row.
                    let moved = sqlx::query(
                        "UPDATE pending_requests SET state = $3, \
                         result = COALESCE($4, result), \
                         counter_success = COALESCE($5, counter_success), \
                         counter_failure = COALESCE($6, counter_failure), \
                         counter_pending = COALESCE($7, counter_pending), \
                         updated_at = $8, \
                         lease_until = CASE WHEN $3 = 'running' THEN lease_until ELSE NULL END \
                         WHERE response_id = $1 AND state = $2",
                    )
                    .bind(response_id)
                    .bind(from.as_str())
                    .bind(to.as_str())
                    .bind(result)
                    .bind(success)
                    .bind(failure)
                    .bind(pending)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error("pending request"))?;
                    if moved.rows_affected() != 1 {
                        let exists =
                            sqlx::query("SELECT 1 FROM pending_requests WHERE response_id = $1")
                                .bind(response_id)
                                .fetch_optional(&mut *tx)
                                .await
                                .map_err(db_error("pending request"))?;
                        return Err(match exists {
                            None => StoreError::NotFound {
                                what: "pending request",
                            },
                            Some(_) => StoreError::Conflict {
                                what: "pending request not in the expected state",
                            },
                        });
                    }
                    insert_audit(&mut tx, audit).await?;
                    tx.commit().await.map_err(db_error("commit"))
                }

                async fn list_pending(
                    &self,
                    state: Option<PendingState>,
                    limit: usize,
                ) -> Result<Vec<PendingRecord>, StoreError> {
                    let mut q = sqlx::QueryBuilder::<Db>::new(concat!(
                        "SELECT ",
                        pending_columns!(),
                        " FROM pending_requests"
                    ));
                    if let Some(state) = state {
                        q.push(" WHERE state = ").push_bind(state.as_str());
                    }
                    q.push(" ORDER BY created_at, response_id LIMIT ")
                        .push_bind(limit_to_column(limit));
                    let rows = q
                        .build()
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db_error("pending requests"))?;
                    rows.iter().map(rows::pending).collect()
                }

                async fn delete_pending(
                    &self,
                    response_id: &str,
                    audit: &AuditEvent,
                ) -> Result<(), StoreError> {
                    let mut tx = self.begin_write().await?;
                    let deleted = sqlx::query(
                        "DELETE FROM pending_requests WHERE response_id = $1 \
                         AND state IN ('done', 'rejected')",
                    )
                    .bind(response_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error("pending request"))?;
                    if deleted.rows_affected() != 1 {
                        return Err(missing_or_conflict(
                            &mut tx,
                            "SELECT 1 FROM pending_requests WHERE response_id = $1",
                            response_id,
                            "pending request",
                            "pending request not final",
                        )
                        .await);
                    }
                    insert_audit(&mut tx, audit).await?;
                    tx.commit().await.map_err(db_error("commit"))
                }

                async fn purge_pending(
                    &self,
                    before: OffsetDateTime,
                    audit: &AuditEvent,
                ) -> Result<u64, StoreError> {
                    let before = timestamp_to_column(before)?;
                    let mut tx = self.begin_write().await?;
                    let purged = sqlx::query(
                        "DELETE FROM pending_requests WHERE state IN ('done', 'rejected') \
                         AND updated_at < $1",
                    )
                    .bind(before)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error("pending requests"))?
                    .rows_affected();
                    if purged == 0 {
                        return Ok(0);
                    }
                    insert_audit(&mut tx, audit).await?;
                    tx.commit().await.map_err(db_error("commit"))?;
                    Ok(purged)
                }

                async fn unsealed_pending_results(
                    &self,
                    limit: usize,
                ) -> Result<Vec<(String, String)>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT response_id, result FROM pending_requests \
                         WHERE result IS NOT NULL AND result NOT LIKE 'sealed:%' \
                         ORDER BY response_id LIMIT $1",
                    )
                    .bind(limit_to_column(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_error("pending results"))?;
                    rows.iter()
                        .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?)))
                        .collect::<Result<_, sqlx::Error>>()
                        .map_err(db_error("pending results"))
                }

                async fn seal_pending_result(
                    &self,
                    response_id: &str,
                    sealed: &str,
                ) -> Result<(), StoreError> {
                    let updated = sqlx::query(
                        "UPDATE pending_requests SET result = $2 WHERE response_id = $1 \
                         AND result IS NOT NULL AND result NOT LIKE 'sealed:%'",
                    )
                    .bind(response_id)
                    .bind(sealed)
                    .execute(self.writer())
                    .await
                    .map_err(db_error("pending result"))?;
                    if updated.rows_affected() != 1 {
                        return Err(StoreError::Conflict {
                            what: "pending result absent or already sealed",
                        });
                    }
                    Ok(())
                }
            }

            #[async_trait]
            impl LockoutStore for $store {
                async fn failure_records(
                    &self,
                    subjects: &[String],
                ) -> Result<Vec<FailureRecord>, StoreError> {
                    let mut records = Vec::new();
                    // A handful of subjects per request: one indexed lookup each.
                    for subject in subjects {
                        let row = sqlx::query(
                            "SELECT subject, failures, last_failure, locked_until \
                             FROM auth_failures WHERE subject = $1",
                        )
                        .bind(subject)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db_error("authentication failures"))?;
                        if let Some(row) = row {
                            records.push(rows::failure_record(&row)?);
                        }
                    }
                    Ok(records)
                }

                async fn record_failures(
                    &self,
                    subjects: &[FailureSubject],
                    events: &[AuditEvent],
                    now: OffsetDateTime,
                    window: time::Duration,
                ) -> Result<Vec<String>, StoreError> {
                    let now_column = timestamp_to_column(now)?;
                    let restart_before = timestamp_to_column(now - window)?;
                    let locked_until = timestamp_to_column(now + window)?;
                    let mut locked = Vec::new();
                    let mut tx = self.begin_write().await?;
                    for s in subjects {
                        // The count restarts after a quiet window; a lock in force keeps
                        // its end; reaching the threshold sets one.
                        let row = sqlx::query(
                            "INSERT INTO auth_failures (subject, failures, last_failure, locked_until) \
                             VALUES ($1, 1, $2, CASE WHEN $3 <= 1 THEN $4 ELSE NULL END) \
                             ON CONFLICT (subject) DO UPDATE SET \
                             failures = CASE WHEN auth_failures.last_failure < $5 THEN 1 \
                                        ELSE auth_failures.failures + 1 END, \
                             last_failure = $2, \
                             locked_until = CASE \
                               WHEN auth_failures.locked_until > $2 THEN auth_failures.locked_until \
                               WHEN (CASE WHEN auth_failures.last_failure < $5 THEN 1 \
                                     ELSE auth_failures.failures + 1 END) >= $3 THEN $4 \
                               ELSE NULL END \
                             RETURNING failures, locked_until",
                        )
                        .bind(&s.subject)
                        .bind(now_column)
                        .bind(i64::from(s.threshold))
                        .bind(locked_until)
                        .bind(restart_before)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(db_error("authentication failures"))?;
                        let failures: i64 = row.try_get(0).map_err(db_error("authentication failures"))?;
                        let until: Option<i64> = row.try_get(1).map_err(db_error("authentication failures"))?;
                        // Set by this statement (a lock already in force keeps its end).
                        let _ = failures;
                        if until == Some(locked_until) {
                            locked.push(s.subject.clone());
                        }
                    }
                    insert_audits(&mut tx, events).await?;
                    tx.commit().await.map_err(db_error("commit"))?;
                    Ok(locked)
                }

                async fn clear_failures(&self, subjects: &[String]) -> Result<(), StoreError> {
                    let mut tx = self.begin_write().await?;
                    for subject in subjects {
                        sqlx::query("DELETE FROM auth_failures WHERE subject = $1")
                            .bind(subject)
                            .execute(&mut *tx)
                            .await
                            .map_err(db_error("authentication failures"))?;
                    }
                    tx.commit().await.map_err(db_error("commit"))
                }

                async fn locked_subjects(
                    &self,
                    now: OffsetDateTime,
                ) -> Result<Vec<FailureRecord>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT subject, failures, last_failure, locked_until FROM auth_failures \
                         WHERE locked_until > $1 ORDER BY locked_until, subject",
                    )
                    .bind(timestamp_to_column(now)?)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_error("authentication failures"))?;
                    rows.iter().map(rows::failure_record).collect()
                }

                async fn unlock(&self, subject: &str, audit: &AuditEvent) -> Result<bool, StoreError> {
                    let mut tx = self.begin_write().await?;
                    let deleted = sqlx::query("DELETE FROM auth_failures WHERE subject = $1")
                        .bind(subject)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error("authentication failures"))?;
                    if deleted.rows_affected() == 0 {
                        return Ok(false);
                    }
                    insert_audit(&mut tx, audit).await?;
                    tx.commit().await.map_err(db_error("commit"))?;
                    Ok(true)
                }
            }

            #[async_trait]
            impl ReplayStore for $store {
                async fn remember_once(
                    &self,
                    kind: &str,
                    value: &[u8],
                    expires_at: OffsetDateTime,
                    now: OffsetDateTime,
                ) -> Result<bool, StoreError> {
                    let expires_at = timestamp_to_column(expires_at)?;
                    let now = timestamp_to_column(now)?;
                    // Purge what expired of this kind now and then (every 64th call): an
                    // index range on (kind, expires_at); expired rows left in between do
                    // no harm, the upsert below takes them over.
                    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
                    if CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 64 == 0 {
                        sqlx::query("DELETE FROM replay_values WHERE kind = $1 AND expires_at <= $2")
                            .bind(kind)
                            .bind(now)
                            .execute(self.writer())
                            .await
                            .map_err(db_error("replay values"))?;
                    }
                    // The upsert alone is the decision (an expired row, should a
                    // concurrent call have re-inserted one, is taken over): exactly one
                    // caller changes a row for a value that is not remembered.
                    let remembered = sqlx::query(
                        "INSERT INTO replay_values (kind, value, expires_at) VALUES ($1, $2, $3) \
                         ON CONFLICT (kind, value) DO UPDATE SET expires_at = excluded.expires_at \
                         WHERE replay_values.expires_at <= $4",
                    )
                    .bind(kind)
                    .bind(value)
                    .bind(expires_at)
                    .bind(now)
                    .execute(self.writer())
                    .await
                    .map_err(db_error("replay value"))?;
                    Ok(remembered.rows_affected() == 1)
                }

                async fn is_remembered(
                    &self,
                    kind: &str,
                    value: &[u8],
                    now: OffsetDateTime,
                ) -> Result<bool, StoreError> {
                    let row = sqlx::query(
                        "SELECT 1 FROM replay_values WHERE kind = $1 AND value = $2 \
                         AND expires_at > $3",
                    )
                    .bind(kind)
                    .bind(value)
                    .bind(timestamp_to_column(now)?)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_error("replay value"))?;
                    Ok(row.is_some())
                }
            }

            impl $store {
                /// Loads many registrations fast (benchmarks, imports): multi-row
                /// `INSERT`s in transactions of [`BULK_TRANSACTION_ROWS`] registrations.
                /// Writes serials, bindings, UseKeyWith pairs, certificates and escrowed
                /// keys; no authorization accounting, no audit events. A failure rolls
                /// back the current transaction only: earlier ones stay committed.
                pub async fn bulk_insert_registrations(
                    &self,
                    registrations: &[Registration],
                ) -> Result<(), StoreError> {
                    for chunk in registrations.chunks($crate::bulk::BULK_TRANSACTION_ROWS) {
                        let encoded = $crate::bulk::Encoded::new(chunk)?;
                        let mut tx = self.begin_write().await?;
                        for table in encoded.tables() {
                            for rows in table.rows.chunks(table.rows_per_statement()) {
                                insert_values(&mut tx, table.table, rows).await?;
                            }
                        }
                        tx.commit().await.map_err(db_error("commit"))?;
                    }
                    Ok(())
                }
            }

            #[async_trait]
            impl RawTables for $store {
                async fn count_rows(&self, table: &Table) -> Result<u64, StoreError> {
                    let mut q = sqlx::QueryBuilder::<Db>::new("SELECT COUNT(*) FROM ");
                    q.push(table.name);
                    let n: i64 = q
                        .build()
                        .fetch_one(&self.pool)
                        .await
                        .and_then(|row| row.try_get(0))
                        .map_err(db_error("row count"))?;
                    u64::try_from(n).map_err(|_| corrupt("row count"))
                }

                async fn read_batch(
                    &self,
                    table: &Table,
                    after: Option<&[Value]>,
                    limit: usize,
                ) -> Result<Vec<Vec<Value>>, StoreError> {
                    let mut q = sqlx::QueryBuilder::<Db>::new("SELECT ");
                    q.push(table.column_list()).push(" FROM ").push(table.name);
                    if let Some(after) = after {
                        q.push(" WHERE (").push(table.key_list()).push(") > (");
                        let mut keys = q.separated(", ");
                        for value in after {
                            match value.clone() {
                                Value::Text(v) => keys.push_bind(v),
                                Value::Blob(v) => keys.push_bind(v),
                                Value::Int(v) => keys.push_bind(v),
                            };
                        }
                        q.push(")");
                    }
                    q.push(" ORDER BY ")
                        .push(table.key_list())
                        .push(" LIMIT ")
                        .push_bind(limit_to_column(limit));
                    let rows = q
                        .build()
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db_error("copy read"))?;
                    rows.iter()
                        .map(|row| table.decode(row))
                        .collect::<Result<_, _>>()
                        .map_err(db_error("copy read"))
                }

                async fn write_batch(
                    &self,
                    table: &Table,
                    rows: &[Vec<Value>],
                ) -> Result<(), StoreError> {
                    let mut tx = self.begin_write().await?;
                    for rows in rows.chunks(table.rows_per_statement()) {
                        insert_values(&mut tx, table, rows).await?;
                    }
                    tx.commit().await.map_err(db_error("commit"))
                }

                async fn finish_copy(&self) -> Result<(), StoreError> {
                    // The chain continues after the copied events.
                    sqlx::query(
                        "UPDATE audit_head SET \
                         seq = COALESCE((SELECT MAX(seq) FROM audit_events), 0), \
                         hash = COALESCE((SELECT hash FROM audit_events WHERE seq = \
                         (SELECT MAX(seq) FROM audit_events)), $1) WHERE id = 1",
                    )
                    .bind(xkms_service::store::AUDIT_GENESIS.to_vec())
                    .execute(&self.pool)
                    .await
                    .map_err(db_error("copy finish"))?;
                    if let Some(sql) = <$store>::AFTER_COPY_SQL {
                        sqlx::raw_sql(sql)
                            .execute(&self.pool)
                            .await
                            .map_err(db_error("copy finish"))?;
                    }
                    Ok(())
                }

                async fn close_raw(&self) {
                    self.pool.close().await;
                }
            }

            /// One multi-row `INSERT` of `rows` (all of `table`'s columns, in order).
            async fn insert_values(
                tx: &mut Tx,
                table: &Table,
                rows: &[Vec<Value>],
            ) -> Result<(), StoreError> {
                if rows.is_empty() {
                    return Ok(());
                }
                let mut q = sqlx::QueryBuilder::<Db>::new("INSERT INTO ");
                q.push(table.name)
                    .push(" (")
                    .push(table.column_list())
                    .push(") ");
                q.push_values(rows, |mut b, row| {
                    for value in row {
                        match value.clone() {
                            Value::Text(v) => b.push_bind(v),
                            Value::Blob(v) => b.push_bind(v),
                            Value::Int(v) => b.push_bind(v),
                        };
                    }
                });
                q.build()
                    .execute(&mut **tx)
                    .await
                    .map_err(db_error(table.name))?;
                Ok(())
            }

            /// The columns of a binding, encoded.
            struct BindingRow {
                created_at: i64,
                key_usage: String,
                revoked_at: Option<i64>,
            }

            impl BindingRow {
                fn encode(binding: &KeyBindingRecord) -> Result<BindingRow, StoreError> {
                    Ok(BindingRow {
                        created_at: timestamp_to_column(binding.created_at)?,
                        key_usage: key_usage_to_column(&binding.key_usage)?,
                        revoked_at: optional_timestamp_to_column(binding.revoked_at)?,
                    })
                }

                async fn insert(
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
                    q.push_values(binding.use_key_with.iter().enumerate(), |mut b, (ordinal, pair)| {
                        b.push_bind(binding.id.clone())
                            .push_bind(limit_to_column(ordinal))
                            .push_bind(pair.application.as_uri().to_owned())
                            .push_bind(pair.identifier.clone());
                    });
                    q.build().execute(&mut **tx).await.map_err(db_error("use_key_with"))?;
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

            async fn require_reserved(tx: &mut Tx, serial: &Serial) -> Result<(), StoreError> {
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
            async fn lock_binding(tx: &mut Tx, id: &str) -> Result<BindingStatus, StoreError> {
                let row = sqlx::query(<$store>::LOCK_BINDING_SQL)
                    .bind(id)
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err(db_error("binding"))?;
                let Some(row) = row else {
                    return Err(StoreError::NotFound { what: "binding" });
                };
                let status: String = row.try_get(0).map_err(db_error("binding"))?;
                $crate::columns::status_from_column(&status)
            }

            /// Revokes a valid binding and its unrevoked certificates. `Ok(false)` if it
            /// was already revoked (nothing changed), `NotFound` if absent.
            async fn revoke(tx: &mut Tx, revocation: &Revocation) -> Result<bool, StoreError> {
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
                Ok(true)
            }

            async fn insert_certificate(
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
            async fn insert_audits(tx: &mut Tx, events: &[AuditEvent]) -> Result<(), StoreError> {
                if events.is_empty() {
                    return Ok(());
                }
                let head = sqlx::query(<$store>::LOCK_AUDIT_HEAD_SQL)
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
                    rows.push((timestamp_to_column(event.at)?, column, prev, hash.clone(), event));
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
                q.build().execute(&mut **tx).await.map_err(db_error("audit event"))?;
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
            async fn remember_all(
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
            async fn missing_or_conflict(
                tx: &mut Tx,
                exists_sql: &'static str,
                key: &str,
                what: &'static str,
                conflict: &'static str,
            ) -> StoreError {
                match sqlx::query(exists_sql).bind(key).fetch_optional(&mut **tx).await {
                    Ok(None) => StoreError::NotFound { what },
                    Ok(Some(_)) => StoreError::Conflict { what: conflict },
                    Err(e) => db_error(what)(e),
                }
            }

            async fn count(
                pool: &sqlx::Pool<Db>,
                sql: &'static str,
                what: &'static str,
            ) -> Result<u64, StoreError> {
                let n: i64 = sqlx::query(sql)
                    .fetch_one(pool)
                    .await
                    .and_then(|row| row.try_get(0))
                    .map_err(db_error(what))?;
                u64::try_from(n).map_err(|_| corrupt(what))
            }

            fn split_counters(
                counters: Option<(u32, u32, u32)>,
            ) -> (Option<i64>, Option<i64>, Option<i64>) {
                match counters {
                    Some((s, f, p)) => (Some(s.into()), Some(f.into()), Some(p.into())),
                    None => (None, None, None),
                }
            }
        }
    };
}
pub(crate) use impl_store;
