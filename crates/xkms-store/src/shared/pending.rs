//! Pending (asynchronous) requests: queue, claim, finish, purge.

use async_trait::async_trait;
use time::OffsetDateTime;
use xkms_service::store::{AuditEvent, PendingRecord, PendingState, PendingStore, StoreError};

use crate::columns::{corrupt, limit_to_column, optional_timestamp_to_column, timestamp_to_column};
use crate::db_error::db_error;
use crate::query::Query;
use crate::rows::{self, ColumnReader, pending_columns};

use super::steps::{change_one, insert_audit, split_counters};
use super::{Store, Tx};

#[async_trait]
impl PendingStore for Store {
    async fn open_pending_counts(&self, requester: &str) -> Result<(u64, u64), StoreError> {
        let q = Query::new(
            "SELECT COALESCE(SUM(CASE WHEN requester = $1 THEN 1 ELSE 0 END), 0), \
             COUNT(*) FROM pending_requests \
             WHERE state IN ('awaiting-approval', 'queued', 'running')",
        )
        .bind(requester);
        let (mine, all) = self
            .fetch_optional(q, "pending counts", |row| {
                let int = |i| {
                    row.int_at(i)
                        .map_err(db_error("pending counts"))?
                        .ok_or_else(|| corrupt("pending count"))
                };
                Ok((int(0)?, int(1)?))
            })
            .await?
            .ok_or_else(|| corrupt("pending counts"))?;
        Ok((
            u64::try_from(mine).map_err(|_| corrupt("pending count"))?,
            u64::try_from(all).map_err(|_| corrupt("pending count"))?,
        ))
    }

    async fn pending_counts(&self) -> Result<Vec<(PendingState, u64)>, StoreError> {
        let q = Query::new("SELECT state, COUNT(*) FROM pending_requests GROUP BY state");
        self.fetch_all(q, "pending counts", |row| {
            let state = row.text_at(0).map_err(db_error("pending counts"))?;
            let n = row.int_at(1).map_err(db_error("pending counts"))?;
            Ok((
                state
                    .as_deref()
                    .and_then(PendingState::parse)
                    .ok_or_else(|| corrupt("pending state"))?,
                n.and_then(|n| u64::try_from(n).ok())
                    .ok_or_else(|| corrupt("pending count"))?,
            ))
        })
        .await
    }

    async fn insert_pending(
        &self,
        record: &PendingRecord,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let r = record;
        let (success, failure, pending) = split_counters(r.counters);
        let q = Query::new(concat!(
            "INSERT INTO pending_requests (",
            pending_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        ))
        .bind(r.response_id.as_str())
        .bind(r.original_request_id.as_str())
        .bind(r.operation.as_str())
        .bind(r.requester.as_str())
        .bind(r.state.as_str())
        .bind(r.document.as_str())
        .bind(r.result.as_deref())
        .bind(timestamp_to_column(r.created_at)?)
        .bind(timestamp_to_column(r.updated_at)?)
        .bind(optional_timestamp_to_column(r.lease_until)?)
        .bind(success)
        .bind(failure)
        .bind(pending);
        let audit = audit.clone();
        self.write("pending request", move |tx: &mut Tx| {
            Box::pin(async move {
                tx.execute(q, "pending request").await?;
                insert_audit(tx, &audit).await
            })
        })
        .await
    }

    async fn get_pending(&self, response_id: &str) -> Result<Option<PendingRecord>, StoreError> {
        let q = Query::new(concat!(
            "SELECT ",
            pending_columns!(),
            " FROM pending_requests WHERE response_id = $1"
        ))
        .bind(response_id);
        self.fetch_optional(q, "pending request", rows::pending)
            .await
    }

