//! What an operator's inventory commands read and change.

use super::StoreError;
use super::audit::AuditEvent;
use super::authorization::Authorization;
use super::binding::KeyBindingRecord;
use async_trait::async_trait;
use time::OffsetDateTime;

/// Which key bindings an operator lists (`xkmsd admin bindings list`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BindingFilter {
    /// Only bindings whose KeyName or a UseKeyWith identifier contains this text
    /// (case-insensitive).
    pub name: Option<String>,
    /// Only revoked bindings.
    pub revoked_only: bool,
}

/// Which authorization codes an operator lists (`xkmsd admin authorizations list`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizationFilter {
    /// Only codes for this identity (normalised as stored).
    pub identity: Option<String>,
    /// Only codes that can still authenticate at this instant: not expired, used up or
    /// revoked.
    pub usable_at: Option<OffsetDateTime>,
}

/// What an operator's inventory commands read and change.
#[async_trait]
pub trait InventoryStore: Send + Sync {
    /// Bindings matching `filter`, oldest first (then by id), at most `limit`.
    async fn list_bindings(
        &self,
        filter: &BindingFilter,
        limit: usize,
    ) -> Result<Vec<KeyBindingRecord>, StoreError>;

    /// Authorizations matching `filter`, oldest first (then by id), at most `limit`.
    async fn list_authorizations(
        &self,
        filter: &AuthorizationFilter,
        limit: usize,
    ) -> Result<Vec<Authorization>, StoreError>;

    /// Revokes an authorization code at `at` with its audit event, in one transaction:
    /// from then on it authenticates nobody, and a registration that read it before
    /// fails when it commits. `Conflict` if it is already revoked; `NotFound` if absent.
    async fn revoke_authorization(
        &self,
        id: &str,
        at: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;
}
