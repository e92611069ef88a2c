//! DOM → model for XKMS elements (the ds:/xenc: subset lives in `decode_dsig`).
//! Every function follows the schema's xs:sequence for its element.

use super::decode_dsig::{encrypted_data, key_info, signature};
use super::values::{decode_base64, decode_crypto_binary, parse_datetime, parse_u32};
use super::xml::{self, Seq, attr, base64_text, check_attrs, invalid, req_attr, text};
use super::{DecodeError, DecodeErrorKind, Limits, MessageHeader, XML_WS};
use crate::model::*;
use crate::vocab::*;
use uppsala::{Document, NodeId};

type R<T> = Result<T, DecodeErrorKind>;
type Doc<'d, 'a> = &'d Document<'a>;

const REQUEST_ATTRS: [&str; 5] = [
    "Id",
    "Service",
    "Nonce",
    "OriginalRequestId",
    "ResponseLimit",
];
const PENDING_ATTRS: [&str; 6] = [
    "Id",
    "Service",
    "Nonce",
    "OriginalRequestId",
    "ResponseLimit",
    "ResponseId",
];
const RESULT_ATTRS: [&str; 6] = [
    "Id",
    "Service",
    "Nonce",
    "ResultMajor",
    "ResultMinor",
    "RequestId",
];
const STATUS_RESULT_ATTRS: [&str; 9] = [
    "Id",
    "Service",
    "Nonce",
    "ResultMajor",
    "ResultMinor",
    "RequestId",
    "Success",
    "Failure",
    "Pending",
];

pub(crate) fn header_of(doc: Doc<'_, '_>, node: NodeId) -> MessageHeader {
    MessageHeader {
        element: xml::quote_name(xml::local_name(doc, node)),
        id: attr(doc, node, "Id").map(str::to_owned),
        service: attr(doc, node, "Service").map(str::to_owned),
    }
}

/// Decodes the message rooted at `node` (a document element or a SOAP body child).
pub(crate) fn decode_message(doc: Doc<'_, '_>, node: NodeId) -> Result<Message, DecodeError> {
    message(doc, node).map_err(|kind| DecodeError::new(kind, Some(header_of(doc, node))))
}

fn message(doc: Doc<'_, '_>, node: NodeId) -> R<Message> {
    let local = xml::local_name(doc, node);
    if xml::namespace(doc, node) != Some(XKMS_NS) {
        return Err(DecodeErrorKind::UnknownMessage {
            element: xml::quote_name(local),
            xkms_namespace: false,
        });
    }
    if let Some(inner) = inner_request(doc, node)? {
        return Ok(Message::Request(match inner {
            InnerRequest::Locate(r) => Request::Locate(r),
            InnerRequest::Validate(r) => Request::Validate(r),
            InnerRequest::Register(r) => Request::Register(r),
            InnerRequest::Reissue(r) => Request::Reissue(r),
            InnerRequest::Recover(r) => Request::Recover(r),
            InnerRequest::Revoke(r) => Request::Revoke(r),
        }));
    }
    if let Some(inner) = inner_result(doc, node)? {
        return Ok(Message::Result(match inner {
            InnerResult::Locate(r) => ResultMessage::Locate(r),
            InnerResult::Validate(r) => ResultMessage::Validate(r),
            InnerResult::Register(r) => ResultMessage::Register(r),
            InnerResult::Reissue(r) => ResultMessage::Reissue(r),
            InnerResult::Recover(r) => ResultMessage::Recover(r),
            InnerResult::Revoke(r) => ResultMessage::Revoke(r),
        }));
    }
    Ok(match local {
        "CompoundRequest" => Message::Request(Request::Compound(compound_request(doc, node)?)),
        "StatusRequest" => {
            let (request, response_id) = pending_like(doc, node, "StatusRequest")?;
            Message::Request(Request::Status(StatusRequest {
                request,
                response_id,
            }))
        }
        "PendingRequest" => {
            let (request, response_id) = pending_like(doc, node, "PendingRequest")?;
            Message::Request(Request::Pending(PendingRequest {
                request,
                response_id,
            }))
        }
        "CompoundResult" => Message::Result(ResultMessage::Compound(compound_result(doc, node)?)),
        "StatusResult" => Message::Result(ResultMessage::Status(status_result(doc, node)?)),
        "Result" => {
            check_attrs(doc, node, "Result", &RESULT_ATTRS)?;
            let mut seq = Seq::new(doc, node, "Result")?;
            let result = result_abstract(doc, node, &mut seq, "Result")?;
            seq.finish()?;
            Message::Result(ResultMessage::Result(result))
        }
        other => {
            return Err(DecodeErrorKind::UnknownMessage {
                element: xml::quote_name(other),
                xkms_namespace: true,
            });
        }
    })
}

