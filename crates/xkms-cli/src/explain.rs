//! One line saying what a result code means for the operation that got it, and its
//! likely causes. An XKMS result carries no reason text (the service keeps the detail
//! in its log, under the request Id), so the causes are those this service's result
//! code table (README) lists for each code, in the order a user would check them.

use xkms_proto::{ResultMajor, ResultMinor};

/// The operation a result answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Register,
    Reissue,
    Revoke,
    Recover,
    Locate,
    Validate,
    Compound,
    Status,
    Pending,
}

impl Operation {
    /// The operation of a result element (`RegisterResult` → Register); a generic
    /// `Result` answers a PendingRequest.
    pub fn of_result(result: &xkms_proto::ResultMessage) -> Operation {
        use xkms_proto::ResultMessage as R;
        match result {
            R::Locate(_) => Operation::Locate,
            R::Validate(_) => Operation::Validate,
            R::Register(_) => Operation::Register,
            R::Reissue(_) => Operation::Reissue,
            R::Recover(_) => Operation::Recover,
            R::Revoke(_) => Operation::Revoke,
            R::Compound(_) => Operation::Compound,
            R::Status(_) => Operation::Status,
            R::Result(_) => Operation::Pending,
        }
    }

    fn is_krss(self) -> bool {
        matches!(
            self,
            Operation::Register | Operation::Reissue | Operation::Revoke | Operation::Recover
        )
    }
}

