//! Guards for a public address: automatic mail counted per address (loops, floods, one
//! `access_denied` a day) and addresses that hard-bounced.

use super::apply_tx::{ApplyTx, Window};
use super::{get, Result, Store};

impl ApplyTx {
    /// Automatic mails of `kind` (any kind when `None`) sent to `address` in `window`.
    pub(crate) async fn auto_mails_within(
        &mut self,
        address: &str,
        kind: Option<&str>,
        window: Window,
    ) -> Result<i64> {
        if let (None, Some(n)) = (kind, self.cache.ahead.auto_count(address, window)) {
            return Ok(n);
        }
        let since_ms = self.now - window.ms;
        self.write_before_reading().await?;
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM auto_mail_log
             WHERE address = $1 AND sent_at >= $2 AND ($3 IS NULL OR kind = $3)",
        )
        .bind(address)
        .bind(since_ms)
        .bind(kind)
        .fetch_one(self.conn())
        .await?;
        get(&row, "n")
    }

    pub(crate) async fn is_failing(&mut self, address: &str) -> Result<bool> {
        if self.cache.cleared.iter().any(|a| a == address) || !self.any_failing().await? {
            return Ok(false);
        }
        let row = sqlx::query("SELECT 1 AS hit FROM failing_addresses WHERE address = $1")
            .bind(address)
            .fetch_optional(self.conn())
            .await?;
        Ok(row.is_some())
    }

    /// A hard bounce: no more mail to this address until it writes to us again.
    pub(crate) async fn mark_failing(&mut self, address: &str, reason: &str) -> Result<()> {
        self.cache.cleared.retain(|a| a != address);
        self.cache.any_failing = Some(true);
        let now = self.now();
        sqlx::query(
            "INSERT INTO failing_addresses (address, reason, since) VALUES ($1, $2, $3)
             ON CONFLICT (address) DO UPDATE SET reason = excluded.reason, since = excluded.since",
        )
        .bind(address)
        .bind(reason)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Whether any address is on the failing list, asked once per batch: it is empty
    /// nearly always, and then neither the check nor the clearing needs a statement.
    async fn any_failing(&mut self) -> Result<bool> {
        if let Some(known) = self.cache.any_failing {
            return Ok(known);
        }
        let row = sqlx::query("SELECT COUNT(*) AS n FROM failing_addresses")
            .fetch_one(self.conn())
            .await?;
        let any = get::<i64>(&row, "n")? > 0;
        self.cache.any_failing = Some(any);
        Ok(any)
    }

    /// The address wrote to us: it works again.
    pub(crate) async fn clear_failing(&mut self, address: &str) -> Result<()> {
        if !self.any_failing().await? {
            return Ok(());
        }
        sqlx::query("DELETE FROM failing_addresses WHERE address = $1")
            .bind(address)
            .execute(self.conn())
            .await?;
        self.cache.cleared.push(address.to_string());
        Ok(())
    }
}

impl Store {
    /// (address, reason, since) of every address that hard-bounced.
    pub async fn failing_addresses(&self) -> Result<Vec<(String, String, i64)>> {
        let rows =
            sqlx::query("SELECT address, reason, since FROM failing_addresses ORDER BY since DESC")
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| Ok((get(r, "address")?, get(r, "reason")?, get(r, "since")?)))
            .collect()
    }
}
