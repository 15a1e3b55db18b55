-- Each exchange of a refresh token reads its grant's live tokens (to retire the superseded ones).
-- Retired tokens stay until retention, so by `grant_id` alone that read grew with every exchange
-- of the grant; this index holds only the live ones.
CREATE INDEX refresh_tokens_live ON refresh_tokens (grant_id) WHERE retired_at IS NULL;
