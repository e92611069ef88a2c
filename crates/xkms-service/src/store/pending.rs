//! Asynchronous (Pending) requests and their jobs.

use super::StoreError;
use super::audit::AuditEvent;
use async_trait::async_trait;
use time::OffsetDateTime;
use xkms_proto::Operation;

/// State of an asynchronous (Pending) request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PendingState {
    /// Waiting for an operator (`xkmsd admin pending approve|reject`).
    AwaitingApproval,
    /// Ready for a worker.
    Queued,
    /// Claimed by a worker until `lease_until`.
    Running,
    /// Finished; `result` holds the final result.
    Done,
    /// Refused by an operator; `result` holds the final (Sender/Refused) result.
    Rejected,
}

impl PendingState {
    pub fn as_str(&self) -> &'static str {
        match self {
            PendingState::AwaitingApproval => "awaiting-approval",
            PendingState::Queued => "queued",
            PendingState::Running => "running",
            PendingState::Done => "done",
            PendingState::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<PendingState> {
        match s {
            "awaiting-approval" => Some(PendingState::AwaitingApproval),
            "queued" => Some(PendingState::Queued),
            "running" => Some(PendingState::Running),
            "done" => Some(PendingState::Done),
            "rejected" => Some(PendingState::Rejected),
            _ => None,
        }
    }

    /// Whether the final result is available.
    pub fn is_final(&self) -> bool {
        matches!(self, PendingState::Done | PendingState::Rejected)
    }
}

/// A request answered `Pending`, durable across restarts and shared by all nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRecord {
    /// The `Id` of the Pending result = the `ResponseId` clients quote.
    pub response_id: String,
    /// The `Id` of the original request.
    pub original_request_id: String,
    /// Operation name (`Register`, `Recover`, `Compound` …), for operators.
    pub operation: Operation,
    /// Who asked (identity the request named), for operators. No secrets.
    pub requester: String,
    pub state: PendingState,
    /// The original request document, verbatim (its signatures are re-verified when
    /// the job runs).
    pub document: String,
    /// The final result element (serialized XKMS), once final.
    pub result: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// While `Running`: until when the claiming node owns it.
    pub lease_until: Option<OffsetDateTime>,
    /// Counters for a compound request: (success, failure, pending) of its inner
    /// requests; `None` for a simple request.
    pub counters: Option<(u32, u32, u32)>,
}

/// Asynchronous requests and their jobs, shared by every node.
#[async_trait]
pub trait PendingStore: Send + Sync {
    /// Jobs not finished (awaiting approval, queued or running): those of `requester`,
    /// and in total. One query.
    async fn open_pending_counts(&self, requester: &str) -> Result<(u64, u64), StoreError>;

    /// The number of jobs in each state (one query; `/metrics`).
    async fn pending_counts(&self) -> Result<Vec<(PendingState, u64)>, StoreError>;

    /// Records a new pending request. `Duplicate` if the response id exists.
    async fn insert_pending(
        &self,
        record: &PendingRecord,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;

    async fn get_pending(&self, response_id: &str) -> Result<Option<PendingRecord>, StoreError>;

    /// Claims the oldest `Queued` job, or a `Running` one whose lease expired, for
    /// `lease` — exactly one claimant wins under concurrency (SKIP LOCKED or equivalent).
    async fn claim_pending(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Option<PendingRecord>, StoreError>;

    /// Moves a record from `from` to `to` (approve: AwaitingApproval→Queued; reject:
    /// AwaitingApproval→Rejected with a result; finish: Running→Done with a result).
    /// `Conflict` if the record is not in state `from`; `NotFound` if absent.
    #[allow(clippy::too_many_arguments)]
    async fn transition_pending(
        &self,
        response_id: &str,
        from: PendingState,
        to: PendingState,
        result: Option<&str>,
        counters: Option<(u32, u32, u32)>,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;

    /// Records in `state` (all when `None`), oldest first, at most `limit`.
    async fn list_pending(
        &self,
        state: Option<PendingState>,
        limit: usize,
    ) -> Result<Vec<PendingRecord>, StoreError>;

    /// Deletes a final record (its result was delivered). `Conflict` if it is not
    /// final; `NotFound` if absent.
    async fn delete_pending(&self, response_id: &str, audit: &AuditEvent)
    -> Result<(), StoreError>;

    /// Deletes every final record last updated before `before`; how many. An audit event
    /// `audit` is written when any was deleted.
    async fn purge_pending(
        &self,
        before: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<u64, StoreError>;

    /// Up to `limit` (response id, result) whose result is not sealed (`sealed:` prefix),
    /// written before results were sealed.
    async fn unsealed_pending_results(
        &self,
        limit: usize,
    ) -> Result<Vec<(String, String)>, StoreError>;

    /// Replaces an unsealed result by its sealed form. `Conflict` if the stored result
    /// is already sealed or absent.
    async fn seal_pending_result(&self, response_id: &str, sealed: &str) -> Result<(), StoreError>;
}
