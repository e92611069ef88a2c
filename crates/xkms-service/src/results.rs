//! The results the service answers with: a header answering a request (fresh Id,
//! RequestId, Service, OpaqueClientData echo), the empty result of a request's type that
//! carries an error's codes, and the generic result for a request that did not decode.

use crate::error::ServiceError;
use crate::ids::IdSource;
use xkms_proto::{
    CompoundResult, LocateResult, MessageAbstract, RecoverResult, RegisterResult, ReissueResult,
    Request, RequestAbstract, ResultAbstract, ResultMajor, ResultMessage, ResultMinor,
    RevokeResult, StatusResult, ValidateResult,
};

/// The result element matching `request`'s type, carrying `err`'s codes.
pub(crate) fn error_result(
    service_uri: &str,
    request: &Request,
    err: &ServiceError,
) -> ResultMessage {
    let (major, minor) = err.result_code();
    empty_result(service_uri, request, major, minor)
}

/// The result element matching `request`'s type with no content but the header.
pub(crate) fn empty_result(
    service_uri: &str,
    request: &Request,
    major: ResultMajor,
    minor: Option<ResultMinor>,
) -> ResultMessage {
    let result = result_header(service_uri, request_abstract(request), major, minor);
    match request {
        Request::Locate(_) => ResultMessage::Locate(LocateResult {
            result,
            ..Default::default()
        }),
        Request::Validate(_) => ResultMessage::Validate(ValidateResult {
            result,
            ..Default::default()
        }),
        Request::Register(_) => ResultMessage::Register(RegisterResult {
            result,
            ..Default::default()
        }),
        Request::Reissue(_) => ResultMessage::Reissue(ReissueResult {
            result,
            ..Default::default()
        }),
        Request::Recover(_) => ResultMessage::Recover(RecoverResult {
            result,
            ..Default::default()
        }),
        Request::Revoke(_) => ResultMessage::Revoke(RevokeResult {
            result,
            ..Default::default()
        }),
        Request::Compound(_) => ResultMessage::Compound(CompoundResult {
            result,
            ..Default::default()
        }),
        Request::Status(_) => ResultMessage::Status(StatusResult {
            result,
            ..Default::default()
        }),
        Request::Pending(_) => ResultMessage::Result(result),
    }
}

/// A generic `<Result>` for a request that could not be decoded. `request_id` is the
/// Id of the offending element when it could be read.
pub(crate) fn undecodable_result(
    service_uri: &str,
    request_id: Option<&str>,
    err: &ServiceError,
) -> ResultMessage {
    let (major, minor) = err.result_code();
    log_error(request_id.unwrap_or("-"), err);
    ResultMessage::Result(ResultAbstract {
        message: MessageAbstract {
            id: IdSource.message_id(),
            service: service_uri.to_owned(),
            ..Default::default()
        },
        request_signature_value: None,
        result_major: major,
        result_minor: minor,
        request_id: request_id
            .filter(|id| crate::ids::acceptable_request_id(id))
            .map(str::to_owned),
    })
}

/// The RequestAbstract part of any request.
pub fn request_abstract(request: &Request) -> &RequestAbstract {
    request.header()
}

pub(crate) fn log_error(request_id: &str, err: &ServiceError) {
    // An unacceptable Id is not logged (it may be half a megabyte).
    let request_id = if crate::ids::acceptable_request_id(request_id) {
        request_id
    } else {
        "-"
    };
    if err.is_receiver_fault() {
        tracing::error!(request_id, error = %err, "request failed in the service");
    } else {
        tracing::info!(request_id, error = %err, "request refused");
    }
}

/// The ResultAbstract part of any result.
pub fn result_abstract(result: &ResultMessage) -> &ResultAbstract {
    result.header()
}

/// The ResultAbstract part of any result, mutably.
pub fn result_abstract_mut(result: &mut ResultMessage) -> &mut ResultAbstract {
    result.header_mut()
}

/// The element name of a request (for logs and operators).
pub fn operation_name(request: &Request) -> &'static str {
    request.operation().as_str()
}

/// A result header from `service_uri` answering `request` with the given codes: a fresh
/// Id, RequestId, Service and the OpaqueClientData echo.
pub(crate) fn result_header(
    service_uri: &str,
    request: &RequestAbstract,
    major: ResultMajor,
    minor: Option<ResultMinor>,
) -> ResultAbstract {
    ResultAbstract {
        message: MessageAbstract {
            id: IdSource.message_id(),
            service: service_uri.to_owned(),
            nonce: None,
            signature: None,
            message_extensions: 0,
            opaque_client_data: request.message.opaque_client_data.clone(),
        },
        request_signature_value: None,
        result_major: major,
        result_minor: minor,
        request_id: Some(request.message.id.clone()),
    }
}
