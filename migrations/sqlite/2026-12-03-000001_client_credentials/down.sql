DROP TABLE used_assertions;
DROP TABLE client_assertion_trust;
DROP TABLE oauth_client_secrets;
DROP INDEX oauth_clients_tenant;
ALTER TABLE oauth_clients DROP COLUMN auth_method;
ALTER TABLE oauth_clients DROP COLUMN access_ttl_secs;
ALTER TABLE oauth_clients DROP COLUMN scope;
ALTER TABLE oauth_clients DROP COLUMN grant_type;
-- tenant_id stays: SQLite drops no column that is part of a foreign key, and rebuilding the
-- table would cascade into every grant. It is NULL for every client the previous release made.
