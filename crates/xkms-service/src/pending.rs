//! Asynchronous processing (digest §6.2): requests answered `Pending`, completed by a
//! worker (any node), polled with StatusRequest and fetched with PendingRequest.
//!
//! A deferred request is stored verbatim (the whole received document) and, when its
//! job runs, processed exactly like a synchronous one — signatures are verified over the
//! same bytes — so every X-KRSS operation can be deferred by policy without special code.

use crate::Processing;
use crate::error::ServiceError;
use crate::service::{
    RequestContext, XkmsService, operation_name, request_abstract, result_abstract,
    result_abstract_mut,
};
use crate::store::{AuditEvent, PendingRecord, PendingState};
use time::Duration;
use xkms_proto::soap;
use xkms_proto::{
    Limits, Message, PendingRequest, Request, ResponseMechanism, ResultMajor, ResultMessage,
    StatusRequest, StatusResult, parse_message, write_message,
};

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
                .filter_map(|inner| self.deferred_mode(&crate::protocol::outer(inner.clone())))
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
        let now = self.clock.now();
        let response_id = self.ids.message_id();
        let state = match mode {
            Processing::Approval => PendingState::AwaitingApproval,
            _ => PendingState::Queued,
        };
        let record = PendingRecord {
            response_id: response_id.clone(),
            original_request_id: header.message.id.clone(),
            operation: operation_name(request).to_owned(),
            requester: requester_of(request),
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
            kind: "request.pending".into(),
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

    /// Runs one queued job, if any (workers call this in a loop). Whether one ran.
    pub async fn run_pending_job(&self) -> Result<bool, ServiceError> {
        let now = self.clock.now();
        let Some(job) = self.store.claim_pending(now, now + LEASE).await? else {
            return Ok(false);
        };
        let result = self.complete_job(&job).await;
        let counters = crate::protocol::compound_counters(&result);
        let outcome = short(result_abstract(&result).result_major.as_uri()).to_owned();
        let xml = write_message(&Message::Result(result));
        let done = self.clock.now();
        let audit = AuditEvent {
            at: done,
            kind: "request.completed".into(),
            request_id: Some(job.original_request_id.clone()),
            subject: job.response_id.clone(),
            detail: format!("{} finished: {outcome}", job.operation),
        };
        self.store
            .transition_pending(
                &job.response_id,
                PendingState::Running,
                PendingState::Done,
                Some(&xml),
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
                let ctx = RequestContext {
                    peer: None,
                    document: &document,
                };
                self.answer(&ctx, &request, crate::protocol::Stage::Deferred)
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
            let success = record
                .result
                .as_deref()
                .and_then(|xml| parse_message(xml, &Limits::default()).ok())
                .is_some_and(|m| match m {
                    Message::Result(r) => result_abstract(&r).result_major == ResultMajor::Success,
                    Message::Request(_) => false,
                });
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
        let stored = match (&record.result, record.state.is_final()) {
            (Some(xml), true) => parse_message(xml, &Limits::default())
                .map_err(|_| ServiceError::Internal("stored result does not parse".into()))?,
            _ => {
                let original = stored_request(&record)?;
                let mut result = self.empty_result(&original, ResultMajor::Pending, None);
                let header = result_abstract_mut(&mut result);
                header.request_id = Some(req.request.message.id.clone());
                header.message.opaque_client_data = req.request.message.opaque_client_data.clone();
                return Ok(result);
            }
        };
        let Message::Result(mut result) = stored else {
            return Err(ServiceError::Internal("stored result is a request".into()));
        };
        let fresh = self.result_for(&req.request, ResultMajor::Success, None);
        let header = result_abstract_mut(&mut result);
        header.message.id = fresh.message.id;
        header.message.service = fresh.message.service;
        header.message.opaque_client_data = fresh.message.opaque_client_data;
        header.request_id = fresh.request_id;
        Ok(result)
    }

    /// Operator: a request awaiting approval is queued for a worker.
    pub async fn approve_pending(&self, response_id: &str) -> Result<(), ServiceError> {
        let now = self.clock.now();
        let audit = operator_event(now, "request.approved", response_id);
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
        let xml = write_message(&Message::Result(result));
        let audit = operator_event(now, "request.rejected", response_id);
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

/// Who a request is for, for operators: the names of its key binding.
fn requester_of(request: &Request) -> String {
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

fn operator_event(at: time::OffsetDateTime, kind: &str, response_id: &str) -> AuditEvent {
    AuditEvent {
        at,
        kind: kind.into(),
        request_id: None,
        subject: response_id.to_owned(),
        detail: "by operator".into(),
    }
}

fn short(uri: &str) -> &str {
    uri.rsplit('#').next().unwrap_or(uri)
}
