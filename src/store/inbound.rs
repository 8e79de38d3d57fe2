//! Mail as fetched: rows written by the fetcher, claimed by the processor, and the IMAP
//! cursor that says where fetching resumes.

use sqlx::any::AnyRow;

use super::{get, now_ms, Result, Store};

/// One mail the fetcher got from IMAP, its bytes already in the blob store.
#[derive(Debug, Clone)]
pub struct FetchedMail {
    pub uid: u32,
    pub message_id: Option<String>,
    pub dedupe_key: String,
    pub raw_hash: String,
    pub raw_size: usize,
    /// The raw bytes when they live in the database (small ones; every one on PostgreSQL).
    pub raw_inline: Option<Vec<u8>>,
}

#[derive(Debug, Clone)]
pub struct InboundRow {
    pub id: i64,
    pub mailbox: String,
    pub uid: i64,
    pub message_id: Option<String>,
    pub dedupe_key: String,
    pub raw_hash: String,
    pub raw_size: i64,
    pub state: String,
    pub outcome: Option<String>,
    pub error: Option<String>,
    pub attempts: i64,
    pub fetched_at: i64,
    /// An admin retried it from quarantine: apply it as if its sender had proved who they are.
    pub vouched: bool,
}

/// The columns [`inbound_row`] reads, as a literal so queries stay `concat!`-built constants.
macro_rules! inbound_columns {
    () => {
        "id, mailbox, uid, message_id, dedupe_key, raw_hash, raw_size, state, outcome, error, attempts, fetched_at, vouched"
    };
}

fn inbound_row(row: &AnyRow) -> Result<InboundRow> {
    Ok(InboundRow {
        id: get(row, "id")?,
        mailbox: get(row, "mailbox")?,
        uid: get(row, "uid")?,
        message_id: get(row, "message_id")?,
        dedupe_key: get(row, "dedupe_key")?,
        raw_hash: get(row, "raw_hash")?,
        raw_size: get(row, "raw_size")?,
        state: get(row, "state")?,
        outcome: get(row, "outcome")?,
        error: get(row, "error")?,
        attempts: get(row, "attempts")?,
        fetched_at: get(row, "fetched_at")?,
        vouched: get::<i64>(row, "vouched")? != 0,
    })
}

/// How long a processor may hold a mail before another may take it over.
const PROCESS_LEASE_MS: i64 = 5 * 60 * 1000;

