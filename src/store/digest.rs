//! What the agents' morning digest tells: open cases by severity, those overdue and those
//! waiting on the customer (the first [`LISTED`] of each), and how many were opened and
//! closed on the day before.

use serde::Serialize;
use sqlx::any::AnyRow;

use super::{get, Result, Store};

/// Cases listed by name in each part of the digest; the rest are counted.
pub const LISTED: i64 = 50;

/// A case as a line of the digest; `at` is its due time or the start of its wait.
#[derive(Debug, Clone, Serialize)]
pub struct DigestCase {
    pub number: i64,
    pub subject: String,
    pub severity: i64,
    pub owner: Option<String>,
    pub at: i64,
}

#[derive(Debug, Clone, Default)]
pub struct DigestFacts {
    /// (severity, open cases), most severe first.
    pub open_by_severity: Vec<(i64, i64)>,
    pub overdue: Vec<DigestCase>,
    pub waiting: Vec<DigestCase>,
    /// A list had more than [`LISTED`] cases.
    pub more: bool,
    pub opened: i64,
    pub closed: i64,
}

impl DigestFacts {
    /// Nothing open and nothing happened the day before: no digest.
    pub fn nothing_to_say(&self) -> bool {
        self.open_by_severity.is_empty() && self.opened == 0 && self.closed == 0
    }
}

const OPENED_BETWEEN: &str =
    "SELECT COUNT(*) AS n FROM cases WHERE created_at >= $1 AND created_at < $2";
const CLOSED_BETWEEN: &str =
    "SELECT COUNT(*) AS n FROM cases WHERE closed_at >= $1 AND closed_at < $2";

fn digest_case(row: &AnyRow) -> Result<DigestCase> {
    Ok(DigestCase {
        number: get(row, "number")?,
        subject: get(row, "subject")?,
        severity: get(row, "severity")?,
        owner: get(row, "owner")?,
        at: get(row, "at")?,
    })
}

impl Store {
    /// The digest at `now`, with "yesterday" the span [`day_start`, `day_end`).
    pub async fn digest_facts(
        &self,
        now: i64,
        day_start: i64,
        day_end: i64,
    ) -> Result<DigestFacts> {
        let by_severity = sqlx::query(
            "SELECT severity, COUNT(*) AS n FROM cases WHERE status = 'open' GROUP BY severity ORDER BY severity",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut facts = DigestFacts {
            open_by_severity: by_severity
                .iter()
                .map(|r| Ok((get(r, "severity")?, get(r, "n")?)))
                .collect::<Result<_>>()?,
            ..Default::default()
        };
        let overdue = self
            .digest_list(
                "SELECT number, subject, severity, owner, sla_due_at AS at FROM cases
                 WHERE status = 'open' AND waiting_since IS NULL AND sla_due_at <= $1
                 ORDER BY sla_due_at LIMIT $2",
                Some(now),
            )
            .await?;
        let waiting = self
            .digest_list(
                "SELECT number, subject, severity, owner, waiting_since AS at FROM cases
                 WHERE status = 'open' AND waiting_since IS NOT NULL
                 ORDER BY waiting_since LIMIT $1",
                None,
            )
            .await?;
        facts.more = overdue.len() as i64 > LISTED || waiting.len() as i64 > LISTED;
        facts.overdue = overdue.into_iter().take(LISTED as usize).collect();
        facts.waiting = waiting.into_iter().take(LISTED as usize).collect();
        facts.opened = self
            .count_between(OPENED_BETWEEN, day_start, day_end)
            .await?;
        facts.closed = self
            .count_between(CLOSED_BETWEEN, day_start, day_end)
            .await?;
        Ok(facts)
    }

    /// One more row than listed, to know whether there are more.
    async fn digest_list(&self, sql: &'static str, at: Option<i64>) -> Result<Vec<DigestCase>> {
        let query = sqlx::query(sql);
        let query = match at {
            Some(at) => query.bind(at),
            None => query,
        };
        let rows = query.bind(LISTED + 1).fetch_all(&self.pool).await?;
        rows.iter().map(digest_case).collect()
    }

    async fn count_between(&self, sql: &'static str, from: i64, to: i64) -> Result<i64> {
        let row = sqlx::query(sql)
            .bind(from)
            .bind(to)
            .fetch_one(&self.pool)
            .await?;
        get(&row, "n")
    }
}
