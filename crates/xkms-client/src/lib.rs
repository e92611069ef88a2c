//! XKMS 2.0 client: builds requests, signs them (authentication and proof of
//! possession), sends them over SOAP/HTTP and checks that the result answers them.

pub mod compound;
pub mod key;
pub mod krss;
pub mod locate;
pub mod recover;
pub mod register;
pub mod reissue;
pub mod revoke;
pub mod validate;

/// PEM reading and writing (the workspace's one codec, from `xkms-ca`).
pub use xkms_ca::pem;

pub use key::ClientKey;
pub use krss::BindingRef;
pub use recover::{Progress, RecoverParams, Recovered};
pub use register::{RegisterParams, Registered};
pub use reissue::ReissueParams;
pub use revoke::{RevokeParams, RevokeWith};

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use xkms_proto::soap::{self, Binding, DocumentError, SoapVersion};
use xkms_proto::{
    Limits, Message, Request, RequestAbstract, ResponseMechanism, ResultAbstract, ResultMajor,
    ResultMessage, write_message,
};

/// What can go wrong on the client side.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid service URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: &'static str },
    #[error("cannot connect to {url}: {reason} (is the service running there?)")]
    Connect { url: String, reason: String },
    #[error("no answer from {url} within {seconds} s (timed out)")]
    Timeout { url: String, seconds: u64 },
    #[error("HTTP exchange with {url} failed: {reason}")]
    Http { url: String, reason: String },
    #[error("TLS with {url} failed: {reason}")]
    Tls { url: String, reason: String },
    #[error("the service at {url} answered HTTP {status} without an XKMS message{hint}")]
    HttpStatus {
        url: String,
        status: u16,
        hint: &'static str,
    },
    #[error("SOAP fault {code}: {reason}")]
    Fault { code: String, reason: String },
    #[error("the response is not a valid XKMS message: {0}")]
    BadResponse(String),
    #[error("the result does not answer our request ({0})")]
    Mismatch(&'static str),
    #[error(
        "the result comes from Service {answered}, not from {addressed} that we addressed \
         (a proxy in front, or the service's configured service_uri?)"
    )]
    ServiceMismatch { addressed: String, answered: String },
    #[error("signing: {0}")]
    Signing(String),
    #[error("key: {0}")]
    Key(&'static str),
    #[error("secret: {0}")]
    Secret(String),
    #[error("untrusted result: {0}")]
    Untrusted(String),
}

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

/// Who may sign the results a client accepts.
///
/// The service's CA certifies every registered user, so "issued by the CA" alone would
/// let any user sign results: the signer is pinned, or named.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ResultTrust {
    /// Results need not be signed.
    #[default]
    Unchecked,
    /// Every result must be signed with one of these certificates (DER): the service's
    /// signing certificate (`xkmsd admin signing-certificate`).
    Pinned(Vec<Vec<u8>>),
    /// Every result must be signed with a certificate, valid now, issued (signature
    /// verified) by one of `issuers` (DER) and whose subject is `subject` (RFC 4514,
    /// e.g. `CN=XKMS Service`; attribute order and spacing do not matter).
    IssuedTo {
        issuers: Vec<Vec<u8>>,
        subject: String,
    },
}

impl ResultTrust {
    /// Whether a result signed with `chain` (leaf first, as the signature's KeyInfo
    /// carries it) is acceptable.
    pub fn accepts(&self, chain: &[Vec<u8>]) -> bool {
        let Some(leaf) = chain.first() else {
            return false;
        };
        match self {
            ResultTrust::Unchecked => true,
            ResultTrust::Pinned(certs) => certs.contains(leaf),
            ResultTrust::IssuedTo { issuers, subject } => issued_to(chain, issuers, subject),
        }
    }
}

