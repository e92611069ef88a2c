//! Service errors and their one mapping to the wire (`ResultMajor`/`ResultMinor`).
//!
//! Sender-side errors say what was wrong with the request in words that come from the
//! service, never from the request. Receiver-side errors carry no internals to the
//! client: the detail is logged with the request id.

use crate::store::StoreError;
use xkms_proto::{ResultMajor, ResultMinor};

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// `Service` attribute is not this service's URI.
    #[error("request addressed to another service")]
    WrongService,
    /// The request element is not one this service implements (yet).
    #[error("message not supported")]
    MessageNotSupported,
    /// A Pending/Status request named a ResponseId the service never issued.
    #[error("unknown response id")]
    UnknownResponseId,
    /// The request is well-formed XML but not a valid XKMS request.
    #[error("invalid request: {0}")]
    InvalidRequest(&'static str),
    /// Authentication missing, or no authorization verifies it.
    #[error("authentication failed: {0}")]
    NoAuthentication(&'static str),
    /// Proof of possession missing or not verifiable with the key being registered.
    #[error("proof of possession required: {0}")]
    ProofOfPossessionRequired(&'static str),
    /// An RSA key below the policy minimum.
    #[error("key of {bits} bits is below the minimum of {minimum}")]
    KeyTooSmall { bits: usize, minimum: usize },
    /// The request is understood but policy does not allow it.
    #[error("refused by policy: {0}")]
    Refused(&'static str),
    /// An optional element or feature the service does not support.
    #[error("not supported: {0}")]
    OptionalElementNotSupported(&'static str),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The CA failed to issue.
    #[error("certificate authority: {0}")]
    Ca(String),
    /// Any other failure inside the service.
    #[error("internal: {0}")]
    Internal(String),
}

impl ServiceError {
    /// The one place where errors become result codes. Exhaustive on purpose: a new
    /// variant does not compile until it has a wire mapping.
    pub fn result_code(&self) -> (ResultMajor, Option<ResultMinor>) {
        use ResultMajor::{Receiver, Sender};
        match self {
            ServiceError::WrongService => (Sender, Some(ResultMinor::Failure)),
            ServiceError::MessageNotSupported => (Sender, Some(ResultMinor::MessageNotSupported)),
            ServiceError::UnknownResponseId => (Sender, Some(ResultMinor::UnknownResponseId)),
            ServiceError::InvalidRequest(_) => (Sender, Some(ResultMinor::Failure)),
            ServiceError::NoAuthentication(_) => (Sender, Some(ResultMinor::NoAuthentication)),
            ServiceError::ProofOfPossessionRequired(_) => {
                (Sender, Some(ResultMinor::ProofOfPossessionRequired))
            }
            // A key below the minimum is a policy refusal of what the sender asked for.
            ServiceError::KeyTooSmall { .. } => (Sender, Some(ResultMinor::Refused)),
            ServiceError::Refused(_) => (Sender, Some(ResultMinor::Refused)),
            ServiceError::OptionalElementNotSupported(_) => {
                (Receiver, Some(ResultMinor::OptionalElementNotSupported))
            }
            ServiceError::Store(_) | ServiceError::Ca(_) | ServiceError::Internal(_) => {
                (Receiver, Some(ResultMinor::Failure))
            }
        }
    }

    /// Whether the failure lies with the service (logged at error level).
    pub fn is_receiver_fault(&self) -> bool {
        matches!(self.result_code().0, ResultMajor::Receiver)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sender_errors_map_to_sender_codes() {
        let cases = [
            (ServiceError::WrongService, ResultMinor::Failure),
            (
                ServiceError::MessageNotSupported,
                ResultMinor::MessageNotSupported,
            ),
            (
                ServiceError::NoAuthentication("x"),
                ResultMinor::NoAuthentication,
            ),
            (
                ServiceError::ProofOfPossessionRequired("x"),
                ResultMinor::ProofOfPossessionRequired,
            ),
            (
                ServiceError::KeyTooSmall {
                    bits: 1024,
                    minimum: 2048,
                },
                ResultMinor::Refused,
            ),
        ];
        for (err, minor) in cases {
            assert_eq!(
                err.result_code(),
                (ResultMajor::Sender, Some(minor)),
                "{err}"
            );
            assert!(!err.is_receiver_fault());
        }
    }

    #[test]
    fn receiver_errors_hide_details() {
        let err = ServiceError::Internal("disk full at /secret/path".into());
        assert_eq!(
            err.result_code(),
            (ResultMajor::Receiver, Some(ResultMinor::Failure))
        );
        assert!(err.is_receiver_fault());
    }
}
