-- Issue 17: when each mailbox was last synced in full (Unix ms), so /health and
-- `buzon status` can tell that fetching has stopped, from any process.
CREATE TABLE mailbox_syncs (
    mailbox   TEXT PRIMARY KEY,
    synced_at INTEGER NOT NULL
);
