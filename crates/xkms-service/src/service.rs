//! The service object: configuration, dispatch of every request kind, and the
//! construction of results (fresh Id, RequestId, Service, OpaqueClientData echo).

use crate::clock::Clock;
use crate::error::ServiceError;
use crate::ids::IdSource;
use crate::protocol::Stage;
use crate::store::{AuditEvent, Store};
use std::sync::Arc;
use time::Duration;
use xkms_ca::Ca;
use xkms_proto::{
    CompoundResult, LocateResult, MessageAbstract, RecoverResult, RegisterResult, ReissueResult,
    Request, RequestAbstract, ResponseMechanism, ResultAbstract, ResultMajor, ResultMessage,
    ResultMinor, RevokeResult, StatusResult, ValidateResult,
};

/// How an operation is processed (digest §6.1–6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Processing {
    /// Answered at once.
    Synchronous,
    /// Answered `Pending` (when offered) and completed by a worker.
    Asynchronous,
    /// Answered `Pending` (when offered); an operator approves before a worker runs it.
    Approval,
}

impl Processing {
    pub fn parse(s: &str) -> Option<Processing> {
        match s {
            "sync" | "synchronous" => Some(Processing::Synchronous),
            "async" | "asynchronous" => Some(Processing::Asynchronous),
            "approval" => Some(Processing::Approval),
            _ => None,
        }
    }
}

/// Policy knobs of the registration authority.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Validity of issued certificates (clipped to the CA's).
    pub certificate_validity: Duration,
    /// Default lifetime of an authorization code.
    pub authorization_lifetime: Duration,
    /// Minimum RSA modulus size accepted for registration.
    pub min_rsa_bits: usize,
    /// Processing of each X-KRSS operation.
    pub register: Processing,
    pub reissue: Processing,
    pub revoke: Processing,
    pub recover: Processing,
    /// Size of service-generated RSA keys (2048, 3072 or 4096).
    pub generated_key_bits: usize,
    /// Cipher for returned private keys (tripledes-cbc is the interop convention).
    pub private_key_cipher: String,
    /// Whether a recovery revokes the binding (its key was exposed to the operator).
    pub revoke_on_recover: bool,
    /// Uses of a recover authorization code (single-use by default).
    pub recover_authorization_uses: u32,
    /// Brute-force limits on authentication.
    pub lockout: crate::lockout::LockoutPolicy,
    /// Unfinished asynchronous jobs one identity may have.
    pub max_pending_per_identity: u64,
    /// Unfinished asynchronous jobs in total.
    pub max_pending_total: u64,
    /// Lifetime of a CRL (nextUpdate − thisUpdate).
    pub crl_lifetime: Duration,
    /// How long a final asynchronous result is kept for its client to fetch (one that
    /// carries a private key is deleted as soon as it is fetched).
    pub result_retention: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            certificate_validity: Duration::days(365),
            authorization_lifetime: Duration::days(30),
            min_rsa_bits: xkms_ca::MIN_RSA_BITS,
            register: Processing::Synchronous,
            reissue: Processing::Synchronous,
            revoke: Processing::Synchronous,
            recover: Processing::Asynchronous,
            generated_key_bits: 2048,
            private_key_cipher: xkms_proto::alg::TRIPLEDES_CBC.to_owned(),
            revoke_on_recover: false,
            recover_authorization_uses: 1,
            lockout: crate::lockout::LockoutPolicy::default(),
            max_pending_per_identity: 16,
            max_pending_total: 10_000,
            crl_lifetime: Duration::days(1),
            result_retention: Duration::hours(24),
        }
    }
}

/// Static configuration of a service instance.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// The URI requests must carry in `Service` (e.g. `http://127.0.0.1:8080/xkms`).
    pub service_uri: String,
    pub policy: Policy,
    /// Trust anchors, intermediates and CRLs for Validate besides the built-in CA.
    pub trust: crate::validate::TrustConfig,
    /// Two-phase, replay and message-signature policy.
    pub protocol: crate::protocol::ProtocolPolicy,
}

/// The per-request context the transport hands in.
#[derive(Debug)]
pub struct RequestContext<'a> {
    /// The whole received document, parsed and indexed once: signatures are verified
    /// over it.
    pub document: &'a xkms_xmlsec::ReceivedDocument<'a>,
    /// The client's address, when the transport knows it (two-phase nonces and the
    /// brute-force limits use it).
    pub peer: Option<std::net::IpAddr>,
    /// What this request's authentications failed on (`crate::lockout`).
    pub(crate) attempts: crate::lockout::AuthAttempts,
}

impl<'a> RequestContext<'a> {
    pub fn new(
        document: &'a xkms_xmlsec::ReceivedDocument<'a>,
        peer: Option<std::net::IpAddr>,
    ) -> RequestContext<'a> {
        RequestContext {
            document,
            peer,
            attempts: Default::default(),
        }
    }
}

