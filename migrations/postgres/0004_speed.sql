-- What the hot paths and the large-installation queries look up.

-- The sender reads back the rows it has just leased.
CREATE INDEX outbox_lease ON outbox (lease_owner);

-- Case history with its delivery state (`buzon case N`).
CREATE INDEX outbox_email ON outbox (email_id);

-- Lists newest first without sorting every case.
CREATE INDEX cases_updated ON cases (updated_at, number);

-- Subject search by substring (`buzon cases --search`, "mis casos buscar"): a trigram index
-- that PostgreSQL uses for LIKE '%word%' itself. pg_trgm is a trusted extension (PG 13+).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX cases_subject_trgm ON cases USING GIN (subject_folded gin_trgm_ops);

-- Small blobs (most raw mails, every outgoing mail): kept here, in the transaction that
-- names them, instead of one file each. Larger ones stay files (src/blobs.rs).
CREATE TABLE small_blobs (
    hash  TEXT PRIMARY KEY,
    bytes BYTEA NOT NULL
);
