-- An operator can revoke an authorization code (`xkmsd admin authorizations revoke`): from
-- `revoked_at` on it authenticates nobody. NULL: not revoked.
ALTER TABLE authorizations ADD COLUMN revoked_at INTEGER;
