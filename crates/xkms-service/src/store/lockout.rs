//! Failed authentications and lockouts (brute-force limits).

use super::StoreError;
use super::audit::AuditEvent;
use async_trait::async_trait;
use time::OffsetDateTime;

/// A subject of failed authentications — an identity (`id:…`), a binding's revocation
/// code (`binding:…`), a client address (`ip:…`) — with the number of failures that locks
/// it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureSubject {
    pub subject: String,
    pub threshold: u32,
}

/// The failures recorded for a subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureRecord {
    pub subject: String,
    /// Failures since the count last restarted (a success, or a quiet window).
    pub failures: u32,
    pub last_failure: OffsetDateTime,
    /// While in the future, every authentication of the subject is refused.
    pub locked_until: Option<OffsetDateTime>,
}

/// Failed authentications and lockouts, shared by every node (brute-force limits).
#[async_trait]
pub trait LockoutStore: Send + Sync {
    /// The records of those `subjects` that have any.
    async fn failure_records(&self, subjects: &[String]) -> Result<Vec<FailureRecord>, StoreError>;

    /// One more failure for each subject, and `events` appended, in one transaction. The
    /// count restarts when the subject's last failure is older than `window`; a subject
    /// whose count reaches its threshold is locked until `now + window`. Returns the
    /// subjects locked by this call.
    async fn record_failures(
        &self,
        subjects: &[FailureSubject],
        events: &[AuditEvent],
        now: OffsetDateTime,
        window: time::Duration,
    ) -> Result<Vec<String>, StoreError>;

    /// Forgets the failures of `subjects` (a successful authentication).
    async fn clear_failures(&self, subjects: &[String]) -> Result<(), StoreError>;

    /// Operator: the subjects locked at `now`.
    async fn locked_subjects(&self, now: OffsetDateTime) -> Result<Vec<FailureRecord>, StoreError>;

    /// Operator: lifts the lock of `subject` and forgets its failures, audited. Whether
    /// it had a record.
    async fn unlock(&self, subject: &str, audit: &AuditEvent) -> Result<bool, StoreError>;
}
