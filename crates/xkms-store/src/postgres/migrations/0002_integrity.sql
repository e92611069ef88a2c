-- Names granted by authorizations, secrets sealed at rest, escrow bound to its binding,
-- a hash-chained audit trail (the SQLite schema's migration 0004).

ALTER TABLE authorizations ADD COLUMN granted_names TEXT NOT NULL DEFAULT '';
ALTER TABLE authorizations ADD COLUMN sealed_secrets BYTEA;

ALTER TABLE escrowed_keys ADD COLUMN format BIGINT NOT NULL DEFAULT 1 CHECK (format IN (1, 2));
-- Every start looks for format 1 rows: an index range, not a scan of every escrowed key.
CREATE INDEX escrowed_keys_format ON escrowed_keys (format);

ALTER TABLE audit_events ADD COLUMN seq BIGINT;
ALTER TABLE audit_events ADD COLUMN prev_hash BYTEA;
ALTER TABLE audit_events ADD COLUMN hash BYTEA;
CREATE UNIQUE INDEX audit_events_seq ON audit_events (seq);
-- Locked FOR UPDATE by every transaction that appends events: concurrent writers on
-- several nodes link one after the other.
CREATE TABLE audit_head (
    id   BIGINT PRIMARY KEY NOT NULL CHECK (id = 1),
    seq  BIGINT NOT NULL CHECK (seq >= 0),
    hash BYTEA  NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));
