-- A membership references its member, so deleting a user or group takes its memberships with it
-- and no membership can name a member that is gone (issue 17 item 25). Members are users or
-- groups: one nullable key column per table, exactly one set, equal to `member_id`. SQLite adds
-- no constraint to an existing table: the table is rebuilt (nothing references it).
CREATE TABLE group_members_keyed (
    group_id         TEXT NOT NULL REFERENCES scim_groups(id) ON DELETE CASCADE,
    member_id        TEXT NOT NULL,
    tenant_id        TEXT NOT NULL,
    member_type      TEXT NOT NULL,
    member_user_id   TEXT REFERENCES scim_users(id) ON DELETE CASCADE,
    member_group_id  TEXT REFERENCES scim_groups(id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, member_id),
    CONSTRAINT group_members_one_member CHECK (
        (member_type = 'User' AND member_user_id = member_id AND member_group_id IS NULL)
        OR (member_type = 'Group' AND member_group_id = member_id AND member_user_id IS NULL)
    )
);
INSERT INTO group_members_keyed
    (group_id, member_id, tenant_id, member_type, member_user_id, member_group_id)
SELECT group_id, member_id, tenant_id, member_type,
       CASE WHEN member_type = 'User' THEN member_id END,
       CASE WHEN member_type = 'Group' THEN member_id END
FROM group_members m
WHERE (m.member_type = 'User' AND EXISTS (SELECT 1 FROM scim_users u WHERE u.id = m.member_id))
   OR (m.member_type = 'Group' AND EXISTS (SELECT 1 FROM scim_groups g WHERE g.id = m.member_id));
DROP TABLE group_members;
ALTER TABLE group_members_keyed RENAME TO group_members;
CREATE INDEX group_members_member ON group_members (member_id);
-- The cascades look memberships up by member.
CREATE INDEX group_members_member_user ON group_members (member_user_id);
CREATE INDEX group_members_member_group ON group_members (member_group_id);
