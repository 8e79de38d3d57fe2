-- Issue 12: what a mail must prove before it changes anything, and the desk-wide caps.

-- An admin's `buzon retry` of a quarantined mail vouches for its sender: applied as if proven.
ALTER TABLE inbound_mail ADD COLUMN vouched INTEGER NOT NULL DEFAULT 0;

-- A `perfil` change asked for by a new mail, applied only when its confirmation comes back.
CREATE TABLE profile_requests (
    message_id TEXT PRIMARY KEY,
    email      TEXT NOT NULL,
    name       TEXT,
    language   TEXT,
    created_at BIGINT NOT NULL
);

-- Desk-wide hourly caps count automatic mail of a kind over every address.
CREATE INDEX auto_mail_log_kind ON auto_mail_log (kind, sent_at);
