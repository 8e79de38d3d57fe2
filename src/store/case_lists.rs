//! The list and search queries behind `buzon cases` and a customer's `mis casos` /
//! `buscar`, assembled from constant fragments so that each filter uses its index.

use super::cases::{case_columns, case_row, CaseFilter, CaseRow};
use super::{ApplyTx, Backend, Result, Store};

impl Store {
    pub async fn cases(&self, filter: &CaseFilter) -> Result<Vec<CaseRow>> {
        cases(&self.pool, self.backend, filter).await
    }
}

impl ApplyTx {
    /// A customer's cases inside the apply transaction, its own writes included.
    pub(crate) async fn cases(&mut self, filter: &CaseFilter) -> Result<Vec<CaseRow>> {
        self.write_before_reading().await?;
        let backend = self.backend;
        cases(self.conn(), backend, filter).await
    }
}

fn like_pattern(word: &str) -> String {
    let escaped = word
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// SQL assembled from constant fragments, with every value a bound parameter.
#[derive(Default)]
struct ListQuery {
    sql: String,
    binds: Vec<String>,
}

impl ListQuery {
    /// Bind `value`; its parameter number.
    fn bind(&mut self, value: String) -> usize {
        self.binds.push(value);
        self.binds.len()
    }
}

async fn cases<'e>(
    e: impl sqlx::Executor<'e, Database = sqlx::Any>,
    backend: Backend,
    filter: &CaseFilter,
) -> Result<Vec<CaseRow>> {
    // Only the conditions asked for are in the query, so each can use its index.
    // Words of three characters or more use the trigram index (FTS5 on SQLite, pg_trgm on
    // PostgreSQL); shorter ones only narrow. A word matches anywhere in the folded subject.
    let (indexed, short): (Vec<&String>, Vec<&String>) =
        filter.words.iter().partition(|w| w.chars().count() >= 3);
    // Without a customer to start from, SQLite walks the search index newest first and
    // stops at the limit: a common word costs as little as a rare one.
    let from_search_index =
        backend == Backend::Sqlite && !indexed.is_empty() && filter.customer.is_none();
    let mut q = ListQuery::default();
    match from_search_index {
        true => select_from_search_index(&mut q, &indexed),
        false => q.sql.push_str(concat!(
            "SELECT ",
            case_columns!(),
            " FROM cases WHERE 1 = 1"
        )),
    }
    let like_words = match from_search_index {
        true => short,
        false => filter.words.iter().collect(),
    };
    narrow(&mut q, filter, &like_words);
    // Search results come newest case first (walking the search index backwards when it
    // drives the query); lists, most recently active first.
    q.sql.push_str(if from_search_index {
        " ORDER BY cases_search.rowid DESC"
    } else if !filter.words.is_empty() {
        " ORDER BY cases.id DESC"
    } else {
        " ORDER BY updated_at DESC, number DESC"
    });
    if filter.limit > 0 {
        q.sql.push_str(&format!(" LIMIT {}", filter.limit));
    }
    let mut query = sqlx::query(sqlx::AssertSqlSafe(q.sql));
    for value in q.binds {
        query = query.bind(value);
    }
    let rows = query.fetch_all(e).await?;
    rows.iter().map(case_row).collect()
}

/// SQLite's FTS5 phrase of every indexed word drives the query.
fn select_from_search_index(q: &mut ListQuery, indexed: &[&String]) {
    let phrase = indexed
        .iter()
        .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" AND ");
    let n = q.bind(phrase);
    q.sql = format!(
        concat!(
            "SELECT ",
            case_columns!(),
            " FROM cases_search JOIN cases ON cases.id = cases_search.rowid WHERE cases_search MATCH ${}"
        ),
        n
    );
}

/// The status, customer, mailbox and subject-word conditions.
fn narrow(q: &mut ListQuery, filter: &CaseFilter, like_words: &[&String]) {
    if let Some(status) = &filter.status {
        let n = q.bind(status.clone());
        q.sql.push_str(&format!(" AND status = ${n}"));
    }
    if let Some(customer) = &filter.customer {
        let n = q.bind(customer.clone());
        q.sql.push_str(&format!(
            " AND cases.id IN (SELECT case_id FROM participants WHERE email = ${n})"
        ));
    }
    if let Some(mailbox) = &filter.mailbox {
        let n = q.bind(mailbox.clone());
        q.sql.push_str(&format!(" AND cases.mailbox = ${n}"));
    }
    for word in like_words {
        let n = q.bind(like_pattern(word));
        q.sql
            .push_str(&format!(" AND cases.subject_folded LIKE ${n} ESCAPE '\\'"));
    }
}
