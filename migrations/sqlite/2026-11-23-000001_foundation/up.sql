-- Foundation: tenants, static bearer tokens, SCIM users and groups, memberships, filter index.
-- Timestamps are Unix milliseconds (BIGINT) on both backends; ids are UUIDs generated in Rust.

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY NOT NULL,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    disabled    BOOLEAN NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL
);

CREATE TABLE static_tokens (
    id            TEXT PRIMARY KEY NOT NULL,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    label         TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    hint          TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    revoked_at    BIGINT
);
CREATE INDEX static_tokens_tenant ON static_tokens (tenant_id);

-- `seq` gives every tenant a stable creation order for paging that never skips or repeats.
CREATE TABLE scim_users (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    id               TEXT NOT NULL UNIQUE,
    tenant_id        TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_name        TEXT NOT NULL,
    user_name_ci     TEXT NOT NULL,
    external_id      TEXT,
    display_name     TEXT,
    display_name_ci  TEXT,
    active           BOOLEAN NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    version          BIGINT NOT NULL,
    data             TEXT NOT NULL
);
CREATE UNIQUE INDEX scim_users_tenant_user_name ON scim_users (tenant_id, user_name_ci);
CREATE INDEX scim_users_tenant_seq ON scim_users (tenant_id, seq);
CREATE INDEX scim_users_tenant_external_id ON scim_users (tenant_id, external_id);
CREATE INDEX scim_users_tenant_display_name ON scim_users (tenant_id, display_name_ci);

CREATE TABLE scim_groups (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    id               TEXT NOT NULL UNIQUE,
    tenant_id        TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    display_name     TEXT NOT NULL,
    display_name_ci  TEXT NOT NULL,
    external_id      TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    version          BIGINT NOT NULL,
    data             TEXT NOT NULL
);
CREATE UNIQUE INDEX scim_groups_tenant_display_name ON scim_groups (tenant_id, display_name_ci);
CREATE INDEX scim_groups_tenant_seq ON scim_groups (tenant_id, seq);
CREATE INDEX scim_groups_tenant_external_id ON scim_groups (tenant_id, external_id);

-- Memberships as rows: adding or removing one member never rewrites the group.
CREATE TABLE group_members (
    group_id     TEXT NOT NULL REFERENCES scim_groups(id) ON DELETE CASCADE,
    member_id    TEXT NOT NULL,
    tenant_id    TEXT NOT NULL,
    member_type  TEXT NOT NULL,
    PRIMARY KEY (group_id, member_id)
);
CREATE INDEX group_members_member ON group_members (member_id);

-- One row per simple value inside complex or multi-valued attributes, so filters on them run in SQL.
-- `element` names the multi-valued element a value belongs to (resource id, attribute, index) so
-- value-path filters like emails[type eq "work" and value co "x"] compare within one element.
CREATE TABLE resource_values (
    resource_id  TEXT NOT NULL,
    tenant_id    TEXT NOT NULL,
    attr         TEXT NOT NULL,
    element      TEXT NOT NULL,
    value        TEXT NOT NULL,
    value_ci     TEXT NOT NULL
);
CREATE INDEX resource_values_lookup ON resource_values (tenant_id, attr, value_ci);
CREATE INDEX resource_values_resource ON resource_values (resource_id);
