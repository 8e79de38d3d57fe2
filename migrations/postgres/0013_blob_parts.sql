-- Nothing shared but the database (issue 18): on PostgreSQL every blob lives in the database,
-- so processes on different machines need no shared file system. Blobs up to 64 KiB stay
-- one row each in small_blobs; larger ones (raw mail, attachments, outgoing mail) are kept
-- here in parts of 1 MiB, a row each (bytea, TOASTed), so that a blob of any size passes
-- through the database client a part at a time, never whole (src/store/large_blobs.rs).
-- A blob's parts are written in one transaction: its part 0 present means all are.
CREATE TABLE blob_parts (
    hash  TEXT    NOT NULL,
    part  BIGINT  NOT NULL,
    bytes BYTEA   NOT NULL,
    PRIMARY KEY (hash, part)
);
