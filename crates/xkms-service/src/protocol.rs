//! The protocol options of XKMS 2.0 Part I around every operation: message signatures
//! (payload authentication, RequestSignatureValue, signed results), request-Id replay
//! protection, the two-phase protocol (Represent/Nonce) and Compound requests.

use crate::error::ServiceError;
use crate::service::{
    RequestContext, XkmsService, operation_name, request_abstract, result_abstract_mut,
};
use crate::store::{BindingSelector, BindingStatus};
use crate::validate::{Cert, Verdict};
use aws_lc_rs::hmac;
use time::{Duration, OffsetDateTime};
use xkms_proto::soap::{self, Binding};
use xkms_proto::{
    CompoundRequest, CompoundResult, InnerRequest, InnerResult, Message, Request,
    ResponseMechanism, ResultMajor, ResultMessage, write_message,
};
use xkms_xmlsec::MessageSigner;

/// Two-phase policy of one operation (digest §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TwoPhase {
    /// Never answer Represent; the option is ignored.
    Never,
    /// Answer Represent when the client offers it.
    WhenOffered,
    /// Refuse requests that do not offer it (Sender/RepresentRequired).
    Required,
}

impl TwoPhase {
    pub fn parse(s: &str) -> Option<TwoPhase> {
        match s {
            "never" => Some(TwoPhase::Never),
            "when-offered" | "when offered" => Some(TwoPhase::WhenOffered),
            "required" => Some(TwoPhase::Required),
            _ => None,
        }
    }
}

/// Protocol policy: per-operation two-phase modes, nonce and replay windows, message
/// signatures.
#[derive(Debug, Clone)]
pub struct ProtocolPolicy {
    /// (operation name, mode) overrides; every other operation is `default_two_phase`.
    pub two_phase: Vec<(String, TwoPhase)>,
    pub default_two_phase: TwoPhase,
    /// How long a two-phase nonce is accepted.
    pub nonce_lifetime: Duration,
    /// How long a request Id is remembered (X-KRSS and Compound requests).
    pub replay_window: Duration,
    /// Operations whose requests must carry a message signature by one of
    /// `trusted_signers`.
    pub require_signed: Vec<String>,
    /// The signers (certificates, DER) whose signatures satisfy `require_signed`: pinned,
    /// not merely issued by a trusted CA — our CA certifies every registered user.
    pub trusted_signers: Vec<Vec<u8>>,
    /// Sign every result (otherwise only when the client asks for RequestSignatureValue).
    pub sign_results: bool,
    /// Inner requests one CompoundRequest may carry; more is refused before any inner work.
    pub max_compound_requests: usize,
}

impl Default for ProtocolPolicy {
    fn default() -> Self {
        ProtocolPolicy {
            two_phase: Vec::new(),
            default_two_phase: TwoPhase::WhenOffered,
            nonce_lifetime: Duration::minutes(5),
            replay_window: Duration::minutes(10),
            require_signed: Vec::new(),
            trusted_signers: Vec::new(),
            sign_results: false,
            max_compound_requests: 64,
        }
    }
}

impl ProtocolPolicy {
    pub fn two_phase_of(&self, operation: &str) -> TwoPhase {
        self.two_phase
            .iter()
            .find(|(op, _)| op.eq_ignore_ascii_case(operation))
            .map(|(_, mode)| *mode)
            .unwrap_or(self.default_two_phase)
    }
}

/// Length of the MAC in a nonce; the nonce is 8 bytes of time ‖ MAC.
const NONCE_MAC_LEN: usize = 16;

/// Where in the protocol a request is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// A request just received.
    Live,
    /// A deferred request run by a worker (no two-phase, replay or deferral again).
    Deferred,
    /// A member of a Compound request (the compound carries the protocol options).
    Inner,
}

impl XkmsService {
    /// Verifies the request's enveloped signature, if any, and that its signer is
    /// trusted; refuses unsigned requests where policy requires signatures. Where policy
    /// requires them, only a configured signer (`trusted_signers`) will do; elsewhere a
    /// signer our trust configuration vouches for may ask for RequestSignatureValue.
    /// The verified SignatureValue (for RequestSignatureValue) when signed.
    pub(crate) async fn check_message_signature(
        &self,
        ctx: &RequestContext<'_>,
        request: &Request,
    ) -> Result<Option<Vec<u8>>, ServiceError> {
        let header = request_abstract(request);
        let required = self
            .config
            .protocol
            .require_signed
            .iter()
            .any(|op| op.eq_ignore_ascii_case(operation_name(request)));
        if header.message.signature.is_none() {
            if required {
                return Err(ServiceError::NoAuthentication(
                    "this operation requires a signed request",
                ));
            }
            return Ok(None);
        }
        let verified = xkms_xmlsec::verify_message_signature_in(ctx.document, &header.message.id)
            .map_err(|e| {
                tracing::info!(error = %e, "message signature refused");
                ServiceError::NoAuthentication("the request signature does not verify")
            })?
            .ok_or(ServiceError::NoAuthentication(
                "the request signature is not where it belongs",
            ))?;
        let trusted = if required {
            self.signer_configured(&verified.signer_chain).await?
        } else {
            self.signer_trusted(&verified.signer_chain).await?
        };
        if !trusted {
            return Err(ServiceError::NoAuthentication(
                "the request signer is not trusted",
            ));
        }
        Ok(Some(verified.signature_value))
    }

