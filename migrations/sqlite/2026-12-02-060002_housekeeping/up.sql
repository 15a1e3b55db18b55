-- Housekeeping deletes by these columns (sessions and rate-limit windows have theirs already):
-- expired codes, refresh tokens by age (the audit trail has (at, id)).
CREATE INDEX oauth_codes_expires_at ON oauth_codes (expires_at);
CREATE INDEX refresh_tokens_created_at ON refresh_tokens (created_at);
