//! The request pipeline: every request the transport hands in goes through [`process`]
//! over a [`Pipeline`] (built by the composition root, `crate::service`): the header
//! checks (Id, Service, compound size), the message signature, then at its [`Stage`] the
//! two-phase protocol, request-Id replay and deferral, then the operation (`dispatch`);
//! an error becomes a result of the request's type and a refusal is audited. Compound
//! requests run their members through the same pipeline at [`Stage::Inner`]; a queued
//! job runs through it at [`Stage::Deferred`] (`crate::pending` is handed the pipeline
//! as a `RunJob`).

use crate::clock::Clock;
use crate::context::RequestContext;
use crate::error::ServiceError;
use crate::guard::Guard;
use crate::ids::IdSource;
use crate::issuance::Issuer;
use crate::locate::Locator;
use crate::pending::{Pending, RunJob};
use crate::protocol::Protocol;
use crate::results::{log_error, request_abstract, result_abstract_mut};
use crate::revoke::Revoker;
use crate::store::AuditEvent;
use crate::validate::Validator;
use std::future::Future;
use std::pin::Pin;
use xkms_proto::{
    CompoundRequest, CompoundResult, InnerResult, Request, ResponseMechanism, ResultMajor,
    ResultMessage,
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

/// What the pipeline uses: the header checks' settings (service URI, compound size),
/// ids (fresh key-binding Ids), the clock (refusal events), the `Guard` (refusals
/// audited), the protocol options, asynchronous processing, and the context of every
/// operation it dispatches to.
pub(crate) struct Pipeline<'a> {
    pub service_uri: &'a str,
    pub max_compound_requests: usize,
    pub ids: IdSource,
    pub clock: &'a dyn Clock,
    pub guard: Guard<'a>,
    pub protocol: Protocol<'a>,
    pub pending: Pending<'a>,
    pub locator: Locator<'a>,
    pub validator: Validator<'a>,
    pub issuer: Issuer<'a>,
    pub revoker: Revoker<'a>,
}

/// A queued job runs through this pipeline at [`Stage::Deferred`] (`crate::pending`
/// holds the job; the pipeline runs it).
impl RunJob for Pipeline<'_> {
    fn run_job<'a, 'd>(
        &'a self,
        ctx: &'a RequestContext<'d>,
        request: &'a Request,
    ) -> Pin<Box<dyn Future<Output = ResultMessage> + Send + 'a>> {
        Box::pin(answer(self, ctx, request, Stage::Deferred))
    }
}

/// Processes one request and always produces a result (errors become results).
pub(crate) async fn process(
    p: &Pipeline<'_>,
    ctx: &RequestContext<'_>,
    request: &Request,
) -> ResultMessage {
    answer(p, ctx, request, Stage::Live).await
}

/// Processes a request at a protocol stage (see [`Stage`]); a refusal is audited.
pub(crate) async fn answer(
    p: &Pipeline<'_>,
    ctx: &RequestContext<'_>,
    request: &Request,
    stage: Stage,
) -> ResultMessage {
    let (result, refusal) = answer_unaudited(p, ctx, request, stage).await;
    let events: Vec<AuditEvent> = refusal.into_iter().collect();
    p.guard.record_refusals(ctx, &events).await;
    result
}

