//! The agents' desk (issue 16): who owns a case, whether it waits on the customer, which
//! case it was merged into, and the lists agents ask for by mail. Writes go through the
//! apply transaction like every other effect of a mail.

use super::cases::{case_columns, case_row, AttachmentRow, CaseRow};
use super::{get, ApplyTx, Result};
use crate::domain::CaseId;

/// Which open cases an agent's list shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeskList {
    /// `casos abiertos`: every open case.
    Open,
    /// `sin asignar`: open cases nobody owns.
    Unassigned,
    /// `mis casos`: open cases this agent owns.
    OwnedBy(String),
}

/// A capped list: the first cases, most urgent first, and how many open cases matched.
#[derive(Debug, Clone)]
pub struct DeskCases {
    pub cases: Vec<CaseRow>,
    pub total: i64,
}

/// Most urgent first: severity, then Producción Caída, then the oldest.
const URGENT_FIRST: &str =
    " ORDER BY severity ASC, production_down DESC, created_at ASC, number ASC";

impl ApplyTx {
    /// The addresses of a case's people, whatever their role.
    pub async fn case_addresses_of_people(&mut self, case_id: CaseId) -> Result<Vec<String>> {
        let people = self.case_participants(case_id).await?;
        Ok(people.into_iter().map(|(email, _)| email).collect())
    }

    /// The open cases `list` names, at most `limit` of them, and how many there are.
    pub(crate) async fn desk_cases(&mut self, list: &DeskList, limit: i64) -> Result<DeskCases> {
        self.write_before_reading().await?;
        let (condition, owner) = match list {
            DeskList::Open => ("", None),
            DeskList::Unassigned => (" AND owner IS NULL", None),
            DeskList::OwnedBy(agent) => (" AND owner = $1", Some(agent.as_str())),
        };
        let select = format!(
            concat!(
                "SELECT ",
                case_columns!(),
                " FROM cases WHERE status = 'open'{}{} LIMIT {}"
            ),
            condition, URGENT_FIRST, limit
        );
        let count = format!("SELECT COUNT(*) AS n FROM cases WHERE status = 'open'{condition}");
        let mut rows = sqlx::query(sqlx::AssertSqlSafe(select));
        let mut counted = sqlx::query(sqlx::AssertSqlSafe(count));
        if let Some(owner) = owner {
            rows = rows.bind(owner.to_string());
            counted = counted.bind(owner.to_string());
        }
        let cases = rows
            .fetch_all(self.conn())
            .await?
            .iter()
            .map(case_row)
            .collect::<Result<Vec<_>>>()?;
        let total = get(&counted.fetch_one(self.conn()).await?, "n")?;
        Ok(DeskCases { cases, total })
    }

    /// `Tomar`, `Asignar:` (an agent) or `Soltar` (none).
    pub(crate) async fn set_owner(&mut self, case_id: CaseId, owner: Option<&str>) -> Result<()> {
        sqlx::query("UPDATE cases SET owner = $1, updated_at = $2 WHERE id = $3")
            .bind(owner)
            .bind(self.now)
            .bind(case_id)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// `Esperando cliente`: the case waits on the customer from now (kept if it already did).
    pub(crate) async fn set_waiting(&mut self, case_id: CaseId) -> Result<()> {
        sqlx::query(
            "UPDATE cases SET waiting_since = COALESCE(waiting_since, $1), updated_at = $1 WHERE id = $2",
        )
        .bind(self.now)
        .bind(case_id)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// `Fusionar: #M`: the case is closed as merged into `into`. False when it was closed
    /// already (nothing changes then).
    pub(crate) async fn merge_case(&mut self, case_id: CaseId, into: CaseId) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE cases SET status = 'closed', closed_at = $1, updated_at = $1, merged_into = $2,
                    waiting_since = NULL
             WHERE id = $3 AND status = 'open'",
        )
        .bind(self.now)
        .bind(into)
        .bind(case_id)
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub(crate) async fn case_by_id(&mut self, case_id: CaseId) -> Result<Option<CaseRow>> {
        let sql = concat!("SELECT ", case_columns!(), " FROM cases WHERE id = $1");
        let row = sqlx::query(sql)
            .bind(case_id)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(case_row).transpose()
    }

    /// The cases merged into `case_id`, oldest first (at most 50: a view, not an export).
    pub(crate) async fn merged_cases(&mut self, case_id: CaseId) -> Result<Vec<CaseRow>> {
        let sql = concat!(
            "SELECT ",
            case_columns!(),
            " FROM cases WHERE merged_into = $1 ORDER BY number LIMIT 50"
        );
        let rows = sqlx::query(sql)
            .bind(case_id)
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter().map(case_row).collect()
    }

    /// The files of a case's mails, oldest first, at most `limit`.
    pub(crate) async fn case_files(
        &mut self,
        case_id: CaseId,
        limit: i64,
    ) -> Result<Vec<AttachmentRow>> {
        self.write_before_reading().await?;
        let rows = sqlx::query(
            "SELECT id, email_id, filename, content_type, size, blob_hash, inline
             FROM attachments WHERE case_id = $1 AND inline = 0 ORDER BY id LIMIT $2",
        )
        .bind(case_id)
        .bind(limit)
        .fetch_all(self.conn())
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
}
