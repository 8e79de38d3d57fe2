//! The outbox: mails committed with the change that caused them, delivered by the sender
//! under a lease, retried with backoff, parked after a permanent refusal.

use serde::Serialize;

use super::{get, now_ms, Backend, Result, Store};

/// The state an outgoing mail is queued in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxState {
    /// To be sent.
    Pending,
    /// Recorded but never sent (an import without `--send`).
    Suppressed,
    /// Held back by a limit: listed by `buzon failed`, sent by `buzon retry --outbox`.
    Held,
}

impl OutboxState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Suppressed => "suppressed",
            OutboxState::Held => "held",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct OutboxJob {
    pub id: i64,
    pub email_id: i64,
    pub envelope_from: String,
    pub recipients: Vec<String>,
    pub raw_hash: String,
    /// The message itself when it is a small blob (read with the job).
    #[serde(skip)]
    pub raw: Option<Vec<u8>>,
    pub attempts: i64,
    pub state: String,
    pub last_error: Option<String>,
    /// When the mail was queued (Unix ms): past `smtp.max_age`, retrying stops.
    pub created_at: i64,
}

fn job(row: &sqlx::any::AnyRow) -> Result<OutboxJob> {
    let recipients: String = get(row, "recipients")?;
    Ok(OutboxJob {
        id: get(row, "id")?,
        email_id: get(row, "email_id")?,
        envelope_from: get(row, "envelope_from")?,
        recipients: recipients
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        raw_hash: get(row, "raw_hash")?,
        raw: {
            use sqlx::Row;
            row.try_get::<Option<Vec<u8>>, _>("raw").ok().flatten()
        },
        attempts: get(row, "attempts")?,
        state: get(row, "state")?,
        last_error: get(row, "last_error")?,
        created_at: get(row, "created_at")?,
    })
}

/// The oldest due messages no one is sending: the rows a claim leases.
macro_rules! due_unleased {
    () => {
        "SELECT id FROM outbox
         WHERE state = 'pending' AND next_attempt_at <= $2 AND (lease_until IS NULL OR lease_until < $2)
         ORDER BY next_attempt_at, id LIMIT $4"
    };
}

macro_rules! lease_them {
    () => {
        "UPDATE outbox SET lease_until = $1, lease_owner = $3, attempts = attempts + 1
         WHERE state = 'pending' AND (lease_until IS NULL OR lease_until < $2) AND id IN "
    };
}

impl Store {
    /// Lease the oldest due message, if any, for `lease_ms`.
    pub async fn claim_outbox(&self, lease_ms: i64) -> Result<Option<OutboxJob>> {
        Ok(self
            .claim_outbox_batch(lease_ms, 1)
            .await?
            .into_iter()
            .next())
    }

    /// Lease up to `count` of the oldest due messages for `lease_ms`: one write for several
    /// messages, since each sent message still costs one write to record it.
    pub(crate) async fn claim_outbox_batch(
        &self,
        lease_ms: i64,
        count: i64,
    ) -> Result<Vec<OutboxJob>> {
        let now = now_ms();
        // Names this claim alone, so the rows it took can be read back in the same transaction.
        let lease = format!("{}/{}", super::lease_owner(), fastrand::u64(..));
        let mut tx = self.begin().await?;
        // On PostgreSQL, rows another worker is leasing right now are passed over, not
        // waited for: otherwise the second of two workers claiming at once waits for the
        // first one's commit, then finds its rows taken and goes idle with mail waiting.
        // The choice is a CTE so it is made once (as a subquery it may be run again per
        // row, skipping the rows this very statement locked, and lease them all).
        let sql = match self.backend {
            Backend::Sqlite => concat!(lease_them!(), "(", due_unleased!(), ")"),
            Backend::Postgres => concat!(
                "WITH picked AS (",
                due_unleased!(),
                " FOR UPDATE SKIP LOCKED) ",
                lease_them!(),
                "(SELECT id FROM picked)"
            ),
        };
        sqlx::query(sql)
            .bind(now + lease_ms)
            .bind(now)
            .bind(&lease)
            .bind(count)
            .execute(&mut *tx)
            .await?;
        let rows = sqlx::query(
            "SELECT o.id, o.email_id, o.envelope_from, o.recipients, e.raw_hash, b.bytes AS raw, o.attempts, o.state, o.last_error, o.created_at
             FROM outbox o JOIN emails e ON e.id = o.email_id LEFT JOIN small_blobs b ON b.hash = e.raw_hash
             WHERE o.lease_owner = $1 AND o.state = 'pending' ORDER BY o.next_attempt_at, o.id",
        )
        .bind(&lease)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter().map(job).collect()
    }