/// One of the six operation requests (also the CompoundRequest members); `None` if
/// `node` is not one of them.
fn inner_request(doc: Doc<'_, '_>, node: NodeId) -> R<Option<InnerRequest>> {
    if xml::namespace(doc, node) != Some(XKMS_NS) {
        return Ok(None);
    }
    Ok(Some(match xml::local_name(doc, node) {
        "LocateRequest" => {
            let (request, query_key_binding) = query_request(doc, node, "LocateRequest")?;
            InnerRequest::Locate(LocateRequest {
                request,
                query_key_binding,
            })
        }
        "ValidateRequest" => {
            let (request, query_key_binding) = query_request(doc, node, "ValidateRequest")?;
            InnerRequest::Validate(ValidateRequest {
                request,
                query_key_binding,
            })
        }
        "RegisterRequest" => {
            const N: &str = "RegisterRequest";
            check_attrs(doc, node, N, &REQUEST_ATTRS)?;
            let mut seq = Seq::new(doc, node, N)?;
            let request = request_abstract(doc, node, &mut seq, N)?;
            let prototype_key_binding =
                prototype_key_binding(doc, seq.req(XKMS_NS, "PrototypeKeyBinding")?)?;
            let authentication = authentication(doc, seq.req(XKMS_NS, "Authentication")?)?;
            let proof_of_possession = seq
                .opt(XKMS_NS, "ProofOfPossession")
                .map(|n| proof_of_possession(doc, n))
                .transpose()?;
            seq.finish()?;
            InnerRequest::Register(RegisterRequest {
                request,
                prototype_key_binding,
                authentication,
                proof_of_possession,
            })
        }
        "ReissueRequest" => {
            const N: &str = "ReissueRequest";
            check_attrs(doc, node, N, &REQUEST_ATTRS)?;
            let mut seq = Seq::new(doc, node, N)?;
            let request = request_abstract(doc, node, &mut seq, N)?;
            let reissue_key_binding = key_binding(
                doc,
                seq.req(XKMS_NS, "ReissueKeyBinding")?,
                "ReissueKeyBinding",
            )?;
            let authentication = authentication(doc, seq.req(XKMS_NS, "Authentication")?)?;
            let proof_of_possession = seq
                .opt(XKMS_NS, "ProofOfPossession")
                .map(|n| proof_of_possession(doc, n))
                .transpose()?;
            seq.finish()?;
            InnerRequest::Reissue(ReissueRequest {
                request,
                reissue_key_binding,
                authentication,
                proof_of_possession,
            })
        }
        "RevokeRequest" => {
            const N: &str = "RevokeRequest";
            check_attrs(doc, node, N, &REQUEST_ATTRS)?;
            let mut seq = Seq::new(doc, node, N)?;
            let request = request_abstract(doc, node, &mut seq, N)?;
            let revoke_key_binding = key_binding(
                doc,
                seq.req(XKMS_NS, "RevokeKeyBinding")?,
                "RevokeKeyBinding",
            )?;
            let authorization = if let Some(n) = seq.opt(XKMS_NS, "Authentication") {
                RevokeAuthorization::Authentication(authentication(doc, n)?)
            } else if let Some(n) = seq.opt(XKMS_NS, "RevocationCode") {
                RevokeAuthorization::RevocationCode(base64_text(doc, n, "RevocationCode")?)
            } else {
                return Err(DecodeErrorKind::MissingElement {
                    parent: N.to_owned(),
                    child: "Authentication".to_owned(),
                });
            };
            seq.finish()?;
            InnerRequest::Revoke(RevokeRequest {
                request,
                revoke_key_binding,
                authorization,
            })
        }
        "RecoverRequest" => {
            const N: &str = "RecoverRequest";
            check_attrs(doc, node, N, &REQUEST_ATTRS)?;
            let mut seq = Seq::new(doc, node, N)?;
            let request = request_abstract(doc, node, &mut seq, N)?;
            let recover_key_binding = key_binding(
                doc,
                seq.req(XKMS_NS, "RecoverKeyBinding")?,
                "RecoverKeyBinding",
            )?;
            let authentication = authentication(doc, seq.req(XKMS_NS, "Authentication")?)?;
            seq.finish()?;
            InnerRequest::Recover(RecoverRequest {
                request,
                recover_key_binding,
                authentication,
            })
        }
        _ => return Ok(None),
    }))
}

