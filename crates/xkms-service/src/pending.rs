//! Asynchronous processing (digest §6.2): requests answered `Pending`, completed by a
//! worker (any node), polled with StatusRequest and fetched with PendingRequest.
//!
//! A deferred request is stored verbatim (the whole received document) and, when its
//! job runs, processed exactly like a synchronous one — signatures are verified over the
//! same bytes — so every X-KRSS operation can be deferred by policy without special code.
//!
//! Final results are stored sealed under the master key (`crate::secrets`); one that
//! carries a private key is deleted once it has been fetched, and every final result is
//! deleted after the retention period (`Policy::result_retention`).

use crate::clock::Clock;
use crate::config::{Policy, Processing};
use crate::context::RequestContext;
use crate::error::ServiceError;
use crate::escrow::MasterKey;
use crate::guard::Guard;
use crate::ids::IdSource;
use crate::results::{request_abstract, result_abstract, result_abstract_mut};
use crate::secrets::{open_result, seal_result};
use crate::store::{AuditEvent, PendingRecord, PendingState, Store};
use std::future::Future;
use std::pin::Pin;
use time::Duration;
use xkms_ca::Ca;
use xkms_proto::soap;
use xkms_proto::{
    InnerResult, Limits, Message, PendingRequest, Request, ResponseMechanism, ResultMajor,
    ResultMessage, StatusRequest, StatusResult, parse_message, write_message,
};
use zeroize::Zeroizing;

/// How long a worker owns a claimed job before another node may take it over.
const LEASE: Duration = Duration::seconds(60);

/// What asynchronous processing uses: the store (pending records, audit), the CA (to
/// identify the binding a deferred request names), clock, ids, the master key (final
/// results are sealed), `Policy` (processing modes, caps, retention), a `Guard` (the
/// request authenticates before it is stored) and the service URI (result headers).
/// Running a job goes back through the request pipeline, which it receives as a
/// [`RunJob`]: this module does not know the pipeline.
pub(crate) struct Pending<'a> {
    pub store: &'a dyn Store,
    pub ca: &'a Ca,
    pub clock: &'a dyn Clock,
    pub ids: IdSource,
    pub master_key: &'a MasterKey,
    pub policy: &'a Policy,
    pub guard: Guard<'a>,
    pub service_uri: &'a str,
}

/// Runs a stored request as if it had just arrived, but never defers it again (the
/// request pipeline at its `Deferred` stage, `crate::pipeline`). A job may be a
/// StatusRequest's own request cycle, hence the boxed future.
pub(crate) trait RunJob: Sync {
    fn run_job<'a, 'd>(
        &'a self,
        ctx: &'a RequestContext<'d>,
        request: &'a Request,
    ) -> Pin<Box<dyn Future<Output = ResultMessage> + Send + 'a>>;
}

/// The processing mode policy assigns to `request`, if not synchronous.
pub(crate) fn deferred_mode(policy: &Policy, request: &Request) -> Option<Processing> {
    let mode = match request {
        Request::Register(_) => policy.register,
        Request::Reissue(_) => policy.reissue,
        Request::Revoke(_) => policy.revoke,
        Request::Recover(_) => policy.recover,
        // A compound is deferred as a whole when any member would be.
        Request::Compound(c) => c
            .requests
            .iter()
            .filter_map(|inner| deferred_mode(policy, &inner.clone().into_request()))
            .max_by_key(|mode| match mode {
                Processing::Approval => 2,
                Processing::Asynchronous => 1,
                Processing::Synchronous => 0,
            })
            .unwrap_or(Processing::Synchronous),
        _ => Processing::Synchronous,
    };
    (mode != Processing::Synchronous).then_some(mode)
}

