//! Verified chains of this CA's certificates, cached per node so that a repeated
//! Validate costs no signature verification and no store lookup.
//!
//! What is cached: for a certificate the built-in CA issued, presented first in a
//! ValidateRequest without TimeInstant, whose path is just (certificate, our CA) — the
//! revocation answer comes from the store, not from a CRL — the parsed certificate, its
//! path and signature verdicts, the stored binding and the revocation verdict, keyed by
//! the SHA-256 of the certificate's DER. At most [`CAPACITY`] entries (the oldest goes
//! first). The validity interval is recomputed for every request.
//!
//! Invalidation: every revocation bumps a counter in the store, in its own transaction
//! (`KeyBindingStore::revocation_counter`). A node re-reads the counter at most once per
//! [`RECHECK`] and drops every entry when it changed, so a revocation on another node
//! sharing the store is seen within that bound; a revocation made through this node
//! drops the entries at once ([`ValidateCache::revoked_here`]). A lookup that started
//! before a drop cannot put its (possibly stale) answer in afterwards: each entry is
//! written under the epoch its lookup started in ([`Ticket`]).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use time::{Duration, OffsetDateTime};

use crate::store::{KeyBindingRecord, KeyBindingStore, StoreError};
use crate::trust::{Cert, Verdict};

/// Entries kept at most.
pub const CAPACITY: usize = 4096;
/// How often the store's revocation counter is read at most: the staleness bound of a
/// cached answer across nodes (docs/OPERATIONS.md).
pub const RECHECK: Duration = Duration::seconds(1);

/// A certificate of our CA that was verified, with what the store said about it.
#[derive(Debug)]
pub(crate) struct VerifiedChain {
    /// The certificate, parsed (the first one of the request).
    pub cert: Cert,
    /// Its binding in the store.
    pub binding: Option<KeyBindingRecord>,
    /// Certificate first, our CA last (DER).
    pub path: Vec<Vec<u8>>,
    pub issuer_trust: Verdict,
    pub signature: Verdict,
    /// The revocation verdict at the time it was cached (the store's answer).
    pub revocation: Verdict,
    /// notBefore/notAfter of every certificate of the path.
    pub windows: Vec<(OffsetDateTime, OffsetDateTime)>,
}

impl VerifiedChain {
    /// Whether every certificate of the path is valid at `at`.
    pub fn validity(&self, at: OffsetDateTime) -> Verdict {
        if self
            .windows
            .iter()
            .all(|(from, to)| *from <= at && at <= *to)
        {
            Verdict::Valid
        } else {
            Verdict::Invalid
        }
    }
}

/// The cache epoch a lookup started in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ticket(u64);

/// The SHA-256 of a certificate's DER: the cache key.
pub(crate) fn key_of(der: &[u8]) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
    let mut key = [0u8; 32];
    key.copy_from_slice(digest.as_ref());
    key
}

#[derive(Debug, Default)]
pub(crate) struct ValidateCache(Mutex<Inner>);

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<[u8; 32], Arc<VerifiedChain>>,
    /// Insertion order, for eviction.
    order: VecDeque<[u8; 32]>,
    /// The store's revocation counter when last read.
    generation: Option<u64>,
    checked_at: Option<OffsetDateTime>,
    /// Bumped whenever the entries are dropped.
    epoch: u64,
}

impl Inner {
    fn drop_all(&mut self) {
        self.entries.clear();
        self.order.clear();
        self.epoch += 1;
    }
}