/// The XKMS registration authority.
pub struct XkmsService {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) ca: Arc<Ca>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) ids: IdSource,
    pub(crate) config: ServiceConfig,
    /// Seals secrets at rest: authorization secrets, escrowed keys, finished results.
    pub(crate) master_key: crate::escrow::MasterKey,
    /// Key pool; without it service-generated keys and Recover are off.
    pub(crate) escrow: Option<Escrow>,
    /// Key for two-phase nonces (shared by all nodes); without it Represent is never used.
    pub(crate) nonce_key: Option<aws_lc_rs::hmac::Key>,
    /// Signs results when policy or the client asks.
    pub(crate) result_signer: Option<xkms_xmlsec::MessageSigner>,
    /// The configured trust (built-in CA, anchors, intermediates, CRLs), parsed once.
    pub(crate) trust_base: std::sync::OnceLock<crate::trust::TrustContext>,
    /// The last CRL this node signed (`crate::revoke::CachedCrl`); the lock makes
    /// concurrent requests for a stale CRL wait for one signature.
    pub(crate) crl_cache: tokio::sync::Mutex<Option<crate::revoke::CachedCrl>>,
}

/// What service-generated keys need besides the master key: the key pool.
#[derive(Debug)]
pub struct Escrow {
    pub key_pool: crate::keypool::KeyPool,
}

impl XkmsService {
    pub fn new(
        store: Arc<dyn Store>,
        ca: Arc<Ca>,
        clock: Arc<dyn Clock>,
        config: ServiceConfig,
        master_key: crate::escrow::MasterKey,
    ) -> Self {
        XkmsService {
            store,
            ca,
            clock,
            ids: IdSource,
            config,
            master_key,
            escrow: None,
            nonce_key: None,
            result_signer: None,
            trust_base: std::sync::OnceLock::new(),
            crl_cache: tokio::sync::Mutex::new(None),
        }
    }

    /// The configured trust plus `extra` certificates a request brought along.
    pub(crate) fn trust_context(&self, extra: &[Vec<u8>]) -> crate::trust::TrustContext {
        self.trust_base
            .get_or_init(|| {
                crate::trust::TrustContext::new(self.ca.certificate_der(), &self.config.trust, &[])
            })
            .with_extra(extra)
    }

    /// Enables the two-phase protocol with a secret shared by every node.
    pub fn with_nonce_secret(mut self, secret: &[u8]) -> Self {
        self.nonce_key = Some(crate::protocol::nonce_key(secret));
        self
    }

    /// Signs results with `signer` (its certificate chain is in the signature's KeyInfo).
    pub fn with_result_signer(mut self, signer: xkms_xmlsec::MessageSigner) -> Self {
        self.result_signer = Some(signer);
        self
    }

    /// Enables service-generated keys (with escrow) and Recover.
    pub fn with_escrow(mut self, escrow: Escrow) -> Self {
        self.escrow = Some(escrow);
        self
    }

    /// The key pool, if service-generated keys are enabled.
    pub fn key_pool(&self) -> Option<&crate::keypool::KeyPool> {
        self.escrow.as_ref().map(|e| &e.key_pool)
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
        self.answer(ctx, request, Stage::Live).await
    }

    /// Processes a request at a protocol stage (see [`Stage`]); a refusal is audited.
    pub(crate) async fn answer(
        &self,
        ctx: &RequestContext<'_>,
        request: &Request,
        stage: Stage,
    ) -> ResultMessage {
        let (result, refusal) = self.answer_unaudited(ctx, request, stage).await;
        let events: Vec<AuditEvent> = refusal.into_iter().collect();
        self.record_refusals(ctx, &events).await;
        result
    }

    /// Like [`answer`](Self::answer), handing back the audit event of a refusal for the
    /// caller to write (a compound writes its members' in one transaction).
    pub(crate) async fn answer_unaudited(
        &self,
        ctx: &RequestContext<'_>,
        request: &Request,
        stage: Stage,
    ) -> (ResultMessage, Option<AuditEvent>) {
        let mut refusal = None;
        let abstract_ = request_abstract(request);
        let mut signature_value = None;
        let oversized_compound = matches!(
            request,
            Request::Compound(c) if c.requests.len() > self.config.protocol.max_compound_requests
        );
        let outcome = if !crate::ids::acceptable_request_id(&abstract_.message.id) {
            Err(ServiceError::InvalidRequest(
                "the request Id must be an NCName of at most 256 characters",
            ))
        } else if abstract_.message.service != self.config.service_uri {
            Err(ServiceError::WrongService)
        } else if oversized_compound {
            Err(ServiceError::InvalidRequest(
                "the compound request carries more inner requests than this service accepts",
            ))
        } else {
            match self.check_message_signature(ctx, request).await {
                Err(e) => Err(e),
                Ok(value) => {
                    signature_value = value;
                    self.answer_checked(ctx, request, stage).await
                }
            }
        };
        let mut result = match outcome {
            Ok(result) => result,
            Err(err) => {
                log_error(&abstract_.message.id, &err);
                refusal = self.refusal_event(ctx, request, &err);
                self.error_result(request, &err)
            }
        };
        self.tidy_ids(&mut result);
        // RequestSignatureValue only for a signed, verified request that asked for it.
        if abstract_
            .response_mechanism
            .contains(&ResponseMechanism::RequestSignatureValue)
        {
            result_abstract_mut(&mut result).request_signature_value = signature_value;
        }
        (result, refusal)
    }

