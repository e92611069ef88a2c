//! The service object: configuration, dispatch of every request kind, and the
//! construction of results (fresh Id, RequestId, Service, OpaqueClientData echo).

use crate::clock::Clock;
use crate::error::ServiceError;
use crate::ids::IdSource;
use crate::store::Store;
use std::sync::Arc;
use time::Duration;
use xkms_ca::Ca;
use xkms_proto::{
    CompoundResult, LocateResult, MessageAbstract, RecoverResult, RegisterResult, ReissueResult,
    Request, RequestAbstract, ResultAbstract, ResultMajor, ResultMessage, ResultMinor,
    RevokeResult, StatusResult, ValidateResult,
};

/// Policy knobs of the registration authority.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Validity of issued certificates (clipped to the CA's).
    pub certificate_validity: Duration,
    /// Default lifetime of an authorization code.
    pub authorization_lifetime: Duration,
    /// Minimum RSA modulus size accepted for registration.
    pub min_rsa_bits: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            certificate_validity: Duration::days(365),
            authorization_lifetime: Duration::days(30),
            min_rsa_bits: xkms_ca::MIN_RSA_BITS,
        }
    }
}

/// Static configuration of a service instance.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// The URI requests must carry in `Service` (e.g. `http://127.0.0.1:8080/xkms`).
    pub service_uri: String,
    pub policy: Policy,
}

/// The per-request context the transport hands in.
#[derive(Debug, Clone, Copy)]
pub struct RequestContext<'a> {
    /// The whole received document: signatures are verified over it.
    pub document: &'a str,
}

/// The XKMS registration authority.
pub struct XkmsService {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) ca: Arc<Ca>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) ids: IdSource,
    pub(crate) config: ServiceConfig,
}

impl XkmsService {
    pub fn new(
        store: Arc<dyn Store>,
        ca: Arc<Ca>,
        clock: Arc<dyn Clock>,
        config: ServiceConfig,
    ) -> Self {
        XkmsService {
            store,
            ca,
            clock,
            ids: IdSource,
            config,
        }
    }

    pub fn config(&self) -> &ServiceConfig {
        &self.config
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn ca(&self) -> &Arc<Ca> {
        &self.ca
    }

    /// Processes one request and always produces a result (errors become results).
    pub async fn process(&self, ctx: &RequestContext<'_>, request: &Request) -> ResultMessage {
        let abstract_ = request_abstract(request);
        let outcome = if abstract_.message.service != self.config.service_uri {
            Err(ServiceError::WrongService)
        } else {
            self.dispatch(ctx, request).await
        };
        match outcome {
            Ok(result) => result,
            Err(err) => {
                log_error(&abstract_.message.id, &err);
                self.error_result(request, &err)
            }
        }
    }

    async fn dispatch(
        &self,
        ctx: &RequestContext<'_>,
        request: &Request,
    ) -> Result<ResultMessage, ServiceError> {
        match request {
            Request::Register(r) => Ok(ResultMessage::Register(self.register(ctx, r).await?)),
            Request::Pending(_) | Request::Status(_) => Err(ServiceError::UnknownResponseId),
            Request::Locate(_)
            | Request::Validate(_)
            | Request::Reissue(_)
            | Request::Recover(_)
            | Request::Revoke(_)
            | Request::Compound(_) => Err(ServiceError::MessageNotSupported),
        }
    }

    /// A result header answering `request` with the given codes.
    pub(crate) fn result_for(
        &self,
        request: &RequestAbstract,
        major: ResultMajor,
        minor: Option<ResultMinor>,
    ) -> ResultAbstract {
        ResultAbstract {
            message: MessageAbstract {
                id: self.ids.message_id(),
                service: self.config.service_uri.clone(),
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

    /// The result element matching `request`'s type, carrying `err`'s codes.
    pub fn error_result(&self, request: &Request, err: &ServiceError) -> ResultMessage {
        let (major, minor) = err.result_code();
        let result = self.result_for(request_abstract(request), major, minor);
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
    pub fn undecodable_result(
        &self,
        request_id: Option<&str>,
        err: &ServiceError,
    ) -> ResultMessage {
        let (major, minor) = err.result_code();
        log_error(request_id.unwrap_or("-"), err);
        ResultMessage::Result(ResultAbstract {
            message: MessageAbstract {
                id: self.ids.message_id(),
                service: self.config.service_uri.clone(),
                ..Default::default()
            },
            request_signature_value: None,
            result_major: major,
            result_minor: minor,
            request_id: request_id.map(str::to_owned),
        })
    }
}

/// The RequestAbstract part of any request.
pub fn request_abstract(request: &Request) -> &RequestAbstract {
    match request {
        Request::Locate(r) => &r.request,
        Request::Validate(r) => &r.request,
        Request::Register(r) => &r.request,
        Request::Reissue(r) => &r.request,
        Request::Recover(r) => &r.request,
        Request::Revoke(r) => &r.request,
        Request::Compound(r) => &r.request,
        Request::Status(r) => &r.request,
        Request::Pending(r) => &r.request,
    }
}

fn log_error(request_id: &str, err: &ServiceError) {
    if err.is_receiver_fault() {
        tracing::error!(request_id, error = %err, "request failed in the service");
    } else {
        tracing::info!(request_id, error = %err, "request refused");
    }
}

/// The ResultAbstract part of any result.
pub fn result_abstract(result: &ResultMessage) -> &ResultAbstract {
    match result {
        ResultMessage::Locate(r) => &r.result,
        ResultMessage::Validate(r) => &r.result,
        ResultMessage::Register(r) => &r.result,
        ResultMessage::Reissue(r) => &r.result,
        ResultMessage::Recover(r) => &r.result,
        ResultMessage::Revoke(r) => &r.result,
        ResultMessage::Compound(r) => &r.result,
        ResultMessage::Status(r) => &r.result,
        ResultMessage::Result(r) => r,
    }
}
