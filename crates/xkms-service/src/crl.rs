//! The CRL that publishes revocations: signed by the CA over the store's revoked
//! certificates, and cached per node.

use crate::clock::Clock;
use crate::error::ServiceError;
use crate::store::KeyBindingStore;
use time::Duration;
use xkms_ca::{Ca, RevocationReason, RevokedEntry};

/// The last CRL this node signed; the lock makes concurrent requests for a stale CRL
/// wait for one signature.
#[derive(Debug, Default)]
pub(crate) struct CrlCache(tokio::sync::Mutex<Option<CachedCrl>>);

impl CrlCache {
    /// The current CRL (DER). Signed again only when a revocation happened (on any node:
    /// the store's revocation generation changed) or half its lifetime has passed; every
    /// other request gets the cached one, so `GET /crl` costs no signature. Numbers come
    /// from the store: strictly increasing across nodes (and never below the Unix time,
    /// which earlier versions used).
    pub(crate) async fn current(
        &self,
        store: &dyn KeyBindingStore,
        ca: &Ca,
        clock: &dyn Clock,
        lifetime: Duration,
    ) -> Result<Vec<u8>, ServiceError> {
        let generation = store.revocation_generation().await?;
        let mut cache = self.0.lock().await;
        let now = clock.now();
        if let Some(cached) = cache.as_ref()
            && cached.generation == generation
            && now < cached.this_update + lifetime / 2
        {
            return Ok(cached.der.clone());
        }
        let revoked = store.revoked_certificates().await?;
        let mut entries = Vec::with_capacity(revoked.len());
        for r in revoked {
            entries.push(RevokedEntry {
                serial: r.serial,
                revocation_time: r.revoked_at,
                reason: Some(revocation_reason(r.reason)),
            });
        }
        let number = store
            .next_crl_number(u64::try_from(now.unix_timestamp()).unwrap_or(0))
            .await?;
        let der = ca.crl(&entries, now, now + lifetime, number)?;
        tracing::info!(number, revoked = entries.len(), "CRL signed");
        *cache = Some(CachedCrl {
            generation,
            this_update: now,
            der: der.clone(),
        });
        Ok(der)
    }
}

/// Where a CRL comes from: this node's cache and what it is signed with.
#[derive(Clone, Copy)]
pub(crate) struct CrlSource<'a> {
    pub cache: &'a CrlCache,
    pub store: &'a dyn KeyBindingStore,
    pub ca: &'a Ca,
    pub clock: &'a dyn Clock,
    pub lifetime: Duration,
}

impl CrlSource<'_> {
    /// The current CRL (see [`CrlCache::current`]).
    pub(crate) async fn current(&self) -> Result<Vec<u8>, ServiceError> {
        self.cache
            .current(self.store, self.ca, self.clock, self.lifetime)
            .await
    }

    /// Our CA's current CRL when RespondWith asks for X509CRL (`None` if it cannot be
    /// produced: the result then says Incomplete).
    pub(crate) async fn if_requested(
        &self,
        respond_with: &[xkms_proto::RespondWith],
    ) -> Option<Vec<u8>> {
        if !respond_with.contains(&xkms_proto::RespondWith::X509Crl) {
            return None;
        }
        match self.current().await {
            Ok(der) => Some(der),
            Err(e) => {
                tracing::warn!(error = %e, "no CRL for RespondWith X509CRL");
                None
            }
        }
    }
}

/// A CRL this node signed, and the revocation state it reflects.
#[derive(Debug)]
pub(crate) struct CachedCrl {
    generation: (u64, Option<time::OffsetDateTime>),
    this_update: time::OffsetDateTime,
    der: Vec<u8>,
}

fn revocation_reason(code: u8) -> RevocationReason {
    match code {
        1 => RevocationReason::KeyCompromise,
        2 => RevocationReason::CaCompromise,
        3 => RevocationReason::AffiliationChanged,
        4 => RevocationReason::Superseded,
        5 => RevocationReason::CessationOfOperation,
        6 => RevocationReason::CertificateHold,
        8 => RevocationReason::RemoveFromCrl,
        9 => RevocationReason::PrivilegeWithdrawn,
        10 => RevocationReason::AaCompromise,
        _ => RevocationReason::Unspecified,
    }
}
