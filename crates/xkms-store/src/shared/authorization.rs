//! The authorizations: issued codes, their uses and their revocation.

use async_trait::async_trait;
use time::OffsetDateTime;
use xkms_service::store::{
    AuditEvent, Authorization, AuthorizationStore, DerivedSecrets, Purpose, StoreError,
};

use crate::columns::{
    granted_names_to_column, limit_to_column, optional_timestamp_to_column, timestamp_to_column,
};
use crate::db_error::db_error;
use crate::query::Query;
use crate::rows::{self, authorization_columns, unsealed_secret_columns};

use super::Store;
use super::steps::{insert_audit, missing_or_conflict};

#[async_trait]
impl AuthorizationStore for Store {
    async fn insert_authorization(
        &self,
        authorization: &Authorization,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let a = authorization;
        let granted = granted_names_to_column(&a.granted_names)?;
        let mut tx = self.begin_write().await?;
        // The clear secret columns of the first schema stay empty.
        sqlx::query(concat!(
            "INSERT INTO authorizations (",
            authorization_columns!(),
            ", ",
            unsealed_secret_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $11, $11)"
        ))
        .bind(&a.id)
        .bind(&a.identity)
        .bind(a.purpose.as_str())
        .bind(granted)
        .bind(a.sealed_secrets.as_slice())
        .bind(timestamp_to_column(a.created_at)?)
        .bind(timestamp_to_column(a.expires_at)?)
        .bind(a.max_uses.map(i64::from))
        .bind(i64::from(a.uses))
        .bind(optional_timestamp_to_column(a.revoked_at)?)
        .bind(Vec::<u8>::new())
        .execute(&mut *tx)
        .await
        .map_err(db_error("authorization"))?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await.map_err(db_error("commit"))
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
        let mut tx = self.begin_write().await?;
        let sealed = sqlx::query(
            "UPDATE authorizations SET sealed_secrets = $2, auth_key_saslprep = $3, \
             auth_key_legacy = $3, kek_saslprep = $3, kek_legacy = $3 \
             WHERE id = $1 AND sealed_secrets IS NULL",
        )
        .bind(id)
        .bind(sealed_secrets)
        .bind(Vec::<u8>::new())
        .execute(&mut *tx)
        .await
        .map_err(db_error("authorization"))?;
        if sealed.rows_affected() != 1 {
            return Err(missing_or_conflict(
                &mut tx,
                "SELECT 1 FROM authorizations WHERE id = $1",
                id,
                "authorization",
                "authorization already sealed",
            )
            .await);
        }
        tx.commit().await.map_err(db_error("commit"))
    }
}
