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
    /// A Reissue, Revoke or Recover names a key binding this service does not hold.
    #[error("no such key binding")]
    NoSuchBinding,
    /// An RSA key below the policy minimum.
    #[error("key of {bits} bits is below the minimum of {minimum}")]
    KeyTooSmall { bits: usize, minimum: usize },
    /// An RSA key above what the CA certifies.
    #[error("key of {bits} bits is above the maximum of {maximum}")]
    KeyTooLarge { bits: usize, maximum: usize },
    /// The service will not take more of this work now (a capacity limit).
    #[error("busy: {0}")]
    Busy(&'static str),
    /// The request is understood but policy does not allow it.
    #[error("refused by policy: {0}")]
    Refused(&'static str),
    /// An optional element or feature the service does not support.
    #[error("not supported: {0}")]
    OptionalElementNotSupported(&'static str),
    /// The request would be processed asynchronously but `#Pending` was not offered.
    #[error("request cannot be processed synchronously")]
    NotSynchronous,
    /// Policy requires the two-phase protocol but `#Represent` was not offered.
    #[error("two-phase protocol required")]
    RepresentRequired,
    /// A `TimeInstant` the service cannot evaluate at all.
    #[error("TimeInstant not supported: {0}")]
    TimeInstantNotSupported(&'static str),
    /// A `TimeInstant` outside the range the service can answer for.
    #[error("TimeInstant out of range: {0}")]
    TimeInstantOutOfRange(&'static str),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The CA failed (to issue, to sign a CRL, to draw a serial).
    #[error("certificate authority: {0}")]
    Ca(#[from] xkms_ca::CaError),
    /// A private key to return could not be encrypted for its client.
    #[error("private key encryption: {0}")]
    PrivateKeyEncryption(#[source] xkms_xmlsec::XmlSecError),
    /// Any other failure inside the service (a broken invariant, no randomness).
    #[error("internal: {0}")]
    Internal(&'static str),
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
            // The service is authoritative for its bindings: the one named does not exist,
            // and the sender named it.
            ServiceError::NoSuchBinding => (Sender, Some(ResultMinor::NoMatch)),
            // A key below the minimum is a policy refusal of what the sender asked for.
            ServiceError::KeyTooSmall { .. } | ServiceError::KeyTooLarge { .. } => {
                (Sender, Some(ResultMinor::Refused))
            }
            ServiceError::Refused(_) => (Sender, Some(ResultMinor::Refused)),
            // The receiver refuses for its own reasons (capacity), not the sender's.
            ServiceError::Busy(_) => (Receiver, Some(ResultMinor::Refused)),
            ServiceError::OptionalElementNotSupported(_) => {
                (Receiver, Some(ResultMinor::OptionalElementNotSupported))
            }
            ServiceError::NotSynchronous => (Receiver, Some(ResultMinor::NotSynchronous)),
            ServiceError::RepresentRequired => (Sender, Some(ResultMinor::RepresentRequired)),
            ServiceError::TimeInstantNotSupported(_) => {
                (Receiver, Some(ResultMinor::TimeInstantNotSupported))
            }
            // The client asked for an instant outside what the service can answer for.
            ServiceError::TimeInstantOutOfRange(_) => {
                (Sender, Some(ResultMinor::TimeInstantOutOfRange))
            }
            // A single-use value (authentication, revocation code) used a second time.
            ServiceError::Store(StoreError::Replayed) => (Sender, Some(ResultMinor::Refused)),
            ServiceError::Store(_)
            | ServiceError::Ca(_)
            | ServiceError::PrivateKeyEncryption(_)
            | ServiceError::Internal(_) => (Receiver, Some(ResultMinor::Failure)),
        }
    }

    /// Whether the failure is a fault of the service itself (logged at error level),
    /// as opposed to a refusal or an unsupported option.
    pub fn is_receiver_fault(&self) -> bool {
        self.result_code().0 == ResultMajor::Receiver
            && matches!(
                self,
                ServiceError::Store(_)
                    | ServiceError::Ca(_)
                    | ServiceError::PrivateKeyEncryption(_)
                    | ServiceError::Internal(_)
            )
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
            (ServiceError::NoSuchBinding, ResultMinor::NoMatch),
            (
                ServiceError::KeyTooSmall {
                    bits: 1024,
                    minimum: 2048,
                },
                ResultMinor::Refused,
            ),
            (
                ServiceError::Store(StoreError::Replayed),
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
        let err = ServiceError::Internal("disk full at /secret/path");
        assert_eq!(
            err.result_code(),
            (ResultMajor::Receiver, Some(ResultMinor::Failure))
        );
        assert!(err.is_receiver_fault());
    }
}
