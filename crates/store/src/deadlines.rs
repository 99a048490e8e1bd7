//! Deadlines: when each open auction ends and each unpaid order expires.
//!
//! A trigger on the event store (`schema/sql/0006_deadlines.sql`) keeps one row per aggregate
//! that is waiting for a time, in the same transaction as the event that set, moved or settled
//! it. The scheduler asks for the rows that are due, which an index answers without looking at
//! anything that is not.
//!
//! Times are kept to the microsecond, PostgreSQL's precision. The aggregate decides with the
//! exact time, so a deadline nominated a fraction of a microsecond early is refused and simply
//! comes up again on the next look.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// An aggregate whose time has come.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadline {
    /// The aggregate's id.
    pub aggregate_id: String,
    /// The time it waited for.
    pub due_at: DateTime<Utc>,
}

/// The earliest `limit` deadlines of `aggregate_type` at or before `now`, earliest first.
pub async fn due(
    pool: &PgPool,
    aggregate_type: &str,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Deadline>, sqlx::Error> {
    let rows: Vec<(String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT aggregate_id, due_at FROM deadlines \
         WHERE aggregate_type = $1 AND due_at <= $2 ORDER BY due_at LIMIT $3",
    )
    .bind(aggregate_type)
    .bind(now)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(aggregate_id, due_at)| Deadline {
            aggregate_id,
            due_at,
        })
        .collect())
}

/// Drops `deadline` of `aggregate_type` if it still says the same time: its aggregate had nothing
/// left to do at it, so asking again would only repeat the answer. A deadline moved meanwhile
/// stays.
pub async fn drop_settled(
    pool: &PgPool,
    aggregate_type: &str,
    deadline: &Deadline,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "DELETE FROM deadlines WHERE aggregate_type = $1 AND aggregate_id = $2 AND due_at = $3",
    )
    .bind(aggregate_type)
    .bind(&deadline.aggregate_id)
    .bind(deadline.due_at)
    .execute(pool)
    .await?;
    Ok(())
}