    /// A configured signer: the leaf is one of `trusted_signers`, valid now and, if
    /// ours, not revoked.
    async fn signer_configured(&self, chain: &[Vec<u8>]) -> Result<bool, ServiceError> {
        let Some(leaf) = chain.first() else {
            return Ok(false);
        };
        if !self.config.protocol.trusted_signers.contains(leaf) {
            return Ok(false);
        }
        let Some(cert) = Cert::parse(leaf) else {
            return Ok(false);
        };
        let now = self.clock.now();
        if now < cert.info.not_before || now > cert.info.not_after {
            return Ok(false);
        }
        self.not_revoked_here(&cert).await
    }

    /// False if the certificate is one we issued for a binding since revoked.
    async fn not_revoked_here(&self, cert: &Cert) -> Result<bool, ServiceError> {
        if self.ca.verify_issued(&cert.der).is_err() {
            return Ok(true);
        }
        let Some(serial) = cert.info.serial else {
            return Ok(true);
        };
        let bindings = self
            .store
            .find_bindings(&BindingSelector::CertificateSerial(serial), 1)
            .await?;
        Ok(!bindings.iter().any(|b| b.status == BindingStatus::Revoked))
    }

    /// A signer is trusted when its certificate chains to the built-in CA or a configured
    /// anchor, is valid now, and (if ours) is not revoked.
    async fn signer_trusted(&self, chain: &[Vec<u8>]) -> Result<bool, ServiceError> {
        let Some((leaf, rest)) = chain.split_first() else {
            return Ok(false);
        };
        let Some(leaf) = Cert::parse(leaf) else {
            return Ok(false);
        };
        let now = self.clock.now();
        let trust = self.trust_context(rest);
        let evaluation = trust.evaluate(&leaf, now, now);
        let v = evaluation.verdicts;
        if evaluation.path.is_none()
            || v.issuer_trust != Verdict::Valid
            || v.signature != Verdict::Valid
            || v.validity_interval != Verdict::Valid
            || v.revocation_status == Verdict::Invalid
        {
            return Ok(false);
        }
        self.not_revoked_here(&leaf).await
    }

    /// Refuses an X-KRSS or Compound request whose Id was seen within the replay window
    /// (X-KISS requests change nothing and are not tracked).
    pub(crate) async fn check_replay(&self, request: &Request) -> Result<(), ServiceError> {
        let tracked = matches!(
            request,
            Request::Register(_)
                | Request::Reissue(_)
                | Request::Revoke(_)
                | Request::Recover(_)
                | Request::Compound(_)
        );
        if !tracked {
            return Ok(());
        }
        let now = self.clock.now();
        let id = &request_abstract(request).message.id;
        let first = self
            .store
            .remember_once(
                "request-id",
                id.as_bytes(),
                now + self.config.protocol.replay_window,
                now,
            )
            .await?;
        if first {
            Ok(())
        } else {
            Err(ServiceError::Refused("this request Id was already used"))
        }
    }

    /// The two-phase protocol. `Some(result)` when the service answers `Represent` now;
    /// `None` when the request proceeds (no option offered, or a valid second phase).
    pub(crate) async fn two_phase(
        &self,
        ctx: &RequestContext<'_>,
        request: &Request,
    ) -> Result<Option<ResultMessage>, ServiceError> {
        let header = request_abstract(request);
        let mode = self.config.protocol.two_phase_of(operation_name(request));
        let offered = header
            .response_mechanism
            .contains(&ResponseMechanism::Represent);
        if let Some(nonce) = &header.message.nonce {
            self.accept_nonce(ctx, request, nonce).await?;
            return Ok(None);
        }
        match (mode, offered) {
            (TwoPhase::Required, false) => Err(ServiceError::RepresentRequired),
            (TwoPhase::Never, _) | (_, false) => Ok(None),
            (_, true) => {
                let Some(key) = &self.nonce_key else {
                    return Ok(None);
                };
                let nonce = make_nonce(key, self.clock.now(), &header.message.id, ctx.peer);
                let mut result = self.empty_result(request, ResultMajor::Represent, None);
                result_abstract_mut(&mut result).message.nonce = Some(nonce);
                Ok(Some(result))
            }
        }
    }

