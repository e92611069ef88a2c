//! XKMS 2.0 client: builds requests, signs them (authentication and proof of
//! possession), sends them over SOAP/HTTP and checks that the result answers them.

pub mod key;
pub mod krss;
pub mod locate;
pub mod recover;
pub mod register;
pub mod reissue;
pub mod revoke;
pub mod validate;

pub use key::ClientKey;
pub use krss::BindingRef;
pub use recover::{Progress, RecoverParams, Recovered};
pub use register::{RegisterParams, Registered};
pub use reissue::ReissueParams;
pub use revoke::{RevokeParams, RevokeWith};

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use xkms_proto::soap::{self, Binding, DocumentError, SoapVersion};
use xkms_proto::{Limits, Message, Request, ResultAbstract, ResultMessage, write_message};

/// What can go wrong on the client side.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("HTTP: {0}")]
    Http(String),
    #[error("the service answered HTTP {status} without an XKMS message")]
    HttpStatus { status: u16 },
    #[error("SOAP fault {code}: {reason}")]
    Fault { code: String, reason: String },
    #[error("the response is not a valid XKMS message: {0}")]
    BadResponse(String),
    #[error("the result does not answer our request ({0})")]
    Mismatch(&'static str),
    #[error("signing: {0}")]
    Signing(String),
    #[error("key: {0}")]
    Key(&'static str),
    #[error("secret: {0}")]
    Secret(String),
}

/// A connection to one XKMS service.
#[derive(Debug, Clone)]
pub struct XkmsClient {
    http: reqwest::Client,
    url: String,
    service_uri: String,
    binding: Binding,
}

impl XkmsClient {
    /// A client for the service at `url` (also used as the `Service` URI), SOAP 1.2.
    pub fn new(url: &str) -> XkmsClient {
        XkmsClient {
            http: reqwest::Client::new(),
            url: url.to_owned(),
            service_uri: url.to_owned(),
            binding: Binding::Soap(SoapVersion::Soap12),
        }
    }

    /// Uses a different `Service` URI than the URL posted to (e.g. behind a proxy).
    pub fn with_service_uri(mut self, uri: &str) -> XkmsClient {
        self.service_uri = uri.to_owned();
        self
    }

    /// SOAP 1.2 (default), SOAP 1.1, or a bare XKMS element.
    pub fn with_binding(mut self, binding: Binding) -> XkmsClient {
        self.binding = binding;
        self
    }

    pub fn service_uri(&self) -> &str {
        &self.service_uri
    }

    /// A fresh message or key-binding Id ("I" + 128 random bits in hex).
    pub fn new_id(&self) -> String {
        let mut bytes = [0u8; 16];
        if SystemRandom::new().fill(&mut bytes).is_err() {
            bytes = *b"xkms-client-fall";
        }
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        format!("I{hex}")
    }

    /// Serializes `request` in this client's binding, lets `sign` fill in signature
    /// templates over the final document, posts it and returns the checked result.
    pub async fn send_signed(
        &self,
        request: &Request,
        sign: impl FnOnce(String) -> Result<String, ClientError>,
    ) -> Result<ResultMessage, ClientError> {
        let body = soap::wrap(
            self.binding,
            &write_message(&Message::Request(request.clone())),
        );
        let document = sign(body)?;
        let result = self.post(document).await?;
        check_answers(request, &result, &self.service_uri)?;
        Ok(result)
    }

    /// Sends an unsigned request.
    pub async fn send(&self, request: &Request) -> Result<ResultMessage, ClientError> {
        self.send_signed(request, Ok).await
    }

    /// Posts a prepared document and decodes the answer (faults become errors).
    pub async fn post(&self, document: String) -> Result<ResultMessage, ClientError> {
        let mut req = self.http.post(&self.url).body(document);
        req = match self.binding {
            Binding::Soap(SoapVersion::Soap12) => {
                req.header("content-type", SoapVersion::Soap12.content_type())
            }
            Binding::Soap(SoapVersion::Soap11) => req
                .header("content-type", SoapVersion::Soap11.content_type())
                .header("SOAPAction", "\"\""),
            Binding::Bare => req.header("content-type", "text/xml; charset=utf-8"),
        };
        let response = req
            .send()
            .await
            .map_err(|e| ClientError::Http(e.to_string()))?;
        let status = response.status().as_u16();
        let text = response
            .text()
            .await
            .map_err(|e| ClientError::Http(e.to_string()))?;
        decode_response(&text, status)
    }
}

fn decode_response(text: &str, status: u16) -> Result<ResultMessage, ClientError> {
    let limits = Limits {
        max_bytes: 64 * 1024 * 1024,
        ..Limits::default()
    };
    if let Some(fault) = soap::parse_fault(text, &limits) {
        let code = fault
            .code
            .map(|c| format!("{c:?}"))
            .unwrap_or_else(|| "(other)".into());
        return Err(ClientError::Fault {
            code,
            reason: fault.reason,
        });
    }
    match soap::parse_document(text, &limits) {
        Ok((_, Message::Result(result))) => Ok(result),
        Ok((_, Message::Request(_))) => {
            Err(ClientError::BadResponse("a request, not a result".into()))
        }
        Err(DocumentError::Envelope { reason, .. }) if status == 200 => {
            Err(ClientError::BadResponse(reason.to_owned()))
        }
        Err(DocumentError::Message { error, .. }) => {
            Err(ClientError::BadResponse(error.to_string()))
        }
        Err(_) => Err(ClientError::HttpStatus { status }),
    }
}

/// The result must answer our request (RequestId) from the service we addressed.
fn check_answers(
    request: &Request,
    result: &ResultMessage,
    service: &str,
) -> Result<(), ClientError> {
    let header = result_header(result);
    let sent = request_id(request);
    if header.request_id.as_deref() != Some(sent) {
        return Err(ClientError::Mismatch(
            "RequestId differs from our request Id",
        ));
    }
    if header.message.service != service {
        return Err(ClientError::Mismatch(
            "Service differs from the service we addressed",
        ));
    }
    Ok(())
}

fn request_id(request: &Request) -> &str {
    match request {
        Request::Locate(r) => &r.request.message.id,
        Request::Validate(r) => &r.request.message.id,
        Request::Register(r) => &r.request.message.id,
        Request::Reissue(r) => &r.request.message.id,
        Request::Recover(r) => &r.request.message.id,
        Request::Revoke(r) => &r.request.message.id,
        Request::Compound(r) => &r.request.message.id,
        Request::Status(r) => &r.request.message.id,
        Request::Pending(r) => &r.request.message.id,
    }
}

/// The ResultAbstract part of any result.
pub fn result_header(result: &ResultMessage) -> &ResultAbstract {
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
