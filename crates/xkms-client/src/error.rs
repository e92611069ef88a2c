//! What can go wrong on the client side, and how a transport failure is put in words
//! (the cause in an error's chain: an I/O error, a TLS refusal).

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

/// The first `std::io::Error` in an error's chain of causes.
pub(crate) fn find_io_error<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a std::io::Error> {
    find_error::<std::io::Error>(e)
}

/// The first error of type `E` in an error's chain of causes (also inside an
/// `std::io::Error`, where TLS streams put theirs).
pub(crate) fn find_error<'a, E: std::error::Error + 'static>(
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
pub(crate) fn tls_reason(e: &rustls::Error) -> String {
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
