//! The end of an all-or-nothing batch (see `writes.rs`): what it left for later, written with
//! one statement per table, and written early when the batch reads one of those tables.

use std::collections::HashMap;

use super::ApplyTx;
use crate::domain::{CaseId, Role};
use crate::store::sql::{insert_rows, placeholders, ROWS_PER_STATEMENT};
use crate::store::{get, Result, StoreError};

/// What an all-or-nothing batch will write at its end.
#[derive(Default)]
pub(in crate::store) struct Deferred {
    pub(in crate::store) emails: Vec<EmailValues>,
    pub(in crate::store) outbox: Vec<QueuedRow>,
    /// (case id, address, role).
    pub(in crate::store) participants: Vec<(CaseId, String, Role)>,
    /// (dedupe key, inbound id) of each mail that took its key.
    pub(in crate::store) dedupe_keys: Vec<(String, i64)>,
    /// (address, kind) of each automatic mail counted.
    pub(in crate::store) auto_mail: Vec<(String, String)>,
    /// (inbound id, final state, outcome) of each mail the batch finished.
    pub(in crate::store) finished: Vec<(i64, &'static str, String)>,
    /// The last case number the batch gave out, once it gave out one.
    pub(in crate::store) last_number: Option<i64>,
    pub(in crate::store) number_given: bool,
}

/// A history entry, owned so that it can wait.
pub(in crate::store) struct EmailValues {
    pub(in crate::store) case_id: Option<CaseId>,
    pub(in crate::store) inbound_id: Option<i64>,
    pub(in crate::store) direction: String,
    pub(in crate::store) kind: String,
    pub(in crate::store) from_addr: String,
    pub(in crate::store) to_addrs: String,
    pub(in crate::store) subject: String,
    pub(in crate::store) message_id: Option<String>,
    pub(in crate::store) body_text: Option<String>,
    pub(in crate::store) raw_hash: String,
    pub(in crate::store) raw_size: i64,
}

/// An outbox row; its history entry is named by id once written, by Message-ID before.
pub(in crate::store) struct QueuedRow {
    pub(in crate::store) email: EmailRef,
    pub(in crate::store) envelope_from: String,
    pub(in crate::store) recipients: String,
    pub(in crate::store) state: &'static str,
}

pub(in crate::store) enum EmailRef {
    Id(i64),
    MessageId(String),
}

impl ApplyTx {
    /// Write what the batch deferred. False when another process got to one of the
    /// batch's mails (or a copy of it) meanwhile: the batch must not commit.
    pub async fn write_deferred(&mut self) -> Result<bool> {
        self.write_before_reading().await?;
        if std::mem::take(&mut self.deferred.number_given) {
            sqlx::query("UPDATE counters SET value = $1 WHERE name = 'case_number'")
                .bind(self.deferred.last_number)
                .execute(self.conn())
                .await?;
        }
        Ok(self.write_dedupe_keys().await? & self.write_finished().await?)
    }

    /// Write the rows a read could look for.
    pub(in crate::store) async fn write_before_reading(&mut self) -> Result<()> {
        self.write_history().await?;
        self.write_participants().await?;
        self.write_auto_mail().await
    }

    /// Write the waiting history entries, then the outbox rows that name them.
    pub(in crate::store) async fn write_history(&mut self) -> Result<()> {
        let ids = self.write_emails().await?;
        self.write_outbox(&ids).await
    }

    /// Write the waiting history entries; the ids of the outgoing ones, by Message-ID.
    pub(in crate::store) async fn write_emails(&mut self) -> Result<HashMap<String, i64>> {
        let rows = std::mem::take(&mut self.deferred.emails);
        let mut ids = HashMap::new();
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            for (id, message_id, direction) in self.insert_emails(chunk).await? {
                // Only outgoing entries have outbox rows (a received mail may carry the
                // same Message-ID).
                if let (Some(message_id), "out") = (message_id, direction.as_str()) {
                    ids.insert(message_id, id);
                }
            }
        }
        Ok(ids)
    }

