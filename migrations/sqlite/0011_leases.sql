-- Issue 18 (used on PostgreSQL only: SQLite has one process, which needs no lease): which
-- process watches each mailbox. A process fetches a mailbox only while it
-- holds that mailbox's row here: it renews `lease_until` every few seconds (`heartbeat_at`
-- is when it last did), and another process takes the row over once `lease_until` passed
-- (a dead or paused watcher) or at once when the holder gave it back (a clean stop).
-- `owner` is `host/pid/start-ms`, as on the other leases (0003_lease_owner).
CREATE TABLE fetch_leases (
    mailbox      TEXT PRIMARY KEY,
    owner        TEXT NOT NULL,
    heartbeat_at INTEGER NOT NULL,
    lease_until  INTEGER NOT NULL
);

-- Every running process says it is alive here every few seconds. The mails and outgoing
-- mail a process leased are taken over by the others as soon as its `alive_until` passed
-- (killed, host gone), not when their own 5-minute leases run out.
CREATE TABLE processes (
    owner        TEXT PRIMARY KEY,
    heartbeat_at INTEGER NOT NULL,
    alive_until  INTEGER NOT NULL
);
