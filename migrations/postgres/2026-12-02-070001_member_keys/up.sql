-- A membership references its member, so deleting a user or group takes its memberships with it
-- and no membership can name a member that is gone (issue 17 item 25). Members are users or
-- groups: one nullable key column per table, exactly one set, equal to `member_id`.
DELETE FROM group_members m
WHERE (m.member_type = 'User' AND NOT EXISTS (SELECT 1 FROM scim_users u WHERE u.id = m.member_id))
   OR (m.member_type = 'Group' AND NOT EXISTS (SELECT 1 FROM scim_groups g WHERE g.id = m.member_id))
   OR m.member_type NOT IN ('User', 'Group');
ALTER TABLE group_members ADD COLUMN member_user_id TEXT REFERENCES scim_users(id) ON DELETE CASCADE;
ALTER TABLE group_members ADD COLUMN member_group_id TEXT REFERENCES scim_groups(id) ON DELETE CASCADE;
UPDATE group_members SET member_user_id = member_id WHERE member_type = 'User';
UPDATE group_members SET member_group_id = member_id WHERE member_type = 'Group';
ALTER TABLE group_members ADD CONSTRAINT group_members_one_member CHECK (
    (member_type = 'User' AND member_user_id = member_id AND member_group_id IS NULL)
    OR (member_type = 'Group' AND member_group_id = member_id AND member_user_id IS NULL)
);
-- The cascades look memberships up by member.
CREATE INDEX group_members_member_user ON group_members (member_user_id);
CREATE INDEX group_members_member_group ON group_members (member_group_id);
