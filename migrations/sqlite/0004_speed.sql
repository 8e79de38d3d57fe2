-- What the hot paths and the large-installation queries look up.

-- The sender reads back the rows it has just leased.
CREATE INDEX outbox_lease ON outbox (lease_owner);

-- Case history with its delivery state (`buzon case N`).
CREATE INDEX outbox_email ON outbox (email_id);

-- Lists newest first without sorting every case.
CREATE INDEX cases_updated ON cases (updated_at, number);

-- Subject search by substring (`buzon cases --search`, "mis casos buscar"): an FTS5 index of
-- trigrams over the folded subject, kept in step with the cases table by triggers.
CREATE VIRTUAL TABLE cases_search USING fts5(
    subject_folded, content = 'cases', content_rowid = 'id', tokenize = 'trigram'
);
INSERT INTO cases_search (rowid, subject_folded) SELECT id, subject_folded FROM cases;
CREATE TRIGGER cases_search_insert AFTER INSERT ON cases BEGIN
    INSERT INTO cases_search (rowid, subject_folded) VALUES (new.id, new.subject_folded);
END;
CREATE TRIGGER cases_search_delete AFTER DELETE ON cases BEGIN
    INSERT INTO cases_search (cases_search, rowid, subject_folded)
    VALUES ('delete', old.id, old.subject_folded);
END;
CREATE TRIGGER cases_search_update AFTER UPDATE OF subject_folded ON cases BEGIN
    INSERT INTO cases_search (cases_search, rowid, subject_folded)
    VALUES ('delete', old.id, old.subject_folded);
    INSERT INTO cases_search (rowid, subject_folded) VALUES (new.id, new.subject_folded);
END;

-- Small blobs (most raw mails, every outgoing mail): kept here, in the transaction that
-- names them, instead of one file each. Larger ones stay files (src/blobs.rs).
CREATE TABLE small_blobs (
    hash  TEXT PRIMARY KEY,
    bytes BLOB NOT NULL
);