    /// Checks a second-phase request: the nonce was made by a node sharing our secret
    /// for the request its OriginalRequestId names and this client address, is fresh,
    /// and is used once.
    async fn accept_nonce(
        &self,
        ctx: &RequestContext<'_>,
        request: &Request,
        nonce: &[u8],
    ) -> Result<(), ServiceError> {
        let header = request_abstract(request);
        let key = self.nonce_key.as_ref().ok_or(ServiceError::Refused(
            "the two-phase protocol is not enabled",
        ))?;
        let original =
            header
                .original_request_id
                .as_deref()
                .ok_or(ServiceError::InvalidRequest(
                    "a Nonce without OriginalRequestId",
                ))?;
        let now = self.clock.now();
        let issued = match verify_nonce(key, nonce, original, ctx.peer) {
            Some(issued) => issued,
            None => {
                return Err(ServiceError::NoAuthentication(
                    "the nonce was not issued for this request",
                ));
            }
        };
        let lifetime = self.config.protocol.nonce_lifetime;
        if now > issued + lifetime || issued > now + Duration::minutes(1) {
            return Err(ServiceError::RepresentRequired);
        }
        let first = self
            .store
            .remember_once("nonce", nonce, issued + lifetime, now)
            .await?;
        if first {
            Ok(())
        } else {
            Err(ServiceError::Refused("this nonce was already used"))
        }
    }

    /// Compound: every inner request processed and answered on its own, in order.
    pub(crate) async fn compound(
        &self,
        ctx: &RequestContext<'_>,
        req: &CompoundRequest,
    ) -> Result<CompoundResult, ServiceError> {
        if req.requests.is_empty() {
            return Err(ServiceError::InvalidRequest(
                "a CompoundRequest with no request",
            ));
        }
        let mut answers = Vec::with_capacity(req.requests.len());
        let mut refusals = Vec::new();
        for inner in &req.requests {
            let request = outer(inner.clone());
            let (result, refusal) =
                Box::pin(self.answer_unaudited(ctx, &request, Stage::Inner)).await;
            answers.push(result);
            refusals.extend(refusal);
        }
        // One audit transaction for every refused member, not one each.
        self.record_refusals(ctx, &refusals).await;
        let results = answers
            .into_iter()
            .map(inner_result)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(CompoundResult {
            result: self.result_for(&req.request, ResultMajor::Success, None),
            results,
        })
    }

    /// Serializes a result in the request's binding and signs it when configured, or
    /// when the client asked for RequestSignatureValue (whose only use is a signed
    /// result).
    pub fn render(
        &self,
        binding: Binding,
        request: Option<&Request>,
        result: &ResultMessage,
    ) -> String {
        let doc = soap::wrap(binding, &write_message(&Message::Result(result.clone())));
        let asked = request.is_some_and(|r| {
            request_abstract(r)
                .response_mechanism
                .contains(&ResponseMechanism::RequestSignatureValue)
        });
        let Some(signer) = &self.result_signer else {
            return doc;
        };
        if !(self.config.protocol.sign_results || asked) {
            return doc;
        }
        let id = crate::service::result_abstract(result).message.id.clone();
        match xkms_xmlsec::sign_message(&doc, &id, signer) {
            Ok(signed) => signed,
            Err(e) => {
                tracing::error!(error = %e, "result signing failed; answering unsigned");
                doc
            }
        }
    }
}

impl XkmsService {
    /// A certificate for the service's own result-signing key ("XKMS Service", key usage
    /// Signature), issued by the built-in CA with a reserved serial.
    pub async fn issue_signing_certificate(
        &self,
        modulus: &[u8],
        exponent: &[u8],
    ) -> Result<Vec<u8>, ServiceError> {
        let mut subject = xkms_ca::DistinguishedName::new();
        subject
            .push(xkms_ca::DnAttribute::CommonName, "XKMS Service")
            .map_err(|e| ServiceError::Ca(e.to_string()))?;
        let request = xkms_ca::IssueRequest {
            subject,
            public_key: xkms_ca::RsaPublicKey {
                modulus: modulus.to_vec(),
                exponent: exponent.to_vec(),
            },
            key_usage: vec![xkms_ca::XkmsKeyUsage::Signature],
            validity: self.config.policy.certificate_validity,
            ..xkms_ca::IssueRequest::default()
        };
        let issued = self.issue_certificate(&request, self.clock.now()).await?;
        Ok(issued.der)
    }
}

