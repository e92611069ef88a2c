//! The service object: the public façade the server holds. It owns the handles every
//! part of the registration authority needs (store, CA, clock, keys, configuration) and
//! the per-node caches, builds the narrow context each part of the registration
//! authority runs in (the request pipeline, asynchronous processing, the operations,
//! the administrative functions: each in its own module, none naming this one), and
//! offers the public façade the server calls.

use crate::admin::{Authorizer, NewAuthorization};
use crate::clock::Clock;
use crate::config::ServiceConfig;
use crate::context::RequestContext;
use crate::error::ServiceError;
use crate::guard::Guard;
use crate::ids::IdSource;
use crate::issuance::Issuer;
use crate::locate::Locator;
use crate::operator::{
    IssuedServerCertificate, Operator, OperatorReason, ServerCertificateRequest,
};
use crate::pending::Pending;
use crate::pipeline::Pipeline;
use crate::protocol::Protocol;
use crate::revoke::Revoker;
use crate::store::Store;
use crate::store::{PendingRecord, PendingState};
use crate::validate::Validator;
use std::sync::Arc;
use xkms_ca::Ca;
use xkms_proto::{Request, ResultMessage};

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
    /// The last CRL this node signed (`crate::crl`).
    pub(crate) crl_cache: crate::crl::CrlCache,
    /// Verified chains of our certificates for Validate (dropped on revocation).
    pub(crate) validate_cache: crate::validate_cache::ValidateCache,
    /// Serials reserved ahead of issuance.
    pub(crate) serials: crate::issuance::SerialPool,
}

