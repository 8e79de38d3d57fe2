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

use super::apply_tx::CaseTx;
use super::cases::NewEmail;
use super::{get, Result};

/// What an all-or-nothing batch will write at its end.
#[derive(Default)]
pub(super) struct Deferred {
    pub(super) emails: Vec<EmailValues>,
    pub(super) outbox: Vec<QueuedRow>,
    /// (case id, address, role).
    pub(super) participants: Vec<(i64, String, String)>,
    /// (dedupe key, inbound id) of each mail that took its key.
    pub(super) dedupe_keys: Vec<(String, i64)>,
    /// (address, kind) of each automatic mail counted.
    pub(super) auto_mail: Vec<(String, String)>,
    /// (inbound id, final state, outcome) of each mail the batch finished.
    pub(super) finished: Vec<(i64, &'static str, String)>,
    /// The last case number the batch gave out, once it gave out one.
    pub(super) last_number: Option<i64>,
    pub(super) number_given: bool,
}

/// A history entry, owned so that it can wait.
pub(super) struct EmailValues {
    pub(super) case_id: Option<i64>,
    pub(super) inbound_id: Option<i64>,
    pub(super) direction: String,
    pub(super) kind: String,
    pub(super) from_addr: String,
    pub(super) to_addrs: String,
    pub(super) subject: String,
    pub(super) message_id: Option<String>,
    pub(super) body_text: Option<String>,
    pub(super) raw_hash: String,
    pub(super) raw_size: i64,
}

/// An outbox row; its history entry is named by id once written, by Message-ID before.
pub(super) struct QueuedRow {
    pub(super) email: EmailRef,
    pub(super) envelope_from: String,
    pub(super) recipients: String,
    pub(super) state: &'static str,
}

pub(super) enum EmailRef {
    Id(i64),
    MessageId(String),
}

impl CaseTx {
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

    /// A history entry whose id is needed now (its attachments name it).
    pub async fn add_email(&mut self, e: &NewEmail<'_>) -> Result<i64> {
        // Entries waiting go first, so that ids keep the order of events.
        self.write_history().await?;
        let values = self.email_values(e);
        let ids = self.insert_emails(std::slice::from_ref(&values)).await?;
        Ok(ids[0].0)
    }

    /// A history entry nothing in the batch refers to by id.
    pub async fn add_email_later(&mut self, e: &NewEmail<'_>) -> Result<()> {
        if !self.all_or_nothing {
            return self.add_email(e).await.map(|_| ());
        }
        let values = self.email_values(e);
        self.deferred.emails.push(values);
        Ok(())
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
            true => super::OutboxState::Pending,
            false => super::OutboxState::Suppressed,
        };
        self.queue_mail_as(e, recipients, state).await
    }

    /// `queue_mail` in a given state (`Held`: recorded and listed, not sent).
    pub async fn queue_mail_as(
        &mut self,
        e: &NewEmail<'_>,
        recipients: &[String],
        state: super::OutboxState,
    ) -> Result<()> {
        // The outbox row finds its entry by Message-ID: it must name one entry alone.
        let write_now = e.message_id.is_none_or(|id| {
            self.deferred
                .emails
                .iter()
                .any(|w| w.direction == "out" && w.message_id.as_deref() == Some(id))
        });
        let email = if self.all_or_nothing && !write_now {
            self.add_email_later(e).await?;
            EmailRef::MessageId(e.message_id.unwrap_or_default().to_string())
        } else {
            EmailRef::Id(self.add_email(e).await?)
        };
        self.deferred.outbox.push(QueuedRow {
            email,
            envelope_from: e.from_addr.to_string(),
            recipients: recipients.join(","),
            state: state.as_str(),
        });
        if !self.all_or_nothing {
            self.write_outbox(&HashMap::new()).await?;
        }
        Ok(())
    }

    pub async fn add_participant(&mut self, case_id: i64, email: &str, role: &str) -> Result<()> {
        self.deferred
            .participants
            .push((case_id, email.to_string(), role.to_string()));
        if !self.all_or_nothing {
            self.write_participants().await?;
        }
        Ok(())
    }

    /// Take the mail's dedupe key. False when another copy of the same mail already made
    /// its effect: this one must make none. A batch that read its keys ahead decides from
    /// what it read and inserts the keys at its end (where a key another process took
    /// meanwhile makes the batch run again with savepoints).
    pub async fn claim_dedupe_key(&mut self, key: &str) -> Result<bool> {
        if self.all_or_nothing {
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
    pub(super) async fn next_case_number(&mut self) -> Result<i64> {
        let step = if self.all_or_nothing { 0 } else { 1 };
        let last = match self.deferred.last_number {
            Some(n) if self.all_or_nothing => n,
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
        if self.all_or_nothing {
            self.deferred.last_number = Some(last + 1);
            self.deferred.number_given = true;
        }
        Ok(last + 1)
    }

    /// Count an automatic mail to `address`.
    pub async fn log_auto_mail(&mut self, address: &str, kind: &str) -> Result<()> {
        self.cache.ahead.counted_auto_mail(address);
        self.deferred
            .auto_mail
            .push((address.to_string(), kind.to_string()));
        if !self.all_or_nothing {
            self.write_auto_mail().await?;
        }
        Ok(())
    }

    /// Record what the current mail came to. An all-or-nothing batch also claims it only
    /// here, at its end ([`CaseTx::write_deferred`]); a savepoint's mail was claimed first.
    pub async fn finish_mail(&mut self, outcome: &str, duplicate: bool) -> Result<()> {
        let state = if duplicate { "duplicate" } else { "done" };
        if self.all_or_nothing {
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
