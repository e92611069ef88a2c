//! The request pipeline: every request the transport hands in goes through
//! [`XkmsService::process`]: the header checks (Id, Service, compound size), the message
//! signature, then at its [`Stage`] the two-phase protocol, request-Id replay and
//! deferral, then the operation (`dispatch`); an error becomes a result of the
//! request's type and a refusal is audited. Compound requests run their members through
//! the same pipeline at [`Stage::Inner`].

use crate::context::RequestContext;
use crate::error::ServiceError;
use crate::results::{log_error, request_abstract, result_abstract_mut};
use crate::service::XkmsService;
use crate::store::AuditEvent;
use xkms_proto::{
    CompoundRequest, CompoundResult, InnerRequest, InnerResult, Request, ResponseMechanism,
    ResultMajor, ResultMessage,
};

/// Where in the protocol a request is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// A request just received.
    Live,
    /// A deferred request run by a worker (no two-phase, replay or deferral again).
    Deferred,
    /// A member of a Compound request (the compound carries the protocol options).
    Inner,
}

impl XkmsService {
    /// Processes one request and always produces a result (errors become results).
    pub async fn process(&self, ctx: &RequestContext<'_>, request: &Request) -> ResultMessage {
        self.answer(ctx, request, Stage::Live).await
    }

    /// Processes a request at a protocol stage (see [`Stage`]); a refusal is audited.
    pub(crate) async fn answer(
        &self,
        ctx: &RequestContext<'_>,
        request: &Request,
        stage: Stage,
    ) -> ResultMessage {
        let (result, refusal) = self.answer_unaudited(ctx, request, stage).await;
        let events: Vec<AuditEvent> = refusal.into_iter().collect();
        self.guard().record_refusals(ctx, &events).await;
        result
    }

    /// Like [`answer`](Self::answer), handing back the audit event of a refusal for the
    /// caller to write (a compound writes its members' in one transaction).
    pub(crate) async fn answer_unaudited(
        &self,
        ctx: &RequestContext<'_>,
        request: &Request,
        stage: Stage,
    ) -> (ResultMessage, Option<AuditEvent>) {
        let mut refusal = None;
        let abstract_ = request_abstract(request);
        let mut signature_value = None;
        let oversized_compound = matches!(
            request,
            Request::Compound(c) if c.requests.len() > self.config.protocol.max_compound_requests
        );
        let outcome = if !crate::ids::acceptable_request_id(&abstract_.message.id) {
            Err(ServiceError::InvalidRequest(
                "the request Id must be an NCName of at most 256 characters",
            ))
        } else if abstract_.message.service != self.config.service_uri {
            Err(ServiceError::WrongService)
        } else if oversized_compound {
            Err(ServiceError::InvalidRequest(
                "the compound request carries more inner requests than this service accepts",
            ))
        } else {
            match self.protocol().check_message_signature(ctx, request).await {
                Err(e) => Err(e),
                Ok(value) => {
                    signature_value = value;
                    self.answer_checked(ctx, request, stage).await
                }
            }
        };
        let mut result = match outcome {
            Ok(result) => result,
            Err(err) => {
                log_error(&abstract_.message.id, &err);
                refusal = crate::audit::refusal_event(ctx, request, &err, self.clock.now());
                self.error_result(request, &err)
            }
        };
        self.tidy_ids(&mut result);
        // RequestSignatureValue only for a signed, verified request that asked for it.
        if abstract_
            .response_mechanism
            .contains(&ResponseMechanism::RequestSignatureValue)
        {
            result_abstract_mut(&mut result).request_signature_value = signature_value;
        }
        (result, refusal)
    }

    /// Two-phase, request-Id replay and deferral (live requests only), then the operation.
    async fn answer_checked(
        &self,
        ctx: &RequestContext<'_>,
        request: &Request,
        stage: Stage,
    ) -> Result<ResultMessage, ServiceError> {
        match stage {
            Stage::Live => {
                if let Some(represent) = self.protocol().two_phase(ctx, request).await? {
                    return Ok(represent);
                }
                self.protocol().check_replay(request).await?;
                if let Some(mode) = self.deferred_mode(request) {
                    return self.defer(ctx, request, mode).await;
                }
            }
            // A compound's members are checked by the operations exactly like top-level
            // requests: their authentication values are single-use whatever the stage
            // (the compound's own Id is checked above). Their Ids are not remembered one
            // by one: that would cost a write per member for nothing the accepted values
            // do not already refuse.
            Stage::Inner | Stage::Deferred => {}
        }
        self.dispatch(ctx, request).await
    }

