DROP INDEX refresh_tokens_created_at;
DROP INDEX oauth_codes_expires_at;
