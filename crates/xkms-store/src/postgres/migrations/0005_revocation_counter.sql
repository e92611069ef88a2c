-- Bumped in the same transaction as every revocation (of a binding, with its
-- certificates): a node caching verified Validate answers re-reads it at most once per
-- second and drops its cache when it changed (docs/OPERATIONS.md, "Validate cache").
CREATE TABLE revocation_counter (
    id         INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    generation BIGINT  NOT NULL CHECK (generation >= 0)
);
INSERT INTO revocation_counter (id, generation) VALUES (1, 0);
