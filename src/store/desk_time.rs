//! Time on a case: its SLA clock (`cases.sla_*`, migration 0009), whether it waits on the
//! customer, when each side last wrote, and the scheduler's claims (`scheduled_done`). The
//! apply transaction moves the clock as mail comes and goes; the scheduler reads what is
//! due and claims each item in the transaction that queues its mail.

use jiff::Timestamp;
use serde::Serialize;
use sqlx::any::AnyRow;

use super::apply_tx::ApplyTx;
use super::{get, Result, Store, StoreError};
use crate::domain::CaseId;
use crate::sla::{SlaClock, Target};

/// What time means on one case.
#[derive(Debug, Clone, Serialize)]
pub struct CaseTiming {
    #[serde(skip)]
    pub case_id: CaseId,
    pub number: i64,
    pub subject: String,
    pub severity: i64,
    pub owner: Option<String>,
    /// Set while the case waits on the customer: the SLA clock is stopped.
    pub waiting_since: Option<i64>,
    pub customer_wrote_at: Option<i64>,
    pub agent_answered_at: Option<i64>,
    #[serde(skip)]
    pub clock: Option<SlaClock>,
}

const TIMING_COLUMNS: &str = "id, number, subject, severity, owner, waiting_since, customer_wrote_at, agent_answered_at, sla_target, sla_started_at, sla_warn_at, sla_due_at";

fn instant(ms: i64) -> Result<Timestamp> {
    Timestamp::from_millisecond(ms).map_err(|e| StoreError::Invalid(e.to_string()))
}

/// The running SLA clock of a row holding the `sla_*` columns.
pub(super) fn clock_of(row: &AnyRow) -> Result<Option<SlaClock>> {
    let target: Option<String> = get(row, "sla_target")?;
    Ok(match target.as_deref().and_then(Target::parse) {
        None => None,
        Some(target) => Some(SlaClock {
            target,
            started_at: instant(get(row, "sla_started_at")?)?,
            warn_at: instant(get(row, "sla_warn_at")?)?,
            due_at: instant(get(row, "sla_due_at")?)?,
        }),
    })
}

fn timing_row(row: &AnyRow) -> Result<CaseTiming> {
    let clock = clock_of(row)?;
    Ok(CaseTiming {
        case_id: get(row, "id")?,
        number: get(row, "number")?,
        subject: get(row, "subject")?,
        severity: get(row, "severity")?,
        owner: get(row, "owner")?,
        waiting_since: get(row, "waiting_since")?,
        customer_wrote_at: get(row, "customer_wrote_at")?,
        agent_answered_at: get(row, "agent_answered_at")?,
        clock,
    })
}

fn select(condition: &str) -> String {
    format!("SELECT {TIMING_COLUMNS} FROM cases WHERE {condition}")
}

