-- Large blobs in parts (issue 18; see migrations/postgres/0013_blob_parts.sql). SQLite keeps
-- blobs over 64 KiB as files under storage.dir, so buzon does not write this table there;
-- it exists so that both schemas and the store's SQL stay one (the store's contract test
-- runs it on both databases).
CREATE TABLE blob_parts (
    hash  TEXT    NOT NULL,
    part  INTEGER NOT NULL,
    bytes BLOB    NOT NULL,
    PRIMARY KEY (hash, part)
);
