//! Persistent implementations of the `xkms-service` store traits.
//!
//! [`SqliteStore`] is the default, embedded backend. A PostgreSQL backend will live next
//! to it and reuse the backend-neutral column encodings (`columns`) and the error
//! mapping (`db_error`), so both backends store the same values the same way.
//!
//! Timestamps are stored as INTEGER microseconds since the Unix epoch (UTC): the same
//! precision as PostgreSQL `timestamptz`, so one test suite behaves identically on both.
//! Sub-microsecond parts of an `OffsetDateTime` are truncated; the offset is normalised
//! to UTC on the way back.

mod columns;
mod db_error;
pub mod sqlite;

pub use sqlite::SqliteStore;
