//! `snapshots`.

use std::collections::BTreeMap;

use store::{AnyRow, Db, Row, sqlx};

use super::{from_json, to_json};
use crate::error::Result;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct SnapshotRow {
    pub id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub project_id: String,
    pub user_id: String,
    pub volume_id: String,
    pub volume_type_id: String,
    pub status: String,
    pub size: i64,
    pub metadata: BTreeMap<String, String>,
    pub error: Option<String>,
    /// Set by `os-update_snapshot_status`; else derived from the status.
    pub progress: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, name, description, project_id, user_id, volume_id, volume_type_id, status, size, \
     metadata, error, progress, created_at, updated_at";

fn from_row(r: &AnyRow) -> std::result::Result<SnapshotRow, sqlx::Error> {
    Ok(SnapshotRow {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        project_id: r.try_get("project_id")?,
        user_id: r.try_get("user_id")?,
        volume_id: r.try_get("volume_id")?,
        volume_type_id: r.try_get("volume_type_id")?,
        status: r.try_get("status")?,
        size: r.try_get("size")?,
        metadata: from_json(&r.try_get::<String, _>("metadata")?),
        error: r.try_get("error")?,
        progress: r.try_get("progress")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn insert(db: &Db, s: &SnapshotRow) -> Result<()> {
    sqlx::query(db.sql(&format!(
        "INSERT INTO snapshots ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )))
    .bind(&s.id)
    .bind(&s.name)
    .bind(&s.description)
    .bind(&s.project_id)
    .bind(&s.user_id)
    .bind(&s.volume_id)
    .bind(&s.volume_type_id)
    .bind(&s.status)
    .bind(s.size)
    .bind(to_json(&s.metadata))
    .bind(&s.error)
    .bind(&s.progress)
    .bind(s.created_at)
    .bind(s.updated_at)
    .execute(db.writer())
    .await?;
    Ok(())
}

pub async fn get(db: &Db, id: &str) -> Result<Option<SnapshotRow>> {
    let row = sqlx::query(db.sql(&format!("SELECT {COLUMNS} FROM snapshots WHERE id = ?")))
        .bind(id)
        .fetch_optional(db.reader())
        .await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

pub async fn list(db: &Db, project_id: Option<&str>) -> Result<Vec<SnapshotRow>> {
    let rows = match project_id {
        Some(p) => {
            sqlx::query(db.sql(&format!(
                "SELECT {COLUMNS} FROM snapshots WHERE project_id = ? ORDER BY created_at, id"
            )))
            .bind(p)
            .fetch_all(db.reader())
            .await?
        }
        None => {
            sqlx::query(db.sql(&format!("SELECT {COLUMNS} FROM snapshots ORDER BY created_at, id")))
                .fetch_all(db.reader())
                .await?
        }
    };
    Ok(rows.iter().map(from_row).collect::<std::result::Result<_, _>>()?)
}

pub async fn of_volume(db: &Db, volume_id: &str) -> Result<Vec<SnapshotRow>> {
    let rows = sqlx::query(db.sql(&format!(
        "SELECT {COLUMNS} FROM snapshots WHERE volume_id = ? ORDER BY created_at, id"
    )))
    .bind(volume_id)
    .fetch_all(db.reader())
    .await?;
    Ok(rows.iter().map(from_row).collect::<std::result::Result<_, _>>()?)
}

pub async fn update_fields(db: &Db, s: &SnapshotRow) -> Result<()> {
    sqlx::query(db.sql("UPDATE snapshots SET name = ?, description = ?, metadata = ?, updated_at = ? WHERE id = ?"))
        .bind(&s.name)
        .bind(&s.description)
        .bind(to_json(&s.metadata))
        .bind(super::now())
        .bind(&s.id)
        .execute(db.writer())
        .await?;
    Ok(())
}

/// Compare-and-swap of the status (any status when `from` is empty).
pub async fn set_status(db: &Db, id: &str, from: &[&str], to: &str, error: Option<&str>) -> Result<bool> {
    let mut sql = "UPDATE snapshots SET status = ?, error = ?, updated_at = ? WHERE id = ?".to_owned();
    if !from.is_empty() {
        sql.push_str(&format!(" AND status IN ({})", store::placeholders(from.len())));
    }
    let mut q = sqlx::query(db.sql(&sql))
        .bind(to)
        .bind(error)
        .bind(super::now())
        .bind(id);
    for f in from {
        q = q.bind(*f);
    }
    Ok(q.execute(db.writer()).await?.rows_affected() == 1)
}

pub async fn set_progress(db: &Db, id: &str, progress: Option<&str>) -> Result<()> {
    sqlx::query(db.sql("UPDATE snapshots SET progress = ? WHERE id = ?"))
        .bind(progress)
        .bind(id)
        .execute(db.writer())
        .await?;
    Ok(())
}

pub async fn delete(db: &Db, id: &str) -> Result<()> {
    sqlx::query(db.sql("DELETE FROM snapshots WHERE id = ?"))
        .bind(id)
        .execute(db.writer())
        .await?;
    Ok(())
}

/// A project's snapshots as `(volume_type_id, size)`, for quotas.
pub async fn sizes(db: &Db, project_id: &str) -> Result<Vec<(String, i64)>> {
    let rows = sqlx::query(db.sql("SELECT volume_type_id, size FROM snapshots WHERE project_id = ?"))
        .bind(project_id)
        .fetch_all(db.reader())
        .await?;
    let mut out = Vec::new();
    for r in rows {
        out.push((r.try_get("volume_type_id")?, r.try_get("size")?));
    }
    Ok(out)
}
