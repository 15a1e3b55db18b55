-- Secrets every node shares that are not signing keys: the key of the pre-session sign-in CSRF
-- tokens (an HMAC, so a sign-in form's token is one this server minted).
CREATE TABLE server_secrets (
    name TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
