//! Small blobs kept in the database (the two tiers are explained in src/blobs.rs).

use super::{get, CaseTx, Result, Store};

pub(super) async fn put_one(
    conn: &mut sqlx::AnyConnection,
    hash: &str,
    bytes: &[u8],
) -> Result<()> {
    sqlx::query(
        "INSERT INTO small_blobs (hash, bytes) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING",
    )
    .bind(hash)
    .bind(bytes)
    .execute(conn)
    .await?;
    Ok(())
}

async fn put(conn: &mut sqlx::AnyConnection, blobs: &[(String, Vec<u8>)]) -> Result<()> {
    for (hash, bytes) in blobs {
        put_one(&mut *conn, hash, bytes).await?;
    }
    Ok(())
}

impl Store {
    /// Store small blobs in a transaction of their own.
    pub async fn put_small_blobs(&self, blobs: &[(String, Vec<u8>)]) -> Result<()> {
        if blobs.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        put(&mut tx, blobs).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn small_blob(&self, hash: &str) -> Result<Option<Vec<u8>>> {
        let row = sqlx::query("SELECT bytes FROM small_blobs WHERE hash = $1")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| get(&r, "bytes")).transpose()
    }
}

impl CaseTx {
    /// Store the batch's small blobs with the rows that name them.
    pub async fn put_small_blobs(&mut self, blobs: &[(String, Vec<u8>)]) -> Result<()> {
        put(self.conn(), blobs).await
    }
}
