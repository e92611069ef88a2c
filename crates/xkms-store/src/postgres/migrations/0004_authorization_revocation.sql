-- An operator can revoke an authorization code (the SQLite schema's migration 0006).
ALTER TABLE authorizations ADD COLUMN revoked_at BIGINT;