/// One of the six operation results; `None` if `node` is not one of them.
fn inner_result(doc: Doc<'_, '_>, node: NodeId) -> R<Option<InnerResult>> {
    if xml::namespace(doc, node) != Some(XKMS_NS) {
        return Ok(None);
    }
    let name: &'static str = match xml::local_name(doc, node) {
        "LocateResult" => "LocateResult",
        "ValidateResult" => "ValidateResult",
        "RegisterResult" => "RegisterResult",
        "ReissueResult" => "ReissueResult",
        "RecoverResult" => "RecoverResult",
        "RevokeResult" => "RevokeResult",
        _ => return Ok(None),
    };
    check_attrs(doc, node, name, &RESULT_ATTRS)?;
    let mut seq = Seq::new(doc, node, name)?;
    let result = result_abstract(doc, node, &mut seq, name)?;
    let inner = if name == "LocateResult" {
        let unverified_key_bindings = seq
            .many(XKMS_NS, "UnverifiedKeyBinding")
            .into_iter()
            .map(|n| unverified_key_binding(doc, n))
            .collect::<R<_>>()?;
        InnerResult::Locate(LocateResult {
            result,
            unverified_key_bindings,
        })
    } else {
        let key_bindings = seq
            .many(XKMS_NS, "KeyBinding")
            .into_iter()
            .map(|n| key_binding(doc, n, "KeyBinding"))
            .collect::<R<Vec<_>>>()?;
        let with_private_key = matches!(name, "RegisterResult" | "RecoverResult");
        let private_key = if with_private_key {
            seq.opt(XKMS_NS, "PrivateKey")
                .map(|n| private_key(doc, n))
                .transpose()?
        } else {
            None
        };
        match name {
            "ValidateResult" => InnerResult::Validate(ValidateResult {
                result,
                key_bindings,
            }),
            "RegisterResult" => InnerResult::Register(RegisterResult {
                result,
                key_bindings,
                private_key,
            }),
            "ReissueResult" => InnerResult::Reissue(ReissueResult {
                result,
                key_bindings,
            }),
            "RevokeResult" => InnerResult::Revoke(RevokeResult {
                result,
                key_bindings,
            }),
            _ => InnerResult::Recover(RecoverResult {
                result,
                key_bindings,
                private_key,
            }),
        }
    };
    seq.finish()?;
    Ok(Some(inner))
}

fn query_request(
    doc: Doc<'_, '_>,
    node: NodeId,
    name: &'static str,
) -> R<(RequestAbstract, QueryKeyBinding)> {
    check_attrs(doc, node, name, &REQUEST_ATTRS)?;
    let mut seq = Seq::new(doc, node, name)?;
    let request = request_abstract(doc, node, &mut seq, name)?;
    let qkb = query_key_binding(doc, seq.req(XKMS_NS, "QueryKeyBinding")?)?;
    seq.finish()?;
    Ok((request, qkb))
}

fn pending_like(
    doc: Doc<'_, '_>,
    node: NodeId,
    name: &'static str,
) -> R<(RequestAbstract, String)> {
    check_attrs(doc, node, name, &PENDING_ATTRS)?;
    let response_id = req_attr(doc, node, name, "ResponseId")?.to_owned();
    let mut seq = Seq::new(doc, node, name)?;
    let request = request_abstract(doc, node, &mut seq, name)?;
    seq.finish()?;
    Ok((request, response_id))
}

fn compound_request(doc: Doc<'_, '_>, node: NodeId) -> R<CompoundRequest> {
    const N: &str = "CompoundRequest";
    check_attrs(doc, node, N, &REQUEST_ATTRS)?;
    let mut seq = Seq::new(doc, node, N)?;
    let request = request_abstract(doc, node, &mut seq, N)?;
    let mut requests = Vec::new();
    while let Some(n) = seq.peek() {
        match inner_request(doc, n)? {
            Some(r) => requests.push(r),
            None => return Err(seq.unexpected(n)),
        }
        seq.take();
    }
    if requests.is_empty() {
        return Err(DecodeErrorKind::MissingElement {
            parent: N.to_owned(),
            child: "LocateRequest".to_owned(),
        });
    }
    Ok(CompoundRequest { request, requests })
}

