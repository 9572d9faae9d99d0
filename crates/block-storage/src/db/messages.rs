//! `volume_messages`: Cinder's user messages (3.3), one row each.

use store::{AnyRow, Db, Row, sqlx};

use crate::error::Result;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct MessageRow {
    pub id: String,
    pub project_id: String,
    pub request_id: String,
    pub resource_type: String,
    pub resource_uuid: Option<String>,
    pub event_id: String,
    pub message_level: String,
    pub action_id: String,
    pub detail_id: String,
    pub created_at: i64,
    pub expires_at: i64,
}

const COLUMNS: &str = "id, project_id, request_id, resource_type, resource_uuid, event_id, message_level, action_id, \
     detail_id, created_at, expires_at";

fn from_row(r: &AnyRow) -> std::result::Result<MessageRow, sqlx::Error> {
    Ok(MessageRow {
        id: r.try_get("id")?,
        project_id: r.try_get("project_id")?,
        request_id: r.try_get("request_id")?,
        resource_type: r.try_get("resource_type")?,
        resource_uuid: r.try_get("resource_uuid")?,
        event_id: r.try_get("event_id")?,
        message_level: r.try_get("message_level")?,
        action_id: r.try_get("action_id")?,
        detail_id: r.try_get("detail_id")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
    })
}

pub async fn insert(db: &Db, m: &MessageRow) -> Result<()> {
    sqlx::query(db.sql(&format!(
        "INSERT INTO volume_messages ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )))
    .bind(&m.id)
    .bind(&m.project_id)
    .bind(&m.request_id)
    .bind(&m.resource_type)
    .bind(&m.resource_uuid)
    .bind(&m.event_id)
    .bind(&m.message_level)
    .bind(&m.action_id)
    .bind(&m.detail_id)
    .bind(m.created_at)
    .bind(m.expires_at)
    .execute(db.writer())
    .await?;
    Ok(())
}

pub async fn get(db: &Db, id: &str) -> Result<Option<MessageRow>> {
    let row = sqlx::query(db.sql(&format!("SELECT {COLUMNS} FROM volume_messages WHERE id = ?")))
        .bind(id)
        .fetch_optional(db.reader())
        .await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

/// A project's messages (everyone's for `None`) not yet expired at `now`.
pub async fn list(db: &Db, project_id: Option<&str>, now: i64) -> Result<Vec<MessageRow>> {
    let rows = match project_id {
        Some(p) => {
            sqlx::query(db.sql(&format!(
                "SELECT {COLUMNS} FROM volume_messages WHERE project_id = ? AND expires_at > ? \
                 ORDER BY created_at, id"
            )))
            .bind(p)
            .bind(now)
            .fetch_all(db.reader())
            .await?
        }
        None => {
            sqlx::query(db.sql(&format!(
                "SELECT {COLUMNS} FROM volume_messages WHERE expires_at > ? ORDER BY created_at, id"
            )))
            .bind(now)
            .fetch_all(db.reader())
            .await?
        }
    };
    Ok(rows.iter().map(from_row).collect::<std::result::Result<_, _>>()?)
}

pub async fn delete(db: &Db, id: &str) -> Result<bool> {
    let r = sqlx::query(db.sql("DELETE FROM volume_messages WHERE id = ?"))
        .bind(id)
        .execute(db.writer())
        .await?;
    Ok(r.rows_affected() > 0)
}

/// Removes the messages that expired before `now`.
pub async fn delete_expired(db: &Db, now: i64) -> Result<u64> {
    let r = sqlx::query(db.sql("DELETE FROM volume_messages WHERE expires_at <= ?"))
        .bind(now)
        .execute(db.writer())
        .await?;
    Ok(r.rows_affected())
}
