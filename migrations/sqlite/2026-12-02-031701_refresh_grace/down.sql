DROP TABLE revoked_access_tokens;
ALTER TABLE refresh_tokens DROP COLUMN access_jti;
