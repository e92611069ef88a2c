//! The authorizations: issued codes, their uses and their revocation.

use async_trait::async_trait;
use time::OffsetDateTime;
use xkms_service::store::{
    AuditEvent, Authorization, AuthorizationStore, DerivedSecrets, Purpose, StoreError,
};

use crate::columns::{
    granted_names_to_column, limit_to_column, optional_timestamp_to_column, timestamp_to_column,
};
use crate::query::Query;
use crate::rows::{self, authorization_columns, unsealed_secret_columns};

use super::steps::{change_one, insert_audit};
use super::{Store, Tx};

#[async_trait]
impl AuthorizationStore for Store {
    async fn insert_authorization(
        &self,
        authorization: &Authorization,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let a = authorization;
        let granted = granted_names_to_column(&a.granted_names)?;
        // The clear secret columns of the first schema stay empty.
        let q = Query::new(concat!(
            "INSERT INTO authorizations (",
            authorization_columns!(),
            ", ",
            unsealed_secret_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $11, $11)"
        ))
        .bind(a.id.as_str())
        .bind(a.identity.as_str())
        .bind(a.purpose.as_str())
        .bind(granted)
        .bind(a.sealed_secrets.as_slice())
        .bind(timestamp_to_column(a.created_at)?)
        .bind(timestamp_to_column(a.expires_at)?)
        .bind(a.max_uses.map(i64::from))
        .bind(i64::from(a.uses))
        .bind(optional_timestamp_to_column(a.revoked_at)?)
        .bind(Vec::<u8>::new());
        let audit = audit.clone();
        self.write("authorization", move |tx: &mut Tx| {
            Box::pin(async move {
                tx.execute(q, "authorization").await?;
                insert_audit(tx, &audit).await
            })
        })
        .await
    }

    async fn usable_authorizations(
        &self,
        identities: &[String],
        purpose: Purpose,
        now: OffsetDateTime,
    ) -> Result<Vec<Authorization>, StoreError> {
        if identities.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = Query::new(concat!(
            "SELECT ",
            authorization_columns!(),
            " FROM authorizations WHERE identity IN ("
        ));
        for (i, identity) in identities.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push_bind(identity.as_str());
        }
        q.push(") AND purpose = ")
            .push_bind(purpose.as_str())
            .push(" AND expires_at > ")
            .push_bind(timestamp_to_column(now)?)
            .push(
                " AND (max_uses IS NULL OR uses < max_uses) AND revoked_at IS NULL \
                 ORDER BY created_at, id",
            );
        self.fetch_all(q, "authorizations", rows::authorization)
            .await
    }

    async fn get_authorization(&self, id: &str) -> Result<Option<Authorization>, StoreError> {
        let q = Query::new(concat!(
            "SELECT ",
            authorization_columns!(),
            " FROM authorizations WHERE id = $1"
        ))
        .bind(id);
        self.fetch_optional(q, "authorization", rows::authorization)
            .await
    }

    async fn unsealed_authorizations(
        &self,
        limit: usize,
    ) -> Result<Vec<(Authorization, DerivedSecrets)>, StoreError> {
        let q = Query::new(concat!(
            "SELECT ",
            authorization_columns!(),
            ", ",
            unsealed_secret_columns!(),
            " FROM authorizations WHERE sealed_secrets IS NULL ORDER BY id LIMIT $1"
        ))
        .bind(limit_to_column(limit));
        self.fetch_all(q, "authorizations", |row| {
            Ok((rows::authorization(row)?, rows::unsealed_secrets(row)?))
        })
        .await
    }

    async fn seal_authorization(&self, id: &str, sealed_secrets: &[u8]) -> Result<(), StoreError> {
        let q = Query::new(
            "UPDATE authorizations SET sealed_secrets = $2, auth_key_saslprep = $3, \
             auth_key_legacy = $3, kek_saslprep = $3, kek_legacy = $3 \
             WHERE id = $1 AND sealed_secrets IS NULL",
        )
        .bind(id)
        .bind(sealed_secrets)
        .bind(Vec::<u8>::new());
        let id = id.to_owned();
        self.write("authorization", move |tx: &mut Tx| {
            Box::pin(async move {
                change_one(
                    tx,
                    q,
                    "authorization",
                    "SELECT 1 FROM authorizations WHERE id = $1",
                    &id,
                    "authorization already sealed",
                )
                .await?;
                Ok(())
            })
        })
        .await
    }
}
