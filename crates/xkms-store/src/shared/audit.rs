//! The hash-chained audit log.

use async_trait::async_trait;
use xkms_service::store::{AuditEvent, AuditHead, AuditStore, ChainedAuditEvent, StoreError};

use crate::columns::{corrupt, limit_to_column};
use crate::query::Query;
use crate::rows::{self, audit_columns, chained_audit_columns};

use super::steps::insert_audits;
use super::{Store, Tx};

#[async_trait]
impl AuditStore for Store {
    async fn recent_audit_events(&self, limit: usize) -> Result<Vec<AuditEvent>, StoreError> {
        // Insertion order, not `at`: clocks of several nodes need not agree.
        let q = Query::new(concat!(
            "SELECT ",
            audit_columns!(),
            " FROM audit_events ORDER BY id DESC LIMIT $1"
        ))
        .bind(limit_to_column(limit));
        self.fetch_all(q, "audit events", rows::audit_event).await
    }

    async fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let events = events.to_vec();
        self.write("audit events", move |tx: &mut Tx| {
            Box::pin(async move { insert_audits(tx, &events).await })
        })
        .await
    }

    async fn audit_chain(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<ChainedAuditEvent>, StoreError> {
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let q = Query::new(concat!(
            "SELECT ",
            chained_audit_columns!(),
            " FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2"
        ))
        .bind(after)
        .bind(limit_to_column(limit));
        self.fetch_all(q, "audit events", rows::chained_audit_event)
            .await
    }

    async fn audit_head(&self) -> Result<AuditHead, StoreError> {
        let q = Query::new("SELECT seq, hash FROM audit_head WHERE id = 1");
        self.fetch_optional(q, "audit head", rows::audit_head)
            .await?
            .ok_or_else(|| corrupt("audit head"))
    }

    async fn unchained_audit_events(&self) -> Result<u64, StoreError> {
        let q = Query::new("SELECT COUNT(*) FROM audit_events WHERE seq IS NULL");
        self.fetch_count(q, "audit events").await
    }
}
