//! `task_logs` (Nova's `task_log`): one row per periodic task, host and
//! period, e.g. the instance usage audit of a host for last month. The
//! key is Nova's unique constraint, so a task recorded twice for the
//! same period is refused.

use store::{AnyRow, Db, Row, StoreError, sqlx};

use crate::error::{ComputeError, Result};

#[derive(Clone, Debug, PartialEq)]
pub struct TaskLogRow {
    pub task_name: String,
    pub host: String,
    /// Microseconds since the epoch.
    pub period_beginning: i64,
    pub period_ending: i64,
    /// `RUNNING` or `DONE`.
    pub state: String,
    pub message: String,
    pub task_items: i64,
    pub errors: i64,
}

const COLUMNS: &str = "task_name, host, period_beginning, period_ending, state, message, task_items, errors";

fn from_row(r: &AnyRow) -> std::result::Result<TaskLogRow, sqlx::Error> {
    Ok(TaskLogRow {
        task_name: r.try_get("task_name")?,
        host: r.try_get("host")?,
        period_beginning: r.try_get("period_beginning")?,
        period_ending: r.try_get("period_ending")?,
        state: r.try_get("state")?,
        message: r.try_get("message")?,
        task_items: r.try_get("task_items")?,
        errors: r.try_get("errors")?,
    })
}

/// The task's record for `host` and the period, if there is one.
pub async fn get(db: &Db, task_name: &str, host: &str, begin: i64, end: i64) -> Result<Option<TaskLogRow>> {
    let row = sqlx::query(db.sql(&format!(
        "SELECT {COLUMNS} FROM task_logs WHERE task_name = ? AND host = ? AND period_beginning = ? AND period_ending = ?"
    )))
    .bind(task_name.to_owned())
    .bind(host.to_owned())
    .bind(begin)
    .bind(end)
    .fetch_optional(db.reader())
    .await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

/// Every host's record of the task for the period, by host.
pub async fn in_period(db: &Db, task_name: &str, begin: i64, end: i64) -> Result<Vec<TaskLogRow>> {
    let rows = sqlx::query(db.sql(&format!(
        "SELECT {COLUMNS} FROM task_logs WHERE task_name = ? AND period_beginning = ? AND period_ending = ? \
         ORDER BY host"
    )))
    .bind(task_name.to_owned())
    .bind(begin)
    .bind(end)
    .fetch_all(db.reader())
    .await?;
    Ok(rows.iter().map(from_row).collect::<std::result::Result<_, _>>()?)
}

/// Records the task as `RUNNING` (Nova's `begin_task`); false when it is
/// recorded already for this host and period.
pub async fn begin(db: &Db, row: &TaskLogRow, now: i64) -> Result<bool> {
    let done = sqlx::query(db.sql(&format!(
        "INSERT INTO task_logs ({COLUMNS}, created_at) VALUES (?, ?, ?, ?, 'RUNNING', ?, ?, ?, ?)"
    )))
    .bind(row.task_name.clone())
    .bind(row.host.clone())
    .bind(row.period_beginning)
    .bind(row.period_ending)
    .bind(row.message.clone())
    .bind(row.task_items)
    .bind(row.errors)
    .bind(now)
    .execute(db.writer())
    .await;
    match done.map_err(ComputeError::from) {
        Ok(_) => Ok(true),
        Err(ComputeError::Store(StoreError::Conflict(_))) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Marks the task `DONE` with its outcome (Nova's `end_task`).
pub async fn end(db: &Db, row: &TaskLogRow, now: i64) -> Result<()> {
    sqlx::query(db.sql(
        "UPDATE task_logs SET state = 'DONE', message = ?, task_items = ?, errors = ?, updated_at = ? \
         WHERE task_name = ? AND host = ? AND period_beginning = ? AND period_ending = ?",
    ))
    .bind(row.message.clone())
    .bind(row.task_items)
    .bind(row.errors)
    .bind(now)
    .bind(row.task_name.clone())
    .bind(row.host.clone())
    .bind(row.period_beginning)
    .bind(row.period_ending)
    .execute(db.writer())
    .await?;
    Ok(())
}
