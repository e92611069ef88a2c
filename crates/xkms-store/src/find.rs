//! The `find_bindings` queries, one indexed lookup per selector: the bindings with their
//! UseKeyWith pairs, and with their certificates too.

use xkms_service::store::BindingSelector;

use crate::query::Query;
use crate::rows::key_binding_columns;

/// The LIMIT of Locate's lookups (the service's candidate bound), for the plans of
/// `hot_query_plans`.
pub(crate) const LOCATE_LIMIT_FOR_PLANS: i64 = xkms_service::query::MAX_CANDIDATES as i64;

/// [`bindings_query_after`] joined with the bindings' UseKeyWith pairs: one row per pair
/// (one with NULL pair columns for a binding without pairs), ordered by binding then pair.
/// One statement per lookup, whichever backend runs it.
pub(crate) fn bindings_with_pairs_query(selector: &BindingSelector, limit: i64) -> Option<Query> {
    bindings_with_pairs_query_after("", selector, limit)
}

/// [`bindings_with_pairs_query`] after `prefix` (`EXPLAIN …` for the plan of exactly
/// this query).
pub(crate) fn bindings_with_pairs_query_after(
    prefix: &str,
    selector: &BindingSelector,
    limit: i64,
) -> Option<Query> {
    let mut q = bindings_query_after(
        &format!(
            "{prefix}SELECT b.*, u.application AS ukw_application, \
             u.identifier AS ukw_identifier FROM ("
        ),
        selector,
        limit,
    )?;
    q.push(
        ") b LEFT JOIN use_key_with u ON u.binding_id = b.id \
         ORDER BY b.created_at, b.id, u.ordinal",
    );
    Some(q)
}

/// [`bindings_with_pairs_query`] and the bindings' certificates in one statement:
/// the bindings found (the LIMIT applied once, in the CTE `b`) each give the rows of
/// [`bindings_with_pairs_query`] (`part` 0), then one row per certificate (`part` 1:
/// the binding's columns, NULL pair columns, the certificate as `cert_*`). A binding's
/// rows are consecutive, its pairs in order before its certificates newest first (the
/// order of `certificates_of`). Pairs and certificates are two branches of a
/// `UNION ALL`, not a join of both: no rows multiply. The NULLs are typed for
/// PostgreSQL (a `CAST` both backends read). `CROSS JOIN … WHERE` is an inner join
/// that SQLite plans with its left side outermost: with a plain `JOIN` it chose to scan
/// `certificates` and look `b` up (on a loaded store, `hot_query_plans`).
pub(crate) fn bindings_with_certificates_query(
    selector: &BindingSelector,
    limit: i64,
) -> Option<Query> {
    bindings_with_certificates_query_after("", selector, limit)
}

/// [`bindings_with_certificates_query`] after `prefix` (`EXPLAIN …` for the plan of
/// exactly this query).
pub(crate) fn bindings_with_certificates_query_after(
    prefix: &str,
    selector: &BindingSelector,
    limit: i64,
) -> Option<Query> {
    let mut q = bindings_query_after(&format!("{prefix}WITH b AS ("), selector, limit)?;
    q.push(
        ") SELECT b.*, 0 AS part, u.ordinal AS ukw_ordinal, \
         u.application AS ukw_application, u.identifier AS ukw_identifier, \
         CAST(NULL AS TEXT) AS cert_serial, CAST(NULL AS BYTEA) AS cert_der, \
         CAST(NULL AS BYTEA) AS cert_ski, CAST(NULL AS BIGINT) AS cert_not_before, \
         CAST(NULL AS BIGINT) AS cert_not_after, CAST(NULL AS BIGINT) AS cert_issued_at, \
         CAST(NULL AS BIGINT) AS cert_revoked_at, \
         CAST(NULL AS BIGINT) AS cert_revocation_reason \
         FROM b LEFT JOIN use_key_with u ON u.binding_id = b.id \
         UNION ALL \
         SELECT b.*, 1, CAST(NULL AS BIGINT), CAST(NULL AS TEXT), CAST(NULL AS TEXT), \
         c.serial, c.der, c.ski, c.not_before, c.not_after, c.issued_at, c.revoked_at, \
         c.revocation_reason \
         FROM b CROSS JOIN certificates c WHERE c.binding_id = b.id \
         ORDER BY created_at, id, part, ukw_ordinal, cert_issued_at DESC, cert_serial DESC",
    );
    Some(q)
}

