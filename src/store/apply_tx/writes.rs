//! Fewer statements per mail. A batch applied without savepoints is all or nothing: any
//! failure throws the whole transaction away (and the processor runs the batch again, one
//! savepoint per mail). Such a batch leaves until its end the rows whose ids nobody needs
//! in the middle of it — history entries without attachments, outbox rows, participants,
//! dedupe keys, the automatic-mail log, the case counter, the inbound mails' final state —
//! and writes each table with one statement for the whole batch. A read of one of those
//! tables writes what is pending first, so the batch always reads its own writes.
//!
//! On PostgreSQL every statement is a round trip (≈ 0.6 ms each on the benchmark's busy
//! machine), on SQLite two thread hand-offs: statements, not computation, were what a mail
//! cost. A batch with savepoints writes everything at once, as before.

use std::collections::HashMap;

use super::deferred::{EmailRef, EmailValues, QueuedRow};
use super::ApplyTx;
use crate::domain::{CaseId, Role};
use crate::store::{get, NewAttachment, NewEmail, OutboxState, Result};

impl ApplyTx {
    fn email_values(&self, e: &NewEmail<'_>) -> EmailValues {
        EmailValues {
            case_id: e.case_id,
            inbound_id: e.from_inbound.then_some(self.inbound_id),
            direction: e.direction.to_string(),
            kind: e.kind.to_string(),
            from_addr: e.from_addr.to_string(),
            to_addrs: e.to_addrs.to_string(),
            subject: e.subject.to_string(),
            message_id: e.message_id.map(str::to_string),
            body_text: e.body_text.map(str::to_string),
            raw_hash: e.raw_hash.to_string(),
            raw_size: e.raw_size as i64,
        }
    }

    /// A history entry. Nothing refers to it by id, so an all-or-nothing batch writes it
    /// at its end.
    pub async fn add_email(&mut self, e: &NewEmail<'_>) -> Result<()> {
        let values = self.email_values(e);
        if self.defers() {
            self.deferred.emails.push(values);
            return Ok(());
        }
        self.insert_emails(std::slice::from_ref(&values)).await?;
        Ok(())
    }