/// What `major`/`minor` means for `op`; `None` for a plain Success.
pub fn explain(
    op: Operation,
    major: &ResultMajor,
    minor: Option<&ResultMinor>,
) -> Option<&'static str> {
    use Operation as O;
    use ResultMajor as M;
    use ResultMinor as N;
    Some(match (major, minor) {
        (M::Success, None) => return None,
        (M::Success, Some(N::NoMatch)) => match op {
            O::Locate => {
                "no key binding matches the query (KeyName is compared exactly, e-mail \
                 addresses ignoring case)"
            }
            _ => "the service knows no key binding that matches the query",
        },
        (M::Success, Some(N::Incomplete)) => {
            "the service could not include everything --respond-with asked for (it has no \
             PGP or SPKI keys)"
        }
        (M::Success, Some(_)) => return None,
        (M::Pending, _) if matches!(op, O::Status | O::Pending) => {
            "not finished yet (it may be waiting for an operator's approval): ask again later"
        }
        (M::Pending, _) => {
            "the service accepted the request for asynchronous processing (it may wait for \
             an operator's approval): poll with `xkms pending status`"
        }
        (M::Represent, _) => {
            "the service asks for the two-phase protocol; the client completes it by itself \
             with --two-phase"
        }
        (M::VersionMismatch, _) => "the service does not speak this version of XKMS",
        (M::Sender, Some(N::NoAuthentication)) => match op {
            O::Register => {
                "the authorization code did not authenticate the request: wrong or expired \
                 code, code used up (--max-uses), code issued for another identity, or a \
                 service that prepares secrets the old way (try --legacy-secret)"
            }
            O::Reissue => {
                "the authorization code did not authenticate the request: wrong, expired \
                 or used-up code, or a code for another identity than the binding's"
            }
            O::Revoke => {
                "wrong revocation pass phrase (or authorization code), or the binding was \
                 registered without a revocation phrase"
            }
            O::Recover => {
                "the recovery code did not authenticate the request: wrong or expired code, \
                 or already used (recovery codes work once; the operator issues them with \
                 `xkmsd admin authorize … --purpose recover`)"
            }
            _ => {
                "the service requires a signed request from a signer it trusts \
                 (--sign-with), or the request signature did not verify"
            }
        },
        (M::Sender, Some(N::Refused)) => match op {
            O::Register => {
                "the service refused the registration: a --key-name or --use-key-with \
                 name not covered by the authorization code's identity, a key that is not \
                 RSA or below the minimum size (2048 bits by default), a replayed request, \
                 or the operator rejected it"
            }
            O::Reissue => {
                "the service refused the reissue: the binding is revoked, the key is below \
                 the minimum size, or the request was a replay"
            }
            O::Revoke => {
                "the service refused the revocation: the binding is already revoked, or \
                 the request was a replay"
            }
            O::Recover => {
                "the service refused the recovery: the request was a replay, or the \
                 operator rejected it"
            }
            O::Pending | O::Status => "the operator rejected the request",
            _ => {
                "the service refused the query: too many certificates in it, or a replayed \
                 request"
            }
        },
        (M::Sender, Some(N::NoMatch)) if op.is_krss() => {
            "the service knows no key binding for the --cert or --key-name given (a \
             certificate of another CA, or a name never registered here)"
        }
        (M::Sender, Some(N::ProofOfPossessionRequired)) => {
            "the proof of possession is missing or does not verify: --key must be the \
             private key of the public key being registered"
        }
        (M::Sender, Some(N::Failure)) => {
            "the service did not accept the request as written: not schema-valid, a \
             certificate or name it cannot read, or a Service URI that is not its own"
        }
        (M::Sender, Some(N::MessageNotSupported)) => {
            "the service does not implement this kind of request"
        }
        (M::Sender, Some(N::UnknownResponseId)) => {
            "the service knows no such response Id: mistyped, expired, or --request-id \
             does not belong to it"
        }
        (M::Sender, Some(N::RepresentRequired)) => {
            "the service requires the two-phase protocol: repeat with --two-phase (or its \
             nonce expired: start again)"
        }
        (M::Sender, Some(N::TimeInstantOutOfRange)) => {
            "--at lies in the future or before the service's CA existed"
        }
        (M::Receiver, Some(N::Failure)) => {
            "the service failed internally (its log has the detail under this request's \
             Id): try again later or tell its operator"
        }
        (M::Receiver, Some(N::NotSynchronous)) if op.is_krss() => {
            "the service handles this operation asynchronously: repeat with --pending (then \
             `xkms pending status`) or with --wait"
        }
        (M::Receiver, Some(N::NotSynchronous)) => {
            "the service handles this request asynchronously: repeat with --pending"
        }
        (M::Receiver, Some(N::OptionalElementNotSupported)) => match op {
            O::Recover => {
                "the service holds no escrowed private key for this binding (only keys it \
                 generated, with register --generate-key, can be recovered)"
            }
            _ => "the service does not support an optional element or option of the request",
        },
        (M::Receiver, Some(N::TooManyResponses)) | (M::Sender, Some(N::TooManyResponses)) => {
            "more key bindings match than the service returns: narrow the query"
        }
        (M::Receiver, Some(N::TimeInstantNotSupported))
        | (M::Sender, Some(N::TimeInstantNotSupported)) => {
            "the service cannot evaluate the key binding at the instant given by --at"
        }
        (M::Sender, _) => "the service found a problem with the request",
        (M::Receiver, _) => "the service could not process the request",
        (M::Other(_), _) => "a result code outside XKMS 2.0: see the service's documentation",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_depend_on_the_operation() {
        let register = explain(
            Operation::Register,
            &ResultMajor::Sender,
            Some(&ResultMinor::NoAuthentication),
        )
        .unwrap();
        assert!(register.contains("authorization code"), "{register}");
        let revoke = explain(
            Operation::Revoke,
            &ResultMajor::Sender,
            Some(&ResultMinor::NoAuthentication),
        )
        .unwrap();
        assert!(revoke.contains("revocation pass phrase"), "{revoke}");
        assert_eq!(
            explain(Operation::Locate, &ResultMajor::Success, None),
            None
        );
    }

    #[test]
    fn every_non_success_code_is_explained() {
        let ops = [
            Operation::Register,
            Operation::Reissue,
            Operation::Revoke,
            Operation::Recover,
            Operation::Locate,
            Operation::Validate,
            Operation::Compound,
            Operation::Status,
            Operation::Pending,
        ];
        let mut majors: Vec<ResultMajor> = ResultMajor::KNOWN.to_vec();
        majors.retain(|m| *m != ResultMajor::Success);
        majors.push(ResultMajor::Other("urn:example:major".into()));
        let mut minors: Vec<Option<ResultMinor>> =
            ResultMinor::KNOWN.iter().cloned().map(Some).collect();
        minors.push(None);
        minors.push(Some(ResultMinor::Other("urn:example:minor".into())));
        for op in ops {
            for major in &majors {
                for minor in &minors {
                    let text = explain(op, major, minor.as_ref());
                    assert!(
                        text.is_some_and(|t| !t.is_empty() && !t.contains('\n')),
                        "{op:?} {major:?} {minor:?}"
                    );
                }
            }
        }
    }
}
