//! Cases, their participants, history (emails) and attachments: written in one apply
//! transaction per mail, read by the command line and later by the customers' commands.

use serde::Serialize;
use sqlx::any::AnyRow;

use super::{get, now_ms, Backend, Result, Store};

/// The transaction in which one received mail becomes its effects. Nothing is visible to
/// anyone until [`CaseTx::finish`] commits; dropping it rolls everything back.
pub struct CaseTx {
    tx: super::WriteTx,
    pub(super) inbound_id: i64,
    now: i64,
    /// A mail's savepoint is open.
    in_mail: bool,
    backend: Backend,
    /// The agents, read once per batch (mail never changes them).
    pub(super) agents: Option<Vec<super::AgentRow>>,
    /// Addresses this transaction took off the failing list: known not to be failing
    /// without asking again (the acknowledgement to a sender who just wrote).
    pub(super) cleared: Vec<String>,
    /// Whether the failing list has any address (None: not asked yet in this batch).
    pub(super) any_failing: Option<bool>,
    /// Customer rows read in this batch, by address.
    pub(super) customers: std::collections::HashMap<String, Option<super::CustomerRow>>,
    /// What the batch read up front ([`super::read_ahead`]).
    pub(super) ahead: super::read_ahead::ReadAhead,
    /// No savepoints: a failure throws the whole batch away, so some writes wait for its
    /// end ([`super::batch`]).
    pub(super) all_or_nothing: bool,
    pub(super) deferred: super::batch::Deferred,
}

pub struct NewCaseRow<'a> {
    pub subject: &'a str,
    pub subject_folded: &'a str,
    pub description: &'a str,
    pub product: Option<&'a str>,
    pub severity: i64,
    pub production_down: bool,
    pub requester: &'a str,
    pub requester_name: Option<&'a str>,
    pub language: &'a str,
    /// The closed case this one follows from (a new problem written on a closed case).
    pub related_case: Option<i64>,
}

pub struct NewEmail<'a> {
    pub case_id: Option<i64>,
    pub from_inbound: bool,
    pub direction: &'a str,
    pub kind: &'a str,
    pub from_addr: &'a str,
    pub to_addrs: &'a str,
    pub subject: &'a str,
    pub message_id: Option<&'a str>,
    pub body_text: Option<&'a str>,
    pub raw_hash: &'a str,
    pub raw_size: usize,
}