/// Compound counters (success, failure, pending) of a finished compound result.
pub(crate) fn compound_counters(result: &ResultMessage) -> Option<(u32, u32, u32)> {
    let ResultMessage::Compound(c) = result else {
        return None;
    };
    let mut success = 0;
    let mut failure = 0;
    for r in &c.results {
        if inner_header(r).result_major == ResultMajor::Success {
            success += 1;
        } else {
            failure += 1;
        }
    }
    Some((success, failure, 0))
}

fn inner_header(r: &InnerResult) -> &xkms_proto::ResultAbstract {
    r.header()
}

/// An inner request as a top-level request.
pub(crate) fn outer(inner: InnerRequest) -> Request {
    inner.into_request()
}

fn inner_result(result: ResultMessage) -> Result<InnerResult, ServiceError> {
    InnerResult::from_result(result).ok_or_else(|| {
        ServiceError::Internal("an inner request produced a non-inner result".into())
    })
}

/// nonce = issue time (8 bytes, big-endian Unix seconds) ‖ HMAC-SHA256(key, time ‖
/// request Id ‖ client address)[..16]: stateless, checkable by any node with the key.
fn make_nonce(
    key: &hmac::Key,
    now: OffsetDateTime,
    request_id: &str,
    peer: Option<std::net::IpAddr>,
) -> Vec<u8> {
    let time = now.unix_timestamp().to_be_bytes();
    let mut nonce = time.to_vec();
    nonce.extend_from_slice(&nonce_mac(key, &time, request_id, peer)[..NONCE_MAC_LEN]);
    nonce
}

/// The issue time of a nonce made for `request_id` and `peer`, if it is one.
fn verify_nonce(
    key: &hmac::Key,
    nonce: &[u8],
    request_id: &str,
    peer: Option<std::net::IpAddr>,
) -> Option<OffsetDateTime> {
    if nonce.len() != 8 + NONCE_MAC_LEN {
        return None;
    }
    let (time, mac) = nonce.split_at(8);
    let expected = nonce_mac(key, time, request_id, peer);
    if !xkms_xmlsec::kdf::constant_time_eq(mac, &expected[..NONCE_MAC_LEN]) {
        return None;
    }
    let seconds = i64::from_be_bytes(time.try_into().ok()?);
    OffsetDateTime::from_unix_timestamp(seconds).ok()
}

fn nonce_mac(
    key: &hmac::Key,
    time: &[u8],
    request_id: &str,
    peer: Option<std::net::IpAddr>,
) -> Vec<u8> {
    let mut ctx = hmac::Context::with_key(key);
    ctx.update(b"xkms two-phase nonce v1\0");
    ctx.update(time);
    ctx.update(request_id.as_bytes());
    ctx.update(&[0]);
    if let Some(peer) = peer {
        ctx.update(peer.to_string().as_bytes());
    }
    ctx.sign().as_ref().to_vec()
}

/// The HMAC key for nonces from 32 secret bytes shared by all nodes.
pub fn nonce_key(secret: &[u8]) -> hmac::Key {
    hmac::Key::new(hmac::HMAC_SHA256, secret)
}

/// A signer for results (re-exported for the server).
pub type ResultSigner = MessageSigner;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_bind_time_request_and_peer() {
        let key = nonce_key(&[7u8; 32]);
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let peer = Some("127.0.0.1".parse().unwrap());
        let nonce = make_nonce(&key, now, "Ione", peer);
        assert_eq!(verify_nonce(&key, &nonce, "Ione", peer), Some(now));
        assert_eq!(
            verify_nonce(&key, &nonce, "Itwo", peer),
            None,
            "another request"
        );
        assert_eq!(
            verify_nonce(&key, &nonce, "Ione", Some("10.0.0.1".parse().unwrap())),
            None,
            "another client"
        );
        assert_eq!(
            verify_nonce(&nonce_key(&[8u8; 32]), &nonce, "Ione", peer),
            None,
            "another key"
        );
        let mut tampered = nonce.clone();
        tampered[3] ^= 1;
        assert_eq!(
            verify_nonce(&key, &tampered, "Ione", peer),
            None,
            "a changed time"
        );
        assert_eq!(verify_nonce(&key, &nonce[..10], "Ione", peer), None);
    }

    #[test]
    fn policy_lookup() {
        let p = ProtocolPolicy {
            two_phase: vec![("Register".into(), TwoPhase::Required)],
            ..ProtocolPolicy::default()
        };
        assert_eq!(p.two_phase_of("register"), TwoPhase::Required);
        assert_eq!(p.two_phase_of("Locate"), TwoPhase::WhenOffered);
        assert_eq!(TwoPhase::parse("never"), Some(TwoPhase::Never));
        assert_eq!(TwoPhase::parse("sometimes"), None);
    }
}
