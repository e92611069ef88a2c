//! Upkeep of a loaded store: the planner's statistics after a bulk load, and the plans
//! the database chose for the hot queries (checked by a test on a loaded store).

use xkms_service::store::{Application, BindingSelector, Serial, StoreError, StoredUseKeyWith};

use crate::QueryPlan;
use crate::db_error::db_error;
use crate::query::Query;
use crate::rows::ColumnReader;

use super::binding::{CERTIFICATES_OF_SQL, KEY_COMPROMISED_SQL};
use super::{Store, Tx};

impl Store {
    /// Brings the query planner's statistics up to date. Bulk loads (`xkmsd admin seed`,
    /// `copy_store`) call it when they finish: a table filled in one go has none (or
    /// stale ones), and PostgreSQL then plans the UseKeyWith join as a sequential scan
    /// (tens of milliseconds per Locate at 100,000 bindings instead of 0.1 ms).
    pub async fn refresh_statistics(&self) -> Result<(), StoreError> {
        self.write("statistics", |tx: &mut Tx| {
            Box::pin(async move {
                tx.execute_batch(<Store>::REFRESH_STATISTICS_SQL, "statistics")
                    .await
            })
        })
        .await
    }

    /// The plan of each hot query (`EXPLAIN QUERY PLAN` on SQLite, `EXPLAIN` on
    /// PostgreSQL), with sample values bound: the lookups by KeyName, key value
    /// (fingerprint), certificate serial and SKI, UseKeyWith, each with the bindings'
    /// pairs and with their certificates too (Locate, Validate); the certificates of a
    /// binding; the key-compromise check (Register).
    pub async fn hot_query_plans(&self) -> Result<Vec<QueryPlan>, StoreError> {
        let pair = StoredUseKeyWith {
            application: Application::Smime,
            identifier: "plan@example.org".into(),
        };
        let serial = Serial::from_hex("01").map_err(|_| StoreError::Backend("serial".into()))?;
        // Each lookup twice: with the pairs only (`find_bindings`) and with the
        // certificates too (Locate's and Validate's `find_bindings_with_certificates`).
        let selectors = [
            (
                ["find by KeyName", "find with certificates by KeyName"],
                BindingSelector::KeyName("plan@example.org".into()),
            ),
            (
                ["find by key value", "find with certificates by key value"],
                BindingSelector::KeyFingerprint(vec![0; 32]),
            ),
            (
                [
                    "find by certificate serial",
                    "find with certificates by certificate serial",
                ],
                BindingSelector::CertificateSerial(serial),
            ),
            (
                [
                    "find by certificate SKI",
                    "find with certificates by certificate SKI",
                ],
                BindingSelector::CertificateSki(vec![0; 20]),
            ),
            (
                ["find by UseKeyWith", "find with certificates by UseKeyWith"],
                BindingSelector::UseKeyWith(vec![pair]),
            ),
        ];
        let mut plans = Vec::new();
        for ([pairs_only, with_certificates], selector) in selectors {
            let limit = crate::find::LOCATE_LIMIT_FOR_PLANS;
            let prefix = <Store>::EXPLAIN_PREFIX;
            for (query, q) in [
                (
                    pairs_only,
                    crate::find::bindings_with_pairs_query_after(prefix, &selector, limit),
                ),
                (
                    with_certificates,
                    crate::find::bindings_with_certificates_query_after(prefix, &selector, limit),
                ),
            ] {
                let Some(q) = q else {
                    continue;
                };
                plans.push(QueryPlan {
                    query,
                    plan: self.plan_lines(q).await?,
                });
            }
        }
        let certificates =
            Query::new(format!("{}{CERTIFICATES_OF_SQL}", <Store>::EXPLAIN_PREFIX)).bind("plan");
        plans.push(QueryPlan {
            query: "certificates of a binding",
            plan: self.plan_lines(certificates).await?,
        });
        let compromised = Query::new(format!("{}{KEY_COMPROMISED_SQL}", <Store>::EXPLAIN_PREFIX))
            .bind(vec![0u8; 32]);
        plans.push(QueryPlan {
            query: "key compromised",
            plan: self.plan_lines(compromised).await?,
        });
        Ok(plans)
    }

    /// The lines of the plan `explain` (an `EXPLAIN …` query) returns.
    async fn plan_lines(&self, explain: Query) -> Result<Vec<String>, StoreError> {
        self.fetch_all(explain, "explain", |row: &dyn ColumnReader| {
            row.text_at(<Store>::EXPLAIN_DETAIL_COLUMN)
                .map_err(db_error("explain"))?
                .ok_or_else(|| crate::columns::corrupt("explain"))
        })
        .await
    }
}
