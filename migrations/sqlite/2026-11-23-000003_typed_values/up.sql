-- Typed filter index: numbers, and dateTimes as Unix milliseconds, so `gt`/`lt`/`ge`/`le` and
-- sortBy compare them by value rather than as text. Text-only attributes leave it NULL, hence the
-- partial index.
ALTER TABLE resource_values ADD COLUMN value_num REAL;
CREATE INDEX resource_values_number ON resource_values (tenant_id, attr, value_num)
    WHERE value_num IS NOT NULL;