/// Stores `request` as a pending job and answers `Pending` — only if the client
/// offered `#Pending`; otherwise `Receiver/NotSynchronous` (the REC's MUST).
pub(crate) async fn defer(
    p: &Pending<'_>,
    ctx: &RequestContext<'_>,
    request: &Request,
    mode: Processing,
) -> Result<ResultMessage, ServiceError> {
    let header = request_abstract(request);
    if !header
        .response_mechanism
        .contains(&ResponseMechanism::Pending)
    {
        return Err(ServiceError::NotSynchronous);
    }
    // Only the work is deferred: the request authenticates now, so nothing
    // unauthenticated is ever stored, and the caps count authenticated requesters.
    let requester = authenticate_for_deferral(p, ctx, request).await?;
    let policy = &p.policy;
    let (theirs, all) = p.store.open_pending_counts(&requester).await?;
    if theirs >= policy.max_pending_per_identity {
        return Err(ServiceError::Busy(
            "too many unfinished asynchronous requests for this identity",
        ));
    }
    if all >= policy.max_pending_total {
        return Err(ServiceError::Busy(
            "too many unfinished asynchronous requests",
        ));
    }
    let now = p.clock.now();
    let response_id = p.ids.message_id();
    let state = match mode {
        Processing::Approval => PendingState::AwaitingApproval,
        _ => PendingState::Queued,
    };
    let record = PendingRecord {
        response_id: response_id.clone(),
        original_request_id: header.message.id.clone(),
        operation: request.operation(),
        requester,
        state,
        document: ctx.document.text().to_owned(),
        result: None,
        created_at: now,
        updated_at: now,
        lease_until: None,
        counters: match request {
            Request::Compound(c) => {
                Some((0, 0, u32::try_from(c.requests.len()).unwrap_or(u32::MAX)))
            }
            _ => None,
        },
    };
    let audit = AuditEvent {
        at: now,
        kind: crate::store::AuditKind::RequestPending,
        request_id: Some(header.message.id.clone()),
        subject: response_id.clone(),
        detail: format!(
            "{} {} for {}",
            record.operation,
            state.as_str(),
            record.requester
        ),
    };
    p.store.insert_pending(&record, &audit).await?;
    let mut result =
        crate::results::empty_result(p.service_uri, request, ResultMajor::Pending, None);
    result_abstract_mut(&mut result).message.id = response_id;
    Ok(result)
}

