-- Replaces the partial index of 0002 by a plain one. A partial index makes SQLite mark
-- every statement on `certificates` whose WHERE has a bound parameter as depending on
-- that parameter's value (could the term imply `revoked_at IS NOT NULL`?), so the
-- statement was re-prepared on every execution: 20 % of the CPU of a Validate.
DROP INDEX IF EXISTS certificates_revoked;
CREATE INDEX certificates_revoked ON certificates (revoked_at, serial);