    async fn claim_pending(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Option<PendingRecord>, StoreError> {
        let now = timestamp_to_column(now)?;
        let lease_until = timestamp_to_column(lease_until)?;
        let q = Query::new(<Store>::CLAIM_PENDING_SQL)
            .bind(now)
            .bind(lease_until);
        self.write("pending claim", move |tx: &mut Tx| {
            Box::pin(async move {
                tx.read_rows(
                    q,
                    "pending claim",
                    None,
                    |claimed: &mut Option<PendingRecord>, row: &dyn ColumnReader| {
                        *claimed = Some(rows::pending(row)?);
                        Ok(())
                    },
                )
                .await
            })
        })
        .await
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
        // The `state = from` condition is the precondition: a concurrent
        // transition makes this one match no row.
        let q = Query::new(
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
        .bind(now);
        let response_id = response_id.to_owned();
        let audit = audit.clone();
        self.write("pending request", move |tx: &mut Tx| {
            Box::pin(async move {
                change_one(
                    tx,
                    q,
                    "pending request",
                    "SELECT 1 FROM pending_requests WHERE response_id = $1",
                    &response_id,
                    "pending request not in the expected state",
                )
                .await?;
                insert_audit(tx, &audit).await
            })
        })
        .await
    }

    async fn list_pending(
        &self,
        state: Option<PendingState>,
        limit: usize,
    ) -> Result<Vec<PendingRecord>, StoreError> {
        let mut q = Query::new(concat!(
            "SELECT ",
            pending_columns!(),
            " FROM pending_requests"
        ));
        if let Some(state) = state {
            q.push(" WHERE state = ").push_bind(state.as_str());
        }
        q.push(" ORDER BY created_at, response_id LIMIT ")
            .push_bind(limit_to_column(limit));
        self.fetch_all(q, "pending requests", rows::pending).await
    }

    async fn delete_pending(
        &self,
        response_id: &str,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let q = Query::new(
            "DELETE FROM pending_requests WHERE response_id = $1 \
             AND state IN ('done', 'rejected')",
        )
        .bind(response_id);
        let response_id = response_id.to_owned();
        let audit = audit.clone();
        self.write("pending request", move |tx: &mut Tx| {
            Box::pin(async move {
                change_one(
                    tx,
                    q,
                    "pending request",
                    "SELECT 1 FROM pending_requests WHERE response_id = $1",
                    &response_id,
                    "pending request not final",
                )
                .await?;
                insert_audit(tx, &audit).await
            })
        })
        .await
    }

    async fn purge_pending(
        &self,
        before: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<u64, StoreError> {
        let before = timestamp_to_column(before)?;
        let q = Query::new(
            "DELETE FROM pending_requests WHERE state IN ('done', 'rejected') \
             AND updated_at < $1",
        )
        .bind(before);
        let audit = audit.clone();
        self.write("pending requests", move |tx: &mut Tx| {
            Box::pin(async move {
                let purged = tx.execute(q, "pending requests").await?;
                if purged > 0 {
                    insert_audit(tx, &audit).await?;
                }
                Ok(purged)
            })
        })
        .await
    }

    async fn unsealed_pending_results(
        &self,
        limit: usize,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let q = Query::new(
            "SELECT response_id, result FROM pending_requests \
             WHERE result IS NOT NULL AND result NOT LIKE 'sealed:%' \
             ORDER BY response_id LIMIT $1",
        )
        .bind(limit_to_column(limit));
        self.fetch_all(q, "pending results", |row| {
            let text = |i| {
                row.text_at(i)
                    .map_err(db_error("pending results"))?
                    .ok_or_else(|| corrupt("pending results"))
            };
            Ok((text(0)?, text(1)?))
        })
        .await
    }

    async fn seal_pending_result(&self, response_id: &str, sealed: &str) -> Result<(), StoreError> {
        let q = Query::new(
            "UPDATE pending_requests SET result = $2 WHERE response_id = $1 \
             AND result IS NOT NULL AND result NOT LIKE 'sealed:%'",
        )
        .bind(response_id)
        .bind(sealed);
        let updated = self
            .write("pending result", move |tx: &mut Tx| {
                Box::pin(async move { tx.execute(q, "pending result").await })
            })
            .await?;
        if updated != 1 {
            return Err(StoreError::Conflict {
                what: "pending result absent or already sealed",
            });
        }
        Ok(())
    }
}