/// Authenticates a request about to be deferred, the way its operation will when the
/// job runs (nothing is consumed or recorded but failures): the identity it
/// authenticated as. A compound is deferred when at least one of its X-KRSS members
/// authenticates (it counts as that member's requester); the others fail, and are
/// counted, when the job runs — the REC's StatusResult reports them as failures. A
/// compound none of whose members authenticates is refused with the first member's
/// error, and their failures count now.
async fn authenticate_for_deferral(
    p: &Pending<'_>,
    ctx: &RequestContext<'_>,
    request: &Request,
) -> Result<String, ServiceError> {
    use crate::authenticate::SignedRequest;
    use crate::store::Purpose;
    use xkms_proto::RevokeAuthorization;
    let id = &request_abstract(request).message.id;
    let signed = SignedRequest {
        document: ctx.document,
        request_id: id,
    };
    let (authentication, identities, purpose) = match request {
        Request::Register(r) => {
            let pkb = &r.prototype_key_binding;
            let key_names: Vec<String> = pkb
                .core
                .key_info
                .as_ref()
                .map(|ki| ki.key_names.clone())
                .unwrap_or_default();
            (
                &r.authentication,
                crate::identity::candidate_identities(&key_names, &pkb.core.use_key_with),
                Purpose::Register,
            )
        }
        Request::Reissue(r) => {
            let binding =
                crate::binding::identify_binding(p.store, p.ca, &r.reissue_key_binding).await?;
            (
                &r.authentication,
                crate::binding::binding_identities(&binding),
                Purpose::Register,
            )
        }
        Request::Recover(r) => {
            let binding =
                crate::binding::identify_binding(p.store, p.ca, &r.recover_key_binding).await?;
            (
                &r.authentication,
                crate::binding::binding_identities(&binding),
                Purpose::Recover,
            )
        }
        Request::Revoke(r) => {
            let binding =
                crate::binding::identify_binding(p.store, p.ca, &r.revoke_key_binding).await?;
            match &r.authorization {
                RevokeAuthorization::Authentication(authentication) => (
                    authentication,
                    crate::binding::binding_identities(&binding),
                    Purpose::Register,
                ),
                RevokeAuthorization::RevocationCode(code) => {
                    let stored = binding.revocation_code_identifier.as_deref().ok_or(
                        ServiceError::NoAuthentication("the binding has no revocation code"),
                    )?;
                    p.guard
                        .check_revocation_code(ctx, &binding.id, || {
                            xkms_xmlsec::kdf::constant_time_eq(
                                &xkms_xmlsec::kdf::revocation_code_identifier(code),
                                stored,
                            )
                        })
                        .await?;
                    return Ok(crate::guard::binding_subject(&binding.id));
                }
            }
        }
        Request::Compound(c) => {
            // Members' failures are counted when the job runs; only if nothing
            // authenticates now are they counted here.
            let scratch = RequestContext::new(ctx.document, ctx.peer);
            let mut first_error = None;
            for inner in &c.requests {
                let member = inner.clone().into_request();
                if deferred_mode(p.policy, &member).is_none() {
                    continue;
                }
                match Box::pin(authenticate_for_deferral(p, &scratch, &member)).await {
                    Ok(requester) => return Ok(requester),
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
            }
            ctx.attempts.absorb(&scratch.attempts);
            return Err(first_error.unwrap_or(ServiceError::Internal(
                "a deferred compound without a deferred member",
            )));
        }
        Request::Locate(_) | Request::Validate(_) | Request::Status(_) | Request::Pending(_) => {
            return Err(ServiceError::Internal("only X-KRSS requests are deferred"));
        }
    };
    let verified = p
        .guard
        .authenticate(ctx, signed, authentication, &identities, purpose)
        .await?;
    Ok(verified.authorization().identity.clone())
}

/// Runs one queued job, if any (workers call this in a loop). Whether one ran.
pub(crate) async fn run_pending_job(
    p: &Pending<'_>,
    run: &dyn RunJob,
) -> Result<bool, ServiceError> {
    let now = p.clock.now();
    let Some(job) = p.store.claim_pending(now, now + LEASE).await? else {
        return Ok(false);
    };
    let result = complete_job(p, run, &job).await;
    let counters = compound_counters(&result);
    let outcome = short(result_abstract(&result).result_major.as_uri()).to_owned();
    let xml = Zeroizing::new(write_message(&Message::Result(result)));
    let sealed = seal_result(p.master_key, &job.response_id, &xml)?;
    let done = p.clock.now();
    let audit = AuditEvent {
        at: done,
        kind: crate::store::AuditKind::RequestCompleted,
        request_id: Some(job.original_request_id.clone()),
        subject: job.response_id.clone(),
        detail: format!("{} finished: {outcome}", job.operation),
    };
    p.store
        .transition_pending(
            &job.response_id,
            PendingState::Running,
            PendingState::Done,
            Some(&sealed),
            counters,
            done,
            &audit,
        )
        .await?;
    tracing::info!(response_id = %job.response_id, operation = %job.operation, %outcome, "pending request completed");
    Ok(true)
}

/// Processes a stored request as if it had just arrived (but never defers it).
async fn complete_job(p: &Pending<'_>, run: &dyn RunJob, job: &PendingRecord) -> ResultMessage {
    match stored_request(job) {
        Ok(request) => {
            let document = xkms_xmlsec::ReceivedDocument::parse(&job.document);
            let ctx = RequestContext::new(&document, None);
            run.run_job(&ctx, &request).await
        }
        Err(err) => {
            crate::results::undecodable_result(p.service_uri, Some(&job.original_request_id), &err)
        }
    }
}

/// StatusRequest: `Pending` while the job is not finished, `Success` once the final
/// result can be fetched. A StatusRequest also gives a queued job a push (the W3C
/// interop convention: a status poll may trigger completion).
pub(crate) async fn status(
    p: &Pending<'_>,
    run: &dyn RunJob,
    _ctx: &RequestContext<'_>,
    req: &StatusRequest,
) -> Result<StatusResult, ServiceError> {
    let mut record = pending_record(
        p,
        &req.response_id,
        req.request.original_request_id.as_deref(),
    )
    .await?;
    if record.state == PendingState::Queued {
        // Boxed: a job may itself be a StatusRequest's request cycle (async recursion).
        Box::pin(run_pending_job(p, run)).await?;
        record = pending_record(p, &req.response_id, None).await?;
    }
    let (major, counters) = if record.state.is_final() {
        let success = stored_result(p, &record)?
            .is_some_and(|r| result_abstract(&r).result_major == ResultMajor::Success);
        let (s, f, p) = record
            .counters
            .unwrap_or(if success { (1, 0, 0) } else { (0, 1, 0) });
        (ResultMajor::Success, (s, f, p))
    } else {
        (ResultMajor::Pending, record.counters.unwrap_or((0, 0, 1)))
    };
    Ok(StatusResult {
        result: crate::results::result_header(p.service_uri, &req.request, major, None),
        success: Some(counters.0),
        failure: Some(counters.1),
        pending: Some(counters.2),
    })
}

/// PendingRequest: the final result of the original request (RequestId = this
/// PendingRequest's Id), or `Pending` again while it is not finished.
pub(crate) async fn pending(
    p: &Pending<'_>,
    _ctx: &RequestContext<'_>,
    req: &PendingRequest,
) -> Result<ResultMessage, ServiceError> {
    let record = pending_record(
        p,
        &req.response_id,
        req.request.original_request_id.as_deref(),
    )
    .await?;
    let stored = match record.state.is_final() {
        true => stored_result(p, &record)?,
        false => None,
    };
    let Some(mut result) = stored else {
        let original = stored_request(&record)?;
        let mut result =
            crate::results::empty_result(p.service_uri, &original, ResultMajor::Pending, None);
        let header = result_abstract_mut(&mut result);
        header.request_id = Some(req.request.message.id.clone());
        header.message.opaque_client_data = req.request.message.opaque_client_data.clone();
        return Ok(result);
    };
    if carries_private_key(&result) {
        // Delivered: a private key does not wait in the store for a second fetch.
        let audit = AuditEvent {
            at: p.clock.now(),
            kind: crate::store::AuditKind::ResultDelivered,
            request_id: Some(req.request.message.id.clone()),
            subject: record.response_id.clone(),
            detail: format!(
                "{} result with a private key fetched and deleted",
                record.operation
            ),
        };
        p.store.delete_pending(&record.response_id, &audit).await?;
    }
    let fresh =
        crate::results::result_header(p.service_uri, &req.request, ResultMajor::Success, None);
    let header = result_abstract_mut(&mut result);
    header.message.id = fresh.message.id;
    header.message.service = fresh.message.service;
    header.message.opaque_client_data = fresh.message.opaque_client_data;
    header.request_id = fresh.request_id;
    Ok(result)
}

/// Deletes final records older than the retention period (workers call this now and
/// then); how many.
pub(crate) async fn purge_finished_results(p: &Pending<'_>) -> Result<u64, ServiceError> {
    let now = p.clock.now();
    let before = now - p.policy.result_retention;
    let audit = AuditEvent {
        at: now,
        kind: crate::store::AuditKind::PendingPurged,
        request_id: None,
        subject: "-".into(),
        detail: format!("final results finished before {before} deleted (retention)"),
    };
    Ok(p.store.purge_pending(before, &audit).await?)
}

/// The final result of a record, opened and parsed (`None` if it has none).
fn stored_result(
    p: &Pending<'_>,
    record: &PendingRecord,
) -> Result<Option<ResultMessage>, ServiceError> {
    let Some(stored) = &record.result else {
        return Ok(None);
    };
    let xml = open_result(p.master_key, &record.response_id, stored)?;
    match parse_message(&xml, &Limits::default()) {
        Ok(Message::Result(result)) => Ok(Some(result)),
        Ok(Message::Request(_)) => Err(ServiceError::Internal("stored result is a request")),
        Err(_) => Err(ServiceError::Internal("stored result does not parse")),
    }
}

/// Operator: a request awaiting approval is queued for a worker.
pub(crate) async fn approve_pending(
    p: &Pending<'_>,
    response_id: &str,
) -> Result<(), ServiceError> {
    let now = p.clock.now();
    let audit = operator_event(now, crate::store::AuditKind::RequestApproved, response_id);
    p.store
        .transition_pending(
            response_id,
            PendingState::AwaitingApproval,
            PendingState::Queued,
            None,
            None,
            now,
            &audit,
        )
        .await?;
    Ok(())
}

/// Operator: a request awaiting approval is refused (its final result is
/// `Sender/Refused`).
pub(crate) async fn reject_pending(p: &Pending<'_>, response_id: &str) -> Result<(), ServiceError> {
    let now = p.clock.now();
    let record = pending_record(p, response_id, None).await?;
    let request = stored_request(&record)?;
    let result = crate::results::error_result(
        p.service_uri,
        &request,
        &ServiceError::Refused("rejected by the operator"),
    );
    let xml = seal_result(
        p.master_key,
        response_id,
        &write_message(&Message::Result(result)),
    )?;
    let audit = operator_event(now, crate::store::AuditKind::RequestRejected, response_id);
    p.store
        .transition_pending(
            response_id,
            PendingState::AwaitingApproval,
            PendingState::Rejected,
            Some(&xml),
            None,
            now,
            &audit,
        )
        .await?;
    Ok(())
}

/// Operator: pending requests, oldest first.
pub(crate) async fn list_pending(
    p: &Pending<'_>,
    state: Option<PendingState>,
    limit: usize,
) -> Result<Vec<PendingRecord>, ServiceError> {
    Ok(p.store.list_pending(state, limit).await?)
}

async fn pending_record(
    p: &Pending<'_>,
    response_id: &str,
    original_request_id: Option<&str>,
) -> Result<PendingRecord, ServiceError> {
    let record = p
        .store
        .get_pending(response_id)
        .await?
        .ok_or(ServiceError::UnknownResponseId)?;
    if original_request_id.is_some_and(|id| id != record.original_request_id) {
        return Err(ServiceError::UnknownResponseId);
    }
    Ok(record)
}

/// The original request inside a stored document.
fn stored_request(job: &PendingRecord) -> Result<Request, ServiceError> {
    let (_, message) = soap::parse_document(&job.document, &Limits::default())
        .map_err(|_| ServiceError::InvalidRequest("the stored request no longer parses"))?;
    match message {
        Message::Request(request)
            if request_abstract(&request).message.id == job.original_request_id =>
        {
            Ok(request)
        }
        _ => Err(ServiceError::InvalidRequest(
            "the stored document holds another request",
        )),
    }
}

/// Compound counters (success, failure, pending) of a finished compound result.
fn compound_counters(result: &ResultMessage) -> Option<(u32, u32, u32)> {
    let ResultMessage::Compound(c) = result else {
        return None;
    };
    let mut success = 0;
    let mut failure = 0;
    for r in &c.results {
        if r.header().result_major == ResultMajor::Success {
            success += 1;
        } else {
            failure += 1;
        }
    }
    Some((success, failure, 0))
}

/// Whether a result (or a member of a compound result) returns a private key.
fn carries_private_key(result: &ResultMessage) -> bool {
    match result {
        ResultMessage::Register(r) => r.private_key.is_some(),
        ResultMessage::Recover(r) => r.private_key.is_some(),
        ResultMessage::Compound(c) => c.results.iter().any(|inner| {
            matches!(inner, InnerResult::Register(r) if r.private_key.is_some())
                || matches!(inner, InnerResult::Recover(r) if r.private_key.is_some())
        }),
        _ => false,
    }
}

fn operator_event(
    at: time::OffsetDateTime,
    kind: crate::store::AuditKind,
    response_id: &str,
) -> AuditEvent {
    AuditEvent {
        at,
        kind,
        request_id: None,
        subject: response_id.to_owned(),
        detail: "by operator".into(),
    }
}

fn short(uri: &str) -> &str {
    uri.rsplit('#').next().unwrap_or(uri)
}
