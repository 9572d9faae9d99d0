//! `volume_attachments`: one row per attachment of a volume to a server
//! (or a host), as Cinder's table of that name. `connector` and
//! `connection_info` are JSON objects in `TEXT` columns.

use store::{AnyRow, Db, Row, sqlx};

use crate::error::Result;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct AttachmentRow {
    pub id: String,
    pub volume_id: String,
    pub instance_uuid: Option<String>,
    pub attached_host: Option<String>,
    pub mountpoint: Option<String>,
    /// `rw`, `ro`, or `null` until the attachment is connected.
    pub attach_mode: Option<String>,
    /// `reserved`, `attaching`, `attached`, `detaching`,
    /// `error_attaching`, `error_detaching`.
    pub attach_status: String,
    pub connector: Option<serde_json::Value>,
    pub connection_info: Option<serde_json::Value>,
    pub attach_time: Option<i64>,
    pub detach_time: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, volume_id, instance_uuid, attached_host, mountpoint, attach_mode, attach_status, \
     connector, connection_info, attach_time, detach_time, created_at, updated_at";

fn json_col(r: &AnyRow, col: &str) -> std::result::Result<Option<serde_json::Value>, sqlx::Error> {
    let text: Option<String> = r.try_get(col)?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

fn to_text(v: &Option<serde_json::Value>) -> Option<String> {
    v.as_ref().map(|v| v.to_string())
}

fn from_row(r: &AnyRow) -> std::result::Result<AttachmentRow, sqlx::Error> {
    Ok(AttachmentRow {
        id: r.try_get("id")?,
        volume_id: r.try_get("volume_id")?,
        instance_uuid: r.try_get("instance_uuid")?,
        attached_host: r.try_get("attached_host")?,
        mountpoint: r.try_get("mountpoint")?,
        attach_mode: r.try_get("attach_mode")?,
        attach_status: r.try_get("attach_status")?,
        connector: json_col(r, "connector")?,
        connection_info: json_col(r, "connection_info")?,
        attach_time: r.try_get("attach_time")?,
        detach_time: r.try_get("detach_time")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn insert(db: &Db, a: &AttachmentRow) -> Result<()> {
    sqlx::query(db.sql(&format!(
        "INSERT INTO volume_attachments ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )))
    .bind(&a.id)
    .bind(&a.volume_id)
    .bind(&a.instance_uuid)
    .bind(&a.attached_host)
    .bind(&a.mountpoint)
    .bind(&a.attach_mode)
    .bind(&a.attach_status)
    .bind(to_text(&a.connector))
    .bind(to_text(&a.connection_info))
    .bind(a.attach_time)
    .bind(a.detach_time)
    .bind(a.created_at)
    .bind(a.updated_at)
    .execute(db.writer())
    .await?;
    Ok(())
}

pub async fn get(db: &Db, id: &str) -> Result<Option<AttachmentRow>> {
    let row = sqlx::query(db.sql(&format!("SELECT {COLUMNS} FROM volume_attachments WHERE id = ?")))
        .bind(id)
        .fetch_optional(db.reader())
        .await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

/// A volume's attachments, oldest first.
pub async fn of_volume(db: &Db, volume_id: &str) -> Result<Vec<AttachmentRow>> {
    let rows = sqlx::query(db.sql(&format!(
        "SELECT {COLUMNS} FROM volume_attachments WHERE volume_id = ? ORDER BY created_at, id"
    )))
    .bind(volume_id)
    .fetch_all(db.reader())
    .await?;
    Ok(rows.iter().map(from_row).collect::<std::result::Result<_, _>>()?)
}

/// The attachments of a project's volumes (every project's for `None`),
/// oldest first.
pub async fn list(db: &Db, project_id: Option<&str>) -> Result<Vec<AttachmentRow>> {
    let cols: String = COLUMNS
        .split(", ")
        .map(|c| format!("a.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let rows = match project_id {
        Some(p) => {
            sqlx::query(db.sql(&format!(
                "SELECT {cols} FROM volume_attachments a JOIN volumes v ON v.id = a.volume_id \
                 WHERE v.project_id = ? ORDER BY a.created_at, a.id"
            )))
            .bind(p)
            .fetch_all(db.reader())
            .await?
        }
        None => {
            sqlx::query(db.sql(&format!(
                "SELECT {COLUMNS} FROM volume_attachments ORDER BY created_at, id"
            )))
            .fetch_all(db.reader())
            .await?
        }
    };
    Ok(rows.iter().map(from_row).collect::<std::result::Result<_, _>>()?)
}

/// Writes every mutable field of the attachment.
pub async fn update(db: &Db, a: &AttachmentRow) -> Result<()> {
    sqlx::query(db.sql(
        "UPDATE volume_attachments SET instance_uuid = ?, attached_host = ?, mountpoint = ?, attach_mode = ?, \
         attach_status = ?, connector = ?, connection_info = ?, attach_time = ?, detach_time = ?, updated_at = ? \
         WHERE id = ?",
    ))
    .bind(&a.instance_uuid)
    .bind(&a.attached_host)
    .bind(&a.mountpoint)
    .bind(&a.attach_mode)
    .bind(&a.attach_status)
    .bind(to_text(&a.connector))
    .bind(to_text(&a.connection_info))
    .bind(a.attach_time)
    .bind(a.detach_time)
    .bind(super::now())
    .bind(&a.id)
    .execute(db.writer())
    .await?;
    Ok(())
}

/// Removes the attachment; whether it was there.
pub async fn delete(db: &Db, id: &str) -> Result<bool> {
    let r = sqlx::query(db.sql("DELETE FROM volume_attachments WHERE id = ?"))
        .bind(id)
        .execute(db.writer())
        .await?;
    Ok(r.rows_affected() > 0)
}

/// Removes every attachment of a volume (the volume is being deleted).
pub async fn delete_of_volume(db: &Db, volume_id: &str) -> Result<()> {
    sqlx::query(db.sql("DELETE FROM volume_attachments WHERE volume_id = ?"))
        .bind(volume_id)
        .execute(db.writer())
        .await?;
    Ok(())
}
