//! What a batch reads once, up front, for all its mails: the customer rows, the
//! automatic-mail counts of the guards' window and the dedupe keys already taken. One
//! statement each instead of one per mail (see `writes.rs` for why statements are what a
//! mail costs).

use std::collections::{BTreeSet, HashMap};

use super::ApplyTx;
use crate::store::sql::select_in;
use crate::store::{get, Result};

/// How far back a guard counts (automatic mail, refusals, new cases), ending at the
/// transaction's `now`. The batch reads one window ahead; asking for it again hits the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub ms: i64,
}

impl Window {
    pub const HOUR: Window = Window { ms: 3_600_000 };
    pub(crate) const DAY: Window = Window { ms: 24 * 3_600_000 };
}

/// What the batch's mails will ask about: the addresses they come from or go to, and
/// their dedupe keys.
pub struct BatchKeys<'a> {
    pub addresses: Vec<&'a str>,
    pub dedupe_keys: Vec<&'a str>,
}

#[derive(Default)]
pub(in crate::store) struct ReadAhead {
    /// (window, count by address) of automatic mail.
    auto_counts: Option<(Window, HashMap<String, i64>)>,
    /// The batch's dedupe keys: true while free to take.
    pub(in crate::store) dedupe_keys: HashMap<String, bool>,
}

impl ReadAhead {
    /// The automatic mails to `address` in `window`, when read ahead for that window.
    pub(in crate::store) fn auto_count(&self, address: &str, window: Window) -> Option<i64> {
        match &self.auto_counts {
            Some((known, counts)) if *known == window => counts.get(address).copied(),
            _ => None,
        }
    }

    pub(in crate::store) fn counted_auto_mail(&mut self, address: &str) {
        if let Some(n) = self
            .auto_counts
            .as_mut()
            .and_then(|(_, counts)| counts.get_mut(address))
        {
            *n += 1;
        }
    }
}

impl ApplyTx {
    /// Read the customer rows and the automatic-mail counts in `window` of the batch's
    /// addresses, and which of its dedupe keys are taken.
    pub async fn read_ahead(&mut self, keys: &BatchKeys<'_>, window: Window) -> Result<()> {
        let addresses: Vec<&str> = keys
            .addresses
            .iter()
            .copied()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        self.read_customers(&addresses).await?;
        self.read_auto_counts(&addresses, window).await?;
        self.read_dedupe_keys(&keys.dedupe_keys).await
    }

    async fn read_customers(&mut self, addresses: &[&str]) -> Result<()> {
        let wanted: Vec<&str> = addresses
            .iter()
            .copied()
            .filter(|a| !self.cache.customers.contains_key(*a))
            .collect();
        let found = select_in(
            self.conn(),
            |list, _| {
                format!("SELECT email, name, org_domain, language FROM customers WHERE email IN ({list})")
            },
            &wanted,
            None,
        )
        .await?;
        for a in &wanted {
            self.cache.customers.insert(a.to_string(), None);
        }
        for row in &found {
            let customer = crate::store::directory::customer_row(row)?;
            self.cache
                .customers
                .insert(customer.email.clone(), Some(customer));
        }
        Ok(())
    }

    async fn read_auto_counts(&mut self, addresses: &[&str], window: Window) -> Result<()> {
        let since = self.now - window.ms;
        self.write_before_reading().await?;
        let rows = select_in(
            self.conn(),
            |list, next| {
                format!(
                    "SELECT address, COUNT(*) AS n FROM auto_mail_log
                     WHERE address IN ({list}) AND sent_at >= ${next} GROUP BY address"
                )
            },
            addresses,
            Some(since),
        )
        .await?;
        let mut counts: HashMap<String, i64> =
            addresses.iter().map(|a| (a.to_string(), 0)).collect();
        for row in &rows {
            counts.insert(get(row, "address")?, get(row, "n")?);
        }
        self.cache.ahead.auto_counts = Some((window, counts));
        Ok(())
    }

    async fn read_dedupe_keys(&mut self, keys: &[&str]) -> Result<()> {
        let taken = select_in(
            self.conn(),
            |list, _| format!("SELECT dedupe_key FROM processed_keys WHERE dedupe_key IN ({list})"),
            keys,
            None,
        )
        .await?;
        for k in keys {
            self.cache
                .ahead
                .dedupe_keys
                .entry(k.to_string())
                .or_insert(true);
        }
        for row in &taken {
            self.cache
                .ahead
                .dedupe_keys
                .insert(get(row, "dedupe_key")?, false);
        }
        Ok(())
    }
}
