//! The audit trail: event kinds, events and their hash chain.

use super::StoreError;
use async_trait::async_trait;
use time::OffsetDateTime;

/// What an audit event records (closed: every kind the service writes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditKind {
    /// `authorization.created`
    AuthorizationCreated,
    /// `authorization.used`
    AuthorizationUsed,
    /// `authorization.revoked` (by the operator)
    AuthorizationRevoked,
    /// `key.generated`
    KeyGenerated,
    /// `key.recovered`
    KeyRecovered,
    /// `keybinding.registered`
    KeyBindingRegistered,
    /// `keybinding.revoked`
    KeyBindingRevoked,
    /// `certificate.issued`
    CertificateIssued,
    /// `request.pending`
    RequestPending,
    /// `request.approved`
    RequestApproved,
    /// `request.rejected`
    RequestRejected,
    /// `request.completed`
    RequestCompleted,
    /// `request.refused`
    RequestRefused,
    /// `result.delivered`
    ResultDelivered,
    /// `pending.purged`
    PendingPurged,
    /// `authentication.failed`
    AuthenticationFailed,
    /// `authentication.locked`
    AuthenticationLocked,
    /// `authentication.unlocked`
    AuthenticationUnlocked,
}

impl AuditKind {
    /// Every kind, in declaration order.
    pub const ALL: [AuditKind; 18] = [
        AuditKind::AuthorizationCreated,
        AuditKind::AuthorizationUsed,
        AuditKind::AuthorizationRevoked,
        AuditKind::KeyGenerated,
        AuditKind::KeyRecovered,
        AuditKind::KeyBindingRegistered,
        AuditKind::KeyBindingRevoked,
        AuditKind::CertificateIssued,
        AuditKind::RequestPending,
        AuditKind::RequestApproved,
        AuditKind::RequestRejected,
        AuditKind::RequestCompleted,
        AuditKind::RequestRefused,
        AuditKind::ResultDelivered,
        AuditKind::PendingPurged,
        AuditKind::AuthenticationFailed,
        AuditKind::AuthenticationLocked,
        AuditKind::AuthenticationUnlocked,
    ];

    /// The stored (and hashed) form, e.g. `certificate.issued`.
    pub fn as_str(&self) -> &'static str {
        match self {
            AuditKind::AuthorizationCreated => "authorization.created",
            AuditKind::AuthorizationUsed => "authorization.used",
            AuditKind::AuthorizationRevoked => "authorization.revoked",
            AuditKind::KeyGenerated => "key.generated",
            AuditKind::KeyRecovered => "key.recovered",
            AuditKind::KeyBindingRegistered => "keybinding.registered",
            AuditKind::KeyBindingRevoked => "keybinding.revoked",
            AuditKind::CertificateIssued => "certificate.issued",
            AuditKind::RequestPending => "request.pending",
            AuditKind::RequestApproved => "request.approved",
            AuditKind::RequestRejected => "request.rejected",
            AuditKind::RequestCompleted => "request.completed",
            AuditKind::RequestRefused => "request.refused",
            AuditKind::ResultDelivered => "result.delivered",
            AuditKind::PendingPurged => "pending.purged",
            AuditKind::AuthenticationFailed => "authentication.failed",
            AuditKind::AuthenticationLocked => "authentication.locked",
            AuditKind::AuthenticationUnlocked => "authentication.unlocked",
        }
    }

    pub fn parse(s: &str) -> Option<AuditKind> {
        AuditKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for AuditKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An audit event, written in the same transaction as the change it records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub at: OffsetDateTime,
    pub kind: AuditKind,
    /// The request Id that caused it, if any.
    pub request_id: Option<String>,
    /// Binding id, serial, authorization id …
    pub subject: String,
    /// Free text without secrets.
    pub detail: String,
}

/// An audit event with its place in the hash chain: `hash` = SHA-256 over the previous
/// event's hash, `seq` and the event's fields ([`audit_hash`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainedAuditEvent {
    /// Position in the chain, from 1, without gaps.
    pub seq: u64,
    pub event: AuditEvent,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

/// The newest link of the audit chain (`seq` 0 and 32 zero bytes before the first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditHead {
    pub seq: u64,
    pub hash: Vec<u8>,
}

/// The hash of the chain before its first event.
pub const AUDIT_GENESIS: [u8; 32] = [0u8; 32];

/// The chain hash of `event` at position `seq` after an event hashed `prev`: SHA-256 of a
/// length-prefixed encoding, so no two different events hash the same input. Stores call
/// it when they append; `xkmsd admin audit --verify` recomputes it.
pub fn audit_hash(prev: &[u8], seq: u64, event: &AuditEvent) -> [u8; 32] {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(b"xkms audit v1\0");
    let mut field = |bytes: &[u8]| {
        ctx.update(&(bytes.len() as u64).to_be_bytes());
        ctx.update(bytes);
    };
    field(prev);
    field(&seq.to_be_bytes());
    field(
        &event
            .at
            .unix_timestamp_nanos()
            .div_euclid(1_000)
            .to_be_bytes(),
    );
    field(event.kind.as_str().as_bytes());
    match &event.request_id {
        Some(id) => field(id.as_bytes()),
        None => field(b"\xff"),
    }
    field(event.subject.as_bytes());
    field(event.detail.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// Audit trail: a hash chain ([`audit_hash`]). Every append, in every transaction that
/// writes events, extends the chain under a lock on its head, so concurrent writers
/// (several nodes on one database) link one after the other.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Most recent events first.
    async fn recent_audit_events(&self, limit: usize) -> Result<Vec<AuditEvent>, StoreError>;

    /// Appends events on their own, in one transaction (refusals and failed
    /// authentications: nothing else changes).
    async fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError>;

    /// Chained events with `seq > after`, in chain order, at most `limit`.
    async fn audit_chain(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<ChainedAuditEvent>, StoreError>;

    /// The newest link.
    async fn audit_head(&self) -> Result<AuditHead, StoreError>;

    /// Events written before the chain existed (not covered by it).
    async fn unchained_audit_events(&self) -> Result<u64, StoreError>;
}
