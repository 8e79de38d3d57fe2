//! Cases, their participants, history (emails) and attachments: the rows, and what the
//! apply transaction writes and reads of them. The command line's reads are in
//! `case_reads.rs`, the list and search queries in `case_lists.rs`.

use serde::Serialize;
use sqlx::any::AnyRow;

use super::apply_tx::ApplyTx;
use super::{get, Result, StoreError};
use crate::domain::{CaseId, CaseStatus, Direction, Role};

/// A column holding one of an enum's spellings.
fn spelled<T: std::str::FromStr<Err = String>>(row: &AnyRow, column: &str) -> Result<T> {
    get::<String>(row, column)?
        .parse()
        .map_err(StoreError::Invalid)
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
    pub case_id: Option<CaseId>,
    pub from_inbound: bool,
    pub direction: Direction,
    pub kind: &'a str,
    pub from_addr: &'a str,
    pub to_addrs: &'a str,
    pub subject: &'a str,
    pub message_id: Option<&'a str>,
    pub body_text: Option<&'a str>,
    pub raw_hash: &'a str,
    pub raw_size: usize,
}

/// A file of a received mail, recorded with its history entry.
pub struct NewAttachment<'a> {
    pub filename: &'a str,
    pub content_type: &'a str,
    pub size: usize,
    pub blob_hash: &'a str,
    pub inline: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseRow {
    #[serde(skip)]
    pub id: CaseId,
    pub number: i64,
    pub subject: String,
    pub description: String,
    pub product: Option<String>,
    pub severity: i64,
    pub production_down: bool,
    pub status: CaseStatus,
    pub requester: String,
    pub requester_name: Option<String>,
    pub language: String,
    pub related_case: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub closed_at: Option<i64>,
    /// The mailbox (queue) the case came in by; its mail goes out from that address.
    pub mailbox: String,
    /// The agent who took the case (`Tomar`, `Asignar:`); none while unassigned.
    pub owner: Option<String>,
    /// Since when the case waits on the customer (`Esperando cliente`), Unix ms.
    pub waiting_since: Option<i64>,
    /// The case this one was merged into (`Fusionar: #M`): later mail goes there.
    #[serde(skip)]
    pub merged_into: Option<CaseId>,
    /// When the customer last wrote, Unix ms (the lists' "customer wrote … ago").
    pub customer_wrote_at: Option<i64>,
    /// When an agent last answered the customer, Unix ms.
    pub agent_answered_at: Option<i64>,
    /// The response target running on the case, if any (the agents' lists show its state).
    #[serde(skip)]
    pub sla: Option<crate::sla::SlaClock>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EmailRow {
    pub id: i64,
    #[serde(skip)]
    pub case_id: Option<CaseId>,
    pub direction: Direction,
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
    /// Only the cases of this mailbox.
    pub mailbox: Option<String>,
    pub limit: i64,
}

macro_rules! case_columns {
    () => {
        "id, number, subject, description, product, severity, production_down, status, requester, requester_name, language, related_case, created_at, updated_at, closed_at, mailbox, owner, waiting_since, merged_into, customer_wrote_at, agent_answered_at, sla_target, sla_started_at, sla_warn_at, sla_due_at"
    };
}
pub(super) use case_columns;

macro_rules! email_columns {
    () => {
        "e.id, e.case_id, e.direction, e.kind, e.from_addr, e.to_addrs, e.subject, e.message_id, e.body_text, e.raw_hash, e.raw_size, e.created_at, o.state AS delivery"
    };
}
pub(super) use email_columns;

pub(super) fn case_row(row: &AnyRow) -> Result<CaseRow> {
    Ok(CaseRow {
        id: get(row, "id")?,
        number: get(row, "number")?,
        subject: get(row, "subject")?,
        description: get(row, "description")?,
        product: get(row, "product")?,
        severity: get(row, "severity")?,
        production_down: get::<i64>(row, "production_down")? != 0,
        status: spelled(row, "status")?,
        requester: get(row, "requester")?,
        requester_name: get(row, "requester_name")?,
        language: get(row, "language")?,
        related_case: get(row, "related_case")?,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
        closed_at: get(row, "closed_at")?,
        mailbox: get(row, "mailbox")?,
        owner: get(row, "owner")?,
        waiting_since: get(row, "waiting_since")?,
        merged_into: get(row, "merged_into")?,
        customer_wrote_at: get(row, "customer_wrote_at")?,
        agent_answered_at: get(row, "agent_answered_at")?,
        sla: super::desk_time::clock_of(row)?,
    })
}

pub(super) fn email_row(row: &AnyRow) -> Result<EmailRow> {
    Ok(EmailRow {
        id: get(row, "id")?,
        case_id: get(row, "case_id")?,
        direction: spelled(row, "direction")?,
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

impl ApplyTx {
    pub async fn case_by_number(&mut self, number: i64) -> Result<Option<CaseRow>> {
        case_by_number(&mut *self.tx, number).await
    }

    pub async fn case_of_received(&mut self, message_id: &str) -> Result<Option<i64>> {
        self.write_before_reading().await?;
        case_of_received(&mut *self.tx, message_id).await
    }

    pub async fn case_participants(&mut self, case_id: CaseId) -> Result<Vec<(String, Role)>> {
        self.write_before_reading().await?;
        case_participants(&mut *self.tx, case_id).await
    }

    pub async fn case_emails(&mut self, case_id: CaseId) -> Result<Vec<EmailRow>> {
        self.write_before_reading().await?;
        case_emails(&mut *self.tx, case_id).await
    }

    /// A new case of the `default` mailbox with the next number. Returns (id, number).
    pub async fn create_case(&mut self, case: &NewCaseRow<'_>) -> Result<(CaseId, i64)> {
        self.create_case_in(crate::config::MailboxName::DEFAULT, case)
            .await
    }

    /// A new case of `mailbox` with the next number. Returns (id, number).
    pub async fn create_case_in(
        &mut self,
        mailbox: &str,
        case: &NewCaseRow<'_>,
    ) -> Result<(CaseId, i64)> {
        let number = self.next_case_number().await?;
        let row = sqlx::query(
            "INSERT INTO cases (number, subject, subject_folded, description, product, severity, production_down,
                                status, requester, requester_name, language, related_case, created_at, updated_at,
                                customer_wrote_at, mailbox)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $9, $10, $11, $12, $12, $12, $13)
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
        .bind(mailbox)
        .fetch_one(&mut *self.tx)
        .await?;
        Ok((get(&row, "id")?, number))
    }

    /// The desk's own addresses the case's first mail was written to (more than its
    /// mailbox's when a customer wrote to two of them at once).
    pub(crate) async fn add_case_addresses(
        &mut self,
        case_id: CaseId,
        addresses: &[&str],
    ) -> Result<()> {
        for address in addresses {
            sqlx::query(
                "INSERT INTO case_addresses (case_id, address) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(case_id)
            .bind(*address)
            .execute(&mut *self.tx)
            .await?;
        }
        Ok(())
    }

    /// Create or update a customer's profile (the fields given), as `perfil` asks.
    pub(crate) async fn upsert_profile(
        &mut self,
        email: &str,
        name: Option<&str>,
        language: Option<&str>,
    ) -> Result<()> {
        self.cache.customers.remove(email);
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
    pub(crate) async fn close_case(&mut self, case_id: CaseId) -> Result<bool> {
        let done = sqlx::query("UPDATE cases SET status = 'closed', closed_at = $1, updated_at = $1 WHERE id = $2 AND status = 'open'")
            .bind(self.now)
            .bind(case_id)
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A new severity; anything below critical also ends the "Producción Caída" mark.
    pub(crate) async fn set_severity(&mut self, case_id: CaseId, severity: i64) -> Result<()> {
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

    pub(crate) async fn set_product(&mut self, case_id: CaseId, product: &str) -> Result<()> {
        sqlx::query("UPDATE cases SET product = $1, updated_at = $2 WHERE id = $3")
            .bind(product)
            .bind(self.now)
            .bind(case_id)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Mark new activity on the case (lists sort by it).
    pub(crate) async fn touch(&mut self, case_id: CaseId) -> Result<()> {
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

pub(super) async fn case_of_received<'e>(
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

pub(super) async fn case_by_number<'e>(
    e: impl sqlx::Executor<'e, Database = sqlx::Any>,
    number: i64,
) -> Result<Option<CaseRow>> {
    let sql = concat!("SELECT ", case_columns!(), " FROM cases WHERE number = $1");
    let row = sqlx::query(sql).bind(number).fetch_optional(e).await?;
    row.as_ref().map(case_row).transpose()
}

pub(super) async fn case_emails<'e>(
    e: impl sqlx::Executor<'e, Database = sqlx::Any>,
    case_id: CaseId,
) -> Result<Vec<EmailRow>> {
    let sql = concat!(
        "SELECT ",
        email_columns!(),
        " FROM emails e LEFT JOIN outbox o ON o.email_id = e.id WHERE e.case_id = $1 ORDER BY e.id"
    );
    let rows = sqlx::query(sql).bind(case_id).fetch_all(e).await?;
    rows.iter().map(email_row).collect()
}

pub(super) async fn case_participants<'e>(
    e: impl sqlx::Executor<'e, Database = sqlx::Any>,
    case_id: CaseId,
) -> Result<Vec<(String, Role)>> {
    let rows = sqlx::query(
        "SELECT email, role FROM participants WHERE case_id = $1
         ORDER BY CASE WHEN role = 'requester' THEN 0 ELSE 1 END, email",
    )
    .bind(case_id)
    .fetch_all(e)
    .await?;
    rows.iter()
        .map(|r| Ok((get(r, "email")?, spelled(r, "role")?)))
        .collect()
}
