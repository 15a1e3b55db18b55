-- Microsoft Entra's gallery rules (issue 14): clients that belong to one tenant and use the
-- client-credentials grant, several secrets per client with expiry, and clients that
-- authenticate with a signed JWT (RFC 7523: `private_key_jwt`, workload identity federation).
-- Expand only: the previous release keeps reading `oauth_clients.secret_hash`, which this
-- release still writes for vendor-wide clients; every new column has a default.

-- NULL: a vendor-wide client (Okta's authorization code, the tenant chosen at consent).
ALTER TABLE oauth_clients ADD COLUMN tenant_id TEXT REFERENCES tenants(id) ON DELETE CASCADE;
-- 'authorization_code' or 'client_credentials'.
ALTER TABLE oauth_clients ADD COLUMN grant_type TEXT NOT NULL DEFAULT 'authorization_code';
-- The scopes a client-credentials token carries (space-separated).
ALTER TABLE oauth_clients ADD COLUMN scope TEXT;
-- The access-token lifetime of this client's tokens; NULL: the server's setting.
ALTER TABLE oauth_clients ADD COLUMN access_ttl_secs BIGINT;
-- 'secret' (Basic or body) or 'private_key_jwt' (a signed assertion).
ALTER TABLE oauth_clients ADD COLUMN auth_method TEXT NOT NULL DEFAULT 'secret';
CREATE INDEX oauth_clients_tenant ON oauth_clients (tenant_id);

-- A client's secrets, as SHA-256: several live at once so a customer rotates without downtime.
CREATE TABLE oauth_client_secrets (
    id                  TEXT PRIMARY KEY NOT NULL,
    client_id           TEXT NOT NULL REFERENCES oauth_clients(id) ON DELETE CASCADE,
    secret_hash         TEXT NOT NULL,
    -- The secret's last four characters, to tell secrets apart in lists.
    hint                TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    expires_at          BIGINT,
    last_used_at        BIGINT,
    revoked_at          BIGINT,
    -- When housekeeping wrote the secret's expiry into the audit trail.
    expiry_recorded_at  BIGINT
);
CREATE INDEX oauth_client_secrets_client ON oauth_client_secrets (client_id);
CREATE INDEX oauth_client_secrets_expires ON oauth_client_secrets (expires_at);
INSERT INTO oauth_client_secrets (id, client_id, secret_hash, hint, created_at)
SELECT 'sec_' || id, id, secret_hash, '', COALESCE(secret_rotated_at, created_at)
FROM oauth_clients;

-- What a `private_key_jwt` client's assertions must say, and where its keys are (a JWKS URL or
-- a JWKS). NULL issuer and subject: the client id; NULL audience: our token endpoint or issuer.
CREATE TABLE client_assertion_trust (
    client_id  TEXT PRIMARY KEY NOT NULL REFERENCES oauth_clients(id) ON DELETE CASCADE,
    issuer     TEXT,
    subject    TEXT,
    audience   TEXT,
    jwks_uri   TEXT,
    jwks       TEXT
);

-- Assertions already used (RFC 7523 §3 `jti`), kept until they expire: a replay is refused on
-- every node. The key is SHA-256 of the issuer and the assertion's id.
CREATE TABLE used_assertions (
    key_hash    TEXT PRIMARY KEY NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX used_assertions_expires ON used_assertions (expires_at);
