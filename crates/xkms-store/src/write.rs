//! What a write unit is, on every backend.
//!
//! Shared store code writes each transaction as one unit: a closure that gets the
//! backend's transaction (`Tx`: rusqlite's write connection on SQLite, an sqlx
//! transaction on PostgreSQL) and returns a boxed future of its result. The backend's
//! `write(what, unit)` runs it: PostgreSQL begins, runs, commits; SQLite hands it to its
//! writer thread, which group-commits (`sqlite/write.rs`). A unit owns its inputs
//! (`'static`): on SQLite it runs on another thread.

use std::future::Future;
use std::pin::Pin;

use xkms_service::store::StoreError;

/// The future a write unit returns.
pub(crate) type UnitFuture<'t, T> =
    Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 't>>;
