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
    /// PostgreSQL), with sample values bound: Locate's lookups by KeyName, key value
    /// (fingerprint), certificate serial and SKI, UseKeyWith; the certificates of a
    /// binding (Validate, Locate); the key-compromise check (Register).
    pub async fn hot_query_plans(&self) -> Result<Vec<QueryPlan>, StoreError> {
        let pair = StoredUseKeyWith {
            application: Application::Smime,
            identifier: "plan@example.org".into(),
        };
        let serial = Serial::from_hex("01").map_err(|_| StoreError::Backend("serial".into()))?;
        let selectors = [
            (
                "find by KeyName",
                BindingSelector::KeyName("plan@example.org".into()),
            ),
            (
                "find by key value",
                BindingSelector::KeyFingerprint(vec![0; 32]),
            ),
            (
                "find by certificate serial",
                BindingSelector::CertificateSerial(serial),
            ),
            (
                "find by certificate SKI",
                BindingSelector::CertificateSki(vec![0; 20]),
            ),
            (
                "find by UseKeyWith",
                BindingSelector::UseKeyWith(vec![pair]),
            ),
        ];
        let mut plans = Vec::new();
        for (query, selector) in selectors {
            let Some(q) = crate::find::bindings_with_pairs_query_after(
                <Store>::EXPLAIN_PREFIX,
                &selector,
                crate::find::LOCATE_LIMIT_FOR_PLANS,
            ) else {
                continue;
            };
            plans.push(QueryPlan {
                query,
                plan: self.plan_lines(q).await?,
            });
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
