//! The store traits, written once for every sqlx backend.
//!
//! This directory is not a module of the crate root: each backend includes it as its own
//! child module (`#[path = "../shared/mod.rs"] mod shared;` in `sqlite/mod.rs` and
//! `postgres/mod.rs`), after naming, as private items of the backend module, the two
//! things that differ: `Db` (the sqlx database type) and `Store` (the backend's store
//! type). The code here is therefore compiled once per backend, against that backend's
//! types — ordinary Rust that rustfmt, clippy and rust-analyzer see, where it used to be
//! one `macro_rules!` body. The SQL is shared (`$n` placeholders work on SQLite and
//! PostgreSQL); a backend supplies only what differs, as inherent items of its store
//! type:
//!
//! - `read_rows(query, what, acc, step)`: runs a backend-neutral read
//!   ([`crate::query::Query`]) and feeds its rows, through [`crate::rows::ColumnReader`],
//!   to `step` (SQLite: rusqlite readers, one blocking task per call; PostgreSQL: sqlx);
//!   `read.rs` builds `fetch_all`, `fetch_optional` and `fetch_count` on it;
//! - `pool: sqlx::Pool<DB>`, `writer()` and `begin_write()`: where writes go and how
//!   they start (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: READ COMMITTED writes whose
//!   preconditions are conditional `UPDATE`s or row locks, and REPEATABLE READ reads);
//! - `LOCK_BINDING_SQL`: reads a binding's status and, where the backend has row locks,
//!   locks the row until commit so a concurrent revocation waits;
//! - `LOCK_AUDIT_HEAD_SQL`: reads the audit chain's head and, where the backend has row
//!   locks, locks it until commit, so the events of concurrent transactions (several
//!   nodes) link one after the other (SQLite: the `BEGIN IMMEDIATE` write lock does it);
//! - `CLAIM_PENDING_SQL`: the claim of the oldest runnable pending job;
//! - `AFTER_COPY_SQL`: statements run once after `copy_store` filled the store;
//! - `MIGRATION_BEGIN_SQL`, `MIGRATION_LOCK_SQL`: how the migrations transaction starts
//!   and what it locks (`migrate`);
//! - `REFRESH_STATISTICS_SQL`: what brings the planner's statistics up to date after a
//!   bulk load; `EXPLAIN_PREFIX`, `EXPLAIN_DETAIL_COLUMN`: how to ask for a plan and
//!   where its lines are (`maintenance`).
//!
//! Preconditions are checked inside the transaction, and every early return drops the
//! transaction, which rolls it back: a failed call writes nothing.
//!
//! One file per store trait; `steps` holds the transaction steps several traits share.

mod audit;
mod authorization;
mod binding;
mod inventory;
mod lockout;
mod maintenance;
pub(super) mod migrate;
mod pending;
mod raw;
pub(super) mod read;
mod replay;
mod steps;

use super::{Db, Store};

/// A write transaction on this backend.
type Tx = sqlx::Transaction<'static, Db>;