impl Store {
    /// The UIDVALIDITY and last UID seen in a mailbox, if any.
    pub async fn imap_cursor(&self, mailbox: &str) -> Result<Option<(u32, u32)>> {
        let row = sqlx::query("SELECT uidvalidity, last_uid FROM imap_cursors WHERE mailbox = $1")
            .bind(mailbox)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok((
                get::<i64>(&r, "uidvalidity")? as u32,
                get::<i64>(&r, "last_uid")? as u32,
            ))
        })
        .transpose()
    }

    /// Record a batch of fetched mails and move the cursor, in one transaction. A mail
    /// already recorded (same mailbox, UIDVALIDITY and UID) is left as it was. Returns how
    /// many rows were new.
    pub async fn record_fetched(
        &self,
        mailbox: &str,
        uidvalidity: u32,
        mails: &[FetchedMail],
    ) -> Result<usize> {
        self.record_fetched_under(None, mailbox, uidvalidity, mails)
            .await
    }

    /// [`Store::record_fetched`], committed only while this process holds the fetch lease
    /// named `lease` (PostgreSQL): the lease row stays locked until the commit, so no other
    /// process can take the mailbox over in between and store the same mail.
    pub async fn record_fetched_under(
        &self,
        lease: Option<&str>,
        mailbox: &str,
        uidvalidity: u32,
        mails: &[FetchedMail],
    ) -> Result<usize> {
        let now = now_ms();
        let mut tx = self.begin().await?;
        if let Some(lease) = lease {
            let held = sqlx::query(
                "SELECT owner FROM fetch_leases WHERE mailbox = $1 AND owner = $2 AND lease_until > $3 FOR SHARE",
            )
            .bind(lease)
            .bind(super::lease_owner())
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            if held.is_none() {
                return Err(super::StoreError::FetchLeaseLost(lease.to_string()));
            }
        }
        let mut new = 0;
        for mail in mails {
            let done = sqlx::query(
                "INSERT INTO inbound_mail (mailbox, uidvalidity, uid, message_id, dedupe_key, raw_hash, raw_size, fetched_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (mailbox, uidvalidity, uid) DO NOTHING",
            )
            .bind(mailbox)
            .bind(i64::from(uidvalidity))
            .bind(i64::from(mail.uid))
            .bind(mail.message_id.clone())
            .bind(&mail.dedupe_key)
            .bind(&mail.raw_hash)
            .bind(mail.raw_size as i64)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            new += done.rows_affected() as usize;
        }
        let small: Vec<(&str, &[u8])> = mails
            .iter()
            .filter_map(|m| Some((m.raw_hash.as_str(), m.raw_inline.as_deref()?)))
            .collect();
        super::large_blobs::put_rows(&mut tx, &small).await?;
        if let Some(last) = mails.iter().map(|m| m.uid).max() {
            Self::advance_cursor(&mut tx, mailbox, uidvalidity, last).await?;
        }
        tx.commit().await?;
        Ok(new)
    }

    /// Set the cursor (also on a UIDVALIDITY change, where it restarts from `last_uid`).
    pub async fn set_imap_cursor(
        &self,
        mailbox: &str,
        uidvalidity: u32,
        last_uid: u32,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO imap_cursors (mailbox, uidvalidity, last_uid) VALUES ($1, $2, $3)
             ON CONFLICT (mailbox) DO UPDATE SET uidvalidity = excluded.uidvalidity, last_uid = excluded.last_uid",
        )
        .bind(mailbox)
        .bind(i64::from(uidvalidity))
        .bind(i64::from(last_uid))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn advance_cursor(
        tx: &mut super::WriteTx,
        mailbox: &str,
        uidvalidity: u32,
        last: u32,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO imap_cursors (mailbox, uidvalidity, last_uid) VALUES ($1, $2, $3)
             ON CONFLICT (mailbox) DO UPDATE SET last_uid = excluded.last_uid
             WHERE imap_cursors.uidvalidity = excluded.uidvalidity AND imap_cursors.last_uid < excluded.last_uid",
        )
        .bind(mailbox)
        .bind(i64::from(uidvalidity))
        .bind(i64::from(last))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Take the oldest pending mail for processing, under a lease so that another process
    /// on the same database does not take it at the same time.
    pub async fn claim_inbound(&self) -> Result<Option<InboundRow>> {
        Ok(self.claim_inbound_batch(1, 0).await?.into_iter().next())
    }

    /// Lease the oldest pending mails, in order: at most `count`, and no more than `bytes`
    /// of raw mail together (but always the first), so a batch of large mails stays small.
    ///
    /// Crash-only: `attempts` goes up in this committed claim, before anything is done
    /// with the mail, and down again only when the mail is given back alive
    /// ([`Store::release_inbound`]); so a pending mail with attempts above zero was taken
    /// by a process that died before answering. Such a suspect is claimed alone, never
    /// in a batch, so that the mails that happened to share its batch are not blamed.
    pub async fn claim_inbound_batch(&self, count: i64, bytes: i64) -> Result<Vec<InboundRow>> {
        let owner = super::lease_owner();
        let now = now_ms();
        let sql = concat!(
            "UPDATE inbound_mail SET lease_until = $1, lease_owner = $3, attempts = attempts + 1
             WHERE id IN (SELECT id FROM
                            (SELECT id, raw_size, SUM(raw_size) OVER (ORDER BY id) AS running,
                                    ROW_NUMBER() OVER (ORDER BY id) AS place,
                                    SUM(CASE WHEN attempts > 0 THEN 1 ELSE 0 END) OVER (ORDER BY id) AS suspects
                             FROM (SELECT id, raw_size, attempts FROM inbound_mail
                                   WHERE state = 'pending' AND (lease_until IS NULL OR lease_until < $2)
                                   ORDER BY id LIMIT $4) AS oldest) AS sized
                          WHERE place = 1 OR (running <= $5 AND suspects = 0))
               AND state = 'pending' AND (lease_until IS NULL OR lease_until < $2)
             RETURNING ",
            inbound_columns!()
        );
        let mut tx = self.begin().await?;
        let rows = sqlx::query(sql)
            .bind(now + PROCESS_LEASE_MS)
            .bind(now)
            .bind(owner)
            .bind(count)
            .bind(bytes)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let mut rows = rows.iter().map(inbound_row).collect::<Result<Vec<_>>>()?;
        rows.sort_by_key(|r| r.id);
        Ok(rows)
    }

    /// Give a claimed mail back (a retryable problem): it will be taken again later. The
    /// process came back from it, so the claim does not count as a crash.
    pub(crate) async fn release_inbound(&self, id: i64, error: &str) -> Result<()> {
        let _turn = self.write_turn().await;
        sqlx::query("UPDATE inbound_mail SET lease_until = $1, error = $2, attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END WHERE id = $3 AND state = 'pending'")
            .bind(now_ms() + 5_000)
            .bind(error)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Park a mail that cannot be processed; it stays stored and listed until retried.
    pub async fn fail_inbound(&self, id: i64, error: &str) -> Result<()> {
        let _turn = self.write_turn().await;
        park_inbound(&self.pool, id, "failed", error).await
    }

    /// Hold a mail that failed the authentication policy: stored, listed, not processed.
    pub async fn quarantine_inbound(&self, id: i64, reason: &str) -> Result<()> {
        let _turn = self.write_turn().await;
        park_inbound(&self.pool, id, "quarantined", reason).await
    }

    /// Failed and quarantined mail, for `buzon failed`.
    pub async fn failed_inbound(&self) -> Result<Vec<InboundRow>> {
        let sql = concat!(
            "SELECT ",
            inbound_columns!(),
            " FROM inbound_mail WHERE state IN ('failed', 'quarantined') ORDER BY id"
        );
        let rows = sqlx::query(sql).fetch_all(&self.pool).await?;
        rows.iter().map(inbound_row).collect()
    }

    /// Put a failed or quarantined mail back in line, or replay a stranger's mail after the
    /// sender was provisioned. False when there is no such mail with that id.
    pub async fn retry_inbound(&self, id: i64) -> Result<bool> {
        let mut tx = self.begin().await?;
        // A mail held after it claimed its dedupe key (a flood limit found once it was
        // claimed) changed nothing else: the key is its own and goes with it, or the
        // retried mail would find it taken and count itself a duplicate of itself.
        sqlx::query(
            "DELETE FROM processed_keys WHERE inbound_id = $1
               AND inbound_id IN (SELECT id FROM inbound_mail WHERE id = $1 AND state IN ('failed', 'quarantined'))",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let replay = sqlx::query(
            "DELETE FROM processed_keys WHERE inbound_id = $1
               AND inbound_id IN (SELECT id FROM inbound_mail WHERE id = $1 AND state = 'done' AND outcome IN ('access_denied', 'access_denied_quiet'))",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let done = sqlx::query(
            "UPDATE inbound_mail SET state = 'pending', lease_until = NULL, error = NULL, processed_at = NULL, attempts = 0,
                    vouched = CASE WHEN state = 'quarantined' THEN 1 ELSE vouched END
             WHERE id = $1 AND (state IN ('failed', 'quarantined') OR ($2 = 1 AND state = 'done'))",
        )
        .bind(id)
        .bind(i64::from(replay.rows_affected() == 1))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Mail from strangers that got `access_denied`, newest first, for `buzon denied`.
    pub(crate) async fn denied_inbound(&self, limit: i64) -> Result<Vec<InboundRow>> {
        let sql = concat!(
            "SELECT ",
            inbound_columns!(),
            " FROM inbound_mail WHERE state = 'done' AND outcome IN ('access_denied', 'access_denied_quiet') ORDER BY id DESC LIMIT $1"
        );
        let rows = sqlx::query(sql).bind(limit).fetch_all(&self.pool).await?;
        rows.iter().map(inbound_row).collect()
    }

    /// Processed mails whose IMAP side effect (flag or move) is still to do.
    pub async fn awaiting_imap_effect(
        &self,
        mailbox: &str,
        uidvalidity: u32,
    ) -> Result<Vec<(i64, u32)>> {
        let rows = sqlx::query(
            "SELECT id, uid FROM inbound_mail
             WHERE mailbox = $1 AND uidvalidity = $2 AND imap_done = 0 AND state <> 'pending'
             ORDER BY uid LIMIT 500",
        )
        .bind(mailbox)
        .bind(i64::from(uidvalidity))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((get(r, "id")?, get::<i64>(r, "uid")? as u32)))
            .collect()
    }

    pub(crate) async fn mark_imap_done(&self, ids: &[i64]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        // One statement for the whole list; the ids are integers, written in directly.
        let list = ids
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let _turn = self.write_turn().await;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE inbound_mail SET imap_done = 1 WHERE id IN ({list})"
        )))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn inbound(&self, id: i64) -> Result<Option<InboundRow>> {
        let sql = concat!(
            "SELECT ",
            inbound_columns!(),
            " FROM inbound_mail WHERE id = $1"
        );
        let row = sqlx::query(sql).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(inbound_row).transpose()
    }

    /// Counts of mail by state, for progress and health.
    pub async fn inbound_counts(&self) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query(
            "SELECT state, COUNT(*) AS n FROM inbound_mail GROUP BY state ORDER BY state",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((get(r, "state")?, get(r, "n")?)))
            .collect()
    }
}

/// Take a pending mail out of line for good: `failed` (cannot be processed) or
/// `quarantined` (fails the authentication policy), with the reason kept for `buzon failed`.
pub(super) async fn park_inbound<'e>(
    e: impl sqlx::Executor<'e, Database = sqlx::Any>,
    id: i64,
    state: &str,
    reason: &str,
) -> Result<()> {
    sqlx::query(
        "UPDATE inbound_mail SET state = $4, error = $1, lease_until = NULL, processed_at = $2
         WHERE id = $3 AND state = 'pending'",
    )
    .bind(reason)
    .bind(now_ms())
    .bind(id)
    .bind(state)
    .execute(e)
    .await?;
    Ok(())
}
