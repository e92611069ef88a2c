//! Failed-authentication counters and lockouts.

use async_trait::async_trait;
use time::OffsetDateTime;
use xkms_service::store::{AuditEvent, FailureRecord, FailureSubject, LockoutStore, StoreError};

use crate::columns::timestamp_to_column;
use crate::db_error::db_error;
use crate::query::Query;
use crate::rows::{self, ColumnReader};

use super::steps::{insert_audit, insert_audits};
use super::{Store, Tx};

#[async_trait]
impl LockoutStore for Store {
    async fn failure_records(&self, subjects: &[String]) -> Result<Vec<FailureRecord>, StoreError> {
        let mut records = Vec::new();
        // A handful of subjects per request: one indexed lookup each.
        for subject in subjects {
            let q = Query::new(
                "SELECT subject, failures, last_failure, locked_until \
                 FROM auth_failures WHERE subject = $1",
            )
            .bind(subject.as_str());
            let record = self
                .fetch_optional(q, "authentication failures", rows::failure_record)
                .await?;
            records.extend(record);
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
        let subjects = subjects.to_vec();
        let events = events.to_vec();
        self.write("authentication failures", move |tx: &mut Tx| {
            Box::pin(async move {
                let mut locked = Vec::new();
                for s in &subjects {
                    // The count restarts after a quiet window; a lock in force keeps
                    // its end; reaching the threshold sets one.
                    let q = Query::new(
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
                    .bind(s.subject.as_str())
                    .bind(now_column)
                    .bind(i64::from(s.threshold))
                    .bind(locked_until)
                    .bind(restart_before);
                    let until = tx
                        .read_rows(
                            q,
                            "authentication failures",
                            None,
                            |until: &mut Option<i64>, row: &dyn ColumnReader| {
                                *until =
                                    row.int_at(1).map_err(db_error("authentication failures"))?;
                                Ok(())
                            },
                        )
                        .await?;
                    // Set by this statement (a lock already in force keeps its end).
                    if until == Some(locked_until) {
                        locked.push(s.subject.clone());
                    }
                }
                insert_audits(tx, &events).await?;
                Ok(locked)
            })
        })
        .await
    }

    async fn clear_failures(&self, subjects: &[String]) -> Result<(), StoreError> {
        let subjects = subjects.to_vec();
        self.write("authentication failures", move |tx: &mut Tx| {
            Box::pin(async move {
                for subject in subjects {
                    let q =
                        Query::new("DELETE FROM auth_failures WHERE subject = $1").bind(subject);
                    tx.execute(q, "authentication failures").await?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn locked_subjects(&self, now: OffsetDateTime) -> Result<Vec<FailureRecord>, StoreError> {
        let q = Query::new(
            "SELECT subject, failures, last_failure, locked_until FROM auth_failures \
             WHERE locked_until > $1 ORDER BY locked_until, subject",
        )
        .bind(timestamp_to_column(now)?);
        self.fetch_all(q, "authentication failures", rows::failure_record)
            .await
    }

    async fn unlock(&self, subject: &str, audit: &AuditEvent) -> Result<bool, StoreError> {
        let q = Query::new("DELETE FROM auth_failures WHERE subject = $1").bind(subject);
        let audit = audit.clone();
        self.write("authentication failures", move |tx: &mut Tx| {
            Box::pin(async move {
                if tx.execute(q, "authentication failures").await? == 0 {
                    return Ok(false);
                }
                insert_audit(tx, &audit).await?;
                Ok(true)
            })
        })
        .await
    }
}
