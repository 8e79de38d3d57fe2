//! The list and search queries behind `buzon cases` and a customer's `mis casos` /
//! `buscar`, assembled from constant fragments so that each filter uses its index.

use super::cases::{case_columns, case_row, CaseFilter, CaseRow};
use super::{Backend, Result};

fn like_pattern(word: &str) -> String {
    let escaped = word
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

pub(super) async fn cases<'e>(
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