    /// Two-phase, request-Id replay and deferral (live requests only), then the operation.
    async fn answer_checked(
        &self,
        ctx: &RequestContext<'_>,
        request: &Request,
        stage: Stage,
    ) -> Result<ResultMessage, ServiceError> {
        match stage {
            Stage::Live => {
                if let Some(represent) = self.two_phase(ctx, request).await? {
                    return Ok(represent);
                }
                self.check_replay(request).await?;
                if let Some(mode) = self.deferred_mode(request) {
                    return self.defer(ctx, request, mode).await;
                }
            }
            // A compound's members are checked by the operations exactly like top-level
            // requests: their authentication values are single-use whatever the stage
            // (the compound's own Id is checked above). Their Ids are not remembered one
            // by one: that would cost a write per member for nothing the accepted values
            // do not already refuse.
            Stage::Inner | Stage::Deferred => {}
        }
        self.dispatch(ctx, request).await
    }

    async fn dispatch(
        &self,
        ctx: &RequestContext<'_>,
        request: &Request,
    ) -> Result<ResultMessage, ServiceError> {
        match request {
            Request::Register(r) => Ok(ResultMessage::Register(self.register(ctx, r).await?)),
            Request::Locate(r) => Ok(ResultMessage::Locate(self.locate(ctx, r).await?)),
            Request::Validate(r) => Ok(ResultMessage::Validate(self.validate(ctx, r).await?)),
            Request::Reissue(r) => Ok(ResultMessage::Reissue(self.reissue(ctx, r).await?)),
            Request::Revoke(r) => Ok(ResultMessage::Revoke(self.revoke(ctx, r).await?)),
            Request::Recover(r) => Ok(ResultMessage::Recover(self.recover(ctx, r).await?)),
            Request::Status(r) => Ok(ResultMessage::Status(self.status(ctx, r).await?)),
            Request::Pending(r) => self.pending(ctx, r).await,
            Request::Compound(r) => Ok(ResultMessage::Compound(self.compound(ctx, r).await?)),
        }
    }

    /// Keeps the result schema-valid whatever Id the request carried: `RequestId` (an
    /// `xs:NCName`) is left out when the request's Id is not one (`Id="?"`, a DN) or is
    /// longer than the service accepts (it is not echoed back either), and
    /// every key-binding `Id` (an `xs:ID`) is unique in the document — a binding returned
    /// twice (two inner results of a compound) gets a fresh Id for each later occurrence.
    fn tidy_ids(&self, result: &mut ResultMessage) {
        let header = result.header_mut();
        if header
            .request_id
            .as_deref()
            .is_some_and(|id| !crate::ids::acceptable_request_id(id))
        {
            header.request_id = None;
        }
        let mut seen = std::collections::HashSet::new();
        seen.insert(result.header().message.id.clone());
        if let ResultMessage::Compound(compound) = &*result {
            for inner in &compound.results {
                seen.insert(inner.header().message.id.clone());
            }
        }
        for core in result.key_bindings_mut() {
            if let Some(id) = &core.id
                && !seen.insert(id.clone())
            {
                let fresh = self.ids.message_id();
                seen.insert(fresh.clone());
                core.id = Some(fresh);
            }
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
        self.empty_result(request, major, minor)
    }

    /// The result element matching `request`'s type with no content but the header.
    pub(crate) fn empty_result(
        &self,
        request: &Request,
        major: ResultMajor,
        minor: Option<ResultMinor>,
    ) -> ResultMessage {
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
            request_id: request_id
                .filter(|id| crate::ids::acceptable_request_id(id))
                .map(str::to_owned),
        })
    }
}

/// The RequestAbstract part of any request.
pub fn request_abstract(request: &Request) -> &RequestAbstract {
    request.header()
}

fn log_error(request_id: &str, err: &ServiceError) {
    // An unacceptable Id is not logged (it may be half a megabyte).
    let request_id = if crate::ids::acceptable_request_id(request_id) {
        request_id
    } else {
        "-"
    };
    if err.is_receiver_fault() {
        tracing::error!(request_id, error = %err, "request failed in the service");
    } else {
        tracing::info!(request_id, error = %err, "request refused");
    }
}

/// The ResultAbstract part of any result.
pub fn result_abstract(result: &ResultMessage) -> &ResultAbstract {
    result.header()
}

/// The ResultAbstract part of any result, mutably.
pub fn result_abstract_mut(result: &mut ResultMessage) -> &mut ResultAbstract {
    result.header_mut()
}

/// The element name of a request (for logs and operators).
pub fn operation_name(request: &Request) -> &'static str {
    request.operation().as_str()
}