fn compound_result(doc: Doc<'_, '_>, node: NodeId) -> R<CompoundResult> {
    const N: &str = "CompoundResult";
    check_attrs(doc, node, N, &RESULT_ATTRS)?;
    let mut seq = Seq::new(doc, node, N)?;
    let result = result_abstract(doc, node, &mut seq, N)?;
    let mut results = Vec::new();
    while let Some(n) = seq.peek() {
        match inner_result(doc, n)? {
            Some(r) => results.push(r),
            None => return Err(seq.unexpected(n)),
        }
        seq.take();
    }
    Ok(CompoundResult { result, results })
}

fn status_result(doc: Doc<'_, '_>, node: NodeId) -> R<StatusResult> {
    const N: &str = "StatusResult";
    check_attrs(doc, node, N, &STATUS_RESULT_ATTRS)?;
    let mut seq = Seq::new(doc, node, N)?;
    let result = result_abstract(doc, node, &mut seq, N)?;
    seq.finish()?;
    let counter = |name: &str| -> R<Option<u32>> {
        attr(doc, node, name)
            .map(|v| {
                parse_u32(v).ok_or_else(|| invalid(N, "counter is not a non-negative integer"))
            })
            .transpose()
    };
    Ok(StatusResult {
        result,
        success: counter("Success")?,
        failure: counter("Failure")?,
        pending: counter("Pending")?,
    })
}

// ---------------------------------------------------------------------------------------------
// Abstract parts

fn message_abstract(
    doc: Doc<'_, '_>,
    node: NodeId,
    seq: &mut Seq<'_, '_>,
    name: &str,
) -> R<MessageAbstract> {
    let id = req_attr(doc, node, name, "Id")?.to_owned();
    let service = req_attr(doc, node, name, "Service")?.to_owned();
    let nonce = attr(doc, node, "Nonce")
        .map(|v| decode_base64(v).ok_or_else(|| invalid(name, "Nonce is not base64")))
        .transpose()?;
    let signature = seq
        .opt(DS_NS, "Signature")
        .map(|n| signature(doc, n))
        .transpose()?;
    let message_extensions = seq.many(XKMS_NS, "MessageExtension").len();
    let opaque_client_data = match seq.opt(XKMS_NS, "OpaqueClientData") {
        None => None,
        Some(n) => {
            let mut inner = Seq::new(doc, n, "OpaqueClientData")?;
            let data = inner
                .many(XKMS_NS, "OpaqueData")
                .into_iter()
                .map(|d| base64_text(doc, d, "OpaqueData"))
                .collect::<R<Vec<_>>>()?;
            inner.finish()?;
            Some(data)
        }
    };
    Ok(MessageAbstract {
        id,
        service,
        nonce,
        signature,
        message_extensions,
        opaque_client_data,
    })
}

fn request_abstract(
    doc: Doc<'_, '_>,
    node: NodeId,
    seq: &mut Seq<'_, '_>,
    name: &str,
) -> R<RequestAbstract> {
    let message = message_abstract(doc, node, seq, name)?;
    let response_mechanism = seq
        .many(XKMS_NS, "ResponseMechanism")
        .into_iter()
        .map(|n| uri_text(doc, n, "ResponseMechanism").map(|u| ResponseMechanism::from_uri(&u)))
        .collect::<R<_>>()?;
    let respond_with = seq
        .many(XKMS_NS, "RespondWith")
        .into_iter()
        .map(|n| uri_text(doc, n, "RespondWith").map(|u| RespondWith::from_uri(&u)))
        .collect::<R<_>>()?;
    let pending_notification = match seq.opt(XKMS_NS, "PendingNotification") {
        None => None,
        Some(n) => {
            const P: &str = "PendingNotification";
            check_attrs(doc, n, P, &["Mechanism", "Identifier"])?;
            Seq::new(doc, n, P)?.finish()?;
            Some(PendingNotification {
                mechanism: req_attr(doc, n, P, "Mechanism")?
                    .trim_matches(XML_WS)
                    .to_owned(),
                identifier: req_attr(doc, n, P, "Identifier")?
                    .trim_matches(XML_WS)
                    .to_owned(),
            })
        }
    };
    let response_limit = attr(doc, node, "ResponseLimit")
        .map(|v| {
            parse_u32(v).ok_or_else(|| invalid(name, "ResponseLimit is not a non-negative integer"))
        })
        .transpose()?;
    Ok(RequestAbstract {
        message,
        response_mechanism,
        respond_with,
        pending_notification,
        original_request_id: attr(doc, node, "OriginalRequestId").map(str::to_owned),
        response_limit,
    })
}

