DROP INDEX refresh_tokens_retired_created;
DROP INDEX oauth_codes_expires_at;
