-- Register asks whether the key was ever revoked for key compromise. With the plain
-- indexes that read the row of every binding of the key and the row (DER and all) of
-- every certificate of those bindings: a key registered many times made each Register
-- of it slower (issue 13: ~14 % of a registration's CPU at 250 bindings per key). A
-- covering index of the key's bindings and a partial index of the compromised
-- certificates answer it from index pages alone.
CREATE INDEX key_bindings_key_fingerprint_id ON key_bindings (key_fingerprint, id);
DROP INDEX key_bindings_key_fingerprint;
CREATE INDEX certificates_compromised ON certificates (binding_id) WHERE revocation_reason = 1;
