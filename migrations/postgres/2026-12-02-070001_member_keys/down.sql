DROP INDEX group_members_member_group;
DROP INDEX group_members_member_user;
ALTER TABLE group_members DROP CONSTRAINT group_members_one_member;
ALTER TABLE group_members DROP COLUMN member_group_id;
ALTER TABLE group_members DROP COLUMN member_user_id;
