//! The audit trail beyond the changes themselves: refusals and failed authentications
//! (who, from where, why — never a secret), and the check of the hash chain
//! (`xkmsd admin audit --verify`).

use crate::context::RequestContext;
use crate::error::ServiceError;
use crate::results::{operation_name, request_abstract};
use crate::store::{
    AUDIT_GENESIS, AuditEvent, AuditHead, AuditKind, ChainedAuditEvent, Store, audit_hash,
};
use time::OffsetDateTime;
use xkms_proto::Request;

/// Longest requester text an audit event keeps of what a request names.
const MAX_REQUESTER_CHARS: usize = 256;
/// Events read per store round trip while walking the chain.
const PAGE: usize = 1_000;

/// The outcome of walking the whole chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainVerdict {
    /// Every link recomputes and the head names the last event.
    Intact {
        events: u64,
        head: AuditHead,
        /// Events written before the chain existed (not covered).
        unchained: u64,
    },
    /// The first link that does not hold.
    Broken { seq: u64, reason: &'static str },
}

/// The audit event of a refusal or failed authentication (`None` for other
/// failures): the names the request gave (bounded), the client address and the
/// service's reason.
pub(crate) fn refusal_event(
    ctx: &RequestContext<'_>,
    request: &Request,
    err: &ServiceError,
    at: OffsetDateTime,
) -> Option<AuditEvent> {
    let kind = match err {
        ServiceError::NoAuthentication(_) | ServiceError::ProofOfPossessionRequired(_) => {
            AuditKind::AuthenticationFailed
        }
        ServiceError::Refused(_)
        | ServiceError::KeyTooSmall { .. }
        | ServiceError::KeyTooLarge { .. }
        | ServiceError::Store(crate::store::StoreError::Replayed) => AuditKind::RequestRefused,
        _ => return None,
    };
    let id = &request_abstract(request).message.id;
    let mut requester: String = requester_of(request)
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_REQUESTER_CHARS + 1)
        .collect();
    if requester.chars().count() > MAX_REQUESTER_CHARS {
        requester = requester.chars().take(MAX_REQUESTER_CHARS).collect();
        requester.push('…');
    }
    Some(AuditEvent {
        at,
        kind,
        request_id: crate::ids::acceptable_request_id(id).then(|| id.clone()),
        subject: requester,
        detail: format!(
            "{} from {}: {err}",
            operation_name(request),
            ctx.peer
                .map(|p| p.to_string())
                .unwrap_or_else(|| "-".into())
        ),
    })
}

/// Chained audit events after `after` (a `seq`), oldest first, at most `limit`.
pub(crate) async fn audit_page(
    store: &dyn Store,
    after: u64,
    limit: usize,
) -> Result<Vec<ChainedAuditEvent>, ServiceError> {
    Ok(store.audit_chain(after, limit).await?)
}

/// Walks the whole chain: positions without gaps from 1, each event linked to the one
/// before and its hash recomputed, the head naming the last one. Detects an event
/// edited, inserted or deleted by someone who did not rewrite every later hash and
/// the head; compare the head hash with one noted earlier to detect that too.
pub(crate) async fn verify_audit_chain(store: &dyn Store) -> Result<ChainVerdict, ServiceError> {
    let head = store.audit_head().await?;
    let unchained = store.unchained_audit_events().await?;
    let mut prev = AUDIT_GENESIS.to_vec();
    let mut seq = 0u64;
    loop {
        let page = store.audit_chain(seq, PAGE).await?;
        if page.is_empty() {
            break;
        }
        for link in page {
            let broken = |reason| ChainVerdict::Broken {
                seq: link.seq,
                reason,
            };
            if link.seq != seq + 1 {
                return Ok(ChainVerdict::Broken {
                    seq: seq + 1,
                    reason: "an event is missing",
                });
            }
            if link.prev_hash != prev {
                return Ok(broken("does not link to the event before"));
            }
            if audit_hash(&prev, link.seq, &link.event).as_slice() != link.hash {
                return Ok(broken("its content does not match its hash"));
            }
            prev = link.hash;
            seq = link.seq;
        }
    }
    if head.seq != seq || head.hash != prev {
        return Ok(ChainVerdict::Broken {
            seq: head.seq.max(seq),
            reason: "the head does not name the last event",
        });
    }
    Ok(ChainVerdict::Intact {
        events: seq,
        head,
        unchained,
    })
}

/// Who a request is for, for operators: the names of its key binding.
pub(crate) fn requester_of(request: &Request) -> String {
    let core = match request {
        Request::Register(r) => &r.prototype_key_binding.core,
        Request::Reissue(r) => &r.reissue_key_binding.core,
        Request::Revoke(r) => &r.revoke_key_binding.core,
        Request::Recover(r) => &r.recover_key_binding.core,
        Request::Locate(r) => &r.query_key_binding.core,
        Request::Validate(r) => &r.query_key_binding.core,
        Request::Compound(_) | Request::Status(_) | Request::Pending(_) => return "-".into(),
    };
    let mut names: Vec<String> = core
        .key_info
        .iter()
        .flat_map(|ki| ki.key_names.iter().cloned())
        .collect();
    names.extend(core.use_key_with.iter().map(|u| u.identifier.clone()));
    names.dedup();
    if names.is_empty() {
        "-".into()
    } else {
        names.join(", ")
    }
}

/// An audit event caused by request `request_id`.
pub(crate) fn audit_event(
    at: OffsetDateTime,
    kind: crate::store::AuditKind,
    request_id: &str,
    subject: &str,
    detail: String,
) -> AuditEvent {
    AuditEvent {
        at,
        kind,
        request_id: Some(request_id.to_owned()),
        subject: subject.to_owned(),
        detail,
    }
}