/// The clock's columns as bound values (all NULL when no clock runs).
type ClockValues = (Option<&'static str>, Option<i64>, Option<i64>, Option<i64>);

fn clock_values(clock: Option<&SlaClock>) -> ClockValues {
    match clock {
        None => (None, None, None, None),
        Some(c) => (
            Some(c.target.name()),
            Some(c.started_at.as_millisecond()),
            Some(c.warn_at.as_millisecond()),
            Some(c.due_at.as_millisecond()),
        ),
    }
}

impl ApplyTx {
    pub(crate) async fn case_timing(&mut self, case_id: CaseId) -> Result<CaseTiming> {
        let row = sqlx::query(sqlx::AssertSqlSafe(select("id = $1")))
            .bind(case_id)
            .fetch_one(self.conn())
            .await?;
        timing_row(&row)
    }

    /// The customer wrote now: the case no longer waits on them, and its clock is `clock`.
    pub(crate) async fn customer_wrote(
        &mut self,
        case_id: CaseId,
        clock: Option<&SlaClock>,
    ) -> Result<()> {
        let (target, started, warn, due) = clock_values(clock);
        sqlx::query(
            "UPDATE cases SET customer_wrote_at = $1, waiting_since = NULL, sla_target = $2,
                    sla_started_at = $3, sla_warn_at = $4, sla_due_at = $5
             WHERE id = $6",
        )
        .bind(self.now)
        .bind(target)
        .bind(started)
        .bind(warn)
        .bind(due)
        .bind(case_id)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// The case's clock and nothing else (a severity change moves its targets).
    pub(crate) async fn set_sla_clock(
        &mut self,
        case_id: CaseId,
        clock: Option<&SlaClock>,
    ) -> Result<()> {
        let (target, started, warn, due) = clock_values(clock);
        sqlx::query(
            "UPDATE cases SET sla_target = $1, sla_started_at = $2, sla_warn_at = $3, sla_due_at = $4
             WHERE id = $5",
        )
        .bind(target)
        .bind(started)
        .bind(warn)
        .bind(due)
        .bind(case_id)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// An agent's answer went to the customer now: no answer is owed any more.
    pub(crate) async fn agent_answered(&mut self, case_id: CaseId) -> Result<()> {
        sqlx::query(
            "UPDATE cases SET agent_answered_at = $1, sla_target = NULL, sla_started_at = NULL,
                    sla_warn_at = NULL, sla_due_at = NULL
             WHERE id = $2",
        )
        .bind(self.now)
        .bind(case_id)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Take a due item for this transaction: false when it was done already (by another
    /// process, or before a restart), so its mail is never made twice.
    pub(crate) async fn claim_scheduled(
        &mut self,
        item: &str,
        case_id: CaseId,
        period: i64,
        done_at: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO scheduled_done (item, case_id, period, done_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (item, case_id, period) DO NOTHING",
        )
        .bind(item)
        .bind(case_id)
        .bind(period)
        .bind(done_at)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

impl Store {
    pub async fn case_timing(&self, number: i64) -> Result<Option<CaseTiming>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(select("number = $1")))
            .bind(number)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(timing_row).transpose()
    }

    /// The one setter of a case's owner and waiting-on-customer time outside mail: for
    /// tests and repairs, until the agents' `Tomar`/`Esperando cliente` commands set them
    /// in the apply transaction. False when there is no such case.
    pub async fn set_case_desk_state(
        &self,
        number: i64,
        owner: Option<&str>,
        waiting_since: Option<i64>,
    ) -> Result<bool> {
        let done = sqlx::query("UPDATE cases SET owner = $1, waiting_since = $2 WHERE number = $3")
            .bind(owner)
            .bind(waiting_since)
            .bind(number)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Open cases whose running clock passed 80 % and whose breach is not yet done (and,
    /// before the breach, whose warning is not done either), oldest due first.
    pub async fn due_clocks(&self, now: i64, limit: i64) -> Result<Vec<CaseTiming>> {
        let sql = select(
            "status = 'open' AND waiting_since IS NULL AND sla_warn_at <= $1
             AND NOT EXISTS (SELECT 1 FROM scheduled_done d WHERE d.case_id = cases.id
                             AND d.period = cases.sla_started_at AND d.item = 'sla_breach:' || cases.sla_target)
             AND (sla_due_at <= $1 OR NOT EXISTS (SELECT 1 FROM scheduled_done d WHERE d.case_id = cases.id
                             AND d.period = cases.sla_started_at AND d.item = 'sla_warning:' || cases.sla_target))
             ORDER BY sla_due_at LIMIT $2",
        );
        self.timings(&sql, now, limit).await
    }

    /// Open cases waiting on the customer since `silent_since` or earlier, not yet reminded
    /// in this wait.
    pub async fn due_reminders(&self, silent_since: i64, limit: i64) -> Result<Vec<CaseTiming>> {
        let sql = select(
            "status = 'open' AND waiting_since <= $1
             AND NOT EXISTS (SELECT 1 FROM scheduled_done d WHERE d.item = 'reminder'
                             AND d.case_id = cases.id AND d.period = cases.waiting_since)
             ORDER BY waiting_since LIMIT $2",
        );
        self.timings(&sql, silent_since, limit).await
    }

    /// Open cases still waiting, reminded (in this wait) at `since` or earlier; with
    /// `reminded` false (reminders off), waiting since then.
    pub async fn due_closes(
        &self,
        since: i64,
        reminded: bool,
        limit: i64,
    ) -> Result<Vec<CaseTiming>> {
        let sql = match reminded {
            true => select(
                "status = 'open' AND waiting_since IS NOT NULL
                 AND EXISTS (SELECT 1 FROM scheduled_done d WHERE d.item = 'reminder'
                             AND d.case_id = cases.id AND d.period = cases.waiting_since AND d.done_at <= $1)
                 ORDER BY waiting_since LIMIT $2",
            ),
            false => select("status = 'open' AND waiting_since <= $1 ORDER BY waiting_since LIMIT $2"),
        };
        self.timings(&sql, since, limit).await
    }

    /// Open cases past their SLA target and not waiting on the customer, most overdue
    /// first: `buzon cases --overdue`.
    pub async fn overdue_cases(&self, now: i64) -> Result<Vec<CaseTiming>> {
        let sql = select("status = 'open' AND waiting_since IS NULL AND sla_due_at <= $1 ORDER BY sla_due_at LIMIT $2");
        self.timings(&sql, now, i64::MAX).await
    }

    async fn timings(&self, sql: &str, at: i64, limit: i64) -> Result<Vec<CaseTiming>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
            .bind(at)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(timing_row).collect()
    }

    /// Whether a desk-wide or case item was done (the digest of a day, say).
    pub async fn scheduled_done(&self, item: &str, case_id: CaseId, period: i64) -> Result<bool> {
        let row = sqlx::query(
            "SELECT 1 AS done FROM scheduled_done WHERE item = $1 AND case_id = $2 AND period = $3",
        )
        .bind(item)
        .bind(case_id)
        .bind(period)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }
}
