-- Okta entitlement management: the catalog of roles and entitlements the vendor's app owns,
-- written through /api/v1 and read by the IdP at /scim/v2/Roles and each entitlement type's
-- endpoint; and the ones users hold, as rows.

-- `scope` is '' for an item every tenant sees, else the id of the one tenant that sees it; a
-- tenant's item takes the place of a vendor-wide one with the same type and id. `type_id` is
-- 'Role' or an entitlement type's configured id. `data` is the item's canonical SCIM JSON
-- (extension attributes included), without id and meta.
CREATE TABLE catalog_items (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    scope            TEXT NOT NULL,
    type_id          TEXT NOT NULL,
    item_id          TEXT NOT NULL,
    display_name     TEXT NOT NULL,
    display_name_ci  TEXT NOT NULL,
    description      TEXT,
    data             TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    version          BIGINT NOT NULL,
    UNIQUE (scope, type_id, item_id)
);
CREATE INDEX catalog_items_type ON catalog_items (type_id, item_id);

-- A role or entitlement a user holds: one row each, so a grant touches one row, filters on
-- them run in SQL, and deleting a catalog item finds its holders by index.
CREATE TABLE user_assignments (
    tenant_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL REFERENCES scim_users(id) ON DELETE CASCADE,
    type_id     TEXT NOT NULL,
    item_id     TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (user_id, type_id, item_id)
);
CREATE INDEX user_assignments_item ON user_assignments (tenant_id, type_id, item_id);