    async fn dispatch(
        &self,
        ctx: &RequestContext<'_>,
        request: &Request,
    ) -> Result<ResultMessage, ServiceError> {
        match request {
            Request::Register(r) => Ok(ResultMessage::Register(
                crate::register::register(&self.issuer(), ctx, r).await?,
            )),
            Request::Locate(r) => Ok(ResultMessage::Locate(
                crate::locate::locate(&self.locator(), r).await?,
            )),
            Request::Validate(r) => Ok(ResultMessage::Validate(
                crate::validate::validate(&self.validator(), r).await?,
            )),
            Request::Reissue(r) => Ok(ResultMessage::Reissue(
                crate::reissue::reissue(&self.issuer(), ctx, r).await?,
            )),
            Request::Revoke(r) => Ok(ResultMessage::Revoke(
                crate::revoke::revoke(&self.revoker(), ctx, r).await?,
            )),
            Request::Recover(r) => Ok(ResultMessage::Recover(
                crate::recover::recover(&self.issuer(), ctx, r).await?,
            )),
            Request::Status(r) => Ok(ResultMessage::Status(self.status(ctx, r).await?)),
            Request::Pending(r) => self.pending(ctx, r).await,
            Request::Compound(r) => Ok(ResultMessage::Compound(self.compound(ctx, r).await?)),
        }
    }

    /// Keeps the result schema-valid whatever Id the request carried: `RequestId` (an
    /// `xs:NCName`) is left out when the request's Id is not one (`Id="?"`, a DN) or is
    /// longer than the service accepts (it is not echoed back either), and
    /// every key-binding `Id` (an `xs:ID`) is unique in the document — a binding returned
    /// twice (two inner results of a compound) gets a fresh Id for each later occurrence.
    fn tidy_ids(&self, result: &mut ResultMessage) {
        let header = result.header_mut();
        if header
            .request_id
            .as_deref()
            .is_some_and(|id| !crate::ids::acceptable_request_id(id))
        {
            header.request_id = None;
        }
        let mut seen = std::collections::HashSet::new();
        seen.insert(result.header().message.id.clone());
        if let ResultMessage::Compound(compound) = &*result {
            for inner in &compound.results {
                seen.insert(inner.header().message.id.clone());
            }
        }
        for core in result.key_bindings_mut() {
            if let Some(id) = &core.id
                && !seen.insert(id.clone())
            {
                let fresh = self.ids.message_id();
                seen.insert(fresh.clone());
                core.id = Some(fresh);
            }
        }
    }

    /// Compound: every inner request processed and answered on its own, in order.
    pub(crate) async fn compound(
        &self,
        ctx: &RequestContext<'_>,
        req: &CompoundRequest,
    ) -> Result<CompoundResult, ServiceError> {
        if req.requests.is_empty() {
            return Err(ServiceError::InvalidRequest(
                "a CompoundRequest with no request",
            ));
        }
        let mut answers = Vec::with_capacity(req.requests.len());
        let mut refusals = Vec::new();
        for inner in &req.requests {
            let request = outer(inner.clone());
            let (result, refusal) =
                Box::pin(self.answer_unaudited(ctx, &request, Stage::Inner)).await;
            answers.push(result);
            refusals.extend(refusal);
        }
        // One audit transaction for every refused member, not one each.
        self.guard().record_refusals(ctx, &refusals).await;
        let results = answers
            .into_iter()
            .map(inner_result)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(CompoundResult {
            result: self.result_for(&req.request, ResultMajor::Success, None),
            results,
        })
    }
}

/// Compound counters (success, failure, pending) of a finished compound result.
pub(crate) fn compound_counters(result: &ResultMessage) -> Option<(u32, u32, u32)> {
    let ResultMessage::Compound(c) = result else {
        return None;
    };
    let mut success = 0;
    let mut failure = 0;
    for r in &c.results {
        if inner_header(r).result_major == ResultMajor::Success {
            success += 1;
        } else {
            failure += 1;
        }
    }
    Some((success, failure, 0))
}

fn inner_header(r: &InnerResult) -> &xkms_proto::ResultAbstract {
    r.header()
}

/// An inner request as a top-level request.
pub(crate) fn outer(inner: InnerRequest) -> Request {
    inner.into_request()
}

fn inner_result(result: ResultMessage) -> Result<InnerResult, ServiceError> {
    InnerResult::from_result(result).ok_or(ServiceError::Internal(
        "an inner request produced a non-inner result",
    ))
}