    /// Give back leased messages not attempted (the sender is stopping).
    pub(crate) async fn release_outbox(&self, ids: &[i64]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        for id in ids {
            sqlx::query("UPDATE outbox SET lease_until = NULL, attempts = attempts - 1 WHERE id = $1 AND state = 'pending'")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn outbox_sent(&self, id: i64) -> Result<()> {
        let _turn = self.write_turn().await;
        sqlx::query("UPDATE outbox SET state = 'sent', sent_at = $1, lease_until = NULL, last_error = NULL WHERE id = $2")
            .bind(now_ms())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The recipients still owed a message some of whose recipients already took it: a
    /// retry, or `buzon retry --outbox`, sends it to them alone.
    pub(crate) async fn outbox_recipients(&self, id: i64, recipients: &[String]) -> Result<()> {
        let _turn = self.write_turn().await;
        sqlx::query("UPDATE outbox SET recipients = $1 WHERE id = $2")
            .bind(recipients.join(","))
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A temporary failure: try again at `next_attempt_at`.
    pub async fn outbox_retry(&self, id: i64, error: &str, next_attempt_at: i64) -> Result<()> {
        let _turn = self.write_turn().await;
        sqlx::query("UPDATE outbox SET next_attempt_at = $1, last_error = $2, lease_until = NULL WHERE id = $3 AND state = 'pending'")
            .bind(next_attempt_at)
            .bind(error)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A permanent refusal: parked, listed, retried only by an admin.
    pub async fn outbox_failed(&self, id: i64, error: &str) -> Result<()> {
        let _turn = self.write_turn().await;
        sqlx::query(
            "UPDATE outbox SET state = 'failed', last_error = $1, lease_until = NULL WHERE id = $2",
        )
        .bind(error)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn outbox_by_state(&self, state: &str) -> Result<Vec<OutboxJob>> {
        let rows = sqlx::query(
            "SELECT o.id, o.email_id, o.envelope_from, o.recipients, e.raw_hash, o.attempts, o.state, o.last_error, o.created_at
             FROM outbox o JOIN emails e ON e.id = o.email_id WHERE o.state = $1 ORDER BY o.id",
        )
        .bind(state)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(job).collect()
    }

    /// Put a parked or held message back in line. False when there is none with that id.
    pub async fn retry_outbox(&self, id: i64) -> Result<bool> {
        let _turn = self.write_turn().await;
        let done = sqlx::query(
            "UPDATE outbox SET state = 'pending', next_attempt_at = $1, lease_until = NULL WHERE id = $2 AND state IN ('failed', 'held')",
        )
        .bind(now_ms())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Counts of outgoing mail by state, for progress and health.
    pub async fn outbox_counts(&self) -> Result<Vec<(String, i64)>> {
        let rows =
            sqlx::query("SELECT state, COUNT(*) AS n FROM outbox GROUP BY state ORDER BY state")
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| Ok((get(r, "state")?, get(r, "n")?)))
            .collect()
    }

    /// Messages due now that no sender has taken yet: the outbox's queue length.
    pub(crate) async fn outbox_waiting(&self) -> Result<i64> {
        let now = now_ms();
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM outbox
             WHERE state = 'pending' AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until < $1)",
        )
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        get(&row, "n")
    }

    /// Milliseconds until the next pending message is due and free to lease (None: nothing
    /// pending).
    pub async fn next_outbox_due_in(&self) -> Result<Option<i64>> {
        // A message another worker is sending is due, at the earliest, when its lease runs
        // out: counting it as due now made idle workers poll in a tight loop.
        let row = sqlx::query(
            "SELECT MIN(CASE WHEN lease_until > next_attempt_at THEN lease_until ELSE next_attempt_at END) AS due
             FROM outbox WHERE state = 'pending'",
        )
        .fetch_one(&self.pool)
        .await?;
        let due: Option<i64> = get(&row, "due")?;
        Ok(due.map(|d| (d - now_ms()).max(0)))
    }
}