impl ValidateCache {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent maps (every update is a
        // single step), so a poisoned lock is still usable.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a lookup at `now`: re-reads the store's revocation counter when it was
    /// last read [`RECHECK`] or longer ago (or never), dropping every entry if it changed.
    pub async fn ticket(
        &self,
        store: &dyn KeyBindingStore,
        now: OffsetDateTime,
    ) -> Result<Ticket, StoreError> {
        {
            let inner = self.lock();
            if let Some(at) = inner.checked_at
                && at <= now
                && now - at < RECHECK
            {
                return Ok(Ticket(inner.epoch));
            }
        }
        let generation = store.revocation_counter().await?;
        let mut inner = self.lock();
        if inner.generation != Some(generation) {
            inner.drop_all();
            inner.generation = Some(generation);
        }
        inner.checked_at = Some(now);
        Ok(Ticket(inner.epoch))
    }

    /// The cached chain of the certificate whose key is `key`, if any.
    pub fn get(&self, key: &[u8; 32], ticket: Ticket) -> Option<Arc<VerifiedChain>> {
        let inner = self.lock();
        if inner.epoch != ticket.0 {
            return None;
        }
        inner.entries.get(key).cloned()
    }

    /// Keeps `chain` unless the entries were dropped since `ticket` was taken.
    pub fn insert(&self, key: [u8; 32], chain: VerifiedChain, ticket: Ticket) {
        let mut inner = self.lock();
        if inner.epoch != ticket.0 || inner.entries.contains_key(&key) {
            return;
        }
        while inner.entries.len() >= CAPACITY {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            inner.entries.remove(&oldest);
        }
        inner.entries.insert(key, Arc::new(chain));
        inner.order.push_back(key);
    }

    /// A revocation went through this node: drop everything now, and read the counter
    /// again at the next lookup.
    pub fn revoked_here(&self) {
        let mut inner = self.lock();
        inner.drop_all();
        inner.checked_at = None;
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain() -> VerifiedChain {
        let ca = xkms_ca::Ca::create_self_signed(
            std::sync::Arc::new(
                xkms_ca::FileKeySigner::generate(xkms_ca::CaKeyType::EcdsaP256).unwrap(),
            ),
            &xkms_ca::CaParams::default(),
            OffsetDateTime::now_utc(),
        )
        .unwrap();
        let cert = Cert::parse(ca.certificate_der()).unwrap();
        VerifiedChain {
            windows: vec![(cert.info.not_before, cert.info.not_after)],
            path: vec![cert.der.clone()],
            cert,
            binding: None,
            issuer_trust: Verdict::Valid,
            signature: Verdict::Valid,
            revocation: Verdict::Valid,
        }
    }

    #[test]
    fn bounded_and_epoch_checked() {
        let cache = ValidateCache::default();
        let ticket = Ticket(0);
        for i in 0..(CAPACITY + 10) {
            let mut key = [0u8; 32];
            key[..8].copy_from_slice(&(i as u64).to_be_bytes());
            cache.insert(key, chain_stub(), ticket);
        }
        assert_eq!(cache.len(), CAPACITY);
        // The oldest went first.
        assert!(cache.get(&[0u8; 32], ticket).is_none());
        let mut newest = [0u8; 32];
        newest[..8].copy_from_slice(&((CAPACITY + 9) as u64).to_be_bytes());
        assert!(cache.get(&newest, ticket).is_some());
        // A drop invalidates the old ticket: no reads, no writes under it.
        cache.revoked_here();
        assert_eq!(cache.len(), 0);
        cache.insert(newest, chain_stub(), ticket);
        assert_eq!(cache.len(), 0, "a lookup from before the drop is not kept");
        assert!(cache.get(&newest, ticket).is_none());
    }

    /// One parsed chain, shared by the stubs (parsing is not what is tested).
    fn chain_stub() -> VerifiedChain {
        static CHAIN: std::sync::OnceLock<VerifiedChain> = std::sync::OnceLock::new();
        let c = CHAIN.get_or_init(chain);
        VerifiedChain {
            cert: c.cert.clone(),
            binding: None,
            path: c.path.clone(),
            issuer_trust: c.issuer_trust,
            signature: c.signature,
            revocation: c.revocation,
            windows: c.windows.clone(),
        }
    }

    #[test]
    fn validity_is_recomputed() {
        let c = chain_stub();
        let (from, to) = c.windows[0];
        assert_eq!(c.validity(from), Verdict::Valid);
        assert_eq!(c.validity(to), Verdict::Valid);
        assert_eq!(c.validity(to + Duration::seconds(1)), Verdict::Invalid);
        assert_eq!(c.validity(from - Duration::seconds(1)), Verdict::Invalid);
    }
}