pub use crate::escrow::Escrow;

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
            crl_cache: crate::crl::CrlCache::default(),
            validate_cache: Default::default(),
            serials: Default::default(),
        }
    }

    /// The configured trust (built-in CA, anchors, intermediates, CRLs), parsed on first use.
    pub(crate) fn trust_base(&self) -> &crate::trust::TrustContext {
        self.trust_base.get_or_init(|| {
            crate::trust::TrustContext::new(self.ca.certificate_der(), &self.config.trust, &[])
        })
    }

    /// Enables the two-phase protocol with a secret shared by every node.
    pub fn with_nonce_secret(mut self, secret: &[u8]) -> Self {
        self.nonce_key = Some(crate::nonce::nonce_key(secret));
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

    /// The current CRL (DER) of the built-in CA (`crate::crl`: signed again only when a
    /// revocation happened or half its lifetime has passed).
    pub async fn crl(&self) -> Result<Vec<u8>, ServiceError> {
        self.crl_source().current().await
    }

    // The contexts the operations run in: each sees only the handles it uses.

    /// Locate's handles.
    pub(crate) fn locator(&self) -> Locator<'_> {
        Locator {
            store: self.store.as_ref(),
            ca: &self.ca,
            clock: self.clock.as_ref(),
            service_uri: &self.config.service_uri,
            crl: self.crl_source(),
        }
    }

    /// Validate's handles.
    pub(crate) fn validator(&self) -> Validator<'_> {
        Validator {
            store: self.store.as_ref(),
            ca: &self.ca,
            clock: self.clock.as_ref(),
            ids: self.ids,
            trust: self.trust_base(),
            service_uri: &self.config.service_uri,
            crl: self.crl_source(),
            cache: &self.validate_cache,
        }
    }

    /// The authentication checks behind the brute-force limits.
    pub(crate) fn guard(&self) -> Guard<'_> {
        Guard {
            store: self.store.as_ref(),
            clock: self.clock.as_ref(),
            master_key: &self.master_key,
            lockout: &self.config.policy.lockout,
        }
    }

    /// Revoke's handles.
    pub(crate) fn revoker(&self) -> Revoker<'_> {
        Revoker {
            store: self.store.as_ref(),
            ca: &self.ca,
            clock: self.clock.as_ref(),
            guard: self.guard(),
            replay_window: self.config.protocol.replay_window,
            service_uri: &self.config.service_uri,
            validate_cache: &self.validate_cache,
        }
    }

    /// Register's, Reissue's and Recover's handles.
    pub(crate) fn issuer(&self) -> Issuer<'_> {
        Issuer {
            store: self.store.as_ref(),
            ca: &self.ca,
            clock: self.clock.as_ref(),
            ids: self.ids,
            master_key: &self.master_key,
            escrow: self.escrow.as_ref(),
            policy: &self.config.policy,
            guard: self.guard(),
            service_uri: &self.config.service_uri,
            validate_cache: &self.validate_cache,
            serials: &self.serials,
        }
    }

    /// What creating an authorization code uses.
    pub(crate) fn authorizer(&self) -> Authorizer<'_> {
        Authorizer {
            store: self.store.as_ref(),
            clock: self.clock.as_ref(),
            ids: self.ids,
            master_key: &self.master_key,
            policy: &self.config.policy,
        }
    }

    /// What the operator's actions use.
    pub(crate) fn operator(&self) -> Operator<'_> {
        Operator {
            store: self.store.as_ref(),
            ca: &self.ca,
            clock: self.clock.as_ref(),
            ids: self.ids,
            policy: &self.config.policy,
            validate_cache: &self.validate_cache,
            serials: &self.serials,
        }
    }

    /// What the protocol options (message signatures, replay, two-phase, signed
    /// results) use.
    pub(crate) fn protocol(&self) -> Protocol<'_> {
        Protocol {
            store: self.store.as_ref(),
            ca: &self.ca,
            clock: self.clock.as_ref(),
            policy: &self.config.protocol,
            trust: self.trust_base(),
            nonce_key: self.nonce_key.as_ref(),
            result_signer: self.result_signer.as_ref(),
            service_uri: &self.config.service_uri,
        }
    }

    /// What asynchronous processing (deferral, jobs, Status and Pending) uses.
    pub(crate) fn pending(&self) -> Pending<'_> {
        Pending {
            store: self.store.as_ref(),
            ca: &self.ca,
            clock: self.clock.as_ref(),
            ids: self.ids,
            master_key: &self.master_key,
            policy: &self.config.policy,
            guard: self.guard(),
            service_uri: &self.config.service_uri,
        }
    }

    /// The request pipeline with the context of every operation it dispatches to.
    pub(crate) fn pipeline(&self) -> Pipeline<'_> {
        Pipeline {
            service_uri: &self.config.service_uri,
            max_compound_requests: self.config.protocol.max_compound_requests,
            ids: self.ids,
            clock: self.clock.as_ref(),
            guard: self.guard(),
            protocol: self.protocol(),
            pending: self.pending(),
            locator: self.locator(),
            validator: self.validator(),
            issuer: self.issuer(),
            revoker: self.revoker(),
        }
    }

    /// The CRL with what signs it, for an operation that may return it.
    pub(crate) fn crl_source(&self) -> crate::crl::CrlSource<'_> {
        crate::crl::CrlSource {
            cache: &self.crl_cache,
            store: self.store.as_ref(),
            ca: &self.ca,
            clock: self.clock.as_ref(),
            lifetime: self.config.policy.crl_lifetime,
        }
    }

    /// Processes one request and always produces a result (errors become results).
    pub async fn process(&self, ctx: &RequestContext<'_>, request: &Request) -> ResultMessage {
        crate::pipeline::process(&self.pipeline(), ctx, request).await
    }

    /// Runs one queued job, if any (workers call this in a loop). Whether one ran.
    pub async fn run_pending_job(&self) -> Result<bool, ServiceError> {
        crate::pending::run_pending_job(&self.pending(), &self.pipeline()).await
    }

    /// Deletes final results older than the retention period (workers call this now
    /// and then); how many.
    pub async fn purge_finished_results(&self) -> Result<u64, ServiceError> {
        crate::pending::purge_finished_results(&self.pending()).await
    }

    /// Operator: a request awaiting approval is queued for a worker.
    pub async fn approve_pending(&self, response_id: &str) -> Result<(), ServiceError> {
        crate::pending::approve_pending(&self.pending(), response_id).await
    }

    /// Operator: a request awaiting approval is refused (its final result is
    /// `Sender/Refused`).
    pub async fn reject_pending(&self, response_id: &str) -> Result<(), ServiceError> {
        crate::pending::reject_pending(&self.pending(), response_id).await
    }

    /// Operator: pending requests, oldest first.
    pub async fn list_pending(
        &self,
        state: Option<PendingState>,
        limit: usize,
    ) -> Result<Vec<PendingRecord>, ServiceError> {
        crate::pending::list_pending(&self.pending(), state, limit).await
    }

    /// The result element matching `request`'s type, carrying `err`'s codes.
    pub fn error_result(&self, request: &Request, err: &ServiceError) -> ResultMessage {
        crate::results::error_result(&self.config.service_uri, request, err)
    }

    /// A generic `<Result>` for a request that could not be decoded. `request_id` is the
    /// Id of the offending element when it could be read.
    pub fn undecodable_result(
        &self,
        request_id: Option<&str>,
        err: &ServiceError,
    ) -> ResultMessage {
        crate::results::undecodable_result(&self.config.service_uri, request_id, err)
    }

    /// A certificate this service issued, by serial (hex, any case): what
    /// `RetrievalMethod` URLs resolve to.
    pub async fn certificate_by_serial(
        &self,
        serial: &str,
    ) -> Result<Option<Vec<u8>>, ServiceError> {
        crate::binding::certificate_by_serial(self.store.as_ref(), serial).await
    }

    /// Seals what earlier versions stored in the clear (`crate::secrets`). Run at every
    /// start; safe on several nodes at once.
    pub async fn seal_legacy_records(&self) -> Result<crate::secrets::SealReport, ServiceError> {
        crate::secrets::seal_legacy_records(self.store.as_ref(), &self.master_key).await
    }

    /// Chained audit events after `after` (a `seq`), oldest first, at most `limit`.
    pub async fn audit_page(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<crate::store::ChainedAuditEvent>, ServiceError> {
        crate::audit::audit_page(self.store.as_ref(), after, limit).await
    }

    /// Walks the whole audit chain (`crate::audit::verify_audit_chain`).
    pub async fn verify_audit_chain(&self) -> Result<crate::audit::ChainVerdict, ServiceError> {
        crate::audit::verify_audit_chain(self.store.as_ref()).await
    }

    /// Operator: the subjects locked by the brute-force limits now (`crate::guard`).
    pub async fn locked_subjects(&self) -> Result<Vec<crate::store::FailureRecord>, ServiceError> {
        self.guard().locked_subjects().await
    }

    /// Operator: lifts a lock (`id:…`, `binding:…`, `ip:…`), audited. Whether there was one.
    pub async fn unlock(&self, subject: &str) -> Result<bool, ServiceError> {
        self.guard().unlock(subject).await
    }

    /// Operator: creates an authorization code for `request.identity` (`crate::admin`).
    /// Only keys derived from `secret` are stored, never the secret itself.
    pub async fn create_authorization(
        &self,
        request: &NewAuthorization,
        secret: &xkms_xmlsec::kdf::SharedSecret,
    ) -> Result<crate::store::Authorization, ServiceError> {
        crate::admin::create_authorization(&self.authorizer(), request, secret).await
    }

    /// Operator: revokes a binding for `reason` (`crate::operator`), audited.
    /// `NoSuchBinding` for an unknown id, `Refused` for an already revoked binding.
    pub async fn revoke_binding_as_operator(
        &self,
        binding_id: &str,
        reason: OperatorReason,
    ) -> Result<crate::store::KeyBindingRecord, ServiceError> {
        crate::operator::revoke_binding_as_operator(&self.operator(), binding_id, reason).await
    }

    /// Operator: revokes an authorization code, audited.
    pub async fn revoke_authorization(
        &self,
        id: &str,
    ) -> Result<crate::store::Authorization, ServiceError> {
        crate::operator::revoke_authorization(&self.operator(), id).await
    }

    /// Operator: certifies the service's own TLS key (`crate::operator`).
    pub async fn issue_server_certificate(
        &self,
        request: &ServerCertificateRequest,
    ) -> Result<IssuedServerCertificate, ServiceError> {
        crate::operator::issue_server_certificate(&self.operator(), request).await
    }

    /// Serializes a result in the request's binding and signs it when configured, or
    /// when the client asked for RequestSignatureValue (`crate::protocol`).
    pub fn render(
        &self,
        binding: xkms_proto::soap::Binding,
        request: Option<&Request>,
        result: &ResultMessage,
    ) -> String {
        self.protocol().render(binding, request, result)
    }

    /// A certificate for the service's own result-signing key, issued by the built-in CA.
    pub async fn issue_signing_certificate(
        &self,
        modulus: &[u8],
        exponent: &[u8],
    ) -> Result<Vec<u8>, ServiceError> {
        crate::operator::issue_signing_certificate(&self.operator(), modulus, exponent).await
    }
}
