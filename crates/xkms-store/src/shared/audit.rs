//! The hash-chained audit log.

use async_trait::async_trait;
use xkms_service::store::{AuditEvent, AuditHead, AuditStore, ChainedAuditEvent, StoreError};

use crate::columns::limit_to_column;
use crate::db_error::db_error;
use crate::rows::{self, audit_columns, chained_audit_columns};

use super::Store;
use super::steps::{count, insert_audits};

#[async_trait]
impl AuditStore for Store {
    async fn recent_audit_events(&self, limit: usize) -> Result<Vec<AuditEvent>, StoreError> {
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
