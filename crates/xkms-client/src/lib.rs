//! XKMS 2.0 client: builds requests, signs them (authentication and proof of
//! possession), sends them over SOAP/HTTP and checks that the result answers them.

pub mod compound;
mod error;
pub mod key;
pub mod krss;
pub mod locate;
pub mod recover;
pub mod register;
pub mod reissue;
mod result_trust;
pub mod revoke;
pub mod validate;

/// PEM reading and writing (the workspace's one codec, from `xkms-ca`).
pub use xkms_ca::pem;

pub use error::ClientError;
use error::{find_error, find_io_error, tls_reason};
pub use key::ClientKey;
pub use krss::BindingRef;
pub use recover::{Progress, RecoverParams, Recovered};
pub use register::{RegisterParams, Registered};
pub use reissue::ReissueParams;
pub use result_trust::{ResultTrust, verify_result_signature};
pub use revoke::{RevokeParams, RevokeWith};

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use xkms_proto::soap::{self, Binding, DocumentError, SoapVersion};
use xkms_proto::{
    Limits, Message, Request, RequestAbstract, ResponseMechanism, ResultAbstract, ResultMajor,
    ResultMessage, write_message,
};

/// A connection to one XKMS service.
#[derive(Debug, Clone)]
pub struct XkmsClient {
    http: reqwest::Client,
    url: String,
    service_uri: String,
    binding: Binding,
    options: ProtocolOptions,
    /// Whole-exchange time limit, for the error message (`None`: no limit).
    timeout: Option<std::time::Duration>,
    /// CA certificates trusted for HTTPS besides the platform's roots.
    roots: Vec<reqwest::Certificate>,
}

/// Protocol options the client applies to every request (digest §3.2, §6.3, §8.4).
#[derive(Debug, Clone, Default)]
pub struct ProtocolOptions {
    /// Offer the two-phase protocol (`#Represent`) and complete it when asked.
    pub two_phase: bool,
    /// Sign every request (enveloped signature, after the key-binding signatures).
    pub signer: Option<xkms_xmlsec::MessageSigner>,
    /// Ask for `#RequestSignatureValue` (and check it) — needs `signer`.
    pub request_signature_value: bool,
    /// Whose signature a result must carry (`Unchecked`: results need not be signed).
    pub result_trust: ResultTrust,
}

impl XkmsClient {
    /// A client for the service at `url` (also used as the `Service` URI), SOAP 1.2.
    pub fn new(url: &str) -> XkmsClient {
        XkmsClient {
            http: reqwest::Client::new(),
            url: url.to_owned(),
            service_uri: url.to_owned(),
            binding: Binding::Soap(SoapVersion::Soap12),
            options: ProtocolOptions::default(),
            timeout: None,
            roots: Vec::new(),
        }
    }

    /// Gives up on an exchange (connect, send, answer) after `timeout`.
    pub fn with_timeout(mut self, timeout: std::time::Duration) -> Result<XkmsClient, ClientError> {
        self.timeout = Some(timeout);
        self.http = self.build_http()?;
        Ok(self)
    }

    /// Trusts these CA certificates (DER) for HTTPS, besides the platform's roots (e.g.
    /// the built-in CA that issued the service's TLS certificate).
    pub fn with_root_certificates(mut self, ders: &[Vec<u8>]) -> Result<XkmsClient, ClientError> {
        for der in ders {
            let cert = reqwest::Certificate::from_der(der).map_err(|e| ClientError::Tls {
                url: self.url.clone(),
                reason: format!("unusable CA certificate: {e}"),
            })?;
            self.roots.push(cert);
        }
        self.http = self.build_http()?;
        Ok(self)
    }

    /// The HTTP client for the current timeout and roots.
    fn build_http(&self) -> Result<reqwest::Client, ClientError> {
        let mut builder = reqwest::Client::builder().tls_certs_merge(self.roots.iter().cloned());
        if let Some(timeout) = self.timeout {
            builder = builder.timeout(timeout);
        }
        builder.build().map_err(|e| ClientError::Http {
            url: self.url.clone(),
            reason: format!("cannot set up the HTTP client: {e}"),
        })
    }