/// `prefix` lets a test ask for `EXPLAIN QUERY PLAN` of exactly this query.
fn bindings_query_after(prefix: &str, selector: &BindingSelector, limit: i64) -> Option<Query> {
    let mut q = Query::new(prefix.to_owned());
    q.push(concat!(
        "SELECT ",
        key_binding_columns!(),
        " FROM key_bindings kb WHERE "
    ));
    match selector {
        BindingSelector::Id(id) => {
            q.push("kb.id = ").push_bind(id.as_str());
        }
        BindingSelector::KeyFingerprint(fingerprint) => {
            q.push("kb.key_fingerprint = ")
                .push_bind(fingerprint.as_slice());
        }
        BindingSelector::KeyName(name) => {
            q.push("kb.key_name = ").push_bind(name.as_str());
        }
        BindingSelector::UseKeyWith(pairs) => {
            if pairs.is_empty() {
                return None;
            }
            q.push("kb.id IN (SELECT u.binding_id FROM use_key_with u WHERE ");
            for (i, pair) in pairs.iter().enumerate() {
                if i > 0 {
                    q.push(" OR ");
                }
                q.push("(u.application = ")
                    .push_bind(pair.application.as_uri())
                    .push(" AND u.identifier = ")
                    .push_bind(pair.identifier.as_str())
                    .push(")");
            }
            q.push(")");
        }
        BindingSelector::CertificateSerial(serial) => {
            q.push("kb.id IN (SELECT c.binding_id FROM certificates c WHERE c.serial = ")
                .push_bind(serial.to_hex())
                .push(")");
        }
        BindingSelector::CertificateSki(ski) => {
            q.push("kb.id IN (SELECT c.binding_id FROM certificates c WHERE c.ski = ")
                .push_bind(ski.as_slice())
                .push(")");
        }
    }
    // The limit is written into the SQL, not bound: SQLite re-prepares a statement on
    // every execution whose LIMIT is a bound parameter (the planner may use its value),
    // which cost a fifth of the CPU of every lookup. It is our own integer, and only a
    // few distinct values occur, so the statement cache still serves them.
    q.push(&format!(
        " ORDER BY kb.created_at, kb.id LIMIT {}",
        limit.max(0)
    ));
    Some(q)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SqliteStore;
    use crate::rows::ColumnReader;
    use xkms_service::store::StoredUseKeyWith;

    async fn plan(store: &SqliteStore, selector: &BindingSelector) -> Vec<String> {
        let q = bindings_query_after("EXPLAIN QUERY PLAN ", selector, 10).unwrap();
        store
            .read_rows(
                q,
                "plan",
                Vec::new(),
                |plan: &mut Vec<String>, row: &dyn ColumnReader| {
                    plan.push(row.text("detail").unwrap().unwrap_or_default());
                    Ok(())
                },
            )
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn every_selector_uses_an_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_path(&dir.path().join("plan.db"))
            .await
            .unwrap();
        let pair = |a: &str, i: &str| StoredUseKeyWith {
            application: xkms_service::store::Application::from_uri(a),
            identifier: i.into(),
        };
        for selector in [
            BindingSelector::Id("b".into()),
            BindingSelector::KeyFingerprint(vec![1; 32]),
            BindingSelector::KeyName("n".into()),
            BindingSelector::UseKeyWith(vec![pair("a", "x")]),
            BindingSelector::UseKeyWith(vec![pair("a", "x"), pair("b", "y"), pair("c", "z")]),
            BindingSelector::CertificateSerial(
                xkms_service::store::Serial::from_hex("01").unwrap(),
            ),
            BindingSelector::CertificateSki(vec![7; 20]),
        ] {
            let plan = plan(&store, &selector).await;
            assert!(
                plan.iter().any(|line| line.contains("USING")),
                "{selector:?}: {plan:?}"
            );
            assert!(
                !plan.iter().any(|line| line.starts_with("SCAN")),
                "{selector:?} scans a table: {plan:?}"
            );
        }
    }
}
