-- buzon's foundation: the directory of people, mail as fetched, cases, their history and
-- the outbox. Times are Unix milliseconds; flags are 0/1 integers (same on both databases).

CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO counters (name, value) VALUES ('case_number', 0);

CREATE TABLE organizations (
    id         INTEGER PRIMARY KEY,
    domain     TEXT NOT NULL UNIQUE,
    name       TEXT,
    created_at INTEGER NOT NULL
);

CREATE TABLE customers (
    id         INTEGER PRIMARY KEY,
    email      TEXT NOT NULL UNIQUE,
    name       TEXT,
    org_domain TEXT,
    language   TEXT,
    created_at INTEGER NOT NULL
);

CREATE TABLE agents (
    id         INTEGER PRIMARY KEY,
    email      TEXT NOT NULL UNIQUE,
    name       TEXT,
    created_at INTEGER NOT NULL
);

-- Where the fetcher is in each mailbox; reset when UIDVALIDITY changes.
CREATE TABLE imap_cursors (
    mailbox     TEXT PRIMARY KEY,
    uidvalidity INTEGER NOT NULL,
    last_uid    INTEGER NOT NULL
);

-- Every mail as fetched, raw bytes in the blob store, before anything is decided about it.
CREATE TABLE inbound_mail (
    id           INTEGER PRIMARY KEY,
    mailbox      TEXT NOT NULL,
    uidvalidity  INTEGER NOT NULL,
    uid          INTEGER NOT NULL,
    message_id   TEXT,
    dedupe_key   TEXT NOT NULL,
    raw_hash     TEXT NOT NULL,
    raw_size     INTEGER NOT NULL,
    state        TEXT NOT NULL DEFAULT 'pending',   -- pending | done | duplicate | failed
    outcome      TEXT,
    error        TEXT,
    attempts     INTEGER NOT NULL DEFAULT 0,
    lease_until  INTEGER,
    imap_done    INTEGER NOT NULL DEFAULT 0,
    fetched_at   INTEGER NOT NULL,
    processed_at INTEGER,
    UNIQUE (mailbox, uidvalidity, uid)
);
CREATE INDEX inbound_mail_state ON inbound_mail (state, id);
CREATE INDEX inbound_mail_imap ON inbound_mail (mailbox, imap_done, state);

-- One row per mail that produced an effect: a second copy (same Message-ID, or same bytes
-- when there is none) finds its key taken and produces nothing.
CREATE TABLE processed_keys (
    dedupe_key TEXT PRIMARY KEY,
    inbound_id INTEGER NOT NULL
);

CREATE TABLE cases (
    id              INTEGER PRIMARY KEY,
    number          INTEGER NOT NULL UNIQUE,
    subject         TEXT NOT NULL,
    subject_folded  TEXT NOT NULL,
    description     TEXT NOT NULL,
    product         TEXT,
    severity        INTEGER NOT NULL,
    production_down INTEGER NOT NULL DEFAULT 0,
    status          TEXT NOT NULL DEFAULT 'open',
    requester       TEXT NOT NULL,
    requester_name  TEXT,
    language        TEXT NOT NULL,
    related_case    INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    closed_at       INTEGER
);
CREATE INDEX cases_requester ON cases (requester, updated_at);
CREATE INDEX cases_status ON cases (status, updated_at);

CREATE TABLE participants (
    case_id INTEGER NOT NULL REFERENCES cases (id),
    email   TEXT NOT NULL,
    role    TEXT NOT NULL,          -- requester | participant
    PRIMARY KEY (case_id, email)
);
CREATE INDEX participants_email ON participants (email);

-- The activity history: every mail in or out, with its exact bytes in the blob store.
CREATE TABLE emails (
    id          INTEGER PRIMARY KEY,
    case_id     INTEGER REFERENCES cases (id),
    inbound_id  INTEGER REFERENCES inbound_mail (id),
    direction   TEXT NOT NULL,       -- in | out
    kind        TEXT NOT NULL,
    from_addr   TEXT NOT NULL,
    to_addrs    TEXT NOT NULL,
    subject     TEXT NOT NULL,
    message_id  TEXT,
    body_text   TEXT,
    raw_hash    TEXT NOT NULL,
    raw_size    INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX emails_case ON emails (case_id, id);
CREATE INDEX emails_message_id ON emails (message_id);

CREATE TABLE attachments (
    id           INTEGER PRIMARY KEY,
    case_id      INTEGER NOT NULL REFERENCES cases (id),
    email_id     INTEGER NOT NULL REFERENCES emails (id),
    filename     TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL,
    blob_hash    TEXT NOT NULL,
    inline       INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL
);
CREATE INDEX attachments_case ON attachments (case_id);

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    email_id        INTEGER NOT NULL REFERENCES emails (id),
    envelope_from   TEXT NOT NULL,
    recipients      TEXT NOT NULL,   -- comma-separated addresses
    state           TEXT NOT NULL DEFAULT 'pending',   -- pending | sent | failed
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,
    last_error      TEXT,
    sent_at         INTEGER,
    created_at      INTEGER NOT NULL
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
