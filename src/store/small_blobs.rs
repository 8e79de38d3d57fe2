//! Small blobs kept in the database, a row each (the tiers are explained in src/blobs.rs).

use super::{get, ApplyTx, Result, Store};

/// Many rows per statement: a batch's acknowledgements go in with one round trip.
pub(super) async fn put(conn: &mut sqlx::AnyConnection, blobs: &[(&str, &[u8])]) -> Result<()> {
    let mut blobs = blobs.to_vec();
    blobs.sort_by_key(|(hash, _)| *hash);
    blobs.dedup_by_key(|(hash, _)| *hash);
    super::sql::insert_rows(
        conn,
        "small_blobs (hash, bytes)",
        "ON CONFLICT (hash) DO NOTHING",
        2,
        &blobs,
        |query, (hash, bytes)| query.bind(*hash).bind(*bytes),
    )
    .await?;
    Ok(())
}

impl Store {
    /// Store blobs the database keeps in a transaction of their own.
    pub(crate) async fn put_blob_rows(&self, blobs: &[(String, Vec<u8>)]) -> Result<()> {
        if blobs.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        super::large_blobs::put_rows(&mut tx, &as_refs(blobs)).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn small_blob(&self, hash: &str) -> Result<Option<Vec<u8>>> {
        let row = sqlx::query("SELECT bytes FROM small_blobs WHERE hash = $1")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| get(&r, "bytes")).transpose()
    }
}

impl Store {
    /// Several small blobs in one query (those that are files are simply absent).
    pub(crate) async fn small_blobs(
        &self,
        hashes: &[&str],
    ) -> Result<std::collections::HashMap<String, Vec<u8>>> {
        let mut conn = self.pool.acquire().await?;
        let rows = super::sql::select_in(
            &mut conn,
            |list, _| format!("SELECT hash, bytes FROM small_blobs WHERE hash IN ({list})"),
            hashes,
            None,
        )
        .await?;
        rows.iter()
            .map(|r| Ok((get(r, "hash")?, get(r, "bytes")?)))
            .collect()
    }
}

impl ApplyTx {
    /// Store the batch's blobs the database keeps with the rows that name them.
    pub(crate) async fn put_blob_rows(&mut self, blobs: &[(String, Vec<u8>)]) -> Result<()> {
        super::large_blobs::put_rows(self.conn(), &as_refs(blobs)).await
    }
}

fn as_refs(blobs: &[(String, Vec<u8>)]) -> Vec<(&str, &[u8])> {
    blobs
        .iter()
        .map(|(hash, bytes)| (hash.as_str(), bytes.as_slice()))
        .collect()
}
