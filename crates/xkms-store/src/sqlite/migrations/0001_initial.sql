-- Initial schema. Times are INTEGER microseconds since the Unix epoch, UTC.

CREATE TABLE authorizations (
    id                TEXT    PRIMARY KEY NOT NULL,
    identity          TEXT    NOT NULL,
    purpose           TEXT    NOT NULL CHECK (purpose IN ('register', 'recover')),
    auth_key_saslprep BLOB    NOT NULL,
    auth_key_legacy   BLOB    NOT NULL,
    kek_saslprep      BLOB    NOT NULL,
    kek_legacy        BLOB    NOT NULL,
    created_at        INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    max_uses          INTEGER CHECK (max_uses IS NULL OR max_uses >= 0),
    uses              INTEGER NOT NULL DEFAULT 0 CHECK (uses >= 0)
);
CREATE INDEX authorizations_identity_purpose ON authorizations (identity, purpose);

-- Serials are reserved before anything is signed with them and never deleted.
CREATE TABLE serials (
    serial      TEXT    PRIMARY KEY NOT NULL,
    reserved_at INTEGER NOT NULL
);

CREATE TABLE key_bindings (
    id                         TEXT    PRIMARY KEY NOT NULL,
    key_name                   TEXT,
    modulus                    BLOB    NOT NULL,
    exponent                   BLOB    NOT NULL,
    key_fingerprint            BLOB    NOT NULL,
    key_usage                  TEXT    NOT NULL,  -- space-separated KeyUsage URIs
    status                     TEXT    NOT NULL CHECK (status IN ('valid', 'revoked')),
    revocation_code_identifier BLOB,
    authorization_id           TEXT    REFERENCES authorizations (id),
    created_at                 INTEGER NOT NULL,
    revoked_at                 INTEGER
);
CREATE INDEX key_bindings_key_fingerprint ON key_bindings (key_fingerprint);
CREATE INDEX key_bindings_key_name ON key_bindings (key_name);
CREATE INDEX key_bindings_authorization_id ON key_bindings (authorization_id);

-- `ordinal` keeps the order in which the pairs were given.
CREATE TABLE use_key_with (
    binding_id  TEXT    NOT NULL REFERENCES key_bindings (id),
    ordinal     INTEGER NOT NULL,
    application TEXT    NOT NULL,
    identifier  TEXT    NOT NULL,
    PRIMARY KEY (binding_id, ordinal)
);
CREATE INDEX use_key_with_application_identifier ON use_key_with (application, identifier);

CREATE TABLE certificates (
    serial            TEXT    PRIMARY KEY NOT NULL REFERENCES serials (serial),
    binding_id        TEXT    NOT NULL REFERENCES key_bindings (id),
    der               BLOB    NOT NULL,
    not_before        INTEGER NOT NULL,
    not_after         INTEGER NOT NULL,
    issued_at         INTEGER NOT NULL,
    revoked_at        INTEGER,
    revocation_reason INTEGER CHECK (revocation_reason IS NULL OR revocation_reason BETWEEN 0 AND 10)
);
CREATE INDEX certificates_binding_id ON certificates (binding_id);

CREATE TABLE audit_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,
    kind       TEXT    NOT NULL,
    request_id TEXT,
    subject    TEXT    NOT NULL,
    detail     TEXT    NOT NULL
);
