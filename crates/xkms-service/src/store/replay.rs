//! Single-use values: authentication values, revocation codes, request Ids, nonces.

use super::StoreError;
use async_trait::async_trait;
use time::OffsetDateTime;

/// A value that may be accepted once (an authentication SignatureValue, a revocation
/// code's hash), remembered until `expires_at` in the same transaction as the change it
/// authorized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayMark {
    pub kind: String,
    pub value: Vec<u8>,
    pub expires_at: OffsetDateTime,
}

/// Single-use values with an expiry: request Ids (replay window) and two-phase nonces.
#[async_trait]
pub trait ReplayStore: Send + Sync {
    /// Remembers `value` of `kind` until `expires_at`. `Ok(true)` the first time,
    /// `Ok(false)` if it was already remembered and has not expired. Expired entries
    /// may be purged by the same call.
    async fn remember_once(
        &self,
        kind: &str,
        value: &[u8],
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Whether `value` of `kind` is remembered and has not expired (read only).
    async fn is_remembered(
        &self,
        kind: &str,
        value: &[u8],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
}
