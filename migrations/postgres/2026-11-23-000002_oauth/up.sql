-- OAuth2 authorization server: tenant admins and their browser sessions, login throttling, clients,
-- grants (one per consent), authorization codes, refresh-token families, signing keys, audit trail.
-- Every secret is stored as a hash: argon2id for passwords and client secrets, SHA-256 for random tokens.

CREATE TABLE admin_accounts (
    id             TEXT PRIMARY KEY NOT NULL,
    tenant_id      TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    email          TEXT NOT NULL,
    email_ci       TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    disabled       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     BIGINT NOT NULL
);
CREATE INDEX admin_accounts_tenant ON admin_accounts (tenant_id);

CREATE TABLE web_sessions (
    id_hash      TEXT PRIMARY KEY NOT NULL,
    admin_id     TEXT NOT NULL REFERENCES admin_accounts(id) ON DELETE CASCADE,
    csrf_token   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);

-- Failed logins per key ("account:<email>" or "ip:<address>") in the current window.
CREATE TABLE login_throttle (
    throttle_key   TEXT PRIMARY KEY NOT NULL,
    failures       BIGINT NOT NULL,
    window_start   BIGINT NOT NULL,
    locked_until   BIGINT
);

CREATE TABLE oauth_clients (
    id                 TEXT PRIMARY KEY NOT NULL,
    name               TEXT NOT NULL,
    secret_hash        TEXT NOT NULL,
    redirect_uris      TEXT NOT NULL,
    require_pkce       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at         BIGINT NOT NULL,
    secret_rotated_at  BIGINT
);

-- One row per consent: the tenant, the admin who approved, the client and the scopes. Revoking it
-- revokes every refresh and access token issued under it.
CREATE TABLE oauth_grants (
    id              TEXT PRIMARY KEY NOT NULL,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    admin_id        TEXT,
    client_id       TEXT NOT NULL REFERENCES oauth_clients(id) ON DELETE CASCADE,
    scope           TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    revoked_at      BIGINT,
    revoked_reason  TEXT
);
CREATE INDEX oauth_grants_tenant ON oauth_grants (tenant_id);
CREATE INDEX oauth_grants_client ON oauth_grants (client_id);

CREATE TABLE oauth_codes (
    code_hash     TEXT PRIMARY KEY NOT NULL,
    grant_id      TEXT NOT NULL REFERENCES oauth_grants(id) ON DELETE CASCADE,
    redirect_uri  TEXT NOT NULL,
    pkce          TEXT,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    used_at       BIGINT
);
CREATE INDEX oauth_codes_grant ON oauth_codes (grant_id);

-- A family per grant: every refresh adds a child of the token presented.
CREATE TABLE refresh_tokens (
    id           TEXT PRIMARY KEY NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    grant_id     TEXT NOT NULL REFERENCES oauth_grants(id) ON DELETE CASCADE,
    parent_id    TEXT,
    created_at   BIGINT NOT NULL,
    used_at      BIGINT,
    retired_at   BIGINT
);
CREATE INDEX refresh_tokens_grant ON refresh_tokens (grant_id);

CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY NOT NULL,
    alg          TEXT NOT NULL,
    private_key  TEXT NOT NULL,
    public_key   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    retired_at   BIGINT
);

-- Append-only. No foreign keys: the trail outlives the tenants, clients and grants it mentions.
CREATE TABLE audit_events (
    id          TEXT PRIMARY KEY NOT NULL,
    at          BIGINT NOT NULL,
    tenant_id   TEXT,
    event       TEXT NOT NULL,
    actor       TEXT NOT NULL,
    client_id   TEXT,
    grant_id    TEXT,
    ip          TEXT,
    detail      TEXT NOT NULL
);
CREATE INDEX audit_events_at ON audit_events (at, id);
CREATE INDEX audit_events_tenant_at ON audit_events (tenant_id, at, id);