    /// A history entry with the files it brought: written now, since the attachment rows
    /// name the entry by id.
    pub(crate) async fn add_email_with_files(
        &mut self,
        e: &NewEmail<'_>,
        files: &[NewAttachment<'_>],
    ) -> Result<()> {
        let case_id = e
            .case_id
            .ok_or_else(|| crate::store::StoreError::Invalid("attachments need a case".into()))?;
        let email_id = self.write_email_now(e).await?;
        for file in files {
            sqlx::query(
                "INSERT INTO attachments (case_id, email_id, filename, content_type, size, blob_hash, inline, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(case_id)
            .bind(email_id)
            .bind(file.filename)
            .bind(file.content_type)
            .bind(file.size as i64)
            .bind(file.blob_hash)
            .bind(i64::from(file.inline))
            .bind(self.now)
            .execute(self.conn())
            .await?;
        }
        Ok(())
    }

    /// A history entry whose id is needed now.
    async fn write_email_now(&mut self, e: &NewEmail<'_>) -> Result<i64> {
        // Entries waiting go first, so that ids keep the order of events.
        self.write_history().await?;
        let values = self.email_values(e);
        let ids = self.insert_emails(std::slice::from_ref(&values)).await?;
        Ok(ids[0].0)
    }

    /// An outgoing mail's history entry and its outbox row. `send` false (an archive
    /// import) keeps the mail in the history, state `suppressed`, never sent.
    pub async fn queue_mail(
        &mut self,
        e: &NewEmail<'_>,
        recipients: &[String],
        send: bool,
    ) -> Result<()> {
        let state = match send {
            true => OutboxState::Pending,
            false => OutboxState::Suppressed,
        };
        self.queue_mail_as(e, recipients, state).await
    }

    /// `queue_mail` in a given state (`Held`: recorded and listed, not sent).
    pub(crate) async fn queue_mail_as(
        &mut self,
        e: &NewEmail<'_>,
        recipients: &[String],
        state: OutboxState,
    ) -> Result<()> {
        // The outbox row finds its entry by Message-ID: it must name one entry alone.
        let write_now = e.message_id.is_none_or(|id| {
            self.deferred
                .emails
                .iter()
                .any(|w| w.direction == "out" && w.message_id.as_deref() == Some(id))
        });
        let email = if self.defers() && !write_now {
            self.add_email(e).await?;
            EmailRef::MessageId(e.message_id.unwrap_or_default().to_string())
        } else {
            EmailRef::Id(self.write_email_now(e).await?)
        };
        self.deferred.outbox.push(QueuedRow {
            email,
            envelope_from: e.from_addr.to_string(),
            recipients: recipients.join(","),
            state: state.as_str(),
        });
        if !self.defers() {
            self.write_outbox(&HashMap::new()).await?;
        }
        Ok(())
    }

    pub async fn add_participant(
        &mut self,
        case_id: CaseId,
        email: &str,
        role: Role,
    ) -> Result<()> {
        self.deferred
            .participants
            .push((case_id, email.to_string(), role));
        if !self.defers() {
            self.write_participants().await?;
        }
        Ok(())
    }

    /// Take the mail's dedupe key. False when another copy of the same mail already made
    /// its effect: this one must make none. A batch that read its keys ahead decides from
    /// what it read and inserts the keys at its end (where a key another process took
    /// meanwhile makes the batch run again with savepoints).
    pub async fn claim_dedupe_key(&mut self, key: &str) -> Result<bool> {
        if self.defers() {
            if self.deferred.dedupe_keys.iter().any(|(k, _)| k == key) {
                return Ok(false);
            }
            if let Some(free) = self.cache.ahead.dedupe_keys.get_mut(key) {
                let take = std::mem::take(free);
                if take {
                    self.deferred
                        .dedupe_keys
                        .push((key.to_string(), self.inbound_id));
                }
                return Ok(take);
            }
        }
        let done = sqlx::query("INSERT INTO processed_keys (dedupe_key, inbound_id) VALUES ($1, $2) ON CONFLICT (dedupe_key) DO NOTHING")
            .bind(key)
            .bind(self.inbound_id)
            .execute(self.conn())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The next case number. An all-or-nothing batch reads the counter once (taking its
    /// row lock on PostgreSQL) and writes it back once at its end.
    pub(in crate::store) async fn next_case_number(&mut self) -> Result<i64> {
        let step = if self.defers() { 0 } else { 1 };
        let last = match self.deferred.last_number {
            Some(n) if self.defers() => n,
            _ => {
                let row = sqlx::query(
                    "UPDATE counters SET value = value + $1 WHERE name = 'case_number' RETURNING value",
                )
                .bind(step)
                .fetch_one(self.conn())
                .await?;
                get::<i64>(&row, "value")? - step
            }
        };
        if self.defers() {
            self.deferred.last_number = Some(last + 1);
            self.deferred.number_given = true;
        }
        Ok(last + 1)
    }

    /// Count an automatic mail to `address`.
    pub(crate) async fn log_auto_mail(&mut self, address: &str, kind: &str) -> Result<()> {
        self.cache.ahead.counted_auto_mail(address);
        self.deferred
            .auto_mail
            .push((address.to_string(), kind.to_string()));
        if !self.defers() {
            self.write_auto_mail().await?;
        }
        Ok(())
    }

    /// Record what the current mail came to. An all-or-nothing batch also claims it only
    /// here, at its end ([`ApplyTx::write_deferred`]); a savepoint's mail was claimed first.
    pub async fn finish_mail(&mut self, outcome: &str, duplicate: bool) -> Result<()> {
        let state = if duplicate { "duplicate" } else { "done" };
        if self.defers() {
            self.deferred
                .finished
                .push((self.inbound_id, state, outcome.to_string()));
            return Ok(());
        }
        sqlx::query("UPDATE inbound_mail SET outcome = $1, state = $2 WHERE id = $3")
            .bind(outcome)
            .bind(state)
            .bind(self.inbound_id)
            .execute(self.conn())
            .await?;
        self.end_mail().await
    }
}