    /// Insert history entries in one statement: (id, Message-ID, direction) of each.
    pub(in crate::store) async fn insert_emails(
        &mut self,
        rows: &[EmailValues],
    ) -> Result<Vec<(i64, Option<String>, String)>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "INSERT INTO emails (case_id, inbound_id, direction, kind, from_addr, to_addrs, subject,
                                 message_id, body_text, raw_hash, raw_size, created_at)
             VALUES {} RETURNING id, message_id, direction",
            placeholders(rows.len(), 12, 1)
        );
        let now = self.now();
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for e in rows {
            query = query
                .bind(e.case_id)
                .bind(e.inbound_id)
                .bind(e.direction.as_str())
                .bind(e.kind.as_str())
                .bind(e.from_addr.as_str())
                .bind(e.to_addrs.as_str())
                .bind(e.subject.as_str())
                .bind(e.message_id.as_deref())
                .bind(e.body_text.as_deref())
                .bind(e.raw_hash.as_str())
                .bind(e.raw_size)
                .bind(now);
        }
        let written = query.fetch_all(self.conn()).await?;
        written
            .iter()
            .map(|r| Ok((get(r, "id")?, get(r, "message_id")?, get(r, "direction")?)))
            .collect()
    }

    /// `ids`: the history entries just written, by Message-ID.
    pub(in crate::store) async fn write_outbox(
        &mut self,
        ids: &HashMap<String, i64>,
    ) -> Result<()> {
        let rows = std::mem::take(&mut self.deferred.outbox);
        let mut resolved = Vec::with_capacity(rows.len());
        for r in &rows {
            let email_id = match &r.email {
                EmailRef::Id(id) => *id,
                EmailRef::MessageId(m) => *ids
                    .get(m)
                    .ok_or_else(|| StoreError::Invalid(format!("no history entry for {m}")))?,
            };
            resolved.push((email_id, r));
        }
        let now = self.now();
        insert_rows(
            self.conn(),
            "outbox (email_id, envelope_from, recipients, state, next_attempt_at, created_at)",
            "",
            6,
            &resolved,
            |query, (email_id, r)| {
                query
                    .bind(*email_id)
                    .bind(r.envelope_from.as_str())
                    .bind(r.recipients.as_str())
                    .bind(r.state)
                    .bind(now)
                    .bind(now)
            },
        )
        .await?;
        Ok(())
    }

    pub(in crate::store) async fn write_participants(&mut self) -> Result<()> {
        let mut rows = std::mem::take(&mut self.deferred.participants);
        // The first role given to an address on a case is the one kept.
        let mut seen = std::collections::HashSet::new();
        rows.retain(|(case, email, _)| seen.insert((*case, email.clone())));
        insert_rows(
            self.conn(),
            "participants (case_id, email, role)",
            "ON CONFLICT (case_id, email) DO NOTHING",
            3,
            &rows,
            |query, (case, email, role)| query.bind(*case).bind(email.as_str()).bind(role.as_str()),
        )
        .await?;
        Ok(())
    }

    pub(in crate::store) async fn write_auto_mail(&mut self) -> Result<()> {
        let rows = std::mem::take(&mut self.deferred.auto_mail);
        let now = self.now();
        insert_rows(
            self.conn(),
            "auto_mail_log (address, kind, sent_at)",
            "",
            3,
            &rows,
            |query, (address, kind)| query.bind(address.as_str()).bind(kind.as_str()).bind(now),
        )
        .await?;
        Ok(())
    }

    /// False when another process took one of the keys after the batch read them.
    pub(in crate::store) async fn write_dedupe_keys(&mut self) -> Result<bool> {
        let rows = std::mem::take(&mut self.deferred.dedupe_keys);
        let taken = insert_rows(
            self.conn(),
            "processed_keys (dedupe_key, inbound_id)",
            "ON CONFLICT (dedupe_key) DO NOTHING",
            2,
            &rows,
            |query, (key, inbound)| query.bind(key.as_str()).bind(*inbound),
        )
        .await?;
        Ok(taken == rows.len() as u64)
    }

    /// Claim and finish every mail of the batch in one statement. False when one of them
    /// was no longer pending (applied by another process after our lease ran out).
    pub(in crate::store) async fn write_finished(&mut self) -> Result<bool> {
        let rows = std::mem::take(&mut self.deferred.finished);
        let now = self.now();
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            // $1 the time; then (id, state, outcome) per mail from $2.
            let when = |column: usize| -> String {
                (0..chunk.len())
                    .map(|i| format!("WHEN ${} THEN ${}", 2 + 3 * i, 2 + 3 * i + column))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let ids: Vec<String> = (0..chunk.len())
                .map(|i| format!("${}", 2 + 3 * i))
                .collect();
            let sql = format!(
                "UPDATE inbound_mail SET state = CASE id {} END, outcome = CASE id {} END,
                        processed_at = $1, lease_until = NULL, error = NULL
                 WHERE id IN ({}) AND state = 'pending'",
                when(1),
                when(2),
                ids.join(", ")
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now);
            for (id, state, outcome) in chunk {
                query = query.bind(*id).bind(*state).bind(outcome.as_str());
            }
            if query.execute(self.conn()).await?.rows_affected() != chunk.len() as u64 {
                return Ok(false);
            }
        }
        Ok(true)
    }
}
