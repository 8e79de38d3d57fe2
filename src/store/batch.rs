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

use super::cases::{CaseTx, NewEmail};
use super::{get, Result};

/// What an all-or-nothing batch will write at its end.
#[derive(Default)]
pub(super) struct Deferred {
    emails: Vec<EmailValues>,
    outbox: Vec<QueuedRow>,
    /// (case id, address, role).
    participants: Vec<(i64, String, String)>,
    /// (dedupe key, inbound id) of each mail that took its key.
    dedupe_keys: Vec<(String, i64)>,
    /// (address, kind) of each automatic mail counted.
    auto_mail: Vec<(String, String)>,
    /// (inbound id, final state, outcome) of each mail the batch finished.
    finished: Vec<(i64, &'static str, String)>,
    /// The last case number the batch gave out, once it gave out one.
    last_number: Option<i64>,
    number_given: bool,
}

/// A history entry, owned so that it can wait.
struct EmailValues {
    case_id: Option<i64>,
    inbound_id: Option<i64>,
    direction: String,
    kind: String,
    from_addr: String,
    to_addrs: String,
    subject: String,
    message_id: Option<String>,
    body_text: Option<String>,
    raw_hash: String,
    raw_size: i64,
}

/// An outbox row; its history entry is named by id once written, by Message-ID before.
struct QueuedRow {
    email: EmailRef,
    envelope_from: String,
    recipients: String,
    state: &'static str,
}

enum EmailRef {
    Id(i64),
    MessageId(String),
}

/// Rows per multi-row statement: far below either database's limit on parameters.
const ROWS_PER_STATEMENT: usize = 80;

/// Values per `IN (…)` list.
const IN_LIST_MAX: usize = 200;

/// `$first, $first+1, …`: `count` parameters.
pub(super) fn numbered(count: usize, first: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `($1, $2), ($3, $4)` for `rows` rows of `columns` values, numbered from `$first`.
fn placeholders(rows: usize, columns: usize, first: usize) -> String {
    (0..rows)
        .map(|r| format!("({})", numbered(columns, first + r * columns)))
        .collect::<Vec<_>>()
        .join(", ")
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// `INSERT INTO {into} VALUES (…), (…) {tail}` for `rows`, [`ROWS_PER_STATEMENT`] at a
/// time, `bind` adding one row's `columns` values. Returns the rows inserted.
pub(super) async fn insert_rows<'r, T>(
    conn: &mut sqlx::AnyConnection,
    into: &str,
    tail: &str,
    columns: usize,
    rows: &'r [T],
    bind: impl Fn(AnyQuery<'r>, &'r T) -> AnyQuery<'r>,
) -> Result<u64> {
    let mut inserted = 0;
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO {into} VALUES {} {tail}",
            placeholders(chunk.len(), columns, 1)
        );
        let query = chunk
            .iter()
            .fold(sqlx::query(sqlx::AssertSqlSafe(sql)), &bind);
        inserted += query.execute(&mut *conn).await?.rows_affected();
    }
    Ok(inserted)
}

/// The rows of `sql(list, next)`, where `list` is `$1, $2, …` for `values` (a few hundred
/// per statement) and `next` the number of the parameter `then` binds after them.
pub(super) async fn select_in(
    conn: &mut sqlx::AnyConnection,
    sql: impl Fn(&str, usize) -> String,
    values: &[&str],
    then: Option<i64>,
) -> Result<Vec<sqlx::any::AnyRow>> {
    let mut rows = Vec::new();
    for chunk in values.chunks(IN_LIST_MAX) {
        let text = sql(&numbered(chunk.len(), 1), chunk.len() + 1);
        let query = chunk
            .iter()
            .fold(sqlx::query(sqlx::AssertSqlSafe(text)), |q, v| q.bind(*v));
        let query = match then {
            Some(value) => query.bind(value),
            None => query,
        };
        rows.extend(query.fetch_all(&mut *conn).await?);
    }
    Ok(rows)
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
            if let Some(free) = self.ahead.dedupe_keys.get_mut(key) {
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
        self.ahead.counted_auto_mail(address);
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
    pub(super) async fn write_before_reading(&mut self) -> Result<()> {
        self.write_history().await?;
        self.write_participants().await?;
        self.write_auto_mail().await
    }

    /// Write the waiting history entries, then the outbox rows that name them.
    async fn write_history(&mut self) -> Result<()> {
        let ids = self.write_emails().await?;
        self.write_outbox(&ids).await
    }

    /// Write the waiting history entries; the ids of the outgoing ones, by Message-ID.
    async fn write_emails(&mut self) -> Result<HashMap<String, i64>> {
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
    async fn insert_emails(
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
    async fn write_outbox(&mut self, ids: &HashMap<String, i64>) -> Result<()> {
        let rows = std::mem::take(&mut self.deferred.outbox);
        let mut resolved = Vec::with_capacity(rows.len());
        for r in &rows {
            let email_id = match &r.email {
                EmailRef::Id(id) => *id,
                EmailRef::MessageId(m) => *ids.get(m).ok_or_else(|| {
                    super::StoreError::Invalid(format!("no history entry for {m}"))
                })?,
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

    async fn write_participants(&mut self) -> Result<()> {
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

    async fn write_auto_mail(&mut self) -> Result<()> {
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
    async fn write_dedupe_keys(&mut self) -> Result<bool> {
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
    async fn write_finished(&mut self) -> Result<bool> {
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

#[cfg(test)]
mod tests {
    use super::{numbered, placeholders};

    #[test]
    fn placeholders_number_rows_in_order() {
        assert_eq!(placeholders(2, 3, 1), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(placeholders(1, 2, 5), "($5, $6)");
        assert_eq!(numbered(3, 2), "$2, $3, $4");
    }
}
