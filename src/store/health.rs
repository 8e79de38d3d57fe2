//! What health and metrics read: when each mailbox was last synced, the oldest mail still
//! waiting in the outbox, and how long a customer waited for an acknowledgement. Kept in
//! the database, not in memory, so `buzon status` (another process) and every process on a
//! shared PostgreSQL see the same answer.

use super::{get, Result, Store};

/// The oldest outgoing mail not yet accepted by the SMTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OldestPending {
    pub outbox_id: i64,
    /// When it was queued (Unix ms).
    pub created_at: i64,
}

impl Store {
    /// A full sync of `mailbox` (every mail above the cursor stored) finished at `at` (Unix ms).
    pub async fn record_sync(&self, mailbox: &str, at: i64) -> Result<()> {
        let _turn = self.write_turn().await;
        sqlx::query(
            "INSERT INTO mailbox_syncs (mailbox, synced_at) VALUES ($1, $2)
             ON CONFLICT (mailbox) DO UPDATE SET synced_at = excluded.synced_at",
        )
        .bind(mailbox)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// When `mailbox` was last synced in full (Unix ms); None if it never was.
    pub async fn last_sync(&self, mailbox: &str) -> Result<Option<i64>> {
        let row = sqlx::query("SELECT synced_at FROM mailbox_syncs WHERE mailbox = $1")
            .bind(mailbox)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| get(&r, "synced_at")).transpose()
    }

    /// The oldest pending outbox row (held and suppressed mail waits for a person, not for
    /// the sender, and is not counted).
    pub async fn oldest_pending_outbox(&self) -> Result<Option<OldestPending>> {
        let row = sqlx::query(
            "SELECT id, created_at FROM outbox WHERE state = 'pending' ORDER BY created_at, id LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(OldestPending {
                outbox_id: get(&r, "id")?,
                created_at: get(&r, "created_at")?,
            })
        })
        .transpose()
    }

    /// For an acknowledgement (`case_created`, `case_reopened_as_new`), when the mail that
    /// opened its case was fetched (Unix ms); None for any other outgoing mail.
    pub async fn acknowledged_mail_fetched_at(&self, outbox_id: i64) -> Result<Option<i64>> {
        let row = sqlx::query(
            "SELECT i.fetched_at FROM outbox o
             JOIN emails e ON e.id = o.email_id
             JOIN emails opening ON opening.case_id = e.case_id AND opening.inbound_id IS NOT NULL
             JOIN inbound_mail i ON i.id = opening.inbound_id
             WHERE o.id = $1 AND e.kind IN ('case_created', 'case_reopened_as_new')
             ORDER BY opening.id LIMIT 1",
        )
        .bind(outbox_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| get(&r, "fetched_at")).transpose()
    }
}
