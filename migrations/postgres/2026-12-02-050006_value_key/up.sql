-- The filter index looks strings up by a bounded prefix of their folded text, `value_key`, not by
-- the whole `value_ci`: a PostgreSQL btree entry cannot exceed about 2.7 kB, so a long value
-- (an x509 certificate, a long title) failed its insert there while SQLite stored it. Equality
-- filters compare `value_key` (through the index) and then `value_ci`.
ALTER TABLE resource_values ADD COLUMN value_key TEXT NOT NULL DEFAULT '';
UPDATE resource_values SET value_key = substr(value_ci, 1, 256);
DROP INDEX resource_values_lookup;
CREATE INDEX resource_values_lookup ON resource_values (tenant_id, attr, value_key);
