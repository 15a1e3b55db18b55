DROP INDEX resource_values_lookup;
CREATE INDEX resource_values_lookup ON resource_values (tenant_id, attr, value_ci);
ALTER TABLE resource_values DROP COLUMN value_key;
