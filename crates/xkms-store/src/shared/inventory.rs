//! The operator's inventory queries ([`InventoryStore`]).
//!
//! Listing is an operator's tool, not a request path: a name search is a substring match
//! over KeyNames and UseKeyWith identifiers (a scan, bounded by the limit it returns).
//!
//! [`InventoryStore`]: xkms_service::store::InventoryStore

use async_trait::async_trait;
use time::OffsetDateTime;
use xkms_service::store::{
    AuditEvent, Authorization, AuthorizationFilter, BindingFilter, InventoryStore,
    KeyBindingRecord, StoreError,
};

use super::{Store, Tx};
use crate::columns::{limit_to_column, timestamp_to_column};
use crate::query::Query;
use crate::rows::{self, authorization_columns, key_binding_columns};

#[async_trait]
impl InventoryStore for Store {
    async fn list_bindings(
        &self,
        filter: &BindingFilter,
        limit: usize,
    ) -> Result<Vec<KeyBindingRecord>, StoreError> {
        let mut q = Query::new(concat!(
            "SELECT b.*, u.application AS ukw_application, \
             u.identifier AS ukw_identifier FROM (SELECT ",
            key_binding_columns!(),
            " FROM key_bindings kb WHERE 1 = 1"
        ));
        if filter.revoked_only {
            q.push(" AND kb.status = 'revoked'");
        }
        if let Some(name) = &filter.name {
            let pattern = crate::inventory::contains_pattern(name);
            q.push(" AND (LOWER(kb.key_name) LIKE ")
                .push_bind(pattern.clone())
                .push(
                    " ESCAPE '\\' OR kb.id IN (SELECT n.binding_id FROM \
                     use_key_with n WHERE LOWER(n.identifier) LIKE ",
                )
                .push_bind(pattern)
                .push(" ESCAPE '\\'))");
        }
        q.push(&format!(
            " ORDER BY kb.created_at, kb.id LIMIT {}",
            limit_to_column(limit)
        ))
        .push(
            ") b LEFT JOIN use_key_with u ON u.binding_id = b.id \
                 ORDER BY b.created_at, b.id, u.ordinal",
        );
        self.read_rows(q, "key bindings", Vec::new(), rows::push_binding_with_pair)
            .await
    }

    async fn list_authorizations(
        &self,
        filter: &AuthorizationFilter,
        limit: usize,
    ) -> Result<Vec<Authorization>, StoreError> {
        let mut q = Query::new(concat!(
            "SELECT ",
            authorization_columns!(),
            " FROM authorizations WHERE 1 = 1"
        ));
        if let Some(identity) = &filter.identity {
            q.push(" AND identity = ").push_bind(identity.as_str());
        }
        if let Some(now) = filter.usable_at {
            q.push(" AND expires_at > ")
                .push_bind(timestamp_to_column(now)?)
                .push(
                    " AND (max_uses IS NULL OR uses < max_uses) \
                     AND revoked_at IS NULL",
                );
        }
        q.push(&format!(
            " ORDER BY created_at, id LIMIT {}",
            limit_to_column(limit)
        ));
        self.fetch_all(q, "authorizations", rows::authorization)
            .await
    }

    async fn revoke_authorization(
        &self,
        id: &str,
        at: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let at = timestamp_to_column(at)?;
        // The conditional UPDATE is the check; a registration's use of the
        // code (also a conditional UPDATE of the row) is ordered before or
        // after it by the row lock (PostgreSQL) or the write lock (SQLite).
        let q = Query::new(
            "UPDATE authorizations SET revoked_at = $2 \
             WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(at);
        let id = id.to_owned();
        let audit = audit.clone();
        self.write("authorization", move |tx: &mut Tx| {
            Box::pin(async move {
                super::steps::change_one(
                    tx,
                    q,
                    "authorization",
                    "SELECT 1 FROM authorizations WHERE id = $1",
                    &id,
                    "authorization already revoked",
                )
                .await?;
                super::steps::insert_audit(tx, &audit).await
            })
        })
        .await
    }
}