fn result_abstract(
    doc: Doc<'_, '_>,
    node: NodeId,
    seq: &mut Seq<'_, '_>,
    name: &str,
) -> R<ResultAbstract> {
    let message = message_abstract(doc, node, seq, name)?;
    let request_signature_value = match seq.opt(XKMS_NS, "RequestSignatureValue") {
        None => None,
        Some(n) => {
            check_attrs(doc, n, "RequestSignatureValue", &["Id"])?;
            Some(base64_text(doc, n, "RequestSignatureValue")?)
        }
    };
    let result_major =
        ResultMajor::from_uri(req_attr(doc, node, name, "ResultMajor")?.trim_matches(XML_WS));
    Ok(ResultAbstract {
        message,
        request_signature_value,
        result_major,
        result_minor: attr(doc, node, "ResultMinor")
            .map(|v| ResultMinor::from_uri(v.trim_matches(XML_WS))),
        request_id: attr(doc, node, "RequestId").map(str::to_owned),
    })
}

// ---------------------------------------------------------------------------------------------
// Key bindings

fn key_binding_abstract(
    doc: Doc<'_, '_>,
    node: NodeId,
    seq: &mut Seq<'_, '_>,
    name: &str,
) -> R<KeyBindingAbstract> {
    let key_info = seq
        .opt(DS_NS, "KeyInfo")
        .map(|n| key_info(doc, n))
        .transpose()?;
    let usages = seq.many(XKMS_NS, "KeyUsage");
    if usages.len() > 3 {
        return Err(invalid(name, "more than three KeyUsage elements"));
    }
    let key_usage = usages
        .into_iter()
        .map(|n| {
            let uri = uri_text(doc, n, "KeyUsage")?;
            KeyUsage::from_uri(&uri).ok_or_else(|| invalid("KeyUsage", "unknown KeyUsage URI"))
        })
        .collect::<R<_>>()?;
    let use_key_with = seq
        .many(XKMS_NS, "UseKeyWith")
        .into_iter()
        .map(|n| {
            const U: &str = "UseKeyWith";
            check_attrs(doc, n, U, &["Application", "Identifier"])?;
            Seq::new(doc, n, U)?.finish()?;
            Ok(UseKeyWith {
                application: Application::from_uri_lenient(
                    req_attr(doc, n, U, "Application")?.trim_matches(XML_WS),
                ),
                identifier: req_attr(doc, n, U, "Identifier")?.to_owned(),
            })
        })
        .collect::<R<_>>()?;
    Ok(KeyBindingAbstract {
        id: attr(doc, node, "Id").map(str::to_owned),
        key_info,
        key_usage,
        use_key_with,
    })
}

fn unverified_key_binding(doc: Doc<'_, '_>, node: NodeId) -> R<UnverifiedKeyBinding> {
    const N: &str = "UnverifiedKeyBinding";
    check_attrs(doc, node, N, &["Id"])?;
    let mut seq = Seq::new(doc, node, N)?;
    let core = key_binding_abstract(doc, node, &mut seq, N)?;
    let validity_interval = seq
        .opt(XKMS_NS, "ValidityInterval")
        .map(|n| validity_interval(doc, n))
        .transpose()?;
    seq.finish()?;
    Ok(UnverifiedKeyBinding {
        core,
        validity_interval,
    })
}

/// `KeyBindingType`: KeyBinding, ReissueKeyBinding, RevokeKeyBinding, RecoverKeyBinding.
fn key_binding(doc: Doc<'_, '_>, node: NodeId, name: &'static str) -> R<KeyBinding> {
    check_attrs(doc, node, name, &["Id"])?;
    let mut seq = Seq::new(doc, node, name)?;
    let core = key_binding_abstract(doc, node, &mut seq, name)?;
    let validity_interval = seq
        .opt(XKMS_NS, "ValidityInterval")
        .map(|n| validity_interval(doc, n))
        .transpose()?;
    let status = status(doc, seq.req(XKMS_NS, "Status")?)?;
    seq.finish()?;
    Ok(KeyBinding {
        core,
        validity_interval,
        status,
    })
}

