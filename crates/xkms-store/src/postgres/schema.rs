//! Versioned schema migrations for PostgreSQL (run by `shared/migrate.rs`).

/// The number of migrations a current schema has applied.
pub const MIGRATION_COUNT: usize = MIGRATIONS.len();

/// (version, SQL). Append only; never edit a released migration. The versions are this
/// backend's own; they need not match SQLite's.
pub(crate) const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/0001_initial.sql")),
    (2, include_str!("migrations/0002_integrity.sql")),
    (3, include_str!("migrations/0003_bounds.sql")),
    (
        4,
        include_str!("migrations/0004_authorization_revocation.sql"),
    ),
    (5, include_str!("migrations/0005_revocation_counter.sql")),
    (6, include_str!("migrations/0006_compromised_key_index.sql")),
];
