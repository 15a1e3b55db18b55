-- Operator console and hardening: operator accounts and their sessions, shared rate-limit
-- counters, each tenant's last SCIM activity (the "Connect Okta" status line), and audit indexes
-- that keep filtered, keyset-paged audit queries fast at millions of events.

CREATE TABLE operator_accounts (
    id             TEXT PRIMARY KEY NOT NULL,
    email          TEXT NOT NULL,
    email_ci       TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    disabled       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     BIGINT NOT NULL
);

CREATE TABLE operator_sessions (
    id_hash      TEXT PRIMARY KEY NOT NULL,
    operator_id  TEXT NOT NULL REFERENCES operator_accounts(id) ON DELETE CASCADE,
    csrf_token   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX operator_sessions_expires ON operator_sessions (expires_at);

-- Fixed-window request counters shared by every node: `bucket` is e.g. "scim:<tenant>" or
-- "token-ip:<address>"; a row whose window has passed starts over.
CREATE TABLE rate_limits (
    bucket        TEXT PRIMARY KEY NOT NULL,
    window_start  BIGINT NOT NULL,
    hits          BIGINT NOT NULL
);
CREATE INDEX rate_limits_window ON rate_limits (window_start);

CREATE TABLE tenant_activity (
    tenant_id            TEXT PRIMARY KEY NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    last_request_at      BIGINT,
    last_success_at      BIGINT,
    last_failure_at      BIGINT,
    last_failure_status  BIGINT,
    last_failure_reason  TEXT
);

CREATE INDEX audit_events_event_at ON audit_events (event, at, id);
CREATE INDEX audit_events_actor_at ON audit_events (actor, at, id);
CREATE INDEX audit_events_grant_at ON audit_events (grant_id, at, id);
CREATE INDEX audit_events_tenant_event_at ON audit_events (tenant_id, event, at, id);
CREATE INDEX refresh_tokens_parent ON refresh_tokens (parent_id);
