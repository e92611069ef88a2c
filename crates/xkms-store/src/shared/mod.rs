//! The store traits, written once for every backend.
//!
//! This directory is not a module of the crate root: each backend includes it as its own
//! child module (`#[path = "../shared/mod.rs"] mod shared;` in `sqlite/mod.rs` and
//! `postgres/mod.rs`), after naming, as private items of the backend module, the two
//! types that differ: `Store` (the backend's store type) and `Tx` (what a write unit
//! gets: SQLite's `WriteTx` on the writer thread, PostgreSQL's `PgTx` around an sqlx
//! transaction; both have `execute`, `read_rows` and `execute_batch`). The code here is therefore compiled once per backend, against that backend's
//! types — ordinary Rust that rustfmt, clippy and rust-analyzer see, where it used to be
//! one `macro_rules!` body. The SQL is shared (`$n` placeholders work on SQLite and
//! PostgreSQL); a backend supplies only what differs, as inherent items of its store
//! type:
//!
//! - `read_rows(query, what, acc, step)`: runs a backend-neutral read
//!   ([`crate::query::Query`]) and feeds its rows, through [`crate::rows::ColumnReader`],
//!   to `step` (SQLite: rusqlite readers used in place; PostgreSQL: sqlx);
//!   `read.rs` builds `fetch_all`, `fetch_optional` and `fetch_count` on it;
//! - `write(what, unit)`: runs one write unit (`crate::write`), a closure over `&mut Tx`
//!   returning a boxed future, as one transaction (SQLite: on the writer thread, in a
//!   savepoint of a group commit inside `BEGIN IMMEDIATE`; PostgreSQL: a READ COMMITTED
//!   transaction whose preconditions are conditional `UPDATE`s or row locks). A unit
//!   owns its inputs: the trait methods encode or clone them first;
//! - `LOCK_BINDING_SQL`: reads a binding's status and, where the backend has row locks,
//!   locks the row until commit so a concurrent revocation waits;
//! - `LOCK_AUDIT_HEAD_SQL`: reads the audit chain's head and, where the backend has row
//!   locks, locks it until commit, so the events of concurrent transactions (several
//!   nodes) link one after the other (SQLite: the `BEGIN IMMEDIATE` write lock does it);
//! - `CLAIM_PENDING_SQL`: the claim of the oldest runnable pending job;
//! - `AFTER_COPY_SQL`: statements run once after `copy_store` filled the store;
//! - `MIGRATION_LOCK_SQL`: what the migrations unit locks first (`migrate`);
//! - `REFRESH_STATISTICS_SQL`: what brings the planner's statistics up to date after a
//!   bulk load; `EXPLAIN_PREFIX`, `EXPLAIN_DETAIL_COLUMN`: how to ask for a plan and
//!   where its lines are (`maintenance`).
//!
//! Preconditions are checked inside the unit, and a unit that returns an error is rolled
//! back (PostgreSQL: the whole transaction; SQLite: to the unit's savepoint, the other
//! units of the group unaffected): a failed call writes nothing.
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

use super::{Store, Tx};
