-- Refresh rotation with a grace window (issue 17): a refresh token remembers the access token
-- minted with it, so that retiring it unused (a retry after the window) can revoke that access
-- token too. Revoked access tokens are kept until they would have expired anyway.
ALTER TABLE refresh_tokens ADD COLUMN access_jti TEXT;

CREATE TABLE revoked_access_tokens (
    jti         TEXT PRIMARY KEY NOT NULL,
    grant_id    TEXT NOT NULL REFERENCES oauth_grants(id) ON DELETE CASCADE,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX revoked_access_tokens_expiry ON revoked_access_tokens (expires_at);
