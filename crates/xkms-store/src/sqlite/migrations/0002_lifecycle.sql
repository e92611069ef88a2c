-- Reissue, revocation, recovery escrow, pending requests and replay protection.

-- Existing certificates predate SKI lookups; an empty SKI matches no ds:X509SKI query.
ALTER TABLE certificates ADD COLUMN ski BLOB NOT NULL DEFAULT x'';
CREATE INDEX certificates_ski ON certificates (ski);
-- The CRL: only revoked certificates, in the order they are listed.
CREATE INDEX certificates_revoked ON certificates (revoked_at, serial) WHERE revoked_at IS NOT NULL;

-- Escrowed private keys (encrypted under the service master key) in their own table:
-- binding lookups never read them, and binding rows stay small.
CREATE TABLE escrowed_keys (
    binding_id  TEXT PRIMARY KEY NOT NULL REFERENCES key_bindings (id),
    private_key BLOB NOT NULL
);

CREATE TABLE pending_requests (
    response_id         TEXT    PRIMARY KEY NOT NULL,
    original_request_id TEXT    NOT NULL,
    operation           TEXT    NOT NULL,
    requester           TEXT    NOT NULL,
    state               TEXT    NOT NULL CHECK (state IN
                            ('awaiting-approval', 'queued', 'running', 'done', 'rejected')),
    document            TEXT    NOT NULL,
    result              TEXT,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    lease_until         INTEGER,
    counter_success     INTEGER CHECK (counter_success >= 0),
    counter_failure     INTEGER CHECK (counter_failure >= 0),
    counter_pending     INTEGER CHECK (counter_pending >= 0),
    CHECK ((counter_success IS NULL) = (counter_failure IS NULL)
       AND (counter_failure IS NULL) = (counter_pending IS NULL))
);
CREATE INDEX pending_requests_state_created ON pending_requests (state, created_at, response_id);
CREATE INDEX pending_requests_created ON pending_requests (created_at, response_id);

CREATE TABLE replay_values (
    kind       TEXT    NOT NULL,
    value      BLOB    NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (kind, value)
);
CREATE INDEX replay_values_kind_expires ON replay_values (kind, expires_at);
