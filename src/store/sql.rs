//! SQL text the store builds from counts, never from values: numbered placeholders, and
//! multi-row `INSERT`s and `IN (…)` lists run a bounded number of rows at a time.

use super::Result;

/// Rows per multi-row statement: far below either database's limit on parameters.
pub(super) const ROWS_PER_STATEMENT: usize = 80;

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
pub(super) fn placeholders(rows: usize, columns: usize, first: usize) -> String {
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
