-- Issue 17: the OAuth2 login of the mailbox (`buzon auth login`), one row an account.

CREATE TABLE oauth2_tokens (
    -- The mailbox the token logs in to (imap.username).
    account          TEXT PRIMARY KEY,
    -- The refresh token, sealed with a key derived from support.secret (ChaCha20-Poly1305,
    -- base64 of nonce and ciphertext): a copy of the database alone does not log anyone in.
    sealed_refresh   TEXT NOT NULL,
    -- When `buzon auth login` stored it, and when the provider last rotated it.
    obtained_at      BIGINT NOT NULL,
    rotated_at       BIGINT NOT NULL,
    -- Set while refreshing fails: since when, why, and whether the provider refused the
    -- token (1: only `buzon auth login` mends it) or could not be reached (0).
    failing_since    BIGINT,
    failure          TEXT,
    refused          BIGINT NOT NULL DEFAULT 0,
    -- The last mail to support.admin about the failure (at most one a day).
    admin_told_at    BIGINT
);
