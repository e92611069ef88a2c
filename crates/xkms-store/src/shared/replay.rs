//! Single-use values (nonces, signature values) remembered until they expire.

use async_trait::async_trait;
use time::OffsetDateTime;
use xkms_service::store::{ReplayStore, StoreError};

use crate::columns::timestamp_to_column;
use crate::query::Query;

use super::{Store, Tx};

#[async_trait]
impl ReplayStore for Store {
    async fn remember_once(
        &self,
        kind: &str,
        value: &[u8],
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let expires_at = timestamp_to_column(expires_at)?;
        let now = timestamp_to_column(now)?;
        // Purge what expired of this kind now and then (every 64th call): an
        // index range on (kind, expires_at); expired rows left in between do
        // no harm, the upsert below takes them over.
        static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let purge = CALLS
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            .is_multiple_of(64)
            .then(|| {
                Query::new("DELETE FROM replay_values WHERE kind = $1 AND expires_at <= $2")
                    .bind(kind)
                    .bind(now)
            });
        // The upsert alone is the decision (an expired row, should a
        // concurrent call have re-inserted one, is taken over): exactly one
        // caller changes a row for a value that is not remembered.
        let q = Query::new(
            "INSERT INTO replay_values (kind, value, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (kind, value) DO UPDATE SET expires_at = excluded.expires_at \
             WHERE replay_values.expires_at <= $4",
        )
        .bind(kind)
        .bind(value)
        .bind(expires_at)
        .bind(now);
        let remembered = self
            .write("replay value", move |tx: &mut Tx| {
                Box::pin(async move {
                    if let Some(purge) = purge {
                        tx.execute(purge, "replay values").await?;
                    }
                    tx.execute(q, "replay value").await
                })
            })
            .await?;
        Ok(remembered == 1)
    }

    async fn is_remembered(
        &self,
        kind: &str,
        value: &[u8],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let q = Query::new(
            "SELECT 1 FROM replay_values WHERE kind = $1 AND value = $2 \
             AND expires_at > $3",
        )
        .bind(kind)
        .bind(value)
        .bind(timestamp_to_column(now)?);
        let row = self.fetch_optional(q, "replay value", |_| Ok(())).await?;
        Ok(row.is_some())
    }
}