/// Checks a result document's signature against `trust`.
pub fn verify_result_signature(
    document: &str,
    result_id: &str,
    trust: &ResultTrust,
) -> Result<(), ClientError> {
    if *trust == ResultTrust::Unchecked {
        return Ok(());
    }
    let verified = xkms_xmlsec::verify_message_signature(document, result_id)
        .map_err(|e| ClientError::Untrusted(format!("result signature: {e}")))?
        .ok_or_else(|| ClientError::Untrusted("the result is not signed".into()))?;
    if !trust.accepts(&verified.signer_chain) {
        return Err(ClientError::Untrusted(
            "the result signer is not the service's signing certificate (--verify-with takes \
             that certificate, `xkmsd admin signing-certificate`; or the CA with --signer-name)"
                .into(),
        ));
    }
    Ok(())
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

/// The first `std::io::Error` in an error's chain of causes.
fn find_io_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a std::io::Error> {
    find_error::<std::io::Error>(e)
}

/// The first error of type `E` in an error's chain of causes (also inside an
/// `std::io::Error`, where TLS streams put theirs).
fn find_error<'a, E: std::error::Error + 'static>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a E> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = next {
        if let Some(found) = err.downcast_ref::<E>() {
            return Some(found);
        }
        next = match err.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    None
}

/// A TLS failure in words: an untrusted or mismatched server certificate says so.
fn tls_reason(e: &rustls::Error) -> String {
    use rustls::CertificateError;
    match e {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "the server's certificate is not issued by a CA this client trusts (pass the CA \
             with --ca-cert)"
                .into()
        }
        rustls::Error::InvalidCertificate(CertificateError::NotValidForName)
        | rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext { .. }) => {
            "the server's certificate is not for this host name or address".into()
        }
        rustls::Error::InvalidCertificate(CertificateError::Expired)
        | rustls::Error::InvalidCertificate(CertificateError::ExpiredContext { .. }) => {
            "the server's certificate has expired".into()
        }
        rustls::Error::InvalidCertificate(CertificateError::Revoked) => {
            "the server's certificate is revoked".into()
        }
        rustls::Error::InvalidMessage(_) => {
            "the server does not speak TLS there (an http:// service?)".into()
        }
        other => other.to_string(),
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

/// Whether the leaf of `chain` has the subject `subject` and a certification path to one
/// of `issuers` (through the chain's other certificates, at most
/// `xkms_ca::path::MAX_REQUEST_CERTIFICATES` of them) whose every signature verifies and
/// every certificate is valid now — the service's path validator, with its work budget.
fn issued_to(chain: &[Vec<u8>], issuers: &[Vec<u8>], subject: &str) -> bool {
    use x509_parser::prelude::{FromDer, X509Certificate};
    use xkms_ca::path::{Cert, MAX_REQUEST_CERTIFICATES, PathBudget, PathBuilder};
    let Some(leaf_der) = chain.first() else {
        return false;
    };
    let Ok((_, leaf)) = X509Certificate::from_der(leaf_der) else {
        return false;
    };
    let Some(actual) = leaf
        .subject()
        .iter_attributes()
        .map(|atv| {
            let oid = x509_parser::objects::oid2abbrev(
                atv.attr_type(),
                x509_parser::objects::oid_registry(),
            )
            .map(str::to_owned)
            .unwrap_or_else(|_| atv.attr_type().to_id_string());
            atv.as_str().ok().map(|value| rdn(&oid, value))
        })
        .collect::<Option<Vec<_>>>()
    else {
        return false;
    };
    if sorted(actual) != sorted(subject.split([',', ';']).filter_map(parse_rdn).collect()) {
        return false;
    }
    let Some(target) = Cert::parse(leaf_der) else {
        return false;
    };
    let anchors: Vec<Cert> = issuers.iter().filter_map(|d| Cert::parse(d)).collect();
    let intermediates: Vec<Cert> = chain[1..]
        .iter()
        .take(MAX_REQUEST_CERTIFICATES)
        .filter_map(|d| Cert::parse(d))
        .collect();
    let candidates: Vec<&Cert> = intermediates.iter().collect();
    let builder = PathBuilder {
        anchors: &anchors,
        candidates: &candidates,
    };
    let now = time::OffsetDateTime::now_utc();
    builder
        .build(&target, &PathBudget::default())
        .is_ok_and(|path| !path.unchecked && path.certs.iter().all(|c| c.covers(now)))
}

/// `TYPE=value` with the type upper-cased and both trimmed, for comparing names.
fn rdn(attribute: &str, value: &str) -> String {
    format!("{}={}", attribute.trim().to_ascii_uppercase(), value.trim())
}

fn parse_rdn(part: &str) -> Option<String> {
    let (attribute, value) = part.split_once('=')?;
    Some(rdn(attribute, value))
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}
