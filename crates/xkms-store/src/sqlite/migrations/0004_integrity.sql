-- Names granted by authorizations, secrets sealed at rest, escrow bound to its binding,
-- a hash-chained audit trail.

-- `kind:value` lines (crate::columns::granted_names_to_column); the identity itself is
-- always granted and not listed.
ALTER TABLE authorizations ADD COLUMN granted_names TEXT NOT NULL DEFAULT '';
-- K_auth and the 0x04 values sealed under the master key. NULL for rows written before:
-- their clear columns are sealed by the service at start and then emptied.
ALTER TABLE authorizations ADD COLUMN sealed_secrets BLOB;

-- 1: sealed with a constant associated data (resealed at start); 2: the associated data
-- names the binding, so a blob moved to another binding does not decrypt there.
ALTER TABLE escrowed_keys ADD COLUMN format INTEGER NOT NULL DEFAULT 1 CHECK (format IN (1, 2));
-- Every start looks for format 1 rows: an index range, not a scan of every escrowed key.
CREATE INDEX escrowed_keys_format ON escrowed_keys (format);

-- Events written from now on are chained: hash = SHA-256(prev_hash, seq, event). Earlier
-- events keep NULLs and are reported as not covered by the chain.
ALTER TABLE audit_events ADD COLUMN seq INTEGER;
ALTER TABLE audit_events ADD COLUMN prev_hash BLOB;
ALTER TABLE audit_events ADD COLUMN hash BLOB;
CREATE UNIQUE INDEX audit_events_seq ON audit_events (seq);
-- The newest link; every transaction that appends events updates it, which orders
-- concurrent writers.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    seq  INTEGER NOT NULL CHECK (seq >= 0),
    hash BLOB    NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, zeroblob(32));