/// Like [`answer`](answer), handing back the audit event of a refusal for the
/// caller to write (a compound writes its members' in one transaction).
pub(crate) async fn answer_unaudited(
    p: &Pipeline<'_>,
    ctx: &RequestContext<'_>,
    request: &Request,
    stage: Stage,
) -> (ResultMessage, Option<AuditEvent>) {
    let mut refusal = None;
    let abstract_ = request_abstract(request);
    let mut signature_value = None;
    let oversized_compound = matches!(
        request,
        Request::Compound(c) if c.requests.len() > p.max_compound_requests
    );
    let outcome = if !crate::ids::acceptable_request_id(&abstract_.message.id) {
        Err(ServiceError::InvalidRequest(
            "the request Id must be an NCName of at most 256 characters",
        ))
    } else if abstract_.message.service != p.service_uri {
        Err(ServiceError::WrongService)
    } else if oversized_compound {
        Err(ServiceError::InvalidRequest(
            "the compound request carries more inner requests than this service accepts",
        ))
    } else {
        match p.protocol.check_message_signature(ctx, request).await {
            Err(e) => Err(e),
            Ok(value) => {
                signature_value = value;
                answer_checked(p, ctx, request, stage).await
            }
        }
    };
    let mut result = match outcome {
        Ok(result) => result,
        Err(err) => {
            log_error(&abstract_.message.id, &err);
            refusal = crate::audit::refusal_event(ctx, request, &err, p.clock.now());
            crate::results::error_result(p.service_uri, request, &err)
        }
    };
    tidy_ids(p, &mut result);
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
    p: &Pipeline<'_>,
    ctx: &RequestContext<'_>,
    request: &Request,
    stage: Stage,
) -> Result<ResultMessage, ServiceError> {
    match stage {
        Stage::Live => {
            if let Some(represent) = p.protocol.two_phase(ctx, request).await? {
                return Ok(represent);
            }
            p.protocol.check_replay(request).await?;
            if let Some(mode) = crate::pending::deferred_mode(p.pending.policy, request) {
                return crate::pending::defer(&p.pending, ctx, request, mode).await;
            }
        }
        // A compound's members are checked by the operations exactly like top-level
        // requests: their authentication values are single-use whatever the stage
        // (the compound's own Id is checked above). Their Ids are not remembered one
        // by one: that would cost a write per member for nothing the accepted values
        // do not already refuse.
        Stage::Inner | Stage::Deferred => {}
    }
    dispatch(p, ctx, request).await
}

async fn dispatch(
    p: &Pipeline<'_>,
    ctx: &RequestContext<'_>,
    request: &Request,
) -> Result<ResultMessage, ServiceError> {
    match request {
        Request::Register(r) => Ok(ResultMessage::Register(
            crate::register::register(&p.issuer, ctx, r).await?,
        )),
        Request::Locate(r) => Ok(ResultMessage::Locate(
            crate::locate::locate(&p.locator, r).await?,
        )),
        Request::Validate(r) => Ok(ResultMessage::Validate(
            crate::validate::validate(&p.validator, r).await?,
        )),
        Request::Reissue(r) => Ok(ResultMessage::Reissue(
            crate::reissue::reissue(&p.issuer, ctx, r).await?,
        )),
        Request::Revoke(r) => Ok(ResultMessage::Revoke(
            crate::revoke::revoke(&p.revoker, ctx, r).await?,
        )),
        Request::Recover(r) => Ok(ResultMessage::Recover(
            crate::recover::recover(&p.issuer, ctx, r).await?,
        )),
        Request::Status(r) => Ok(ResultMessage::Status(
            crate::pending::status(&p.pending, p, ctx, r).await?,
        )),
        Request::Pending(r) => crate::pending::pending(&p.pending, ctx, r).await,
        Request::Compound(r) => Ok(ResultMessage::Compound(compound(p, ctx, r).await?)),
    }
}

/// Keeps the result schema-valid whatever Id the request carried: `RequestId` (an
/// `xs:NCName`) is left out when the request's Id is not one (`Id="?"`, a DN) or is
/// longer than the service accepts (it is not echoed back either), and
/// every key-binding `Id` (an `xs:ID`) is unique in the document — a binding returned
/// twice (two inner results of a compound) gets a fresh Id for each later occurrence.
fn tidy_ids(p: &Pipeline<'_>, result: &mut ResultMessage) {
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
            let fresh = p.ids.message_id();
            seen.insert(fresh.clone());
            core.id = Some(fresh);
        }
    }
}

/// Compound: every inner request processed and answered on its own, in order.
pub(crate) async fn compound(
    p: &Pipeline<'_>,
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
        let request = inner.clone().into_request();
        let (result, refusal) = Box::pin(answer_unaudited(p, ctx, &request, Stage::Inner)).await;
        answers.push(result);
        refusals.extend(refusal);
    }
    // One audit transaction for every refused member, not one each.
    p.guard.record_refusals(ctx, &refusals).await;
    let results = answers
        .into_iter()
        .map(inner_result)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CompoundResult {
        result: crate::results::result_header(
            p.service_uri,
            &req.request,
            ResultMajor::Success,
            None,
        ),
        results,
    })
}
fn inner_result(result: ResultMessage) -> Result<InnerResult, ServiceError> {
    InnerResult::from_result(result).ok_or(ServiceError::Internal(
        "an inner request produced a non-inner result",
    ))
}
