//! Reading cases, their history and attachments outside the apply transaction: the command
//! line and import (the queries it shares with the transaction are in `cases.rs`).

use super::cases::{
    case_by_number, case_emails, case_of_received, case_participants, email_columns, email_row,
    AttachmentRow, CaseRow, EmailRow,
};
use super::{get, Result, Store};
use crate::domain::{CaseId, Role};

impl Store {
    /// The case on which buzon received a mail with this Message-ID, if any.
    pub async fn case_of_received(&self, message_id: &str) -> Result<Option<i64>> {
        case_of_received(&self.pool, message_id).await
    }

    pub async fn case_by_number(&self, number: i64) -> Result<Option<CaseRow>> {
        case_by_number(&self.pool, number).await
    }

    /// The desk's own addresses the case was written to, in order.
    pub async fn case_addresses(&self, case_id: CaseId) -> Result<Vec<String>> {
        let rows =
            sqlx::query("SELECT address FROM case_addresses WHERE case_id = $1 ORDER BY address")
                .bind(case_id)
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(|r| get(r, "address")).collect()
    }

    /// The number of the case with this database id.
    pub(crate) async fn case_number_of(&self, case_id: CaseId) -> Result<Option<i64>> {
        let row = sqlx::query("SELECT number FROM cases WHERE id = $1")
            .bind(case_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| get(&r, "number")).transpose()
    }

    /// The activity history: every mail in and out, oldest first.
    pub async fn case_emails(&self, case_id: CaseId) -> Result<Vec<EmailRow>> {
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
    pub(crate) async fn emails_for_inbound(&self, inbound_id: i64) -> Result<Option<EmailRow>> {
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

    pub async fn case_attachments(&self, case_id: CaseId) -> Result<Vec<AttachmentRow>> {
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
    pub async fn case_participants(&self, case_id: CaseId) -> Result<Vec<(String, Role)>> {
        case_participants(&self.pool, case_id).await
    }
}
