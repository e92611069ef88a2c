//! The protocol options of XKMS 2.0 Part I around every operation: message signatures
//! (payload authentication, RequestSignatureValue, signed results), request-Id replay
//! protection and the two-phase protocol (Represent/Nonce; the nonces are `crate::nonce`).
//! The pipeline (`crate::pipeline`) applies them in order; Compound requests are run there.

use crate::clock::Clock;
use crate::config::{ProtocolPolicy, TwoPhase};
use crate::context::RequestContext;
use crate::error::ServiceError;
use crate::nonce::{make_nonce, verify_nonce};
use crate::results::{request_abstract, result_abstract_mut};
use crate::store::{BindingSelector, BindingStatus, Store};
use crate::trust::{Cert, TrustContext, Verdict};
use time::Duration;
use xkms_ca::Ca;
use xkms_proto::soap::{self, Binding};
use xkms_proto::{Message, Request, ResponseMechanism, ResultMajor, ResultMessage, write_message};
use xkms_xmlsec::MessageSigner;

/// What the protocol options use: the store (replay and nonce records, our bindings),
/// the CA and the configured trust (who may sign requests), the clock, the protocol
/// policy, the two-phase nonce key and the result signer.
pub(crate) struct Protocol<'a> {
    pub store: &'a dyn Store,
    pub ca: &'a Ca,
    pub clock: &'a dyn Clock,
    pub policy: &'a ProtocolPolicy,
    /// The configured trust (built-in CA, anchors, intermediates, CRLs).
    pub trust: &'a TrustContext,
    /// Two-phase nonces; without it Represent is never used.
    pub nonce_key: Option<&'a aws_lc_rs::hmac::Key>,
    /// Signs results when policy or the client asks.
    pub result_signer: Option<&'a MessageSigner>,
    /// For result headers.
    pub service_uri: &'a str,
}

impl Protocol<'_> {
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
        let required = self.policy.require_signed.contains(&request.operation());
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
        if !self.policy.trusted_signers.contains(leaf) {
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
        let trust = self.trust.with_extra(rest);
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
                now + self.policy.replay_window,
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
        let mode = self.policy.two_phase_of(request.operation());
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
                let mut result = crate::results::empty_result(
                    self.service_uri,
                    request,
                    ResultMajor::Represent,
                    None,
                );
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
        let lifetime = self.policy.nonce_lifetime;
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

    /// Serializes a result in the request's binding and signs it when configured, or
    /// when the client asked for RequestSignatureValue (whose only use is a signed
    /// result).
    pub(crate) fn render(
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
        if !(self.policy.sign_results || asked) {
            return doc;
        }
        let id = crate::results::result_abstract(result).message.id.clone();
        match xkms_xmlsec::sign_message(&doc, &id, signer) {
            Ok(signed) => signed,
            Err(e) => {
                tracing::error!(error = %e, "result signing failed; answering unsigned");
                doc
            }
        }
    }
}

/// A signer for results (re-exported for the server).
pub type ResultSigner = MessageSigner;
