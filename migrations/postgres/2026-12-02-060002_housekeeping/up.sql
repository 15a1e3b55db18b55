-- Housekeeping deletes by these columns (sessions and rate-limit windows have theirs already):
-- expired codes, retired refresh tokens by age (the audit trail has (at, id)).
CREATE INDEX oauth_codes_expires_at ON oauth_codes (expires_at);
CREATE INDEX refresh_tokens_retired_created ON refresh_tokens (created_at) WHERE retired_at IS NOT NULL;