    /// Protocol options for every request.
    pub fn with_options(mut self, options: ProtocolOptions) -> XkmsClient {
        self.options = options;
        self
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
    ///
    /// `sign(document, request_id)` signs the key-binding templates of the request with
    /// that Id (the Id changes in the second phase of the two-phase protocol). The
    /// client's protocol options apply: `#Represent` is offered and completed, the
    /// request is message-signed, a signed result is verified.
    pub async fn send_signed(
        &self,
        request: &Request,
        sign: impl Fn(String, &str) -> Result<String, ClientError>,
    ) -> Result<ResultMessage, ClientError> {
        let mut request = request.clone();
        let options = &self.options;
        {
            let header = request_header_mut(&mut request);
            if options.two_phase
                && !header
                    .response_mechanism
                    .contains(&ResponseMechanism::Represent)
            {
                header.response_mechanism.push(ResponseMechanism::Represent);
            }
            if options.request_signature_value
                && options.signer.is_some()
                && !header
                    .response_mechanism
                    .contains(&ResponseMechanism::RequestSignatureValue)
            {
                header
                    .response_mechanism
                    .push(ResponseMechanism::RequestSignatureValue);
            }
        }
        let (document, signature_value) = self.prepare(&request, &sign)?;
        let mut result = self
            .post_checked(document, signature_value.as_deref())
            .await?;
        let first_major = result_header(&result).result_major.clone();
        if first_major == ResultMajor::Represent {
            // Second phase: the same request, a new Id, the nonce, OriginalRequestId.
            let nonce = result_header(&result)
                .message
                .nonce
                .clone()
                .ok_or(ClientError::BadResponse("Represent without a Nonce".into()))?;
            check_answers(&request, &result, &self.service_uri)?;
            let first_id = request_id(&request).to_owned();
            let header = request_header_mut(&mut request);
            header.message.id = self.new_id();
            header.message.nonce = Some(nonce);
            header.original_request_id = Some(first_id);
            header
                .response_mechanism
                .retain(|m| m != &ResponseMechanism::Represent);
            let (document, signature_value) = self.prepare(&request, &sign)?;
            result = self
                .post_checked(document, signature_value.as_deref())
                .await?;
        }
        check_answers(&request, &result, &self.service_uri)?;
        Ok(result)
    }

    /// Sends a request with no key-binding signatures.
    pub async fn send(&self, request: &Request) -> Result<ResultMessage, ClientError> {
        self.send_signed(request, |doc, _| Ok(doc)).await
    }

    /// The document for `request`: serialized, key-binding signatures made, then the
    /// message signature (last: it covers them). The message SignatureValue if signed.
    fn prepare(
        &self,
        request: &Request,
        sign: &impl Fn(String, &str) -> Result<String, ClientError>,
    ) -> Result<(String, Option<Vec<u8>>), ClientError> {
        let id = request_id(request).to_owned();
        let body = soap::wrap(
            self.binding,
            &write_message(&Message::Request(request.clone())),
        );
        let document = sign(body, &id)?;
        let Some(signer) = &self.options.signer else {
            return Ok((document, None));
        };
        let signed = xkms_xmlsec::sign_message(&document, &id, signer)
            .map_err(|e| ClientError::Signing(e.to_string()))?;
        let value = xkms_xmlsec::verify_message_signature(&signed, &id)
            .map_err(|e| ClientError::Signing(e.to_string()))?
            .map(|v| v.signature_value);
        Ok((signed, value))
    }

    /// Posts and, per the options, verifies the result's signature and its
    /// RequestSignatureValue.
    async fn post_checked(
        &self,
        document: String,
        our_signature_value: Option<&[u8]>,
    ) -> Result<ResultMessage, ClientError> {
        let (text, status) = self.post_raw(document).await?;
        let result = decode_response(&text, status, &self.url)?;
        let header = result_header(&result);
        verify_result_signature(&text, &header.message.id, &self.options.result_trust)?;
        // A RequestSignatureValue must be ours whenever present. A refusal may come without
        // one (the service answers some errors before it verified our signature); it grants
        // nothing, so it is reported as the XKMS result it is rather than as a mismatch.
        let refusal = matches!(
            header.result_major,
            ResultMajor::Sender | ResultMajor::Receiver | ResultMajor::Represent
        );
        if self.options.request_signature_value
            && let Some(ours) = our_signature_value
            && match header.request_signature_value.as_deref() {
                Some(theirs) => theirs != ours,
                None => !refusal,
            }
        {
            return Err(ClientError::Mismatch(
                "RequestSignatureValue differs from our signature",
            ));
        }
        Ok(result)
    }

    /// Posts a prepared document and decodes the answer (faults become errors).
    pub async fn post(&self, document: String) -> Result<ResultMessage, ClientError> {
        let (text, status) = self.post_raw(document).await?;
        decode_response(&text, status, &self.url)
    }

    /// Posts a prepared document; the response text and HTTP status.
    pub async fn post_raw(&self, document: String) -> Result<(String, u16), ClientError> {
        check_service_url(&self.url)?;
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
        let response = req.send().await.map_err(|e| self.transport_error(&e))?;
        let status = response.status().as_u16();
        let text = response
            .text()
            .await
            .map_err(|e| self.transport_error(&e))?;
        Ok((text, status))
    }

    /// Says what went wrong on the wire in words: refused, unreachable, timed out.
    fn transport_error(&self, e: &reqwest::Error) -> ClientError {
        let url = self.url.clone();
        if e.is_timeout() {
            return ClientError::Timeout {
                url,
                seconds: self.timeout.map_or(0, |t| t.as_secs()),
            };
        }
        // The innermost cause names the problem ("Connection refused", a DNS failure).
        let mut cause: &dyn std::error::Error = e;
        while let Some(next) = cause.source() {
            cause = next;
        }
        if let Some(tls) = find_error::<rustls::Error>(e) {
            return ClientError::Tls {
                url,
                reason: tls_reason(tls),
            };
        }
        let reason = match find_io_error(e) {
            Some(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
                "connection refused".to_owned()
            }
            Some(io) if io.kind() == std::io::ErrorKind::TimedOut => {
                return ClientError::Timeout {
                    url,
                    seconds: self.timeout.map_or(0, |t| t.as_secs()),
                };
            }
            _ => cause.to_string(),
        };
        if e.is_connect() {
            ClientError::Connect { url, reason }
        } else {
            ClientError::Http { url, reason }
        }
    }
}

/// Checks a service URL before anything is sent: absolute, `http` or `https`, with a
/// host.
pub fn check_service_url(url: &str) -> Result<(), ClientError> {
    let invalid = |reason| ClientError::InvalidUrl {
        url: url.to_owned(),
        reason,
    };
    let parsed = match url::Url::parse(url) {
        Ok(parsed) => parsed,
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            return Err(invalid(
                "no scheme: write it in full, e.g. http://127.0.0.1:8080/xkms",
            ));
        }
        Err(url::ParseError::EmptyHost) => return Err(invalid("no host")),
        Err(url::ParseError::InvalidPort) => return Err(invalid("the port is not a number")),
        Err(_) => return Err(invalid("not a URL")),
    };
    match parsed.scheme() {
        "http" | "https" => {}
        _ => return Err(invalid("the scheme must be http or https")),
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid("no host"));
    }
    Ok(())
}

fn decode_response(text: &str, status: u16, url: &str) -> Result<ResultMessage, ClientError> {
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
        Err(_) => Err(ClientError::HttpStatus {
            url: url.to_owned(),
            status,
            hint: if status == 404 {
                " (wrong path? xkmsd answers POST /xkms)"
            } else {
                ""
            },
        }),
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
        return Err(ClientError::ServiceMismatch {
            addressed: service.to_owned(),
            answered: header.message.service.clone(),
        });
    }
    Ok(())
}

fn request_id(request: &Request) -> &str {
    &request.header().message.id
}

/// The ResultAbstract part of any result.
pub fn result_header(result: &ResultMessage) -> &ResultAbstract {
    result.header()
}

/// The RequestAbstract part of any request, mutably.
pub fn request_header_mut(request: &mut Request) -> &mut RequestAbstract {
    request.header_mut()
}
