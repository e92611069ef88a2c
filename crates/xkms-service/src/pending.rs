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

use crate::config::Processing;
use crate::context::RequestContext;
use crate::error::ServiceError;
use crate::results::{request_abstract, result_abstract, result_abstract_mut};
use crate::secrets::{open_result, seal_result};
use crate::service::XkmsService;
use crate::store::{AuditEvent, PendingRecord, PendingState};
use time::Duration;
use xkms_proto::soap;
use xkms_proto::{
    InnerResult, Limits, Message, PendingRequest, Request, ResponseMechanism, ResultMajor,
    ResultMessage, StatusRequest, StatusResult, parse_message, write_message,
};
use zeroize::Zeroizing;

/// How long a worker owns a claimed job before another node may take it over.
const LEASE: Duration = Duration::seconds(60);

impl XkmsService {
    /// The processing mode policy assigns to `request`, if not synchronous.
    pub(crate) fn deferred_mode(&self, request: &Request) -> Option<Processing> {
        let policy = &self.config.policy;
        let mode = match request {
            Request::Register(_) => policy.register,
            Request::Reissue(_) => policy.reissue,
            Request::Revoke(_) => policy.revoke,
            Request::Recover(_) => policy.recover,
            // A compound is deferred as a whole when any member would be.
            Request::Compound(c) => c
                .requests
                .iter()
                .filter_map(|inner| self.deferred_mode(&crate::pipeline::outer(inner.clone())))
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
        &self,
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
        let requester = self.authenticate_for_deferral(ctx, request).await?;
        let policy = &self.config.policy;
        let (theirs, all) = self.store.open_pending_counts(&requester).await?;
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
        let now = self.clock.now();
        let response_id = self.ids.message_id();
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
        self.store.insert_pending(&record, &audit).await?;
        let mut result = self.empty_result(request, ResultMajor::Pending, None);
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
        &self,
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
                let binding = crate::binding::identify_binding(
                    self.store.as_ref(),
                    &self.ca,
                    &r.reissue_key_binding,
                )
                .await?;
                (
                    &r.authentication,
                    crate::binding::binding_identities(&binding),
                    Purpose::Register,
                )
            }
            Request::Recover(r) => {
                let binding = crate::binding::identify_binding(
                    self.store.as_ref(),
                    &self.ca,
                    &r.recover_key_binding,
                )
                .await?;
                (
                    &r.authentication,
                    crate::binding::binding_identities(&binding),
                    Purpose::Recover,
                )
            }
            Request::Revoke(r) => {
                let binding = crate::binding::identify_binding(
                    self.store.as_ref(),
                    &self.ca,
                    &r.revoke_key_binding,
                )
                .await?;
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
                        self.guard()
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
                    let member = crate::pipeline::outer(inner.clone());
                    if self.deferred_mode(&member).is_none() {
                        continue;
                    }
                    match Box::pin(self.authenticate_for_deferral(&scratch, &member)).await {
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
            Request::Locate(_)
            | Request::Validate(_)
            | Request::Status(_)
            | Request::Pending(_) => {
                return Err(ServiceError::Internal("only X-KRSS requests are deferred"));
            }
        };
        let verified = self
            .guard()
            .authenticate(ctx, signed, authentication, &identities, purpose)
            .await?;
        Ok(verified.authorization().identity.clone())
    }

    /// Runs one queued job, if any (workers call this in a loop). Whether one ran.
    pub async fn run_pending_job(&self) -> Result<bool, ServiceError> {
        let now = self.clock.now();
        let Some(job) = self.store.claim_pending(now, now + LEASE).await? else {
            return Ok(false);
        };
        let result = self.complete_job(&job).await;
        let counters = crate::pipeline::compound_counters(&result);
        let outcome = short(result_abstract(&result).result_major.as_uri()).to_owned();
        let xml = Zeroizing::new(write_message(&Message::Result(result)));
        let sealed = seal_result(&self.master_key, &job.response_id, &xml)?;
        let done = self.clock.now();
        let audit = AuditEvent {
            at: done,
            kind: crate::store::AuditKind::RequestCompleted,
            request_id: Some(job.original_request_id.clone()),
            subject: job.response_id.clone(),
            detail: format!("{} finished: {outcome}", job.operation),
        };
        self.store
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
    async fn complete_job(&self, job: &PendingRecord) -> ResultMessage {
        match stored_request(job) {
            Ok(request) => {
                let document = xkms_xmlsec::ReceivedDocument::parse(&job.document);
                let ctx = RequestContext::new(&document, None);
                self.answer(&ctx, &request, crate::pipeline::Stage::Deferred)
                    .await
            }
            Err(err) => self.undecodable_result(Some(&job.original_request_id), &err),
        }
    }

    /// StatusRequest: `Pending` while the job is not finished, `Success` once the final
    /// result can be fetched. A StatusRequest also gives a queued job a push (the W3C
    /// interop convention: a status poll may trigger completion).
    pub async fn status(
        &self,
        _ctx: &RequestContext<'_>,
        req: &StatusRequest,
    ) -> Result<StatusResult, ServiceError> {
        let mut record = self
            .pending_record(&req.response_id, req.request.original_request_id.as_deref())
            .await?;
        if record.state == PendingState::Queued {
            // Boxed: a job may itself be a StatusRequest's request cycle (async recursion).
            Box::pin(self.run_pending_job()).await?;
            record = self.pending_record(&req.response_id, None).await?;
        }
        let (major, counters) = if record.state.is_final() {
            let success = self
                .stored_result(&record)?
                .is_some_and(|r| result_abstract(&r).result_major == ResultMajor::Success);
            let (s, f, p) = record
                .counters
                .unwrap_or(if success { (1, 0, 0) } else { (0, 1, 0) });
            (ResultMajor::Success, (s, f, p))
        } else {
            (ResultMajor::Pending, record.counters.unwrap_or((0, 0, 1)))
        };
        Ok(StatusResult {
            result: self.result_for(&req.request, major, None),
            success: Some(counters.0),
            failure: Some(counters.1),
            pending: Some(counters.2),
        })
    }

    /// PendingRequest: the final result of the original request (RequestId = this
    /// PendingRequest's Id), or `Pending` again while it is not finished.
    pub async fn pending(
        &self,
        _ctx: &RequestContext<'_>,
        req: &PendingRequest,
    ) -> Result<ResultMessage, ServiceError> {
        let record = self
            .pending_record(&req.response_id, req.request.original_request_id.as_deref())
            .await?;
        let stored = match record.state.is_final() {
            true => self.stored_result(&record)?,
            false => None,
        };
        let Some(mut result) = stored else {
            let original = stored_request(&record)?;
            let mut result = self.empty_result(&original, ResultMajor::Pending, None);
            let header = result_abstract_mut(&mut result);
            header.request_id = Some(req.request.message.id.clone());
            header.message.opaque_client_data = req.request.message.opaque_client_data.clone();
            return Ok(result);
        };
        if carries_private_key(&result) {
            // Delivered: a private key does not wait in the store for a second fetch.
            let audit = AuditEvent {
                at: self.clock.now(),
                kind: crate::store::AuditKind::ResultDelivered,
                request_id: Some(req.request.message.id.clone()),
                subject: record.response_id.clone(),
                detail: format!(
                    "{} result with a private key fetched and deleted",
                    record.operation
                ),
            };
            self.store
                .delete_pending(&record.response_id, &audit)
                .await?;
        }
        let fresh = self.result_for(&req.request, ResultMajor::Success, None);
        let header = result_abstract_mut(&mut result);
        header.message.id = fresh.message.id;
        header.message.service = fresh.message.service;
        header.message.opaque_client_data = fresh.message.opaque_client_data;
        header.request_id = fresh.request_id;
        Ok(result)
    }

    /// Deletes final records older than the retention period (workers call this now and
    /// then); how many.
    pub async fn purge_finished_results(&self) -> Result<u64, ServiceError> {
        let now = self.clock.now();
        let before = now - self.config.policy.result_retention;
        let audit = AuditEvent {
            at: now,
            kind: crate::store::AuditKind::PendingPurged,
            request_id: None,
            subject: "-".into(),
            detail: format!("final results finished before {before} deleted (retention)"),
        };
        Ok(self.store.purge_pending(before, &audit).await?)
    }

    /// The final result of a record, opened and parsed (`None` if it has none).
    fn stored_result(&self, record: &PendingRecord) -> Result<Option<ResultMessage>, ServiceError> {
        let Some(stored) = &record.result else {
            return Ok(None);
        };
        let xml = open_result(&self.master_key, &record.response_id, stored)?;
        match parse_message(&xml, &Limits::default()) {
            Ok(Message::Result(result)) => Ok(Some(result)),
            Ok(Message::Request(_)) => Err(ServiceError::Internal("stored result is a request")),
            Err(_) => Err(ServiceError::Internal("stored result does not parse")),
        }
    }

    /// Operator: a request awaiting approval is queued for a worker.
    pub async fn approve_pending(&self, response_id: &str) -> Result<(), ServiceError> {
        let now = self.clock.now();
        let audit = operator_event(now, crate::store::AuditKind::RequestApproved, response_id);
        self.store
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
    pub async fn reject_pending(&self, response_id: &str) -> Result<(), ServiceError> {
        let now = self.clock.now();
        let record = self.pending_record(response_id, None).await?;
        let request = stored_request(&record)?;
        let result =
            self.error_result(&request, &ServiceError::Refused("rejected by the operator"));
        let xml = seal_result(
            &self.master_key,
            response_id,
            &write_message(&Message::Result(result)),
        )?;
        let audit = operator_event(now, crate::store::AuditKind::RequestRejected, response_id);
        self.store
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
    pub async fn list_pending(
        &self,
        state: Option<PendingState>,
        limit: usize,
    ) -> Result<Vec<PendingRecord>, ServiceError> {
        Ok(self.store.list_pending(state, limit).await?)
    }

    async fn pending_record(
        &self,
        response_id: &str,
        original_request_id: Option<&str>,
    ) -> Result<PendingRecord, ServiceError> {
        let record = self
            .store
            .get_pending(response_id)
            .await?
            .ok_or(ServiceError::UnknownResponseId)?;
        if original_request_id.is_some_and(|id| id != record.original_request_id) {
            return Err(ServiceError::UnknownResponseId);
        }
        Ok(record)
    }
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