pub struct NewAttachment<'a> {
    pub case_id: i64,
    pub email_id: i64,
    pub filename: &'a str,
    pub content_type: &'a str,
    pub size: usize,
    pub blob_hash: &'a str,
    pub inline: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseRow {
    #[serde(skip)]
    pub id: i64,
    pub number: i64,
    pub subject: String,
    pub description: String,
    pub product: Option<String>,
    pub severity: i64,
    pub production_down: bool,
    pub status: String,
    pub requester: String,
    pub requester_name: Option<String>,
    pub language: String,
    pub related_case: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub closed_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EmailRow {
    pub id: i64,
    #[serde(skip)]
    pub case_id: Option<i64>,
    pub direction: String,
    pub kind: String,
    pub from_addr: String,
    pub to_addrs: String,
    pub subject: String,
    pub message_id: Option<String>,
    pub body_text: Option<String>,
    #[serde(skip)]
    pub raw_hash: String,
    pub raw_size: i64,
    pub created_at: i64,
    /// Outgoing only: pending | sent | failed.
    pub delivery: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AttachmentRow {
    pub id: i64,
    pub email_id: i64,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub blob_hash: String,
    pub inline: bool,
}

/// What `buzon cases` (and a customer's "mis casos") asks for.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    pub status: Option<String>,
    /// Folded words that must all appear in the folded subject.
    pub words: Vec<String>,
    pub customer: Option<String>,
    pub limit: i64,
}

macro_rules! case_columns {
    () => {
        "id, number, subject, description, product, severity, production_down, status, requester, requester_name, language, related_case, created_at, updated_at, closed_at"
    };
}

macro_rules! email_columns {
    () => {
        "e.id, e.case_id, e.direction, e.kind, e.from_addr, e.to_addrs, e.subject, e.message_id, e.body_text, e.raw_hash, e.raw_size, e.created_at, o.state AS delivery"
    };
}

fn case_row(row: &AnyRow) -> Result<CaseRow> {
    Ok(CaseRow {
        id: get(row, "id")?,
        number: get(row, "number")?,
        subject: get(row, "subject")?,
        description: get(row, "description")?,
        product: get(row, "product")?,
        severity: get(row, "severity")?,
        production_down: get::<i64>(row, "production_down")? != 0,
        status: get(row, "status")?,
        requester: get(row, "requester")?,
        requester_name: get(row, "requester_name")?,
        language: get(row, "language")?,
        related_case: get(row, "related_case")?,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
        closed_at: get(row, "closed_at")?,
    })
}

fn email_row(row: &AnyRow) -> Result<EmailRow> {
    Ok(EmailRow {
        id: get(row, "id")?,
        case_id: get(row, "case_id")?,
        direction: get(row, "direction")?,
        kind: get(row, "kind")?,
        from_addr: get(row, "from_addr")?,
        to_addrs: get(row, "to_addrs")?,
        subject: get(row, "subject")?,
        message_id: get(row, "message_id")?,
        body_text: get(row, "body_text")?,
        raw_hash: get(row, "raw_hash")?,
        raw_size: get(row, "raw_size")?,
        created_at: get(row, "created_at")?,
        delivery: get(row, "delivery")?,
    })
}

fn like_pattern(word: &str) -> String {
    let escaped = word
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

impl Store {
    /// A transaction for a batch of mails: all or nothing, with its deferrable writes left
    /// for its end, until [`CaseTx::start_mail`] first opens a savepoint per mail (the
    /// batch's second run); one commit for the batch.
    pub async fn begin_batch(&self) -> Result<CaseTx> {
        Ok(CaseTx {
            tx: self.begin().await?,
            inbound_id: 0,
            now: now_ms(),
            in_mail: false,
            backend: self.backend,
            agents: None,
            cleared: Vec::new(),
            any_failing: None,
            customers: Default::default(),
            ahead: Default::default(),
            all_or_nothing: true,
            deferred: Default::default(),
        })
    }

    /// Start applying inbound mail `inbound_id` alone. `None` when it is no longer pending
    /// (another process applied it first), so its effects are never made twice.
    pub async fn begin_apply(&self, inbound_id: i64) -> Result<Option<CaseTx>> {
        let mut tx = self.begin_batch().await?;
        tx.start_mail().await?;
        Ok(tx.claim(inbound_id).await?.then_some(tx))
    }

    pub async fn cases(&self, filter: &CaseFilter) -> Result<Vec<CaseRow>> {
        cases(&self.pool, self.backend, filter).await
    }

    /// The case on which buzon received a mail with this Message-ID, if any.
    pub async fn case_of_received(&self, message_id: &str) -> Result<Option<i64>> {
        case_of_received(&self.pool, message_id).await
    }

    pub async fn case_by_number(&self, number: i64) -> Result<Option<CaseRow>> {
        case_by_number(&self.pool, number).await
    }

    /// The number of the case with this database id.
    pub async fn case_number_of(&self, case_id: i64) -> Result<Option<i64>> {
        let row = sqlx::query("SELECT number FROM cases WHERE id = $1")
            .bind(case_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| get(&r, "number")).transpose()
    }

    /// The activity history: every mail in and out, oldest first.
    pub async fn case_emails(&self, case_id: i64) -> Result<Vec<EmailRow>> {
        case_emails(&self.pool, case_id).await
    }

    pub async fn email(&self, id: i64) -> Result<Option<EmailRow>> {
        let sql = concat!(
            "SELECT ",
            email_columns!(),
            " FROM emails e LEFT JOIN outbox o ON o.email_id = e.id WHERE e.id = $1"
        );
        let row = sqlx::query(sql).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(email_row).transpose()
    }

    /// The history entry of a received mail.
    pub async fn emails_for_inbound(&self, inbound_id: i64) -> Result<Option<EmailRow>> {
        let sql = concat!(
            "SELECT ",
            email_columns!(),
            " FROM emails e LEFT JOIN outbox o ON o.email_id = e.id WHERE e.inbound_id = $1 ORDER BY e.id LIMIT 1"
        );
        let row = sqlx::query(sql)
            .bind(inbound_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(email_row).transpose()
    }

    /// History entries that belong to no case (strangers' mail, and the answers to them).
    pub async fn emails_without_case(&self, limit: i64) -> Result<Vec<EmailRow>> {
        let sql = concat!(
            "SELECT ",
            email_columns!(),
            " FROM emails e LEFT JOIN outbox o ON o.email_id = e.id WHERE e.case_id IS NULL ORDER BY e.id DESC LIMIT $1"
        );
        let rows = sqlx::query(sql).bind(limit).fetch_all(&self.pool).await?;
        rows.iter().map(email_row).collect()
    }

    pub async fn case_attachments(&self, case_id: i64) -> Result<Vec<AttachmentRow>> {
        let rows = sqlx::query(
            "SELECT id, email_id, filename, content_type, size, blob_hash, inline
             FROM attachments WHERE case_id = $1 ORDER BY id",
        )
        .bind(case_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AttachmentRow {
                    id: get(r, "id")?,
                    email_id: get(r, "email_id")?,
                    filename: get(r, "filename")?,
                    content_type: get(r, "content_type")?,
                    size: get(r, "size")?,
                    blob_hash: get(r, "blob_hash")?,
                    inline: get::<i64>(r, "inline")? != 0,
                })
            })
            .collect()
    }

    /// (address, role) of everyone on a case, the requester first.
    pub async fn case_participants(&self, case_id: i64) -> Result<Vec<(String, String)>> {
        case_participants(&self.pool, case_id).await
    }
}

impl CaseTx {
    /// Open the savepoint of the next mail in the batch. A batch that uses savepoints
    /// writes everything at once: call this before the batch's first write.
    pub async fn start_mail(&mut self) -> Result<()> {
        self.all_or_nothing = false;
        sqlx::query("SAVEPOINT mail").execute(&mut *self.tx).await?;
        self.in_mail = true;
        Ok(())
    }

    /// Take inbound mail `inbound_id` for this transaction: false when it is no longer
    /// pending (another process applied it first), so its effects are never made twice.
    /// An all-or-nothing batch checks that at its end instead ([`CaseTx::write_deferred`]).
    pub async fn claim(&mut self, inbound_id: i64) -> Result<bool> {
        self.inbound_id = inbound_id;
        if self.all_or_nothing {
            return Ok(true);
        }
        let claimed = sqlx::query(
            "UPDATE inbound_mail SET state = 'done', processed_at = $1, lease_until = NULL, error = NULL
             WHERE id = $2 AND state = 'pending'",
        )
        .bind(self.now)
        .bind(inbound_id)
        .execute(&mut *self.tx)
        .await?;
        Ok(claimed.rows_affected() == 1)
    }

    /// Keep what the current mail did (a no-op when it finished already).
    pub async fn end_mail(&mut self) -> Result<()> {
        if std::mem::take(&mut self.in_mail) {
            sqlx::query("RELEASE SAVEPOINT mail")
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
    }

    /// Undo everything the current mail did; the batch's other mails keep theirs.
    pub async fn rollback_mail(&mut self) -> Result<()> {
        self.cleared.clear();
        self.any_failing = None;
        self.customers.clear();
        if std::mem::take(&mut self.in_mail) {
            // What the batch read ahead no longer holds once a savepoint is undone (an
            // all-or-nothing batch has none: its mail made no change to undo).
            self.ahead = Default::default();
            sqlx::query("ROLLBACK TO SAVEPOINT mail")
                .execute(&mut *self.tx)
                .await?;
            sqlx::query("RELEASE SAVEPOINT mail")
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
    }

    /// Park a mail that cannot be processed (after [`rollback_mail`](Self::rollback_mail)).
    pub async fn fail_inbound(&mut self, id: i64, error: &str) -> Result<()> {
        super::inbound::park_inbound(&mut *self.tx, id, "failed", error).await
    }

    pub async fn quarantine_inbound(&mut self, id: i64, reason: &str) -> Result<()> {
        super::inbound::park_inbound(&mut *self.tx, id, "quarantined", reason).await
    }

    /// Commit the batch: every mail's effects become visible at once.
    pub async fn commit(mut self) -> Result<()> {
        if !self.write_deferred().await? {
            return Err(super::StoreError::Invalid(
                "a mail of the batch was applied by another process meanwhile".into(),
            ));
        }
        self.tx.commit().await?;
        crate::crash::point("apply.after_commit");
        Ok(())
    }

    pub async fn case_by_number(&mut self, number: i64) -> Result<Option<CaseRow>> {
        case_by_number(&mut *self.tx, number).await
    }

    pub async fn case_of_received(&mut self, message_id: &str) -> Result<Option<i64>> {
        self.write_before_reading().await?;
        case_of_received(&mut *self.tx, message_id).await
    }

    pub async fn case_participants(&mut self, case_id: i64) -> Result<Vec<(String, String)>> {
        self.write_before_reading().await?;
        case_participants(&mut *self.tx, case_id).await
    }

    pub async fn case_emails(&mut self, case_id: i64) -> Result<Vec<EmailRow>> {
        self.write_before_reading().await?;
        case_emails(&mut *self.tx, case_id).await
    }

    pub async fn cases(&mut self, filter: &CaseFilter) -> Result<Vec<CaseRow>> {
        self.write_before_reading().await?;
        cases(&mut *self.tx, self.backend, filter).await
    }

    pub fn now(&self) -> i64 {
        self.now
    }

    /// The transaction's connection, for the other store modules' statements.
    pub(super) fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }

    /// A new case with the next number. Returns (id, number).
    pub async fn create_case(&mut self, case: &NewCaseRow<'_>) -> Result<(i64, i64)> {
        let number = self.next_case_number().await?;
        let row = sqlx::query(
            "INSERT INTO cases (number, subject, subject_folded, description, product, severity, production_down,
                                status, requester, requester_name, language, related_case, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $9, $10, $11, $12, $12)
             RETURNING id",
        )
        .bind(number)
        .bind(case.subject)
        .bind(case.subject_folded)
        .bind(case.description)
        .bind(case.product)
        .bind(case.severity)
        .bind(i64::from(case.production_down))
        .bind(case.requester)
        .bind(case.requester_name)
        .bind(case.language)
        .bind(case.related_case)
        .bind(self.now)
        .fetch_one(&mut *self.tx)
        .await?;
        Ok((get(&row, "id")?, number))
    }

    pub async fn add_attachment(&mut self, a: &NewAttachment<'_>) -> Result<i64> {
        let row = sqlx::query(
            "INSERT INTO attachments (case_id, email_id, filename, content_type, size, blob_hash, inline, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             RETURNING id",
        )
        .bind(a.case_id)
        .bind(a.email_id)
        .bind(a.filename)
        .bind(a.content_type)
        .bind(a.size as i64)
        .bind(a.blob_hash)
        .bind(i64::from(a.inline))
        .bind(self.now)
        .fetch_one(&mut *self.tx)
        .await?;
        get(&row, "id")
    }

    /// Create or update a customer's profile (the fields given), as `perfil` asks.
    pub async fn upsert_profile(
        &mut self,
        email: &str,
        name: Option<&str>,
        language: Option<&str>,
    ) -> Result<()> {
        self.customers.remove(email);
        let now = self.now;
        sqlx::query(
            "INSERT INTO customers (email, name, language, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (email) DO UPDATE SET name = COALESCE(excluded.name, customers.name),
                                               language = COALESCE(excluded.language, customers.language)",
        )
        .bind(email)
        .bind(name)
        .bind(language)
        .bind(now)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Close the case now. False when it was closed already.
    pub async fn close_case(&mut self, case_id: i64) -> Result<bool> {
        let done = sqlx::query("UPDATE cases SET status = 'closed', closed_at = $1, updated_at = $1 WHERE id = $2 AND status = 'open'")
            .bind(self.now)
            .bind(case_id)
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A new severity; anything below critical also ends the "Producción Caída" mark.
    pub async fn set_severity(&mut self, case_id: i64, severity: i64) -> Result<()> {
        sqlx::query(
            "UPDATE cases SET severity = $1, updated_at = $2,
                    production_down = CASE WHEN $1 > 1 THEN 0 ELSE production_down END
             WHERE id = $3",
        )
        .bind(severity)
        .bind(self.now)
        .bind(case_id)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn set_product(&mut self, case_id: i64, product: &str) -> Result<()> {
        sqlx::query("UPDATE cases SET product = $1, updated_at = $2 WHERE id = $3")
            .bind(product)
            .bind(self.now)
            .bind(case_id)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Mark new activity on the case (lists sort by it).
    pub async fn touch(&mut self, case_id: i64) -> Result<()> {
        sqlx::query("UPDATE cases SET updated_at = $1 WHERE id = $2")
            .bind(self.now)
            .bind(case_id)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Record what a mail applied alone came to and commit.
    pub async fn finish(mut self, outcome: &str, duplicate: bool) -> Result<()> {
        self.finish_mail(outcome, duplicate).await?;
        self.commit().await
    }
}

async fn cases<'e>(
    e: impl sqlx::Executor<'e, Database = sqlx::Any>,
    backend: Backend,
    filter: &CaseFilter,
) -> Result<Vec<CaseRow>> {
    // Only the conditions asked for are in the query, so each can use its index. The SQL is
    // assembled from the constant fragments below; every value is a bound parameter.
    let mut binds: Vec<String> = Vec::new();
    let mut bind = |value: String| {
        binds.push(value);
        binds.len()
    };
    // Words of three characters or more use the trigram index (FTS5 on SQLite, pg_trgm on
    // PostgreSQL); shorter ones only narrow. A word matches anywhere in the folded subject.
    let (indexed, short): (Vec<&String>, Vec<&String>) =
        filter.words.iter().partition(|w| w.chars().count() >= 3);
    let searching = !filter.words.is_empty();
    // Without a customer to start from, SQLite walks the search index newest first and
    // stops at the limit: a common word costs as little as a rare one.
    let from_search_index =
        backend == Backend::Sqlite && !indexed.is_empty() && filter.customer.is_none();
    let mut sql = if from_search_index {
        let phrase = indexed
            .iter()
            .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
            .collect::<Vec<_>>()
            .join(" AND ");
        let n = bind(phrase);
        format!(
            concat!(
                "SELECT ",
                case_columns!(),
                " FROM cases_search JOIN cases ON cases.id = cases_search.rowid WHERE cases_search MATCH ${}"
            ),
            n
        )
    } else {
        String::from(concat!(
            "SELECT ",
            case_columns!(),
            " FROM cases WHERE 1 = 1"
        ))
    };
    if let Some(status) = &filter.status {
        sql.push_str(&format!(" AND status = ${}", bind(status.clone())));
    }
    if let Some(customer) = &filter.customer {
        sql.push_str(&format!(
            " AND cases.id IN (SELECT case_id FROM participants WHERE email = ${})",
            bind(customer.clone())
        ));
    }
    let like_words = if from_search_index {
        short
    } else {
        filter.words.iter().collect()
    };
    for word in like_words {
        sql.push_str(&format!(
            " AND cases.subject_folded LIKE ${} ESCAPE '\\'",
            bind(like_pattern(word))
        ));
    }
    // Search results come newest case first (walking the search index backwards when it
    // drives the query); lists, most recently active first.
    sql.push_str(if from_search_index {
        " ORDER BY cases_search.rowid DESC"
    } else if searching {
        " ORDER BY cases.id DESC"
    } else {
        " ORDER BY updated_at DESC, number DESC"
    });
    if filter.limit > 0 {
        sql.push_str(&format!(" LIMIT {}", filter.limit));
    }
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for value in binds {
        query = query.bind(value);
    }
    let rows = query.fetch_all(e).await?;
    rows.iter().map(case_row).collect()
}

async fn case_of_received<'e>(
    e: impl sqlx::Executor<'e, Database = sqlx::Any>,
    message_id: &str,
) -> Result<Option<i64>> {
    let row = sqlx::query(
        "SELECT c.number FROM emails e JOIN cases c ON c.id = e.case_id
         WHERE e.message_id = $1 AND e.direction = 'in' ORDER BY e.id LIMIT 1",
    )
    .bind(message_id)
    .fetch_optional(e)
    .await?;
    row.map(|r| get(&r, "number")).transpose()
}

async fn case_by_number<'e>(
    e: impl sqlx::Executor<'e, Database = sqlx::Any>,
    number: i64,
) -> Result<Option<CaseRow>> {
    let sql = concat!("SELECT ", case_columns!(), " FROM cases WHERE number = $1");
    let row = sqlx::query(sql).bind(number).fetch_optional(e).await?;
    row.as_ref().map(case_row).transpose()
}

async fn case_emails<'e>(
    e: impl sqlx::Executor<'e, Database = sqlx::Any>,
    case_id: i64,
) -> Result<Vec<EmailRow>> {
    let sql = concat!(
        "SELECT ",
        email_columns!(),
        " FROM emails e LEFT JOIN outbox o ON o.email_id = e.id WHERE e.case_id = $1 ORDER BY e.id"
    );
    let rows = sqlx::query(sql).bind(case_id).fetch_all(e).await?;
    rows.iter().map(email_row).collect()
}

async fn case_participants<'e>(
    e: impl sqlx::Executor<'e, Database = sqlx::Any>,
    case_id: i64,
) -> Result<Vec<(String, String)>> {
    let rows = sqlx::query(
        "SELECT email, role FROM participants WHERE case_id = $1
         ORDER BY CASE WHEN role = 'requester' THEN 0 ELSE 1 END, email",
    )
    .bind(case_id)
    .fetch_all(e)
    .await?;
    rows.iter()
        .map(|r| Ok((get(r, "email")?, get(r, "role")?)))
        .collect()
}
