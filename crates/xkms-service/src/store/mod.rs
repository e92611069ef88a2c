//! The storage contract of the registration authority.
//!
//! Every method is one atomic unit: an implementation runs it in a single database
//! transaction, so a failure leaves nothing half-written. Composite changes (a
//! registration = binding + certificate + authorization use + audit events) are one
//! method, as in Boulder's storage authority. Implementations live in `xkms-store`.

pub use xkms_ca::Serial;
/// The vocabularies of stored records, re-exported so a store needs no other crate.
pub use xkms_proto::{Application, KeyUsage, Operation};

mod audit;
mod authorization;
mod binding;
mod inventory;
mod lockout;
mod pending;
mod replay;

pub use audit::*;
pub use authorization::*;
pub use binding::*;
pub use inventory::*;
pub use lockout::*;
pub use pending::*;
pub use replay::*;

/// What may go wrong in a store. Details go to the log, never to the client.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness constraint was violated (e.g. serial or binding id already present).
    #[error("duplicate {what}")]
    Duplicate { what: &'static str },
    /// The row to change does not exist (or no longer satisfies the precondition).
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// A precondition checked inside the transaction failed (e.g. authorization used up).
    #[error("conflict: {what}")]
    Conflict { what: &'static str },
    /// A single-use value (an authentication value, a revocation code) written with
    /// the change was already remembered: the whole change is refused.
    #[error("single-use value already used")]
    Replayed,
    /// The backend failed (connection, I/O, corrupt row).
    #[error("store backend: {0}")]
    Backend(String),
}

/// The whole store a service needs.
pub trait Store:
    AuthorizationStore
    + KeyBindingStore
    + AuditStore
    + PendingStore
    + ReplayStore
    + LockoutStore
    + InventoryStore
{
}

impl<
    T: AuthorizationStore
        + KeyBindingStore
        + AuditStore
        + PendingStore
        + ReplayStore
        + LockoutStore
        + InventoryStore,
> Store for T
{
}
