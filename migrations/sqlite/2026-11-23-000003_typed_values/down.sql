DROP INDEX resource_values_number;
ALTER TABLE resource_values DROP COLUMN value_num;
