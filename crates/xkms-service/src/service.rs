//! The service object: the public façade the server holds. It owns the handles every
//! part of the registration authority needs (store, CA, clock, keys, configuration) and
//! the per-node caches; the request pipeline (`crate::pipeline`), the operations and the
//! administrative functions are written against it in their own modules.

use crate::clock::Clock;
use crate::config::ServiceConfig;
use crate::error::ServiceError;
use crate::ids::IdSource;
use crate::store::Store;
use std::sync::Arc;
use xkms_ca::Ca;

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
            crl_cache: crate::crl::CrlCache::default(),
        }
    }

    /// The configured trust (built-in CA, anchors, intermediates, CRLs), parsed on first use.
    pub(crate) fn trust_base(&self) -> &crate::trust::TrustContext {
        self.trust_base.get_or_init(|| {
            crate::trust::TrustContext::new(self.ca.certificate_der(), &self.config.trust, &[])
        })
    }

    /// The configured trust plus `extra` certificates a request brought along.
    pub(crate) fn trust_context(&self, extra: &[Vec<u8>]) -> crate::trust::TrustContext {
        self.trust_base().with_extra(extra)
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
}
