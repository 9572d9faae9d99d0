//! `instance_actions`, `instance_action_events`: `os-instance-actions`.

use store::{AnyRow, Db, Row, sqlx};

use crate::error::Result;

#[derive(Clone, Debug, PartialEq)]
pub struct ActionRow {
    pub id: String,
    pub instance_uuid: String,
    pub action: String,
    pub request_id: String,
    pub user_id: String,
    pub project_id: String,
    pub start_time: i64,
    pub finish_time: Option<i64>,
    pub message: Option<String>,
    pub updated_at: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct EventRow {
    pub id: String,
    pub action_id: String,
    pub event: String,
    pub start_time: i64,
    pub finish_time: Option<i64>,
    pub result: Option<String>,
    pub traceback: Option<String>,
    pub host: Option<String>,
}

fn action_from(r: &AnyRow) -> std::result::Result<ActionRow, sqlx::Error> {
    Ok(ActionRow {
        id: r.try_get("id")?,
        instance_uuid: r.try_get("instance_uuid")?,
        action: r.try_get("action")?,
        request_id: r.try_get("request_id")?,
        user_id: r.try_get("user_id")?,
        project_id: r.try_get("project_id")?,
        start_time: r.try_get("start_time")?,
        finish_time: r.try_get("finish_time")?,
        message: r.try_get("message")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn event_from(r: &AnyRow) -> std::result::Result<EventRow, sqlx::Error> {
    Ok(EventRow {
        id: r.try_get("id")?,
        action_id: r.try_get("action_id")?,
        event: r.try_get("event")?,
        start_time: r.try_get("start_time")?,
        finish_time: r.try_get("finish_time")?,
        result: r.try_get("result")?,
        traceback: r.try_get("traceback")?,
        host: r.try_get("host")?,
    })
}

const ACTION_COLUMNS: &str =
    "id, instance_uuid, action, request_id, user_id, project_id, start_time, finish_time, message, updated_at";
const EVENT_COLUMNS: &str = "id, action_id, event, start_time, finish_time, result, traceback, host";

pub async fn insert_action(db: &Db, a: &ActionRow) -> Result<()> {
    sqlx::query(db.sql(&format!(
        "INSERT INTO instance_actions ({ACTION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )))
    .bind(&a.id)
    .bind(&a.instance_uuid)
    .bind(&a.action)
    .bind(&a.request_id)
    .bind(&a.user_id)
    .bind(&a.project_id)
    .bind(a.start_time)
    .bind(a.finish_time)
    .bind(&a.message)
    .bind(a.updated_at)
    .execute(db.writer())
    .await?;
    Ok(())
}

/// Actions of an instance, newest first.
pub async fn list_actions(db: &Db, instance_uuid: &str) -> Result<Vec<ActionRow>> {
    let rows = sqlx::query(db.sql(&format!(
        "SELECT {ACTION_COLUMNS} FROM instance_actions WHERE instance_uuid = ? ORDER BY start_time DESC, id DESC"
    )))
    .bind(instance_uuid)
    .fetch_all(db.reader())
    .await?;
    Ok(rows.iter().map(action_from).collect::<std::result::Result<_, _>>()?)
}

pub async fn get_action_by_request(db: &Db, instance_uuid: &str, request_id: &str) -> Result<Option<ActionRow>> {
    let row = sqlx::query(db.sql(&format!(
        "SELECT {ACTION_COLUMNS} FROM instance_actions WHERE instance_uuid = ? AND request_id = ?"
    )))
    .bind(instance_uuid)
    .bind(request_id)
    .fetch_optional(db.reader())
    .await?;
    Ok(row.as_ref().map(action_from).transpose()?)
}

pub async fn events(db: &Db, action_id: &str) -> Result<Vec<EventRow>> {
    let rows = sqlx::query(db.sql(&format!(
        "SELECT {EVENT_COLUMNS} FROM instance_action_events WHERE action_id = ? ORDER BY start_time, id"
    )))
    .bind(action_id)
    .fetch_all(db.reader())
    .await?;
    Ok(rows.iter().map(event_from).collect::<std::result::Result<_, _>>()?)
}

pub async fn insert_event(db: &Db, e: &EventRow) -> Result<()> {
    sqlx::query(db.sql(&format!(
        "INSERT INTO instance_action_events ({EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    )))
    .bind(&e.id)
    .bind(&e.action_id)
    .bind(&e.event)
    .bind(e.start_time)
    .bind(e.finish_time)
    .bind(&e.result)
    .bind(&e.traceback)
    .bind(&e.host)
    .execute(db.writer())
    .await?;
    Ok(())
}

/// Touches the action (`updated_at`) and, on an error, sets its message
/// to `Error` as Nova does.
pub async fn touch_action(db: &Db, action_id: &str, error: bool, now: i64) -> Result<()> {
    let sql = if error {
        "UPDATE instance_actions SET updated_at = ?, message = 'Error' WHERE id = ?"
    } else {
        "UPDATE instance_actions SET updated_at = ? WHERE id = ?"
    };
    sqlx::query(db.sql(sql))
        .bind(now)
        .bind(action_id)
        .execute(db.writer())
        .await?;
    Ok(())
}
