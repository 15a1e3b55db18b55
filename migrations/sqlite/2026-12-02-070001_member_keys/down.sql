CREATE TABLE group_members_unkeyed (
    group_id     TEXT NOT NULL REFERENCES scim_groups(id) ON DELETE CASCADE,
    member_id    TEXT NOT NULL,
    tenant_id    TEXT NOT NULL,
    member_type  TEXT NOT NULL,
    PRIMARY KEY (group_id, member_id)
);
INSERT INTO group_members_unkeyed (group_id, member_id, tenant_id, member_type)
SELECT group_id, member_id, tenant_id, member_type FROM group_members;
DROP TABLE group_members;
ALTER TABLE group_members_unkeyed RENAME TO group_members;
CREATE INDEX group_members_member ON group_members (member_id);
