//! Large blobs kept in the database, in parts: every blob over 64 KiB on PostgreSQL (the
//! tiers are explained in src/blobs.rs). A part is one row of at most [`PART`] bytes, and
//! blobs go in and come out a part at a time: sqlx's `Any` driver copies a bound value
//! twice (into its own value, then into PostgreSQL's argument buffer, before the socket's
//! buffer) and a fetched one twice more, so a 20 MB attachment bound whole would sit in
//! memory three or four times over; in parts, what passes through sqlx is 1 MiB at a time.

use futures::TryStreamExt;
use sqlx::Row;

use super::{get, Result, Store, StoreError, WriteTx};
use crate::blobs::INLINE_MAX;

/// Bytes per part.
pub const PART: usize = 1024 * 1024;

/// Write a blob's parts unless it is there already, in the caller's transaction: all the
/// parts of a blob commit together, so its part 0 present means the whole blob is.
pub(super) async fn put(conn: &mut sqlx::AnyConnection, hash: &str, bytes: &[u8]) -> Result<()> {
    let there = sqlx::query("SELECT 1 AS one FROM blob_parts WHERE hash = $1 AND part = 0")
        .bind(hash)
        .fetch_optional(&mut *conn)
        .await?;
    if there.is_some() {
        // The same file sent again: not even sent to the database.
        return Ok(());
    }
    for (n, part) in bytes.chunks(PART).enumerate() {
        insert_part(conn, hash, n as i64, part).await?;
    }
    Ok(())
}

/// ON CONFLICT: another process storing the same bytes at the same time.
async fn insert_part(
    conn: &mut sqlx::AnyConnection,
    hash: &str,
    n: i64,
    part: &[u8],
) -> Result<()> {
    sqlx::query(
        "INSERT INTO blob_parts (hash, part, bytes) VALUES ($1, $2, $3)
         ON CONFLICT (hash, part) DO NOTHING",
    )
    .bind(hash)
    .bind(n)
    .bind(part)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Blobs the database keeps, each to its table by size: a row in `small_blobs`, or parts.
pub(super) async fn put_rows(
    conn: &mut sqlx::AnyConnection,
    blobs: &[(&str, &[u8])],
) -> Result<()> {
    let (small, mut large): (Vec<_>, Vec<_>) = blobs
        .iter()
        .copied()
        .partition(|(_, b)| b.len() <= INLINE_MAX);
    super::small_blobs::put(conn, &small).await?;
    // In one order in every process, as small_blobs::put does: two transactions storing
    // the same two blobs wait for each other rather than deadlock.
    large.sort_by_key(|(hash, _)| *hash);
    large.dedup_by_key(|(hash, _)| *hash);
    for (hash, bytes) in large {
        put(conn, hash, bytes).await?;
    }
    Ok(())
}

impl Store {
    /// A large blob's bytes, read a part at a time into one buffer of the blob's size;
    /// `None` when the database has no parts of it (a file, not yet moved by
    /// `buzon migrate`, or a small blob).
    pub(crate) async fn large_blob(&self, hash: &str) -> Result<Option<Vec<u8>>> {
        let mut conn = self.pool.acquire().await?;
        let size: Option<i64> =
            sqlx::query("SELECT sum(length(bytes)) AS size FROM blob_parts WHERE hash = $1")
                .bind(hash)
                .fetch_one(&mut *conn)
                .await
                .and_then(|row| row.try_get("size"))?;
        let Some(size) = size else {
            return Ok(None);
        };
        let mut bytes = Vec::with_capacity(size as usize);
        let mut rows =
            sqlx::query("SELECT part, bytes FROM blob_parts WHERE hash = $1 ORDER BY part")
                .bind(hash)
                .fetch(&mut *conn);
        let mut next = 0;
        while let Some(row) = rows.try_next().await? {
            if get::<i64>(&row, "part")? != next {
                return Err(StoreError::Invalid(format!(
                    "blob {hash}: part {next} missing"
                )));
            }
            // Borrowed from the row: the part is copied once, into the blob's buffer.
            bytes.extend_from_slice(row.try_get::<&[u8], _>("bytes")?);
            next += 1;
        }
        Ok(Some(bytes))
    }

    /// Whether the database holds a blob (either table).
    pub(crate) async fn has_blob(&self, hash: &str) -> Result<bool> {
        let row = sqlx::query(
            "SELECT 1 AS one FROM blob_parts WHERE hash = $1 AND part = 0
             UNION ALL SELECT 1 AS one FROM small_blobs WHERE hash = $1",
        )
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }
}

/// A large blob written part by part as it is read (`buzon migrate` moving a file in), in
/// one transaction: dropped without [`commit`](Self::commit), none of it is kept.
pub struct PartsWriter {
    tx: WriteTx,
    hash: String,
    next: i64,
}

impl Store {
    pub(crate) async fn parts_writer(&self, hash: &str) -> Result<PartsWriter> {
        Ok(PartsWriter {
            tx: self.begin().await?,
            hash: hash.to_string(),
            next: 0,
        })
    }
}

impl PartsWriter {
    /// The next part, at most [`PART`] bytes.
    pub(crate) async fn write(&mut self, part: &[u8]) -> Result<()> {
        insert_part(&mut self.tx, &self.hash, self.next, part).await?;
        self.next += 1;
        Ok(())
    }

    pub(crate) async fn commit(self) -> Result<()> {
        Ok(self.tx.commit().await?)
    }
}
