-- The request inspector: every SCIM request of a tenant as it arrived and was answered (bodies
-- with secrets removed, bounded), written off the request path in batches and pruned by age and
-- by count per tenant. Diagnostics only: a crash may lose the last second of it, never SCIM data.
CREATE TABLE request_log (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id      TEXT NOT NULL,
    at             BIGINT NOT NULL,
    method         TEXT NOT NULL,
    path           TEXT NOT NULL,
    status         BIGINT NOT NULL,
    scim_type      TEXT,
    detail         TEXT,
    latency_ms     BIGINT NOT NULL,
    -- `st:<id>` (static token) or `grant:<id>` (OAuth); NULL when the credential was refused.
    credential     TEXT,
    -- okta, entra or other, from the User-Agent.
    client         TEXT NOT NULL,
    user_agent     TEXT NOT NULL,
    request_id     TEXT NOT NULL,
    request_body   TEXT,
    response_body  TEXT
);
CREATE INDEX request_log_tenant_seq ON request_log (tenant_id, seq);
CREATE INDEX request_log_at ON request_log (at);

-- Requests and errors per tenant and hour, for the fleet dashboard's charts and counts: added up
-- by the inspector's writer at each flush, kept 48 hours.
CREATE TABLE tenant_hourly (
    tenant_id  TEXT NOT NULL,
    hour       BIGINT NOT NULL,
    requests   BIGINT NOT NULL,
    errors     BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, hour)
);