fn query_key_binding(doc: Doc<'_, '_>, node: NodeId) -> R<QueryKeyBinding> {
    const N: &str = "QueryKeyBinding";
    check_attrs(doc, node, N, &["Id"])?;
    let mut seq = Seq::new(doc, node, N)?;
    let core = key_binding_abstract(doc, node, &mut seq, N)?;
    let time_instant = match seq.opt(XKMS_NS, "TimeInstant") {
        None => None,
        Some(n) => {
            check_attrs(doc, n, "TimeInstant", &["Time"])?;
            Seq::new(doc, n, "TimeInstant")?.finish()?;
            Some(datetime_attr(
                req_attr(doc, n, "TimeInstant", "Time")?,
                "TimeInstant",
            )?)
        }
    };
    seq.finish()?;
    Ok(QueryKeyBinding { core, time_instant })
}

fn prototype_key_binding(doc: Doc<'_, '_>, node: NodeId) -> R<PrototypeKeyBinding> {
    const N: &str = "PrototypeKeyBinding";
    check_attrs(doc, node, N, &["Id"])?;
    let mut seq = Seq::new(doc, node, N)?;
    let core = key_binding_abstract(doc, node, &mut seq, N)?;
    let validity_interval = seq
        .opt(XKMS_NS, "ValidityInterval")
        .map(|n| validity_interval(doc, n))
        .transpose()?;
    let revocation_code_identifier = seq
        .opt(XKMS_NS, "RevocationCodeIdentifier")
        .map(|n| base64_text(doc, n, "RevocationCodeIdentifier"))
        .transpose()?;
    seq.finish()?;
    Ok(PrototypeKeyBinding {
        core,
        validity_interval,
        revocation_code_identifier,
    })
}

fn validity_interval(doc: Doc<'_, '_>, node: NodeId) -> R<ValidityInterval> {
    const N: &str = "ValidityInterval";
    check_attrs(doc, node, N, &["NotBefore", "NotOnOrAfter"])?;
    Seq::new(doc, node, N)?.finish()?;
    Ok(ValidityInterval {
        not_before: attr(doc, node, "NotBefore")
            .map(|v| datetime_attr(v, N))
            .transpose()?,
        not_on_or_after: attr(doc, node, "NotOnOrAfter")
            .map(|v| datetime_attr(v, N))
            .transpose()?,
    })
}

fn status(doc: Doc<'_, '_>, node: NodeId) -> R<Status> {
    const N: &str = "Status";
    check_attrs(doc, node, N, &["StatusValue"])?;
    let value = req_attr(doc, node, N, "StatusValue")?;
    let status_value = StatusValue::from_uri(value.trim_matches(XML_WS))
        .ok_or_else(|| invalid(N, "unknown StatusValue URI"))?;
    let mut seq = Seq::new(doc, node, N)?;
    let mut reasons = |local: &'static str| -> R<Vec<Reason>> {
        seq.many(XKMS_NS, local)
            .into_iter()
            .map(|n| uri_text(doc, n, local).map(|u| Reason::from_uri(&u)))
            .collect()
    };
    let valid_reasons = reasons("ValidReason")?;
    let indeterminate_reasons = reasons("IndeterminateReason")?;
    let invalid_reasons = reasons("InvalidReason")?;
    seq.finish()?;
    Ok(Status {
        status_value,
        valid_reasons,
        indeterminate_reasons,
        invalid_reasons,
    })
}

// ---------------------------------------------------------------------------------------------
// Authentication, possession, private key

fn authentication(doc: Doc<'_, '_>, node: NodeId) -> R<Authentication> {
    const N: &str = "Authentication";
    check_attrs(doc, node, N, &[])?;
    let mut seq = Seq::new(doc, node, N)?;
    let key_binding_authentication = match seq.opt(XKMS_NS, "KeyBindingAuthentication") {
        None => None,
        Some(n) => Some(KeyBindingAuthentication {
            signature: single_signature(doc, n, "KeyBindingAuthentication")?,
        }),
    };
    let not_bound_authentication = match seq.opt(XKMS_NS, "NotBoundAuthentication") {
        None => None,
        Some(n) => {
            const B: &str = "NotBoundAuthentication";
            check_attrs(doc, n, B, &["Protocol", "Value"])?;
            Seq::new(doc, n, B)?.finish()?;
            let value = decode_base64(req_attr(doc, n, B, "Value")?)
                .ok_or_else(|| invalid(B, "Value is not base64"))?;
            Some(NotBoundAuthentication {
                protocol: req_attr(doc, n, B, "Protocol")?
                    .trim_matches(XML_WS)
                    .to_owned(),
                value,
            })
        }
    };
    seq.finish()?;
    Ok(Authentication {
        key_binding_authentication,
        not_bound_authentication,
    })
}

