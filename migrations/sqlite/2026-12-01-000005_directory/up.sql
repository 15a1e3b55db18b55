-- Delivering the directory to the vendor's app: API keys for its backend, the event log (a
-- transactional outbox written with every change), and webhook endpoints with their per-tenant
-- delivery cursors and delivery attempts.

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY NOT NULL,
    label         TEXT NOT NULL,
    -- NULL: the key sees every tenant.
    tenant_id     TEXT REFERENCES tenants(id) ON DELETE CASCADE,
    scopes        TEXT NOT NULL,
    key_hash      TEXT NOT NULL UNIQUE,
    hint          TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    revoked_at    BIGINT
);

-- `seq` is the order of insertion; `position` the order of the feed, assigned after commit by
-- the sequencer (one at a time across nodes), so a reader that moved past a position can never
-- later meet an event below it. NULL until sequenced.
CREATE TABLE events (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    position          BIGINT UNIQUE,
    id                TEXT NOT NULL UNIQUE,
    tenant_id         TEXT NOT NULL,
    tenant_slug       TEXT NOT NULL,
    event_type        TEXT NOT NULL,
    resource_id       TEXT,
    resource_version  BIGINT,
    occurred_at       BIGINT NOT NULL,
    data              TEXT NOT NULL
);
CREATE INDEX events_unsequenced ON events (seq) WHERE position IS NULL;
CREATE INDEX events_tenant_position ON events (tenant_id, position);
CREATE INDEX events_occurred ON events (occurred_at);

-- One row: the highest position retention has deleted (a cursor below it is gone: 410).
CREATE TABLE event_log_state (
    id              BIGINT PRIMARY KEY NOT NULL,
    pruned_through  BIGINT NOT NULL
);
INSERT INTO event_log_state (id, pruned_through) VALUES (1, 0);

CREATE TABLE webhook_endpoints (
    id                TEXT PRIMARY KEY NOT NULL,
    url               TEXT NOT NULL,
    -- NULL: every tenant's events.
    tenant_id         TEXT REFERENCES tenants(id) ON DELETE CASCADE,
    -- Comma-separated patterns such as "user.*,group.member_added"; empty: every type.
    event_types       TEXT NOT NULL,
    secret            TEXT NOT NULL,
    previous_secret   TEXT,
    previous_until    BIGINT,
    enabled           BOOLEAN NOT NULL,
    disabled_reason   TEXT,
    -- Events up to here have been fanned out into per-tenant cursors.
    fanout_position   BIGINT NOT NULL,
    created_at        BIGINT NOT NULL
);

-- Where delivery to one endpoint stands for one tenant: strictly in order, one event at a time.
CREATE TABLE webhook_cursors (
    endpoint_id       TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    tenant_id         TEXT NOT NULL,
    position          BIGINT NOT NULL,
    pending           BOOLEAN NOT NULL,
    attempts          BIGINT NOT NULL,
    failing_since     BIGINT,
    next_attempt_at   BIGINT NOT NULL,
    lease_owner       TEXT,
    lease_until       BIGINT NOT NULL,
    PRIMARY KEY (endpoint_id, tenant_id)
);
CREATE INDEX webhook_cursors_due ON webhook_cursors (pending, next_attempt_at);

CREATE TABLE webhook_deliveries (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id       TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    event_id          TEXT NOT NULL,
    tenant_id         TEXT NOT NULL,
    attempt           BIGINT NOT NULL,
    outcome           TEXT NOT NULL,
    status_code       BIGINT,
    latency_ms        BIGINT NOT NULL,
    response_body     TEXT,
    at                BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, seq);
CREATE INDEX webhook_deliveries_at ON webhook_deliveries (at);

-- Re-deliveries an operator asked for (`scimd webhook replay`), outside the ordered cursors:
-- each is sent once, by whichever node claims it first.
CREATE TABLE webhook_replays (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id       TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    event_id          TEXT NOT NULL,
    requested_at      BIGINT NOT NULL
);
