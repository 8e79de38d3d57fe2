//! What a batch reads once, up front, for all its mails: the customer rows, this hour's
//! automatic-mail counts and the dedupe keys already taken. One statement each instead of
//! one per mail (see [`super::batch`] for why statements are what a mail costs).

use std::collections::{BTreeSet, HashMap};

use super::apply_tx::CaseTx;
use super::sql::select_in;
use super::{get, Result};

#[derive(Default)]
pub(super) struct ReadAhead {
    /// (since, count by address) of automatic mail.
    auto_counts: Option<(i64, HashMap<String, i64>)>,
    /// The batch's dedupe keys: true while free to take.
    pub(super) dedupe_keys: HashMap<String, bool>,
}

impl ReadAhead {
    /// This hour's automatic mails to `address`, when read ahead for `since`.
    pub(super) fn auto_count(&self, address: &str, since: i64) -> Option<i64> {
        match &self.auto_counts {
            Some((known_since, counts)) if *known_since == since => counts.get(address).copied(),
            _ => None,
        }
    }

    pub(super) fn counted_auto_mail(&mut self, address: &str) {
        if let Some(n) = self
            .auto_counts
            .as_mut()
            .and_then(|(_, counts)| counts.get_mut(address))
        {
            *n += 1;
        }
    }
}

impl CaseTx {
    /// Read the customer rows and the automatic-mail counts since `auto_since` of
    /// `addresses`, and which of `dedupe_keys` are taken.
    pub async fn read_ahead(
        &mut self,
        addresses: &[&str],
        auto_since: i64,
        dedupe_keys: &[&str],
    ) -> Result<()> {
        let addresses: Vec<&str> = addresses
            .iter()
            .copied()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        self.read_customers(&addresses).await?;
        self.read_auto_counts(&addresses, auto_since).await?;
        self.read_dedupe_keys(dedupe_keys).await
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
            let customer = super::directory::customer_row(row)?;
            self.cache
                .customers
                .insert(customer.email.clone(), Some(customer));
        }
        Ok(())
    }

    async fn read_auto_counts(&mut self, addresses: &[&str], since: i64) -> Result<()> {
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
        self.cache.ahead.auto_counts = Some((since, counts));
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