fn proof_of_possession(doc: Doc<'_, '_>, node: NodeId) -> R<ProofOfPossession> {
    Ok(ProofOfPossession {
        signature: single_signature(doc, node, "ProofOfPossession")?,
    })
}

/// An element whose only content is one `ds:Signature`.
fn single_signature(doc: Doc<'_, '_>, node: NodeId, name: &'static str) -> R<Signature> {
    check_attrs(doc, node, name, &[])?;
    let mut seq = Seq::new(doc, node, name)?;
    let sig = signature(doc, seq.req(DS_NS, "Signature")?)?;
    seq.finish()?;
    Ok(sig)
}

fn private_key(doc: Doc<'_, '_>, node: NodeId) -> R<PrivateKey> {
    const N: &str = "PrivateKey";
    check_attrs(doc, node, N, &[])?;
    let mut seq = Seq::new(doc, node, N)?;
    let encrypted_data = encrypted_data(doc, seq.req(XENC_NS, "EncryptedData")?)?;
    seq.finish()?;
    Ok(PrivateKey { encrypted_data })
}

pub(crate) fn parse_rsa_key_pair(
    fragment: &str,
    limits: &Limits,
) -> Result<RsaKeyPair, DecodeError> {
    // The fragment may rely on the namespace context of <PrivateKey>: provide both a
    // default and an `xkms:` declaration around it. Its own declarations still win.
    let mut body = fragment.trim_matches(XML_WS);
    if body.starts_with("<?xml") {
        body = body
            .find("?>")
            .map_or(body, |end| body[end + 2..].trim_start_matches(XML_WS));
    }
    if fragment.len() > limits.max_bytes {
        return Err(DecodeErrorKind::TooLarge.into());
    }
    let wrapped = zeroize::Zeroizing::new(format!(
        "<w xmlns=\"{XKMS_NS}\" xmlns:xkms=\"{XKMS_NS}\">{body}</w>"
    ));
    let mut inner_limits = limits.clone();
    inner_limits.max_bytes = limits.max_bytes.saturating_add(wrapped.len() - body.len());
    inner_limits.max_depth = limits.max_depth.saturating_add(1);
    let doc = xml::parse_document(&wrapped, &inner_limits)?;
    let root = xml::root_element(&doc)?;
    let mut seq = Seq::new(&doc, root, "PrivateKey")?;
    let pair = seq.req(XKMS_NS, "RSAKeyPair")?;
    seq.finish()?;
    Ok(rsa_key_pair(&doc, pair)?)
}

fn rsa_key_pair(doc: Doc<'_, '_>, node: NodeId) -> R<RsaKeyPair> {
    const N: &str = "RSAKeyPair";
    check_attrs(doc, node, N, &[])?;
    let mut seq = Seq::new(doc, node, N)?;
    let mut field = |local: &'static str| -> R<Vec<u8>> {
        let n = seq.req(XKMS_NS, local)?;
        let t = zeroize::Zeroizing::new(text(doc, n, local)?);
        decode_crypto_binary(&t).ok_or_else(|| invalid(local, "not base64"))
    };
    let pair = RsaKeyPair {
        modulus: field("Modulus")?,
        exponent: field("Exponent")?,
        p: field("P")?,
        q: field("Q")?,
        dp: field("DP")?,
        dq: field("DQ")?,
        inverse_q: field("InverseQ")?,
        d: field("D")?,
    };
    seq.finish()?;
    Ok(pair)
}

// ---------------------------------------------------------------------------------------------
// Simple content

/// Text of an anyURI element (whitespace collapsed away at the ends, as xs:anyURI does).
fn uri_text(doc: Doc<'_, '_>, node: NodeId, name: &str) -> R<String> {
    check_attrs(doc, node, name, &[])?;
    Ok(text(doc, node, name)?.trim_matches(XML_WS).to_owned())
}

fn datetime_attr(value: &str, element: &str) -> R<time::OffsetDateTime> {
    parse_datetime(value).ok_or_else(|| invalid(element, "not an xs:dateTime"))
}
